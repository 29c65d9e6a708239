"""The classifier on a real (tiny, random-weight) Keras artifact loaded like the shipped one."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from classifier import Classifier, ModelCard, ModelError, UnreadableImage
from classifier.card import default_model_dir
from classifier.wording import sentence, whole_percentages
from tests.conftest import half_image, jpeg_bytes, make_artifact
from tests.test_images import BAD, GOOD, exif_rotated_jpeg


def test_predict_gives_probabilities_label_and_sentence(tiny_classifier):
    pred = tiny_classifier.predict(jpeg_bytes(Image.effect_noise((80, 60), 40).convert("RGB")))
    assert set(pred.probabilities) == {"cat", "dog"}
    assert sum(pred.probabilities.values()) == pytest.approx(1.0)
    assert pred.label == max(pred.probabilities, key=pred.probabilities.get)
    assert sum(pred.percentages.values()) == 100
    assert set(pred.percentages) == {"kitty", "puppy"}
    assert pred.text.startswith("you are ") and "% puppy" in pred.text and "% kitty" in pred.text


def test_predict_many_matches_predict_and_batches(tiny_classifier):
    images = [jpeg_bytes(Image.effect_noise((50, 50), s).convert("RGB")) for s in (10, 60, 120)]
    many = tiny_classifier.predict_many(images)
    for image, pred in zip(images, many):
        single = tiny_classifier.predict(image).probabilities
        assert [pred.probabilities[k] for k in single] == pytest.approx(list(single.values()), abs=1e-5)
    assert tiny_classifier.predict_proba(images).shape == (3, 2)


@pytest.mark.parametrize("name", GOOD)
def test_every_readable_odd_image_gets_a_prediction(tiny_classifier, name):
    assert sum(tiny_classifier.predict(GOOD[name]()).percentages.values()) == 100


@pytest.mark.parametrize("name", BAD)
def test_every_bad_input_gets_the_clear_error(tiny_classifier, name):
    with pytest.raises(UnreadableImage):
        tiny_classifier.predict(BAD[name]())


def test_exif_rotation_reaches_the_model(tiny_classifier):
    rotated_by_exif = tiny_classifier.prepare(exif_rotated_jpeg())
    rotated_by_hand = tiny_classifier.prepare(half_image((64, 32)).transpose(Image.Transpose.ROTATE_270))
    unrotated = tiny_classifier.prepare(half_image((64, 32)))
    assert np.abs(rotated_by_exif.astype(int) - rotated_by_hand).mean() < 8
    assert np.abs(rotated_by_exif.astype(int) - unrotated).mean() > 60


@pytest.mark.parametrize(
    "probs",
    [
        [0.5, 0.5],
        [0.333, 0.333, 0.334],
        [0.005, 0.995],
        [0.125, 0.875],
        [1 / 3] * 3,
        [0.0, 1.0],
        [0.2] * 5,
        [0.1234, 0.4567, 0.4199],
    ],
)
def test_shown_percentages_always_sum_to_100(probs):
    shown = whole_percentages(probs)
    assert sum(shown) == 100 and all(0 <= s <= 100 for s in shown)
    assert all(abs(s - p * 100) < 1 for s, p in zip(shown, probs))


def test_random_probabilities_sum_to_100():
    rng = np.random.default_rng(0)
    for _ in range(500):
        p = rng.dirichlet(np.ones(rng.integers(2, 6)))
        assert sum(whole_percentages(list(p))) == 100


def test_sentence_puts_the_bigger_share_first():
    assert sentence({"kitty": 27, "puppy": 73}) == "you are 73% puppy, 27% kitty"


def test_temperature_from_the_card_is_applied(tmp_path, tiny_model_dir):
    hot = tmp_path / "hot"
    shutil.copytree(tiny_model_dir, hot)
    card = json.loads((hot / "card.json").read_text())
    card["temperature"] = 100.0
    (hot / "card.json").write_text(json.dumps(card))
    image = jpeg_bytes(Image.effect_noise((40, 40), 90).convert("RGB"))
    cool_p = Classifier.load(tiny_model_dir).predict_proba([image])[0]
    hot_p = Classifier.load(hot).predict_proba([image])[0]
    assert abs(hot_p[0] - 0.5) < abs(cool_p[0] - 0.5) or cool_p[0] == pytest.approx(0.5, abs=1e-6)
    assert abs(hot_p[0] - 0.5) < 0.01


def test_card_disagreeing_with_model_is_refused(tmp_path, tiny_model_dir):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_model_dir, bad)
    card = json.loads((bad / "card.json").read_text())
    card["labels"] = ["cat", "dog", "fox"]
    (bad / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="2 outputs but the card lists 3 labels"):
        Classifier.load(bad)


def test_missing_model_says_so_clearly(tmp_path):
    with pytest.raises(ModelError, match="no model is installed"):
        default_model_dir(tmp_path)
    with pytest.raises(ModelError, match="not found"):
        Classifier.load(tmp_path / "nowhere")
    (tmp_path / "x").mkdir()
    with pytest.raises(ModelError, match="no card.json"):
        Classifier.load(tmp_path / "x")


def test_corrupt_model_file_is_a_clear_error(tmp_path, tiny_model_dir):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="cannot load"):
        Classifier.load(broken, runtime="keras")
    (broken / "model.tflite").write_bytes(b"not a flatbuffer")
    with pytest.raises(ModelError, match="cannot load"):
        Classifier.load(broken)


def test_card_round_trip(tmp_path):
    path = make_artifact(tmp_path, "v-rt", labels=("daisy", "rose", "tulip"))
    card = ModelCard.load(path)
    assert card.labels == ["daisy", "rose", "tulip"] and card.display("rose") == "rose"
    pred = Classifier.load(path).predict(Image.new("RGB", (9, 9), "pink"))
    assert set(pred.probabilities) == {"daisy", "rose", "tulip"} and sum(pred.percentages.values()) == 100
