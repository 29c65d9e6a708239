"""Is a rebuilt model better than the default? Both are measured here, with today's code, on the same
photos: the default's own test split of the pet photos (which the candidate never learned from: checked
by name) and, where given, real pet photos whole and the held-back real photos' subjects; beside them
the face heads' lookalike AUC from both reports. Better: no check worse, at least one better. The
verdict and both columns go into the candidate's ``comparison.md`` and card."""

from __future__ import annotations

from pathlib import Path

from .data import TRAIN_FILES

# promotion: no check worse, at least one better; a change within these is noise, not better or worse
NOISE = 0.005  # a real-photo rate: about one photo of the held-back part
LOG_LOSS_NOISE = 0.001
AUC_NOISE = 0.005
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
    table, _ = compare(candidate, default, pets, real)
    result["pets"] = table
    test = table["test split"]
    checks = [_check("test split: accuracy", test, "accuracy", 1 / test["default"]["photos"])]  # one photo is noise
    checks.append(_check("test split: log loss", test, "log_loss", LOG_LOSS_NOISE, lower_is_better=True))
    if real:
        checks.append(_check("real pet photos: accuracy", table["pets-real"], "accuracy", NOISE))
    if real and faces and "boxes" in new.heads and "boxes" in old.heads:
        rates = {"default": subjects(default, real, faces), "candidate": subjects(candidate, real, faces)}
        result["subjects"] = rates
        checks += [_check(f"held-back real photos: {k.replace('_', ' ')}", rates, k, NOISE) for k in SUBJECT_RATES]
    for head in sorted(set(old.heads) - set(new.heads)):  # what the bot would lose
        checks.append({"check": f"has the {head} head", "default": 1.0, "candidate": 0.0, "says": "worse"})
    aucs = {"default": _people_auc(default), "candidate": _people_auc(candidate)}
    checks.append(_check("people: lookalike AUC across sources", aucs, None, AUC_NOISE))
    result["checks"] = [c for c in checks if c]
    worse = [c["check"] for c in result["checks"] if c["says"] == "worse"]
    better = [c["check"] for c in result["checks"] if c["says"] == "better"]
    result["better"] = bool(better) and not worse
    if worse:
        result["verdict"] = f"worse on {', '.join(worse)}"
    else:
        result["verdict"] = f"better on {', '.join(better)}; no worse elsewhere" if better else "no better anywhere"
    return _write(candidate, result)


def _check(name: str, pair: dict, key: str | None, noise: float, lower_is_better: bool = False) -> dict | None:
    """One line of the verdict: both values and better / worse / same (a change within ``noise`` is the same)."""
    old, new = (pair[who] if key is None else pair[who].get(key) for who in ("default", "candidate"))
    if old is None or new is None:
        return None
    change = (old - new) if lower_is_better else (new - old)
    noise += 1e-9  # a change of exactly one photo is still noise
    says = "better" if change > noise else "worse" if change < -noise else "same"
    return {"check": name, "default": old, "candidate": new, "says": says}


def _people_auc(artifact: Path) -> float | None:
    """The face head's lookalike AUC, each source fitted on the others, averaged (its report)."""
    import json

    try:
        auc = json.loads((artifact / "report.json").read_text())["heads"]["face_embedding"]["auc_held_out_source"]
    except (OSError, KeyError, ValueError):
        return None
    return sum(auc.values()) / len(auc)


def _seen_test_photos(train_files: Path, pets: Path, default_card) -> int | None:
    """How many of the default's test photos this model learned from; None when its run folder does not say."""
    from .data import pet_split, photo_key

    if not train_files.is_file():
        return None
    _, _, test, _ = pet_split(pets, default_card)
    return len(set(train_files.read_text().split("\n")) & {photo_key(p) for p in test})


def _write(candidate: Path, result: dict) -> dict:
    from classifier import ModelCard

    card = ModelCard.load(candidate)
    card.metrics["compared_with_default"] = result
    card.save(candidate)
    (candidate / "comparison.md").write_text(markdown(card.version, result))
    return result


def markdown(version: str, result: dict) -> str:
    lines = [f"# {version} against the default model ({result['default'] or 'none'})", "", result["verdict"], ""]
    if "checks" in result:
        lines += ["| check | default | this model | |", "| --- | --- | --- | --- |"]
        for c in result["checks"]:
            lines.append(f"| {c['check']} | {c['default']:.4f} | {c['candidate']:.4f} | {c['says']} |")
        lines.append("")
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
