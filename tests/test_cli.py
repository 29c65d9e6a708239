"""``python -m classifier`` as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import jpeg_bytes

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd=ROOT):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "classifier", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=180,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    (d / "good.jpg").write_bytes(jpeg_bytes(Image.effect_noise((90, 70), 50).convert("RGB")))
    (d / "notes.txt").write_text("not a photo")
    (d / "empty.jpg").write_bytes(b"")
    return d


def test_human_output_and_bad_files(tiny_model_dir, files):
    result = run_cli(
        "--model", tiny_model_dir, files / "good.jpg", files / "notes.txt", files / "empty.jpg", files / "missing.png"
    )
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{files / 'good.jpg'}: you are ")
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 3 and all(": error: " in e for e in errors)
    assert "Traceback" not in result.stderr


def test_json_output(tiny_model_dir, files):
    result = run_cli("--json", "--model", tiny_model_dir, files / "good.jpg", files / "notes.txt")
    assert result.returncode == 1
    good, bad = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert good["path"].endswith("good.jpg") and good["label"] in ("cat", "dog")
    assert set(good["probabilities"]) == {"cat", "dog"}
    assert sum(good["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert bad["path"].endswith("notes.txt") and bad["error"]


def test_all_good_files_exit_zero(tiny_model_dir, files):
    assert run_cli("--model", tiny_model_dir, files / "good.jpg").returncode == 0


def test_no_model_is_one_clear_line(tmp_path, files):
    result = run_cli("--model", tmp_path / "none", files / "good.jpg")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: model folder not found")
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # a benchmark run
def test_bench_prints_both_sides_and_their_ratios(tiny_model_dir):
    out = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--model", tiny_model_dir, "--photos", "4", "--concurrency", "4"]
        + ["--compare", str(tiny_model_dir), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| single photo p50 (ms) |" in out.stdout and "physical limit" in out.stdout
    results = json.loads(out.stdout[out.stdout.index("{") :])
    base, serve = results["baseline"], results["serving"]
    assert (
        serve["runtime"] == "litert"
        and serve["model"] == json.loads((tiny_model_dir / "card.json").read_text())["version"]
    )
    for side in (base, serve):
        assert side["p50_ms"] > 0 and side["throughput"] > 0 and side["first_answer_s"] > 0
    ratio = f"{base['p50_ms'] / serve['p50_ms']:.1f}x"
    row = out.stdout.split("| single photo p50 (ms) |")[1].splitlines()[0]
    assert ratio in row and row.count("x |") == 2  # the --compare side in its own column, same run
    assert results[f"serving:{tiny_model_dir}"]["throughput"] > 0 and "of the float32 bound" in out.stdout


@pytest.fixture(scope="module")
def sample_photos(tmp_path_factory):
    skimage_data = pytest.importorskip("skimage.data")
    d = tmp_path_factory.mktemp("samples")
    group = Image.new("RGB", (1024, 512))
    face = Image.fromarray(skimage_data.astronaut())
    group.paste(face, (0, 0)), group.paste(face.resize((384, 384)), (600, 64))
    for name, image in {
        "person.jpg": face,
        "cat.jpg": Image.fromarray(skimage_data.chelsea()),
        "cup.jpg": Image.fromarray(skimage_data.coffee()),
        "two.jpg": group,
    }.items():
        (d / name).write_bytes(jpeg_bytes(image))
    (d / "notes.txt").write_text("not a photo")
    return d


def test_faces_json_is_what_the_bot_answers(sample_photos):
    """--faces with the shipped model: person / pet / none, faces left to right, the largest face
    as the headline; a bad file still gets its {"path", "error"} line."""
    names = ["person.jpg", "cat.jpg", "cup.jpg", "two.jpg", "notes.txt"]
    result = run_cli("--json", "--faces", *(sample_photos / n for n in names))
    assert result.returncode == 1, result.stderr[-2000:]
    person, cat, cup, two, bad = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert person["subject"] == "person" and len(person["faces"]) == 1
    assert person["probabilities"] == person["faces"][0]["probabilities"] and person["label"] in ("cat", "dog")
    assert cat["subject"] == "pet" and cat["label"] == "cat" and cat["faces"] == []
    assert [p["label"] for p in cat["pets"]] == ["cat"] and person["pets"] == []
    assert cup == {
        "path": str(sample_photos / "cup.jpg"),
        "subject": "none",
        "label": None,
        "probabilities": None,
        "faces": [],
        "pets": [],
    }
    boxes = [f["box"] for f in two["faces"]]
    assert two["subject"] == "person" and len(boxes) == 2 and boxes[0][0] < boxes[1][0]  # left to right
    assert two["probabilities"] == two["faces"][0]["probabilities"]  # the larger face, on the left
    assert set(bad) == {"path", "error"}


def test_faces_text_output(sample_photos):
    result = run_cli("--faces", sample_photos / "cat.jpg", sample_photos / "cup.jpg")
    cat, cup = result.stdout.strip().splitlines()
    assert result.returncode == 0 and "a pet: this one is" in cat and "% kitty" in cat
    assert cup.endswith(": no face or pet found")


@pytest.mark.slow  # a benchmark run
def test_selfie_bench_prints_baseline_and_new_side_by_side(tiny_model_dir, sample_photos):
    """The baseline is a git revision's own code (here HEAD, in a temporary worktree)."""
    out = subprocess.run(
        [sys.executable, "-m", "tools.selfiebench", "--baseline", "HEAD", "--model", tiny_model_dir]
        + ["--photos", "3", "--pets", sample_photos, "--parts"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {
        tuple(c.strip() for c in line.split("|")[1:3]): line
        for line in out.stdout.splitlines()
        if line.startswith("| ")
    }
    for kind in ("selfies", "pets"):
        assert {(kind, m) for m in ("wall p50 (ms)", "wall p95 (ms)", "CPU per photo (ms)", "a face found")} <= set(
            rows
        )
        old, new, ratio = (cell.strip() for cell in rows[(kind, "CPU per photo (ms)")].split("|")[3:6])
        assert float(old) > 0 and float(new) > 0 and abs(float(ratio[:-1]) - float(old) / float(new)) < 0.15
    assert rows[("selfies", "a face found")].split("|")[4].strip() == "100%"  # YuNet finds the astronaut every time
    lines = [line.split("|") for line in out.stdout.splitlines() if line.startswith("| ")]
    names = ("decode", "yunet", "crop", "backbone", "total")
    parts = {c[1].strip(): (float(c[2]), float(c[3])) for c in lines if len(c) == 6 and c[1].strip() in names}
    assert set(names) == set(parts)
    assert all(v > 0 for v in parts["total"] + parts["backbone"])  # one model run per selfie, timed on each side
    worktrees = subprocess.run(["git", "worktree", "list"], capture_output=True, text=True, cwd=ROOT).stdout
    assert "mirror-bench-" not in worktrees  # the baseline's checkout is gone
