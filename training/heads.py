"""One forward pass, every answer: the serving graph built around a trained pet classifier.

- ``pets``: the fine-tuned cat/dog logits, unchanged.
- ``imagenet``: the backbone's original ImageNet head (1000 logits). Fine-tuning changed only the
  backbone's top, so that top runs a second time with its ImageNet weights from the shared feature
  map: exact ImageNet answers for ~10% more compute. Tells a pet from a car or a landscape.
- ``people``: one logit, dog-like vs cat-like face: a linear head on the pooled features.
- ``human``: one logit, a person's face vs anything else a face finder boxes (a pet's face, fur,
  texture): a linear head on the pooled features and the ImageNet log-probabilities.
- ``features`` (only with ``with_features``): the pooled features, for fitting those heads.

The linear heads are fitted by ``training.people``; until then they are zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .backbones import BackboneSpec

if TYPE_CHECKING:
    import keras


@dataclass
class LinearHead:
    """``decision(x) = x @ weights + bias``: one logit from a feature vector."""

    weights: np.ndarray
    bias: float

    def decision(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, np.float64) @ self.weights + self.bias


def _tail(model: keras.Model, start: str, end: str, name: str) -> keras.Model:
    """The layers of ``model`` from ``start`` (inclusive) to ``end`` (its output), as a model."""
    import keras

    return keras.Model(model.get_layer(start).input, model.get_layer(end).output, name=name)


def _dense(name: str, x, head: LinearHead | None, width: int):
    import keras

    layer = keras.layers.Dense(1, name=name, dtype="float32")
    out = layer(x)
    w, b = (head.weights, head.bias) if head is not None else (np.zeros(width), 0.0)
    layer.set_weights([np.asarray(w, np.float32).reshape(-1, 1), np.asarray([b], np.float32)])
    return out


def build_serving_model(
    classifier: keras.Model,
    spec: BackboneSpec,
    imagenet_weights="imagenet",
    people: LinearHead | None = None,
    human: LinearHead | None = None,
    with_features: bool = False,
) -> keras.Model:
    """``classifier`` is a trained ``TransferClassifier.model`` (image -> pet logits) on ``spec``."""
    import keras

    if not isinstance(spec.top_from, str):
        raise ValueError(f"{spec.name}: the ImageNet head needs a named fine-tuning start layer")
    imagenet = spec.build_classifier(weights=imagenet_weights)  # 1000-way, its own weights
    shared = keras.Model(classifier.input, classifier.get_layer(spec.top_from).input, name="shared_bottom")
    tuned_top = _tail(classifier, spec.top_from, "avg_pool", "tuned_top")
    imagenet_top = _tail(imagenet, spec.top_from, imagenet.layers[-1].name, "imagenet_top")

    image = keras.Input(classifier.input.shape[1:], name="image")
    fmap = shared(image)
    pooled = tuned_top(fmap)
    imagenet_logits = keras.layers.Activation("linear", name="imagenet", dtype="float32")(imagenet_top(fmap))
    log_probs = keras.layers.Activation("log_softmax", name="imagenet_log_probs", dtype="float32")(imagenet_logits)
    both = keras.layers.Concatenate(name="human_inputs")([pooled, log_probs])
    width = pooled.shape[-1]
    outputs = {
        "pets": classifier.get_layer("logits")(pooled),
        "imagenet": imagenet_logits,
        "people": _dense("people", pooled, people, width),
        "human": _dense("human", both, human, width + imagenet_logits.shape[-1]),
    }
    if with_features:
        outputs["features"] = pooled
        outputs["human_inputs"] = both
    return keras.Model(image, outputs, name=f"{spec.name}_mirror")
