"""python -m training.compare CANDIDATE [--pets DIR] [--pets-real DIR]: a retrained pet classifier
(a device run's, say) against the default model, on the same photos, side by side.

The test split is the default model's own (its card's seed and fractions over ``--pets``), which
a device run never trained on (``tools/devicepack.py`` packs photos of the train part
only); ``--pets-real`` adds real pet photos (its ``dog/`` and ``cat/``), whole, as the bot reads a
pet photo. Both models see each photo and its mirror image, as in their reports. Exit status 0
when the candidate is better on the test split (accuracy, then log loss), 1 when not. The rebuild's
compare stage (``training/verdict.py``) puts this table beside the other checks that decide promotion.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .data import load_arrays, pet_split
from .evaluate import log_loss

ROOT = Path(__file__).resolve().parent.parent


def mirrored_proba(classifier, images: np.ndarray) -> np.ndarray:
    return (classifier.predict_proba_arrays(images) + classifier.predict_proba_arrays(images[:, :, ::-1])) / 2


def scores(classifier, photos: list[Path], labels: list[str]) -> dict:
    images, ok = load_arrays(photos, classifier.card.input_size)
    y = np.asarray([classifier.card.labels.index(label) for label in labels])[ok]
    p = mirrored_proba(classifier, images[ok])
    return {"photos": int(ok.sum()), "accuracy": float((p.argmax(-1) == y).mean()), "log_loss": log_loss(p, y)}


def real_pets(folder: Path) -> tuple[list[Path], list[str]]:
    from .subjects import images_in

    photos, labels = [], []
    for label in ("cat", "dog"):
        found = images_in(folder / label) if (folder / label).is_dir() else []
        photos, labels = photos + found, labels + [label] * len(found)
    if not photos:
        raise FileNotFoundError(f"{folder}: expected dog/ and cat/ folders")
    return photos, labels


def compare(candidate: Path, default: Path, pets: Path, pets_real: Path | None) -> tuple[dict, bool]:
    from classifier import Classifier

    models = {"default": Classifier.load(default), "candidate": Classifier.load(candidate)}
    if models["candidate"].card.labels != models["default"].card.labels:
        raise ValueError(f"{candidate} has labels {models['candidate'].card.labels}, the default another set")
    _, _, test, test_labels = pet_split(pets, models["default"].card)
    sets = {"test split": (test, test_labels)}
    if pets_real:
        sets["pets-real"] = real_pets(pets_real)
    table = {name: {who: scores(m, *photos) for who, m in models.items()} for name, photos in sets.items()}
    old, new = table["test split"]["default"], table["test split"]["candidate"]
    better = new["accuracy"] > old["accuracy"] or (
        new["accuracy"] == old["accuracy"] and new["log_loss"] < old["log_loss"]
    )
    return table, better


def main(argv=None) -> int:
    from classifier import ModelError
    from classifier.card import default_model_dir

    p = argparse.ArgumentParser(prog="python -m training.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("candidate", type=Path)
    p.add_argument("--default", type=Path, help="the model to beat (default: models/DEFAULT's)")
    p.add_argument("--pets", type=Path, default=ROOT.parent / "shared" / "data" / "dogs-vs-cats")
    p.add_argument("--pets-real", type=Path, help="dog/ and cat/ photos as people take them")
    args = p.parse_args(argv)
    try:
        table, better = compare(args.candidate, args.default or default_model_dir(), args.pets, args.pets_real)
    except (FileNotFoundError, ValueError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("| photos | model | count | accuracy | log loss |\n| --- | --- | --- | --- | --- |")
    for name, rows in table.items():
        for who, s in rows.items():
            print(f"| {name} | {who} | {s['photos']} | {s['accuracy']:.2%} | {s['log_loss']:.4f} |")
    print("the candidate is better on the test split" if better else "the candidate is not better on the test split")
    return 0 if better else 1


if __name__ == "__main__":
    sys.exit(main())
