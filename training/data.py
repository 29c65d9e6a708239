"""Datasets on disk: discovery (Kaggle flat layout or one folder per class), splits, decoding."""

from __future__ import annotations

import logging
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classifier.images import UnreadableImage, load_image, to_model_input

from .progress import steps

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
_KAGGLE_NAME = re.compile(r"^([A-Za-z]+)\.\d+\.[A-Za-z]+$")  # cat.123.jpg


@dataclass
class Dataset:
    paths: list[Path]
    labels: np.ndarray  # int index into class_names
    class_names: list[str]
    layout: str
    root: Path

    def balance(self) -> dict[str, int]:
        counts = Counter(self.labels.tolist())
        return {name: counts.get(i, 0) for i, name in enumerate(self.class_names)}

    def subset(self, index: np.ndarray) -> Dataset:
        return Dataset([self.paths[i] for i in index], self.labels[index], self.class_names, self.layout, self.root)


@dataclass
class Splits:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    seed: int
    fractions: dict = field(default_factory=dict)


def discover(root: str | Path) -> Dataset:
    """Read a dataset directory.

    Kaggle layout: image files named ``<label>.<n>.<ext>`` in ``root`` or ``root/train``.
    Folder layout: one sub-folder per class holding its images (any number of classes).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset directory not found: {root}")
    flat_dir = root / "train" if (root / "train").is_dir() else root
    flat = sorted(p for p in flat_dir.iterdir() if p.is_file() and _KAGGLE_NAME.match(p.name))
    if flat:
        names = [_KAGGLE_NAME.match(p.name).group(1).lower() for p in flat]
        classes = sorted(set(names))
        return Dataset(flat, np.array([classes.index(n) for n in names]), classes, "kaggle", root)
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    paths, labels = [], []
    for i, d in enumerate(class_dirs):
        files = sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += files
        labels += [i] * len(files)
    classes = [d.name for d in class_dirs]
    if len(classes) < 2 or not paths:
        raise ValueError(
            f"{root}: no dataset found; expected files like cat.1.jpg (Kaggle layout) "
            "or one sub-folder of images per class"
        )
    return Dataset(paths, np.array(labels), classes, "folders", root)


def split(labels: np.ndarray, val: float = 0.1, test: float = 0.1, seed: int = 1337) -> Splits:
    """Stratified, deterministic split: the same labels and seed always give the same indices."""
    rng = np.random.default_rng(seed)
    parts = {"train": [], "val": [], "test": []}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_test, n_val = round(len(idx) * test), round(len(idx) * val)
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    out = {k: np.sort(np.concatenate(v)) for k, v in parts.items()}
    return Splits(**out, seed=seed, fractions={"val": val, "test": test})


def load_arrays(paths: list[Path], size: int, workers: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Decode and resize images to ``size``x``size`` uint8. Returns (images, ok mask).

    Unreadable files become zero images with ``ok=False`` so indices stay aligned; the caller
    drops and counts them.
    """
    images = np.zeros((len(paths), size, size, 3), np.uint8)
    ok = np.ones(len(paths), bool)

    def work(i):
        try:
            images[i] = to_model_input(load_image(paths[i]), size)
        except UnreadableImage as exc:
            ok[i] = False
            log.warning("skipping %s: %s", paths[i], exc)

    with ThreadPoolExecutor(workers) as pool:
        list(steps(pool.map(work, range(len(paths))), "decoding photos", total=len(paths)))
    return images, ok


TRAIN_FILES = "train-files.txt"  # in a run folder: the photos a model learned from, by photo_key


def photo_key(path: Path) -> str:
    """A photo's name across copies of a dataset: Kaggle names carry their class (``cat.12.jpg``), a
    folder layout's do not (``rose/3.png``)."""
    path = Path(path)
    return path.name if "." in path.stem else f"{path.parent.name}/{path.name}"


def pet_split(pets_root: Path, card) -> tuple[list[Path], np.ndarray, list[Path], list[str]]:
    """The training split (for fitting) and the held-out test split (for measuring), as the pet
    model was trained: same dataset order, seed and fractions as its card records."""
    dataset = discover(pets_root)
    recorded = card.training_data.get("split", {})
    total = card.training_data.get("images") or len(dataset.paths)
    splits = split(
        dataset.labels,
        recorded.get("val", 0.1 * total) / total,
        recorded.get("test", 0.1 * total) / total,
        recorded.get("seed", 1337),
    )
    train = [dataset.paths[i] for i in splits.train]
    test = [dataset.paths[i] for i in splits.test]
    return train, dataset.labels[splits.train], test, [dataset.class_names[i] for i in dataset.labels[splits.test]]
