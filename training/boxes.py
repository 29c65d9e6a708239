"""python -m training.boxes: fit and measure what decides each face box (a person's face, a pet's face
or neither) on real photos, and write it into an artifact's card.

YuNet boxes most frontal dog and cat faces on real photos, and the human head alone, fitted on the
squashed Kaggle copies, called ~1 in 5 of them people. Here the box rule (``classifier.subject.BoxRule``)
is fitted on boxes from photos as people take them:

- person: every box in ``faces/`` and ``lookalike/`` (less the lookalike projects' animal reference
  photos: a crop the ImageNet head calls >= 30% dog or cat);
- pet: boxes in ``pets-real/dog``, ``pets-real/cat`` and the Kaggle training split whose crop the
  ImageNet head calls >= 20% dog or cat (the rest are mostly the owners' faces: left out, not guessed);
- neither: boxes in ``pets-real/other`` (other animals; a person holding one is left out the same way)
  and in photos with neither.

A fixed 30% of the photos of each folder (by a hash of the file name) is never fitted on: the
subject table in the report is measured there, the way the bot answers (``SelfieScorer``), with the
worst misses drawn as a grid a maintainer can look at. Photos are read into memory only.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classifier.images import UnreadableImage
from classifier.selfie import SelfieScorer
from classifier.subject import BOX_FEATURES, KINDS, NONE, PERSON, PET, BoxRule, face_features

from .boxes_report import held_back, measure, misses_grid, rates, table_markdown
from .progress import steps
from .subjects import images_in, none_photos

__all__ = ["fit_and_measure", "fit_rule", "held_back", "measure", "misses_grid", "rates", "table_markdown"]

log = logging.getLogger(__name__)
C = 0.1  # L2 strength of the box rule: cross-validated over 0.1, 1, 10 (5 folds by photo)
PERSON_WEIGHT = 3.0  # a person called a pet is the worse mistake: 2 of 1,003 people wrong at 3, 8 at 1
PEOPLE_PET_MASS = 0.3  # a lookalike crop this much dog or cat is an animal reference photo
PET_MASS = 0.2  # a box in a pet photo whose crop is less dog or cat than this is not the pet's face
# how a photo's subject is decided around the box rule (``heads.subject``; see classifier.subject.DEFAULTS),
# chosen by replaying the served path on the fitted-on photos (with people and pets put together, turned
# and close up, as boxes_report makes them of the held-back ones): a person's photo reads its whole photo
# unless the face fills 60% of its side (the pet in their arms is seen; ~1.1x CPU a selfie), a pet beside a
# person is 20% dog or 2% cat (<1% of people's photos alone reach that), an undecided photo is read upside
# down too, and a photo 30% dog or cat (15% while the pet classifier is 90% sure) is a pet photo
SUBJECT = {
    "close_up": 0.6,
    "photo_pet_beside": 0.2,
    "cat_beside": 0.02,
    "turned_view": 1,
    "photo_pet": 0.3,
    "photo_pet_low": 0.15,
    "pets_sure": 0.9,
}


@dataclass
class Boxes:
    features: list[np.ndarray] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)

    def add(self, x: np.ndarray, label: str | None, source: str) -> None:
        if label is None:
            self.dropped[source] = self.dropped.get(source, 0) + 1
            return
        self.features.append(x)
        self.labels.append(label)


def _label(source: str, x: np.ndarray) -> str | None:
    """The box's label from its photo's folder, or None where the folder's label does not fit it."""
    pet_mass = np.exp(np.logaddexp(x[BOX_FEATURES.index("log_dog")], x[BOX_FEATURES.index("log_cat")]))
    if source == "person":
        return PERSON
    if source == "lookalike":
        return PERSON if pet_mass < PEOPLE_PET_MASS else None
    if source in ("dog", "cat"):
        return PET if pet_mass >= PET_MASS else None
    animal = np.exp(x[BOX_FEATURES.index("log_animal")]) + pet_mass
    human = x[BOX_FEATURES.index("human_logit")] > 0
    return NONE if animal >= PET_MASS or not human else None


def box_rows(scorer: SelfieScorer, source) -> list[np.ndarray]:
    """Each face box's features in one photo (one model run, as the bot does)."""
    prepared = scorer.prepare(source)
    if not prepared.found:
        return []
    out = scorer.classifier.outputs(prepared.arrays)
    return [face_features(out, i, f, prepared.image.size) for i, f in enumerate(prepared.found)]


def labelled_photos(pets_real: Path, faces: Path, lookalike: Path | None, kaggle: list[Path] = ()) -> list:
    """(path, folder, kind) for every photo used: kind is dog, cat, other, person or lookalike."""
    items = [(p, "pets-real", kind) for kind in ("dog", "cat", "other") for p in images_in(Path(pets_real) / kind)]
    items += [(p, "faces", "person") for p in images_in(faces)]
    if lookalike:
        items += [(p, "lookalike", "lookalike") for p in images_in(lookalike)]
    items += [(p, "kaggle", p.name.split(".")[0]) for p in kaggle]
    return items


