"""The serving runtime (LiteRT) must give the Keras model's answers."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from classifier import Classifier, ModelError
from tests.conftest import jpeg_bytes, make_artifact
from training.compile import TOLERANCE, check_images


def test_auto_runtime_is_litert_when_the_artifact_has_it(tiny_classifier, tiny_model_dir):
    assert (tiny_model_dir / "model.tflite").is_file()
    assert tiny_classifier.runtime.name == "litert"


def test_litert_agrees_with_keras(tiny_model_dir):
    fast, reference = Classifier.load(tiny_model_dir, "litert"), Classifier.load(tiny_model_dir, "keras")
    rng = np.random.default_rng(1)
    photos = [jpeg_bytes(Image.fromarray(rng.integers(0, 255, (60 + i, 80, 3), dtype=np.uint8))) for i in range(12)]
    a, b = fast.predict_proba(photos), reference.predict_proba(photos)
    assert np.abs(a - b).max() < TOLERANCE
    # batches of every size give the same rows as one at a time
    batch = check_images(32, 5)
    one_by_one = np.concatenate([fast.predict_proba_arrays(batch[i : i + 1]) for i in range(5)])
    assert np.abs(fast.predict_proba_arrays(batch) - one_by_one).max() < 1e-5


def test_warm_up_makes_every_chunk_size_before_the_first_request(tiny_model_dir):
    clf = Classifier.load(tiny_model_dir, "litert")
    assert sorted(clf.runtime._by_batch) == [1]  # the probe made at load
    assert clf.warm_up() is clf
    assert sorted(clf.runtime._by_batch) == [1, 2] and clf.runtime.MAX_CHUNK == 2
    batch = check_images(32, 11)  # 11 = 2 + 2 + 2 + 2 + 2 + 1: no new interpreter, no padding
    assert clf.predict_proba_arrays(batch).shape == (11, 2) and sorted(clf.runtime._by_batch) == [1, 2]
    Classifier.load(tiny_model_dir, "keras").warm_up()  # the fallback runtime has it too


def test_without_tflite_keras_serves_and_litert_is_refused(tmp_path):
    path = make_artifact(tmp_path, "plain")
    assert Classifier.load(path).runtime.name == "keras"
    with pytest.raises(ModelError, match="training.compile"):
        Classifier.load(path, "litert")


def test_compile_command_adds_the_fast_path(tmp_path):
    path = make_artifact(tmp_path, "later")
    result = subprocess.run(
        [sys.executable, "-m", "training.compile", str(path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "max probability difference" in result.stdout and (path / "model.tflite").is_file()
    assert Classifier.load(path).runtime.name == "litert"


@pytest.mark.slow
def test_compile_int8_is_calibrated_on_photos_checked_and_recorded(tmp_path):
    """--int8: calibrated on a folder of photos (with a face among them), checked against Keras on
    inputs kept out of the calibration, its differences and fresh canary probes in the card."""
    from classifier.probes import canary
    from tests.conftest import jpeg_bytes

    skimage_data = pytest.importorskip("skimage.data")
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        base = skimage_data.astronaut() if i % 3 == 0 else skimage_data.chelsea()
        noisy = np.clip(base.astype(int) + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)
        (photos / f"{i}.jpg").write_bytes(jpeg_bytes(Image.fromarray(noisy)))
    path = make_artifact(tmp_path, "int8")

    def compile_cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "training.compile", str(path), *args], capture_output=True, text=True, timeout=300
        )

    result = compile_cli("--int8", str(photos))
    assert result.returncode == 0, result.stderr[-2000:]
    clf = Classifier.load(path)
    litert = clf.card.extra["litert"]
    assert clf.runtime.name == "litert" and litert["quantised"].startswith("int8")
    assert litert["difference_vs_keras"]["pets"]["mean"] <= 0.01
    assert canary(clf)[0]  # the probes were recorded from the int8 file itself
    before = (path / "model.tflite").read_bytes()
    checked = compile_cli("--check", str(photos))
    assert checked.returncode == 0, checked.stderr[-2000:]
    report = json.loads(checked.stdout)
    assert report["photos_and_faces"]["pets"]["mean"] <= 0.01 and "max" in report["photos_and_faces"]["pets"]
    assert (path / "model.tflite").read_bytes() == before  # a check writes nothing
    int8_size = len(before)
    mixed = compile_cli("--int8", str(photos), "--keep-float", "conv_0_1/")
    assert mixed.returncode == 0, mixed.stderr[-2000:]
    card = Classifier.load(path).card.extra["litert"]
    assert "'conv_0_1/' in float32" in card["quantised"]
    assert (path / "model.tflite").stat().st_size > int8_size  # the first conv's weights are float32 again
    nothing = compile_cli("--int8", str(photos), "--keep-float", "no-such-layer")
    assert nothing.returncode == 2 and "names no operator" in nothing.stderr
    alone = compile_cli("--keep-float", "conv_0_1/")  # not int8: nothing to keep float, said rather than ignored
    assert alone.returncode == 2 and "goes with --int8" in alone.stderr
    empty = tmp_path / "nothing"
    empty.mkdir()
    refused = compile_cli("--int8", str(empty))
    assert refused.returncode == 2 and "no photos to calibrate" in refused.stderr
