"""``keras.applications`` backbones for users with internet (their weights are downloaded).

Each application's own input scaling is built into the graph with stock layers, so every backbone
takes plain RGB pixels in [0, 255] and a saved model loads without custom code.
"""

from __future__ import annotations

import keras
import numpy as np

_APPS = {
    # name: (constructor, input scaling)
    "mobilenet_v2": ("MobileNetV2", "tf"),
    "mobilenet_v3_small": ("MobileNetV3Small", None),  # rescales inside
    "mobilenet_v3_large": ("MobileNetV3Large", None),
    "efficientnet_b0": ("EfficientNetB0", None),
    "efficientnet_v2_b0": ("EfficientNetV2B0", None),
    "resnet50": ("ResNet50", "caffe"),
    "vgg16": ("VGG16", "caffe"),
    "xception": ("Xception", "tf"),
}
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)


def _caffe_scaling() -> keras.layers.Layer:
    """RGB -> BGR minus the ImageNet mean, as a frozen 1x1 convolution."""
    kernel = np.zeros((1, 1, 3, 3), np.float32)
    for out, inp in enumerate((2, 1, 0)):
        kernel[0, 0, inp, out] = 1.0
    layer = keras.layers.Conv2D(3, 1, name="caffe_preprocess", trainable=False)
    layer.build((None, None, None, 3))
    layer.set_weights([kernel, -_CAFFE_MEAN_BGR])
    return layer


def build_keras_application(name: str, weights: str | None, input_shape) -> keras.Model:
    constructor, scaling = _APPS[name]
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    if scaling == "tf":
        x = keras.layers.Rescaling(1 / 127.5, offset=-1, name="rescale")(x)
    elif scaling == "caffe":
        x = _caffe_scaling()(x)
    app = getattr(keras.applications, constructor)(include_top=False, weights=weights, input_tensor=x)
    out = keras.layers.GlobalAveragePooling2D(name="avg_pool")(app.output)
    return keras.Model(inputs, out, name=name)
