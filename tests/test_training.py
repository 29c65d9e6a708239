"""The training package on small generated data: real fit / evaluate / export / reload."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier import Classifier
from classifier.card import default_model_dir
from training import data as datasets
from training.evaluate import classification_metrics, fit_temperature, reliability
from training.transfer import TransferClassifier

ROOT = Path(__file__).resolve().parent.parent


def colour_photo(rng, colour, size=40):
    base = np.array(colour, float) + rng.normal(0, 25, (size, size, 3))
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def kaggle_dir(tmp_path_factory):
    """Kaggle layout: reddish 'cats' and bluish 'dogs', plus one broken file."""
    root = tmp_path_factory.mktemp("kaggle")
    (root / "train").mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        colour_photo(rng, (200, 60, 60)).save(root / "train" / f"cat.{i}.jpg")
        colour_photo(rng, (60, 60, 200)).save(root / "train" / f"dog.{i}.jpg")
    (root / "train" / "cat.999.jpg").write_bytes(b"broken")
    return root


@pytest.fixture(scope="module")
def folders_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("flowers")
    rng = np.random.default_rng(1)
    for name, colour in {"daisy": (240, 240, 240), "rose": (220, 30, 40), "tulip": (250, 200, 0)}.items():
        (root / name).mkdir()
        for i in range(8):
            colour_photo(rng, colour).save(root / name / f"{i}.png")
    return root


def test_kaggle_layout(kaggle_dir):
    ds = datasets.discover(kaggle_dir)
    assert ds.layout == "kaggle" and ds.class_names == ["cat", "dog"]
    assert ds.balance() == {"cat": 25, "dog": 24}


def test_folder_layout_any_number_of_classes(folders_dir):
    ds = datasets.discover(folders_dir)
    assert ds.layout == "folders" and ds.class_names == ["daisy", "rose", "tulip"]
    assert ds.balance() == {"daisy": 8, "rose": 8, "tulip": 8}


def test_not_a_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no dataset found"):
        datasets.discover(tmp_path)
    with pytest.raises(FileNotFoundError):
        datasets.discover(tmp_path / "missing")


def test_splits_are_deterministic_stratified_and_disjoint():
    labels = np.array([0] * 100 + [1] * 50)
    a, b = datasets.split(labels, seed=7), datasets.split(labels, seed=7)
    assert all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("train", "val", "test"))
    assert not np.array_equal(a.test, datasets.split(labels, seed=8).test)
    parts = np.concatenate([a.train, a.val, a.test])
    assert len(parts) == 150 and len(set(parts.tolist())) == 150
    assert (labels[a.test] == 0).sum() == 10 and (labels[a.test] == 1).sum() == 5


def test_unreadable_files_are_skipped_and_counted(kaggle_dir):
    ds = datasets.discover(kaggle_dir)
    images, ok = datasets.load_arrays(ds.paths, 32)
    assert images.shape == (49, 32, 32, 3) and (~ok).sum() == 1


@pytest.mark.parametrize("mode", ["cached", "end-to-end"])
def test_fit_learns_separable_data(kaggle_dir, mode):
    ds = datasets.discover(kaggle_dir)
    images, ok = datasets.load_arrays(ds.paths, 32)
    x, y = images[ok], ds.labels[ok]
    model = TransferClassifier(
        "tiny_cnn", weights=None, mode=mode, head_epochs=8, fine_tune_epochs=0, head_lr=3e-3, batch_size=16, progress=0
    )
    model.fit(x, y, x, y)
    assert model.evaluate(x, y)["accuracy"] >= 0.9
    assert [p.name for p in model.phases][-1] == "head" and model.phases[-1].images_per_second > 0


def test_fine_tune_freezes_batchnorm_and_bottom():
    from training.backbones import get_backbone

    spec = get_backbone("efficientnet_lite0")
    model = TransferClassifier(spec, weights=None)
    model.build()
    model._set_trainable("head")
    assert [l.name for l in model.model.layers if l.trainable and l.weights] == ["logits"]
    model._set_trainable("fine-tune")
    trainable = [l.name for l in model.model.layers if l.trainable and l.weights]
    assert "conv_head" in trainable and "blocks_15_project_conv" in trainable
    assert "blocks_14_project_conv" not in trainable and not any("bn" in n for n in trainable)


def test_calibration_helpers():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    # true log-odds are 2x; these logits say 6x: overconfident, so the fitted temperature is ~3
    logits = np.stack([np.zeros(2000), 6.0 * ((labels * 2 - 1) + rng.normal(0, 1, 2000))], 1)
    t = fit_temperature(logits, labels)
    from classifier.model import softmax

    before = classification_metrics(softmax(logits), labels)
    after = classification_metrics(softmax(logits, t), labels)
    assert 2.5 < t < 3.5 and after["log_loss"] < before["log_loss"] and after["ece"] < before["ece"]
    perfect = np.eye(2)[labels]
    assert reliability(perfect, labels)["ece"] == pytest.approx(0.0)


def args_for(data, out, **kw):
    base = dict(
        data=str(data),
        backbone="tiny_cnn",
        weights=None,
        mode="auto",
        head_epochs=4,
        fine_tune_epochs=0,
        head_lr=3e-3,
        fine_tune_lr=1e-4,
        batch_size=16,
        val_fraction=0.25,
        test_fraction=0.25,
        seed=3,
        limit=None,
        mixed_precision="off",
        out=str(out),
        run_dir=str(out / "runs"),
        version=None,
        promote=True,
        progress=False,
        faces=None,
        lookalike=None,
        pets_real=None,
        serving="auto",
        resume=None,
        stop_after=None,
    )
    return Namespace(**{**base, **kw})


def test_pipeline_exports_a_model_the_classifier_loads(folders_dir, tmp_path):
    from training.rebuild import rebuild as run

    summary = run(args_for(folders_dir, tmp_path, version="flowers-1"))
    artifact = Path(summary["artifact"])
    assert summary["promoted"] and default_model_dir(tmp_path) == artifact
    for name in ("model.keras", "card.json", "report.json", "report.md", "curves.png", "reliability.png"):
        assert (artifact / name).is_file(), name
    assert not (artifact / "mistakes.png").exists()  # dataset photos (maybe of people) never ship
    clf = Classifier.load(artifact)
    assert clf.card.labels == ["daisy", "rose", "tulip"] and clf.card.metrics["test"]["count"] == 6
    pred = clf.predict(folders_dir / "rose" / "0.png")
    assert sum(pred.percentages.values()) == 100
    assert "Test split" in (artifact / "report.md").read_text()


def test_promote_only_when_better(kaggle_dir, tmp_path):
    from training.rebuild import rebuild as run

    good = run(args_for(kaggle_dir, tmp_path, version="good", head_epochs=8))
    assert good["promoted"] and good["accuracy"] >= 0.9
    worse = run(args_for(kaggle_dir, tmp_path, version="worse", head_epochs=0))  # untrained head
    assert not worse["promoted"] and worse["promote_verdict"].startswith("worse on test split: accuracy")
    assert default_model_dir(tmp_path).name == "good"
    assert (tmp_path / "worse" / "comparison.md").read_text().startswith("# worse against the default model (good)")
    assert good["promote_verdict"] == "no default model to beat"


def test_cli_help_documents_every_option():
    out = subprocess.run(
        [sys.executable, "-m", "training", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120
    ).stdout
    for option in ("--data", "--backbone", "--epochs", "--out", "--promote", "--mode", "--limit", "--seed"):
        assert option in out


@pytest.mark.slow  # a process that imports TensorFlow
def test_cli_bad_data_dir_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "training", "--data", str(tmp_path / "nope"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith(
        "error: dataset directory not found"
    )


@pytest.fixture(scope="module")
def people_dirs(tmp_path_factory):
    """Faces made from scikit-image's astronaut: ``faces/`` (portraits, a group) and ``lookalike/``
    (dog/ and cat/, told apart only by a colour cast: enough to fit and measure the heads)."""
    skimage_data = pytest.importorskip("skimage.data")
    root = tmp_path_factory.mktemp("people")
    face = Image.fromarray(skimage_data.astronaut())
    rng = np.random.default_rng(0)
    for sub in ("faces/portraits", "faces/groups", "lookalike/dog", "lookalike/cat"):
        (root / sub).mkdir(parents=True)
    for i in range(3):
        face.rotate(float(rng.uniform(-10, 10))).save(root / "faces/portraits" / f"p{i}.jpg")
    group = Image.new("RGB", (1024, 512))
    group.paste(face, (0, 0)), group.paste(face.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (512, 0))
    group.save(root / "faces/groups" / "g0.jpg")
    for i in range(6):
        shifted = face.crop((i * 8, 0, 400 + i * 8, 400))
        tint = np.asarray(shifted, float) * np.array([1.1, 1.0, 0.85] if i % 2 else [0.85, 1.0, 1.1])
        photo = Image.fromarray(np.clip(tint, 0, 255).astype(np.uint8))
        photo.save(root / "lookalike" / ("dog" if i % 2 else "cat") / f"src{i % 3}_{i}.jpg")
    return root


@pytest.fixture(scope="module")
def pets_real_dir(people_dirs):
    """Real-photo folders in miniature: dog/ and cat/ (coloured photos, and the astronaut tinted: a face
    the box rule learns as a pet's when the folder decides, see below) and other/ (the astronaut)."""
    root = people_dirs / "pets-real"
    rng = np.random.default_rng(7)
    faces = sorted((people_dirs / "lookalike").rglob("*.jpg"))
    for label, colour in (("cat", (200, 60, 60)), ("dog", (60, 60, 200)), ("other", None)):
        (root / label).mkdir(parents=True)
        for i in range(6):
            face = np.asarray(Image.open(faces[i]), float)
            photo = colour_photo(rng, colour, 96) if colour and i < 2 else face * (np.array(colour or 255) / 255)
            Image.fromarray(np.asarray(photo, np.uint8)).save(root / label / f"{label}{i}.jpg")
    return root


def rebuild_args(kaggle_dir, people_dirs, pets_real_dir, out, **kw):
    return args_for(
        kaggle_dir,
        out,
        backbone="efficientnet_lite0",
        head_epochs=1,
        faces=people_dirs / "faces",
        lookalike=people_dirs / "lookalike",
        pets_real=pets_real_dir,
        **kw,
    )


@pytest.mark.slow
def test_one_command_rebuilds_a_servable_model_and_resumes(
    kaggle_dir, people_dirs, pets_real_dir, tmp_path, capsys, monkeypatch
):
    """The whole chain on tiny made-up data, on an EfficientNet-Lite0: the pet head; the ImageNet,
    human-face and people heads in one graph; the int8 LiteRT file; the box rule; the face head; the
    measurements as the bot answers; the comparison with the default. Cut short in the face head, it
    goes on from there with --resume and publishes a model the bot serves."""
    from classifier.selfie import SelfieScorer
    from training import stages
    from training.__main__ import main
    from training.rebuild import rebuild

    # made-up photos: each box is what its folder says (no ImageNet head calls the astronaut a dog)
    monkeypatch.setattr("training.boxes.PET_MASS", 0.0)

    def cut_short(args, previous, folder):
        raise KeyboardInterrupt

    real_stage = stages.STAGES["face_head"]
    stages.STAGES["face_head"] = stages.Stage("face_head", real_stage.what, cut_short)
    try:
        with pytest.raises(KeyboardInterrupt):
            rebuild(rebuild_args(kaggle_dir, people_dirs, pets_real_dir, tmp_path, version="e2e"))
    finally:
        stages.STAGES["face_head"] = real_stage
    run = tmp_path / "runs" / "e2e"
    first = json.loads((run / "rebuild.json").read_text())["done"]
    assert list(first) == ["pets", "heads", "serving", "boxes"] and not (tmp_path / "e2e").exists()
    assert "go on with: python -m training --resume" in capsys.readouterr().out

    assert main(["--resume", str(run), "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert said.count("done before") == 4 and "[5/7] fit the face-embedding head: done" in said
    state = json.loads((run / "rebuild.json").read_text())
    done = state["done"]
    assert all(done[name]["seconds"] == first[name]["seconds"] for name in first)  # not run again
    assert list(done) == ["pets", "heads", "serving", "boxes", "face_head", "measure", "compare"]
    assert state["published"]["promoted"] and [p.name for p in run.iterdir() if p.is_dir()] == ["compare"]

    artifact = tmp_path / "e2e"
    assert default_model_dir(tmp_path) == artifact  # no default before: promoted
    clf = Classifier.load(artifact)
    assert clf.runtime.name == "litert" and clf.heads == {"pets", "imagenet", "people", "human"}
    card = clf.card
    assert "int8" in card.extra["litert"]["quantised"] and card.heads["boxes"] and card.heads["face_embedding"]
    assert card.metrics["subjects"]["faces_found"]["photo"] == 1.0 and "subjects_real" in card.metrics
    assert card.metrics["compared_with_default"]["verdict"] == "no default model to beat"
    for name in ("report.md", "subjects.md", "comparison.md", "card.json", "model.tflite"):
        assert (artifact / name).is_file(), name
    assert "## Subjects: person, pet or neither" in (artifact / "report.md").read_text()
    result = SelfieScorer(clf).score(people_dirs / "faces/portraits/p0.jpg")
    assert result.subject in ("person", "pet", "none") and result.to_json()["subject"] == result.subject
    assert main(["--resume", str(run)]) == 0 and "is finished" in capsys.readouterr().out

    # the same settings again: measured beside that default on the same photos, real ones included
    again = rebuild(rebuild_args(kaggle_dir, people_dirs, pets_real_dir, tmp_path, version="e2e-2"))
    compared = Classifier.load(again["artifact"]).card.metrics["compared_with_default"]
    assert compared["default"] == "e2e" and set(compared["subjects"]) == {"default", "candidate"}
    assert compared["pets"]["pets-real"]["default"]["photos"] == 12
    assert again["promoted"] == compared["better"] and default_model_dir(tmp_path).name == (
        "e2e-2" if compared["better"] else "e2e"
    )

    # a pet classifier alone would cost the bot its answers on people: never promoted over one with heads
    headless = rebuild(args_for(kaggle_dir, tmp_path, version="e2e-3", backbone="efficientnet_lite0", head_epochs=1))
    assert not headless["promoted"] and "has the face_embedding head" in headless["promote_verdict"]


@pytest.mark.parametrize(
    "command,expected",
    [
        (["training.addheads", "nope", "--faces", ".", "--lookalike", ".", "--pets", "."], "error: not a folder: nope"),
        (["training", "--data", ".", "--faces", "."], "error: --faces and --lookalike go together"),
        (["training", "--data", ".", "--faces", "nope", "--lookalike", "."], "error: not a folder: nope (--faces)"),
        (["training", "--resume", "tests"], "tests is not a rebuild's run folder"),
        (["training.face_head", "no", "--faces", ".", "--lookalike", ".", "--pets", "."], "error: not a folder: no"),
        (
            ["training.addheads", str(default_model_dir()), "--faces", ".", "--lookalike", ".", "--pets", "."],
            "already has its heads",
        ),
    ],
)
@pytest.mark.slow  # a process that imports TensorFlow
def test_heads_command_lines_fail_with_one_clear_line(command, expected):
    result = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and expected in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


# as on the device: importing TensorFlow fails as for a package that is not installed (a None in
# sys.modules would not do: Keras takes "tensorflow" in sys.modules for TensorFlow being in use)
NO_TENSORFLOW = """import sys


class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NoTensorFlow())
"""


@pytest.mark.slow
def test_a_gpu_fine_tune_without_tensorflow_goes_on_elsewhere_with_resume(kaggle_dir, tmp_path):
    """A GPU machine that has JAX but no TensorFlow (bfloat16 steps, end to end with augmentation,
    here on the CPU): the rebuild fine-tunes, then stops before the serving file with one clear line;
    the run folder, carried to a machine with TensorFlow, goes on with --resume and names where its
    photos are there. Both runtimes then give the same answers."""
    import jax  # noqa: F401  a dev dependency: this test runs in CI, it never skips

    no_tf = tmp_path / "no_tensorflow"
    no_tf.mkdir()
    (no_tf / "sitecustomize.py").write_text(NO_TENSORFLOW)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": f"{no_tf}{os.pathsep}{ROOT}"}
    command = [sys.executable, "-m", "training", "--data", str(kaggle_dir), "--backbone", "tiny_cnn", "--weights"]
    command += ["none", "--mode", "end-to-end", "--mixed-precision", "on", "--head-epochs", "8", "--head-lr", "3e-3"]
    command += ["--batch-size", "16", "--out", str(tmp_path / "gpu-models"), "--run-dir", str(tmp_path / "runs")]
    command += ["--version", "jax-1", "--no-progress"]
    trained = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, timeout=280)
    assert trained.returncode == 2, trained.stderr[-3000:]
    assert trained.stderr.strip().splitlines()[-1].startswith("error: the serving file needs TensorFlow")
    assert f"--resume {tmp_path / 'runs' / 'jax-1'}" in trained.stdout and "Traceback" not in trained.stderr

    carried = tmp_path / "carried"
    shutil.copytree(tmp_path / "runs" / "jax-1", carried / "jax-1")
    home = [sys.executable, "-m", "training", "--resume", str(carried / "jax-1"), "--out", str(tmp_path / "models")]
    resumed = subprocess.run(home + ["--no-progress"], capture_output=True, text=True, cwd=ROOT, timeout=280)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "[1/3] fine-tune the classifier: done before" in resumed.stdout
    artifact = tmp_path / "models" / "jax-1"
    report = json.loads((artifact / "report.json").read_text())
    assert (report["backend"], report["mode"], report["settings"]["mixed_precision"]) == ("jax", "end-to-end", "on")
    assert report["metrics"]["test"]["accuracy"] >= 0.8
    served, reference = Classifier.load(artifact), Classifier.load(artifact, runtime="keras")
    assert served.runtime.name == "litert"
    photos = sorted((kaggle_dir / "train").glob("*.[0-9].jpg"))
    np.testing.assert_allclose(served.predict_proba(photos), reference.predict_proba(photos), atol=0.005)
    assert served.card.extra["probes"]  # the canary a running bot checks before it switches


def test_compare_puts_a_candidate_beside_the_default_on_the_same_photos(kaggle_dir, tmp_path, capsys):
    from training.compare import compare, main
    from training.rebuild import rebuild as run

    good = Path(run(args_for(kaggle_dir, tmp_path, version="good", head_epochs=8, promote=False))["artifact"])
    worse = Path(run(args_for(kaggle_dir, tmp_path, version="worse", head_epochs=0, promote=False))["artifact"])
    real = tmp_path / "real"
    rng = np.random.default_rng(5)
    for label, colour in (("cat", (200, 60, 60)), ("dog", (60, 60, 200))):
        (real / label).mkdir(parents=True)
        for i in range(3):
            colour_photo(rng, colour, 64).save(real / label / f"{i}.jpg")
    table, better = compare(worse, good, kaggle_dir, real)
    assert not better
    test, pets = table["test split"], table["pets-real"]
    assert test["default"]["photos"] == test["candidate"]["photos"] > 0 and pets["default"]["photos"] == 6
    assert test["default"]["accuracy"] > test["candidate"]["accuracy"] and pets["default"]["accuracy"] >= 0.8
    assert main([str(good), "--default", str(worse), "--pets", str(kaggle_dir), "--pets-real", str(real)]) == 0
    assert "| pets-real | candidate | 6 |" in capsys.readouterr().out
    assert main([str(worse), "--default", str(good), "--pets", str(kaggle_dir)]) == 1


def test_the_device_pack_takes_train_photos_of_the_cards_split_classes_in_turn(kaggle_dir):
    """What a device run trains on never includes the shipped model's test split, and any prefix of
    it (what fits in 64 MiB) is balanced."""
    from classifier import ModelCard
    from tools.devicepack import training_photos
    from training.data import pet_split

    card = ModelCard(
        version="v",
        labels=["cat", "dog"],
        display_names={},
        emoji={},
        input_size=32,
        backbone="tiny_cnn",
        training_data={"images": 49, "split": {"seed": 3, "val": 10, "test": 10}},
    )
    photos = training_photos(kaggle_dir, card)
    train, _, test, _ = pet_split(kaggle_dir, card)
    assert photos and set(photos) <= set(train) and not set(photos) & set(test)
    kinds = [p.name.split(".")[0] for p in photos]
    assert all(kinds[i] != kinds[i + 1] for i in range(0, len(kinds) - 1, 2))  # cat, dog, cat, dog, ...
    assert training_photos(kaggle_dir, card) == photos  # the same pack every time


def test_the_face_head_is_fitted_measured_and_calibrated_on_both_folders(people_dirs):
    """training.face_head on made-up faces (the lookalike labels differ only by a colour cast): the
    card gets 128 weights, a calibration whose centre is the median face of faces/ and lookalike/
    together, the cross-source AUCs, and no embedding."""
    from classifier.face_embedding import FaceEmbedder
    from training.face_head import embed_faces, fit
    from training.subjects import images_in

    head, measured = fit(people_dirs / "faces", people_dirs / "lookalike")
    assert len(head["weights"]) == 128 and head["scale"] > 0
    assert set(measured["auc_held_out_source"]) == {"src0", "src1", "src2"}
    assert all(0.0 <= v <= 1.0 for v in measured["auc_held_out_source"].values())
    both = [*images_in(people_dirs / "faces"), *images_in(people_dirs / "lookalike")]
    faces = embed_faces(both, largest_only=False, embedder=FaceEmbedder())
    logits = faces.embeddings @ np.asarray(head["weights"]) + head["bias"]
    assert measured["calibration_faces"] == len(logits) == 11  # 3 portraits, 2 in the group, 6 lookalike
    assert np.median(logits) == pytest.approx(head["center"], abs=1e-4)
    assert measured["cpu_ms_per_face"] > 0
    assert not any(isinstance(v, list) and len(v) == 128 for k, v in {**head, **measured}.items() if k != "weights")


def test_progress_bars_show_on_a_terminal_with_a_time_estimate_and_stay_out_of_logs(monkeypatch):
    import io

    from training import progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    assert list(progress.steps(range(5), "photos read")) == [0, 1, 2, 3, 4]
    bar = screen.getvalue()  # what, done/total, elapsed<left
    assert "photos read" in bar and "/5 [" in bar and "<" in bar
    progress.enable(False)
    try:
        quiet = Terminal()
        monkeypatch.setattr(sys, "stderr", quiet)
        assert list(progress.steps(iter("ab"), "photos")) == ["a", "b"] and quiet.getvalue() == ""
    finally:
        progress.enable(True)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a log file: no bar
    assert list(progress.steps([1], "photos")) == [1] and sys.stderr.getvalue() == ""
    assert (progress.duration(59.6), progress.duration(3725)) == ("1:00", "1:02:05")


def test_the_verdict_needs_one_check_better_and_none_worse():
    from training.verdict import _check

    pair = {"default": {"accuracy": 0.990, "log_loss": 0.030}, "candidate": {"accuracy": 0.9905, "log_loss": 0.020}}
    assert _check("acc", pair, "accuracy", 1 / 2000)["says"] == "same"  # one photo of 2,000 is noise
    assert _check("loss", pair, "log_loss", 0.001, lower_is_better=True)["says"] == "better"
    assert _check("acc", pair, "accuracy", 0.0001)["says"] == "better"
    assert _check("auc", {"default": 0.80, "candidate": 0.70}, None, 0.005)["says"] == "worse"
    assert _check("auc", {"default": None, "candidate": 0.70}, None, 0.005) is None  # not measured: no check
