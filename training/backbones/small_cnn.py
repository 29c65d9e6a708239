"""The small from-scratch CNN of the course: a baseline that shows what pretraining buys."""

from __future__ import annotations

import keras
from keras import layers


def SmallCNN(input_shape=None, widths=(32, 64, 128, 128)) -> keras.Model:
    inputs = keras.Input(input_shape or (150, 150, 3), name="image")
    x = layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    for i, w in enumerate(widths):
        x = layers.Conv2D(w, 3, activation="relu", padding="same", name=f"conv_{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = layers.Conv2D(widths[-1], 3, activation="relu", padding="same", name=f"conv_{len(widths)}")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, x, name="small_cnn")
