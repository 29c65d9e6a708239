"""python -m training.addheads MODEL_DIR --faces DIR --lookalike DIR --pets DIR [--promote]

Turn a trained pet classifier into the bot's multi-head artifact (``training/heads.py``): the same
backbone and pet head, plus the ImageNet head, the human-face head and the people head, fitted and
measured here (``training/people.py``, ``training/subjects.py``). Writes ``models/<version>/``
with its card and a report that adds subject decisions and the answers on people. No backbone
training: minutes on a CPU. ``python -m training --faces ... --lookalike ...`` runs the same step
after training a backbone.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from .data import pet_split

log = logging.getLogger(__name__)


def lookalike_set(root: Path) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """(paths, dog-like 1 / cat-like 0 / both -1, source) from ``dog/``, ``cat/``, ``both/``; the
    source is the file-name prefix (``ghdtldus_...``)."""
    from .subjects import images_in

    paths, labels = [], []
    for folder, label in (("dog", 1), ("cat", 0), ("both", -1)):
        found = images_in(Path(root) / folder) if (Path(root) / folder).is_dir() else []
        paths += found
        labels += [label] * len(found)
    if not paths:
        raise FileNotFoundError(f"{root}: expected dog/ and cat/ folders of face photos")
    return paths, np.asarray(labels), np.asarray([p.name.split("_")[0] for p in paths])


def fit_heads(classifier_model, spec, size: int, faces: Path, lookalike: Path, pet_train: list[Path]):
    """Fit the human and people heads on ``classifier_model``'s features. Returns (people head,
    human head, calibration, what the fitting measured)."""
    from .heads import build_serving_model
    from .people import calibration, crop_features, fit_human, fit_people
    from .subjects import images_in

    feature_model = build_serving_model(classifier_model, spec, with_features=True)
    t = time.perf_counter()
    look_paths, dog_like, sources = lookalike_set(lookalike)
    look = crop_features(feature_model, look_paths, size, largest_only=True)
    face_paths = images_in(faces)
    people_crops = crop_features(feature_model, face_paths, size, largest_only=False)
    negatives = crop_features(feature_model, pet_train, size, largest_only=False, centre=True)
    print(
        f"face crops: {len(look.owner)} lookalike, {len(people_crops.owner)} in {faces}, "
        f"{len(negatives.owner) - len(pet_train)} boxes and {len(pet_train)} central squares in pet photos "
        f"({time.perf_counter() - t:.0f} s)"
    )
    labelled = dog_like[look.owner] >= 0
    people, people_fit = fit_people(
        look.features[labelled], dog_like[look.owner][labelled], sources[look.owner][labelled]
    )
    human, human_fit = fit_human(np.vstack([look.human_inputs, people_crops.human_inputs]), negatives.human_inputs)
    cal = calibration(people.decision(people_crops.features))
    fit = {
        "people": {**people_fit, "faces": int(labelled.sum()), "found": float(len(look.owner) / len(look_paths))},
        "human": human_fit,
        "calibration": {**cal, "faces": int(len(people_crops.owner)), "source": str(faces)},
        "seconds": time.perf_counter() - t,
    }
    return people, human, cal, fit


def measure(artifact: Path, faces: Path, lookalike: Path, pet_test: list[Path], pet_labels: list[str]) -> dict:
    """The artifact as the bot answers: subjects, pets, people, lookalike separation."""
    from classifier import Classifier
    from classifier.selfie import SelfieScorer

    from .subjects import confusion, evaluate_lookalike, evaluate_none, evaluate_people, evaluate_pets, images_in

    scorer = SelfieScorer(Classifier.load(artifact).warm_up())
    print(f"measuring {scorer.classifier.card.version} as the bot answers ...")
    t = time.perf_counter()
    pets = evaluate_pets(scorer, pet_test, pet_labels)
    none = evaluate_none(scorer)
    people = evaluate_people(scorer, images_in(Path(faces) / "portraits"), images_in(Path(faces) / "groups"))
    look_paths, dog_like, sources = lookalike_set(lookalike)
    keep = dog_like >= 0
    look = evaluate_lookalike(scorer, [p for p, k in zip(look_paths, keep) if k], dog_like[keep], sources[keep])
    return {
        "pets": pets,
        "none": none,
        "people": people,
        "lookalike": look,
        "confusion": confusion(pets, people, none),
        "seconds": time.perf_counter() - t,
    }


def serving_with_heads(model_dir: Path, card, faces: Path, lookalike: Path, pet_train: list[Path]):
    """The pet classifier in ``model_dir`` and the heads fitted on its features, in one graph:
    (serving model, the card's ``heads``, what fitting measured)."""
    import keras

    from .backbones import get_backbone
    from .heads import build_serving_model

    spec = get_backbone(card.backbone)
    pets = keras.saving.load_model(model_dir / card.model_file, compile=False)
    people, human, cal, fit = fit_heads(pets, spec, card.input_size, faces, lookalike, pet_train[::4])
    return build_serving_model(pets, spec, people=people, human=human), heads_config(cal), fit


def add_heads(
    model_dir: Path,
    faces: Path,
    lookalike: Path,
    pets: Path,
    out: Path,
    version: str | None = None,
    pets_real: Path | None = None,
) -> Path:

    from classifier import ModelCard

    from .export import export
    from .report import write_report

    card = ModelCard.load(model_dir)
    if card.heads:
        raise ValueError(f"{model_dir} already has its heads; start from the pet classifier it was made from")
    pet_train, _, pet_test, pet_labels = pet_split(pets, card)
    serving, heads, fit = serving_with_heads(model_dir, card, faces, lookalike, pet_train)

    new = copy.deepcopy(card)
    new.version = version or f"{card.version.split('-')[0]}-{dt.date.today():%Y%m%d}"
    new.created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    new.extra = {"made_from": card.version}
    new.heads = heads
    artifact = export(serving, new, out)
    evaluation = measure(artifact, faces, lookalike, pet_test, pet_labels)

    report_path = model_dir / "report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    heads = {"fit": fit, "evaluation": evaluation, "meaning": new.heads["people"]["meaning"]}
    report.update({"version": new.version, "made_from": card.version, "heads": heads})
    write_report(artifact, report)
    new.metrics["subjects"] = summary(evaluation, fit)
    new.save(artifact)
    if pets_real is not None:  # each face box decided on its own, fitted and measured on real photos
        from .boxes import fit_and_measure

        fit_and_measure(artifact, pets_real, faces, lookalike, pet_train[::20])
    return artifact


def heads_config(calibration: dict) -> dict:
    """What the card says about reading the heads (``classifier/subject.py``, ``ModelCard.people_logit``)."""
    from classifier.subject import DEFAULTS, IMAGENET_PETS

    meaning = (
        "For a pet, the percentage is the pet classifier's calibrated probability. For a person, it is where "
        "the face falls among people's faces: 50% is the middle, 73% puppy means more dog-like than most faces. "
        "It is a game, fitted on faces that people labelled dog-like or cat-like, not a measurement of anyone."
    )
    return {"imagenet": IMAGENET_PETS, "people": {**calibration, "meaning": meaning}, "subject": dict(DEFAULTS)}


def summary(evaluation: dict, fit: dict) -> dict:
    e = evaluation
    return {
        "pets_right": e["pets"]["right"],
        "pets_as_pet": e["pets"]["as_pet"],
        "none_as_none": e["none"]["as_none"],
        "people_as_person": e["people"]["as_person"],
        "faces_found": e["people"]["found"],
        "people_puppy_median": e["people"]["puppy_median"],
        "people_share_10_90": e["people"]["share_10_90"],
        "people_steadiness_ratio": e["people"]["steadiness_ratio"],
        "lookalike_auc_held_out_source": fit["people"]["auc_held_out_source"],
    }


def remeasure(artifact: Path, faces: Path, lookalike: Path, pets: Path) -> dict:
    """Measure an artifact that already has its heads again (after a change to the serving code),
    and rewrite its report and card metrics."""
    from classifier import ModelCard

    from .report import write_report

    card = ModelCard.load(artifact)
    if not card.heads:
        raise ValueError(f"{artifact} has no heads to measure; make them with python -m training.addheads")
    _, _, pet_test, pet_labels = pet_split(pets, card)
    evaluation = measure(artifact, faces, lookalike, pet_test, pet_labels)
    report = json.loads((artifact / "report.json").read_text())
    report["heads"]["evaluation"] = evaluation
    write_report(artifact, report)
    card.metrics["subjects"] = summary(evaluation, report["heads"]["fit"])
    card.save(artifact)
    return card.metrics["subjects"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.addheads", description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir", type=Path, help="a pet classifier artifact, e.g. models/lite2-20261124")
    p.add_argument("--faces", type=Path, required=True, help="photos of people: portraits/ and groups/")
    p.add_argument("--lookalike", type=Path, required=True, help="faces labelled dog-like / cat-like: dog/, cat/")
    p.add_argument("--pets", type=Path, required=True, help="the pet dataset the classifier was trained on")
    p.add_argument("--pets-real", type=Path, help="pets as people photograph them: fits the box rule (training.boxes)")
    p.add_argument("--out", type=Path, default=Path("models"), help="default: %(default)s")
    p.add_argument("--version", help="artifact folder name (default: <backbone>-<today>)")
    p.add_argument("--promote", action="store_true", help="make it the default model")
    p.add_argument(
        "--remeasure",
        action="store_true",
        help="MODEL_DIR already has its heads: only measure it again (after a change to the serving code)",
    )
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from classifier import ModelError

    for folder in (args.model_dir, args.faces, args.lookalike, args.pets, args.pets_real):
        if folder is not None and not folder.is_dir():
            print(f"error: not a folder: {folder}", file=sys.stderr)
            return 2
    try:
        if args.remeasure:
            summary_now = remeasure(args.model_dir, args.faces, args.lookalike, args.pets)
            print(json.dumps(summary_now, indent=2))
            return 0
        artifact = add_heads(
            args.model_dir, args.faces, args.lookalike, args.pets, args.out, args.version, args.pets_real
        )
    except (FileNotFoundError, FileExistsError, ValueError, ModelError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return announce(artifact, args.out, args.promote)


def announce(artifact: Path, out: Path, promote: bool) -> int:
    """The last lines of a command that wrote an artifact, and ``--promote``."""
    print(f"wrote {artifact}; see {artifact / 'report.md'}")
    if promote:
        from classifier.card import set_default

        set_default(out, artifact.name)
        print(f"{artifact.name} is now the default model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