def collect(scorer: SelfieScorer, items: list) -> Boxes:
    boxes = Boxes()
    for path, _, source in steps(items, "box rule: photos"):
        if held_back(path.name):
            continue
        try:
            rows = box_rows(scorer, path)
        except UnreadableImage:
            continue
        for x in rows:
            boxes.add(x, _label(source, x), source)
    for photo in none_photos().values():
        for x in box_rows(scorer, photo):
            boxes.add(x, NONE, "none")
    return boxes


def fit_rule(boxes: Boxes) -> tuple[BoxRule, dict]:
    """A standardised multinomial logistic regression (scikit-learn) on the boxes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y = np.vstack(boxes.features), np.asarray(boxes.labels)
    scaler = StandardScaler().fit(x)
    weight = np.where(y == PERSON, PERSON_WEIGHT, 1.0)
    model = LogisticRegression(C=C, max_iter=5000).fit(scaler.transform(x), y, sample_weight=weight)
    order = [list(model.classes_).index(k) for k in KINDS if k in model.classes_]
    if len(order) != len(KINDS):
        raise ValueError(f"the box rule needs boxes of each kind; got {sorted(set(y))}")
    rule = BoxRule(scaler.mean_, scaler.scale_, model.coef_[order], model.intercept_[order])
    said = np.array([rule.kind(row) for row in x])
    fit = {
        "boxes": {k: int((y == k).sum()) for k in KINDS},
        "left_out": boxes.dropped,
        "fit_accuracy": {k: float((said[y == k] == k).mean()) for k in KINDS},
        "C": C,
        "person_weight": PERSON_WEIGHT,
    }
    return rule, fit


def fit_and_measure(
    artifact: Path, pets_real: Path, faces: Path, lookalike: Path | None, kaggle=(), fit: bool = True
) -> dict:
    """Fit the box rule for ``artifact`` and write it into its card (unless not ``fit``), measure the
    held-back photos and write ``subjects.md`` and ``subject_misses.png`` beside the model."""
    from classifier import Classifier, ModelCard

    card = ModelCard.load(artifact)
    if not card.heads or "imagenet" not in card.heads:
        raise ValueError(f"{artifact} has no ImageNet and human heads; add them with python -m training.addheads")
    items = labelled_photos(pets_real, faces, lookalike, kaggle)
    if fit:
        scorer = SelfieScorer(Classifier.load(artifact).warm_up())
        print(f"fitting the box rule on {sum(not held_back(p.name) for p, *_ in items)} photos ...")
        rule, fitted = fit_rule(collect(scorer, items))
        card.heads["boxes"] = rule.to_card()
        card.heads["subject"] = {**card.heads.get("subject", {}), **SUBJECT}
        card.metrics["boxes_fit"] = fitted
        card.save(artifact)
    scorer = SelfieScorer(Classifier.load(artifact))
    print(f"measuring on {sum(held_back(p.name) for p, _, k in items if k != 'lookalike')} held-back photos ...")
    result = measure(scorer, items)
    misses_grid(result["misses"], artifact / "subject_misses.png")
    (artifact / "subjects.md").write_text(
        f"# {card.version}: who the answer is about, on real photos\n\n"
        "Held-back photos of `pets-real/` (dog, cat, other animals), `faces/` (people) and made photos with "
        "neither, answered as the bot answers (`python -m training.boxes`). A pet beside a person counts as "
        "answered (person+pet). The worst misses: `subject_misses.png` beside this file (written where the "
        "photos are, never committed: it shows them).\n\n" + table_markdown(result) + "\n"
    )
    report = artifact / "report.md"
    if report.is_file() and "subjects.md" not in report.read_text():
        report.write_text(report.read_text() + "\nWho the answer is about, on real photos: see `subjects.md`.\n")
    card = ModelCard.load(artifact)
    card.metrics["subjects_real"] = result["rates"]
    card.save(artifact)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.boxes", description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir", type=Path, help="an artifact with its heads, e.g. models/$(cat models/DEFAULT)")
    p.add_argument("--pets-real", type=Path, required=True, help="dog/, cat/ and other/ photos as people take them")
    p.add_argument("--faces", type=Path, required=True, help="photos of people")
    p.add_argument("--lookalike", type=Path, help="more faces of people (their animal reference photos are left out)")
    p.add_argument("--pets", type=Path, help="the Kaggle dogs-vs-cats folder: its training split adds pets' boxes")
    p.add_argument("--measure-only", action="store_true", help="keep the card's box rule; only measure it again")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from classifier import ModelCard, ModelError

    for folder in (args.model_dir, args.pets_real, args.faces, args.lookalike, args.pets):
        if folder is not None and not folder.is_dir():
            print(f"error: not a folder: {folder}", file=sys.stderr)
            return 2
    kaggle = []
    if args.pets:
        from .data import pet_split

        train, *_ = pet_split(args.pets, ModelCard.load(args.model_dir))
        kaggle = train[::20]
    try:
        result = fit_and_measure(
            args.model_dir, args.pets_real, args.faces, args.lookalike, kaggle, not args.measure_only
        )
    except (ValueError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table_markdown(result))
    print(json.dumps(ModelCard.load(args.model_dir).metrics.get("boxes_fit"), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
