"""The classifier: a model artifact from ``models/`` turned into probabilities for any image."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .card import ModelCard, ModelError, default_model_dir
from .images import ImageSource, load_image, to_model_input
from .runtime import open_runtime
from .wording import sentence, whole_percentages


@dataclass(frozen=True)
class Prediction:
    probabilities: dict[str, float]  # label -> probability, summing to 1, in the card's label order
    label: str  # the most likely label
    percentages: dict[str, int]  # display name -> whole percent, summing to 100
    text: str  # "you are 73% puppy, 27% kitty"
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"label": self.label, "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()}}


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def probabilities(raw: dict[str, np.ndarray], card: ModelCard) -> dict[str, np.ndarray]:
    """Raw model outputs -> probabilities: ``pets`` (N, labels), temperature-scaled; ``imagenet``
    (N, 1000); ``people`` (N,) P(dog-like face), calibrated by the card; ``human`` (N,) P(a
    person's face)."""
    out = {}
    for name, value in raw.items():
        if name == "pets":
            out[name] = (
                softmax(value, card.temperature) if card.output == "logits" else value / value.sum(-1, keepdims=True)
            )
        elif name == "imagenet":
            out[name] = softmax(value)
        elif name == "people":
            out[name] = sigmoid(card.people_logit(value[:, 0]))
        elif name == "human":
            out[name] = sigmoid(value[:, 0])
    return out


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(z, np.float64), -50, 50)))


class Classifier:
    """Load once, then ``predict`` / ``predict_many`` / ``predict_proba`` from any thread."""

    CHUNK = 64

    def __init__(self, runtime, card: ModelCard, path: Path | None = None):
        self.runtime = runtime
        self.card = card
        self.path = path
        self._embedder = None
        self._embedder_lock = threading.Lock()
        _check_compatible(runtime, card, path)

    @classmethod
    def load(cls, path: str | Path | None = None, runtime: str = "auto") -> Classifier:
        """Load ``path`` (default: the model named by ``models/DEFAULT``). ``runtime``: ``auto``,
        ``litert`` or ``keras``."""
        directory = Path(path) if path else default_model_dir()
        if not directory.is_dir():
            raise ModelError(f"model folder not found: {directory}")
        card = ModelCard.load(directory)
        return cls(open_runtime(directory, card.model_file, runtime), card, directory)

    @property
    def labels(self) -> list[str]:
        return list(self.card.labels)

    def prepare(self, image: ImageSource) -> np.ndarray:
        """Decode and resize one image to the model input; raises ``UnreadableImage``."""
        size = self.card.input_size
        return to_model_input(load_image(image, min_size=size), size)

    def warm_up(self) -> Classifier:
        """Pay every first-call cost now (a server calls this before it says it is ready)."""
        self.runtime.warm_up()
        if self.reads_faces:
            self.people_from_chips(np.zeros((1, 150, 150, 3), np.uint8))
        return self

    @property
    def reads_faces(self) -> bool:
        """Does a person's answer come from the face embedding (``classifier/face_embedding.py``)?"""
        return "face_embedding" in self.card.heads

    def people_from_chips(self, chips: np.ndarray) -> np.ndarray:
        """P(dog-like face) for face chips made by ``faces.face_chips``: (N, views, 150, 150, 3), or
        (N, 150, 150, 3) for one view. All views run in one call; each face's answer reads the mean of
        its views' embeddings (the head is linear: the mean of their logits). The embeddings live
        only inside this call."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    from .face_embedding import FaceEmbedder
                    from .faces import DLIB_FRAMING, framing_of

                    if framing_of(self.card.heads["face_embedding"])[0] == DLIB_FRAMING:
                        from .landmarks import predictor

                        predictor()  # read now (~1 s), as warm_up means, not on the first face
                    self._embedder = FaceEmbedder()
        chips = np.asarray(chips)
        if chips.ndim == 4:
            chips = chips[:, None]
        return sigmoid(self.card.face_embedding_logit(self._embedder.infer_views(chips)))

    @property
    def heads(self) -> set[str]:
        """The model's outputs: ``pets`` always; ``imagenet`` and ``people`` in multi-head artifacts."""
        return set(self.runtime.output_widths)

    def outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Every head's answer for a prepared uint8 batch (N, size, size, 3), as probabilities (see
        ``probabilities``)."""
        if len(batch) == 0:
            return {name: np.zeros((0, w) if w > 1 else 0) for name, w in self.runtime.output_widths.items()}
        # bounded chunks: a whole test split at once would need gigabytes of activations
        parts = [self.runtime(batch[i : i + self.CHUNK].astype(np.float32)) for i in range(0, len(batch), self.CHUNK)]
        return probabilities({name: np.concatenate([p[name] for p in parts]) for name in parts[0]}, self.card)

    def predict_proba_arrays(self, batch: np.ndarray) -> np.ndarray:
        """Cat/dog probabilities for a prepared uint8 batch (N, size, size, 3)."""
        return self.outputs(batch)["pets"]

    def predict_proba(self, images: Sequence[ImageSource]) -> np.ndarray:
        return self.predict_proba_arrays(np.stack([self.prepare(im) for im in images]) if images else np.zeros((0,)))

    def explain(self, probabilities: np.ndarray, **extra) -> Prediction:
        """Wrap one row of probabilities into a ``Prediction`` with the house-style sentence."""
        labels = self.card.labels
        probs = {label: float(p) for label, p in zip(labels, probabilities)}
        percents = dict(zip((self.card.display(l) for l in labels), whole_percentages(list(probabilities))))
        top = labels[int(np.argmax(probabilities))]
        return Prediction(probs, top, percents, sentence(percents), extra)

    def predict(self, image: ImageSource) -> Prediction:
        return self.predict_many([image])[0]

    def predict_many(self, images: Sequence[ImageSource]) -> list[Prediction]:
        return [self.explain(p) for p in self.predict_proba(images)]


def _check_compatible(runtime, card: ModelCard, path) -> None:
    where = path or "model"
    width = runtime.output_widths.get("pets")
    if width != len(card.labels):
        raise ModelError(f"{where}: the model has {width} outputs but the card lists {len(card.labels)} labels")
    shape = runtime.input_shape
    if shape[:2] not in ((card.input_size, card.input_size), (None, None)):
        raise ModelError(f"{where}: the model takes {shape} images but the card says {card.input_size}")
