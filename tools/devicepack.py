"""python -m tools.devicepack [--data DIR]: fill ``.device/`` (git-ignored) with what a GPU run
needs beside the working tree, for a GPU machine without internet (docs/gpu.md).

The device tool sends the working tree and the carried folder, 64 MiB in all; its machine has JAX
and no Keras, no network. So ``.device/`` holds the wheels it lacks (Keras and the two it needs
that the machine's image does not hold) and as many training photos as fit: Kaggle photos from
the train part of the shipped model's own split (as its card records it), never its test split,
so the result is compared here on the same 2,000 test photos. The ImageNet weights come
from the shipped model itself (``backbones/from_artifact.py``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 64 * 2**20  # what one device call may send
MARGIN = 2 * 2**20  # for what a checkout holds beside the tracked files (the README's note, logs)
# not in the device machine's image (its package list, /work/.library/device/KINDS.md); the rest of
# Keras' needs (numpy, h5py, rich, absl-py, ml-dtypes, packaging) and ours (pillow, matplotlib,
# scikit-learn, opencv) are there
WHEELS = ("keras", "namex", "optree")
DEVICE_PYTHON = "3.12"
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def tree_bytes() -> int:
    """What the device tool sends without ``carry``: tracked files and untracked ones git does not ignore."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    return sum((ROOT / n.decode()).stat().st_size for n in names if n and (ROOT / n.decode()).is_file())


def installed_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def download_wheels(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in WHEELS:
        spec = f"{name}=={installed_version(name)}"  # the versions the tests ran with here
        platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
        command += ["--python-version", DEVICE_PYTHON, "--implementation", "cp", *platforms, "-d", str(folder), spec]
        subprocess.run(command, check=True)


def training_photos(data: Path, card) -> list[Path]:
    """The train photos of ``card``'s own split (``training.data.pet_split``: its seed and fractions),
    classes interleaved in a fixed random order, so that any prefix is balanced."""
    from training.data import pet_split

    train, labels, _, _ = pet_split(data, card)
    rng = np.random.default_rng(card.training_data.get("split", {}).get("seed", 1337))
    per_class = []
    for c in np.unique(labels):
        index = np.flatnonzero(labels == c)
        rng.shuffle(index)
        per_class.append(index)
    return [train[i] for row in zip(*per_class) for i in row]


def pack(data: Path, out: Path, budget: int | None = None) -> dict:
    from classifier import ModelCard
    from classifier.card import default_model_dir

    card = ModelCard.load(default_model_dir())
    shutil.rmtree(out, ignore_errors=True)
    download_wheels(out / "wheels")
    wheels = sum(p.stat().st_size for p in (out / "wheels").iterdir())
    tree = tree_bytes()
    room = (LIMIT - MARGIN - tree - wheels) if budget is None else budget
    photos = out / "photos"
    photos.mkdir(parents=True)
    used = count = 0
    for path in training_photos(data, card):
        size = path.stat().st_size
        if used + size > room:
            break
        shutil.copyfile(path, photos / path.name)  # Kaggle names (cat.123.jpg): the layout discover() reads
        used, count = used + size, count + 1
    manifest = {
        "photos": count,
        "photo_bytes": used,
        "wheels": sorted(p.name for p in (out / "wheels").iterdir()),
        "wheel_bytes": wheels,
        "tree_bytes": tree,
        "total_mib": round((tree + wheels + used) / 2**20, 2),
        "source": f"{data}: the train part of {card.version}'s split, never its validation or test split",
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.devicepack", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dogs-vs-cats")
    p.add_argument("--out", type=Path, default=ROOT / ".device")
    p.add_argument("--photo-mib", type=float, help="photos to pack, in MiB (default: all that fit)")
    args = p.parse_args(argv)
    budget = int(args.photo_mib * 2**20) if args.photo_mib else None
    try:
        manifest = pack(args.data, args.out, budget)
    except (FileNotFoundError, ValueError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(manifest, indent=2))
    if manifest["total_mib"] > LIMIT / 2**20:
        print("error: over the device tool's 64 MiB", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
