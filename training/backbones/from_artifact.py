"""ImageNet weights read back from a shipped multi-head artifact (``training/heads.py``).

Such an artifact keeps the backbone's ImageNet network whole: the bottom, frozen in every phase of
``TransferClassifier``, is shared, and the top runs twice, fine-tuned and with its ImageNet
weights. A device run, which takes the working tree (the shipped model included) but has no room
for the 24 MB weights package beside it, starts from the same network as ``--weights imagenet``.
"""

from __future__ import annotations

from pathlib import Path

from classifier.card import MODEL_FILE

PARTS = ("shared_bottom", "imagenet_top")  # the names build_serving_model gives them


def is_artifact(weights) -> bool:
    return isinstance(weights, str | Path) and (Path(weights) / MODEL_FILE).is_file()


def load_artifact_weights(model, folder: str | Path) -> None:
    """Copy the ImageNet weights of ``folder``'s served model into ``model`` layer by layer
    (same names), checking every shape; a headless ``model`` leaves the 1000-way ``fc`` out."""
    import keras

    served = keras.saving.load_model(Path(folder) / MODEL_FILE, compile=False)
    try:
        parts = [served.get_layer(name) for name in PARTS]
    except ValueError:
        raise ValueError(f"{folder}: no ImageNet head in this model to read backbone weights from") from None
    source = {layer.name: layer for part in parts for layer in part.layers if layer.weights}
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in source:
            raise ValueError(f"{folder}: no weights for layer {layer.name}; is it the same backbone?")
        values = source[layer.name].get_weights()
        expected = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != expected:
            raise ValueError(f"{folder}: {layer.name} has shapes {[v.shape for v in values]}, model wants {expected}")
        layer.set_weights(values)
        used.add(layer.name)
    unused = sorted(set(source) - used - {"fc"})
    if unused:
        raise ValueError(f"{folder}: {len(unused)} layers' weights were not used, e.g. {unused[:3]}; another backbone?")
