"""Is a rebuilt model better than the default? Both are measured here, with today's code, on the same
photos: the default's own test split of the pet photos (which the candidate never trained on when
the splits match) and, where given, real pet photos whole and the held-back real photos' subjects.
The verdict and both columns go into the candidate's ``comparison.md`` and card."""

from __future__ import annotations

from pathlib import Path

from .data import TRAIN_FILES

# a real-photo rate may fall by this much (about one photo in the held-back part) before it counts as worse
NOISE = 0.005
SUBJECT_RATES = ("pets_answered_as_pet", "pets_right_animal", "people_as_person", "other_animals_as_none")


def _split(card) -> dict:
    split = card.training_data.get("split", {})
    return {k: split.get(k) for k in ("seed", "train", "val", "test")} | {"images": card.training_data.get("images")}


def subjects(artifact: Path, pets_real: Path, faces: Path) -> dict:
    from classifier import Classifier
    from classifier.selfie import SelfieScorer

    from .boxes import labelled_photos
    from .boxes import measure as measure_subjects

    return measure_subjects(SelfieScorer(Classifier.load(artifact)), labelled_photos(pets_real, faces, None))["rates"]


def judge(candidate: Path, out: Path, pets: Path, pets_real: Path | None, faces: Path | None) -> dict:
    from classifier import ModelCard, ModelError
    from classifier.card import default_model_dir

    from .compare import compare

    try:
        default = default_model_dir(out)
    except ModelError:
        return _write(candidate, {"better": True, "verdict": "no default model to beat", "default": None})
    new, old = ModelCard.load(candidate), ModelCard.load(default)
    result = {"default": old.version, "better": False}
    if new.labels != old.labels:
        return _write(candidate, result | {"verdict": f"the default answers {old.labels}, this model {new.labels}"})
    seen = _seen_test_photos(candidate.parent / TRAIN_FILES, pets, old)
    if seen is None and _split(new) != _split(old):
        verdict = "trained on another split than the default's (its test photos may be in this training set)"
        return _write(candidate, result | {"verdict": verdict, "splits": {"default": _split(old), "this": _split(new)}})
    if seen:
        verdict = f"{seen} of the default's test photos were among its training photos"
        return _write(candidate, result | {"verdict": verdict})
    real = pets_real if pets_real and (Path(pets_real) / "dog").is_dir() else None
    table, better = compare(candidate, default, pets, real)
    result["pets"] = table
    reasons = [] if better else ["not better on the test split (accuracy, then log loss)"]
    if real and faces and "boxes" in new.heads and "boxes" in old.heads:
        rates = {"default": subjects(default, real, faces), "candidate": subjects(candidate, real, faces)}
        result["subjects"] = rates
        worse = [k for k in SUBJECT_RATES if _lower(rates["candidate"].get(k), rates["default"].get(k))]
        reasons += [f"worse on real photos: {', '.join(k.replace('_', ' ') for k in worse)}"] if worse else []
    result["better"] = not reasons
    result["verdict"] = "; ".join(reasons) or "better on the test split and no worse on real photos"
    return _write(candidate, result)


def _seen_test_photos(train_files: Path, pets: Path, default_card) -> int | None:
    """How many of the default's test photos this model learned from; None when its run folder does not say."""
    from .data import pet_split, photo_key

    if not train_files.is_file():
        return None
    _, _, test, _ = pet_split(pets, default_card)
    return len(set(train_files.read_text().split("\n")) & {photo_key(p) for p in test})


def _lower(new: float | None, old: float | None) -> bool:
    return new is not None and old is not None and new < old - NOISE


def _write(candidate: Path, result: dict) -> dict:
    from classifier import ModelCard

    card = ModelCard.load(candidate)
    card.metrics["compared_with_default"] = result
    card.save(candidate)
    (candidate / "comparison.md").write_text(markdown(card.version, result))
    return result


def markdown(version: str, result: dict) -> str:
    lines = [f"# {version} against the default model ({result['default'] or 'none'})", "", result["verdict"], ""]
    if "pets" in result:
        lines += ["| photos | model | count | accuracy | log loss |", "| --- | --- | --- | --- | --- |"]
        for name, rows in result["pets"].items():
            for who, s in rows.items():
                lines.append(f"| {name} | {who} | {s['photos']} | {s['accuracy']:.2%} | {s['log_loss']:.4f} |")
        lines.append("")
    if "subjects" in result:
        lines += ["| held-back real photos | default | this model |", "| --- | --- | --- |"]
        old, new = result["subjects"]["default"], result["subjects"]["candidate"]
        for key in old:
            cells = [f"{v:.1%}" if v is not None else "-" for v in (old[key], new.get(key))]
            lines.append(f"| {key.replace('_', ' ')} | {cells[0]} | {cells[1]} |")
        lines.append("")
    return "\n".join(lines)
