"""The EfficientNet-Lite port: real ImageNet weights, real photos, the right ImageNet classes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

skimage_data = pytest.importorskip("skimage.data")  # a dev dependency; installed in CI

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
CUP_CLASSES = {504, 967, 968}  # coffee mug, espresso, cup


@pytest.fixture(scope="module")
def imagenet_lite0():
    from training.backbones.efficientnet_lite import EfficientNetLite0

    return EfficientNetLite0(weights="imagenet")


def top5(model, array):
    x = np.asarray(Image.fromarray(array).resize((224, 224), Image.BILINEAR), np.float32)[None]
    probs = model.predict(x, verbose=0)[0]
    return probs, np.argsort(-probs)[:5]


def test_cat_photo_lands_on_cat_classes(imagenet_lite0):
    probs, best = top5(imagenet_lite0, skimage_data.chelsea())
    assert best[0] in CAT_CLASSES
    assert probs[list(CAT_CLASSES)].sum() > 0.5


def test_coffee_photo_lands_on_cup_classes(imagenet_lite0):
    probs, best = top5(imagenet_lite0, skimage_data.coffee())
    assert set(best[:3].tolist()) & CUP_CLASSES


def test_every_weight_is_used_and_shapes_checked(tmp_path):
    from training.backbones.efficientnet_lite import EfficientNetLite, load_torch_weights, pretrained_weights_path

    headless = EfficientNetLite("efficientnet_lite0", include_top=False, weights=None, pooling="avg")
    load_torch_weights(headless, pretrained_weights_path("efficientnet_lite0"))  # head weights may be left
    wrong = EfficientNetLite("efficientnet_lite2", include_top=False, weights=None)
    with pytest.raises(ValueError, match="shapes"):
        load_torch_weights(wrong, pretrained_weights_path("efficientnet_lite0"))


def test_state_dict_reader_refuses_arbitrary_code(tmp_path):
    import pickle

    from training.backbones.torch_state import load_state_dict

    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(header, f)
        f.write(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_state_dict(evil)


def test_lite2_weights_port_too():
    from training.backbones import get_backbone
    from training.backbones.efficientnet_lite import EfficientNetLite2

    spec = get_backbone("efficientnet_lite2")
    assert spec.input_size == 260 and spec.top_from == "blocks_20_expand_conv"
    model = EfficientNetLite2(weights="imagenet")
    x = np.asarray(Image.fromarray(skimage_data.chelsea()).resize((260, 260), Image.BILINEAR), np.float32)[None]
    probs = model.predict(x, verbose=0)[0]
    assert probs.argmax() in CAT_CLASSES and probs[list(CAT_CLASSES)].sum() > 0.5


def test_a_shipped_artifact_gives_back_the_imagenet_weights():
    """A device run reads the backbone's ImageNet weights from the shipped model (the tree it gets
    has no room for the weights package): the same network as --weights imagenet, weight for weight."""
    from classifier.card import default_model_dir
    from training.backbones.efficientnet_lite import EfficientNetLite, EfficientNetLite2

    shipped = default_model_dir()
    from_package = EfficientNetLite2(weights="imagenet", classifier_activation=None)
    from_artifact = EfficientNetLite2(weights=str(shipped), classifier_activation=None)
    for a, b in zip(from_package.weights, from_artifact.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    headless = EfficientNetLite2(include_top=False, pooling="avg", weights=str(shipped))
    assert headless.output.shape[-1] == 1280
    with pytest.raises(ValueError, match="same backbone|not used|shapes"):
        EfficientNetLite("efficientnet_lite0", weights=str(shipped))
