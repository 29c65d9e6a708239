"""The stages of a rebuild, in order. Each one gets the run's settings, the previous stage's artifact
and a folder to write (most copy the previous artifact there and change it in place), and returns
what it measured: a small dict for the run's state file. ``training/rebuild.py`` runs them, resumes
them and publishes the result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from argparse import Namespace
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Stage:
    name: str
    what: str  # the progress line's words
    run: Callable[[Namespace, Path, Path], dict]  # (settings, previous artifact, folder to write)


def in_place(change: Callable[[Namespace, Path], dict]) -> Callable[[Namespace, Path, Path], dict]:
    def stage(args: Namespace, previous: Path, folder: Path) -> dict:
        shutil.copytree(previous, folder)
        return change(args, folder)

    stage.__doc__ = change.__doc__
    return stage


def _card(folder: Path):
    from classifier import ModelCard

    return ModelCard.load(folder)


def pets(args: Namespace, previous: Path | None, folder: Path) -> dict:
    """Fine-tune the classifier on --data (the long stage; the others take minutes on a CPU)."""
    from .pipeline import train_pets

    card = _card(train_pets(args, folder.parent, folder.name, args.version))
    test = card.metrics["test"]
    return {"accuracy": test["accuracy"], "log_loss": test["log_loss"], **card.metrics["training"]}


PETS = Stage("pets", "fine-tune the classifier", pets)


def heads(args: Namespace, previous: Path, folder: Path) -> dict:
    """The ImageNet, human-face and people heads on the pet classifier's features, in one graph."""
    from .addheads import serving_with_heads
    from .data import pet_split
    from .export import export
    from .report import write_report

    card = _card(previous)
    pet_train, *_ = pet_split(Path(args.data), card)
    serving, card.heads, fit = serving_with_heads(previous, card, args.faces, args.lookalike, pet_train)
    report = json.loads((previous / "report.json").read_text())
    report["heads"] = {"fit": fit, "meaning": card.heads["people"]["meaning"]}
    write_report(export(serving, card, folder.parent, with_litert=False, name=folder.name), report)
    return {"people_auc_held_out_source": fit["people"]["auc_held_out_source"]}


def serving(args: Namespace, folder: Path) -> dict:
    """The LiteRT file the bot serves: int8 (calibrated on the photo folders) or float32."""
    import keras

    photos = [str(p) for p in (args.data, args.pets_real, args.faces, args.lookalike) if p]
    int8 = args.serving == "int8" or (args.serving == "auto" and args.faces is not None)
    if keras.backend.backend() == "tensorflow":
        from .compile import compile_artifact

        compile_artifact(folder, int8_from=[Path(p) for p in photos] if int8 else None)
    else:  # the LiteRT converter traces the graph with TensorFlow: a process on that backend does it
        command = [sys.executable, "-m", "training.compile", str(folder), *(["--int8", *photos] if int8 else [])]
        env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            said = (done.stderr.strip().splitlines() or ["(nothing)"])[-1]
            raise RuntimeError(f"the serving file needs TensorFlow (pip install -e '.[training]'): {said}")
    litert = _card(folder).extra.get("litert") or {"quantised": "none: float32, checked against Keras"}
    return {"file": "int8" if int8 else "float32", "litert": litert}


def boxes(args: Namespace, folder: Path) -> dict:
    """The rule that decides each face box (person, pet or neither), fitted on real photos."""
    from .boxes import fit_and_measure
    from .data import pet_split

    pet_train, *_ = pet_split(Path(args.data), _card(folder))
    return fit_and_measure(folder, args.pets_real, args.faces, args.lookalike, pet_train[::20])["rates"]


def face_head(args: Namespace, folder: Path) -> dict:
    """A person's answer: the dog-like / cat-like head on the face embedding."""
    from .face_head import attach, fit

    head, measured = fit(args.faces, args.lookalike)
    attach(folder, _card(folder), head, measured)
    return {"auc_held_out_source": measured["auc_held_out_source"]}


def measure(args: Namespace, folder: Path) -> dict:
    """Everything measured again as the bot answers, on the served file: pets, people, subjects."""
    from .addheads import remeasure

    return remeasure(folder, args.faces, args.lookalike, Path(args.data))


def compare(args: Namespace, folder: Path) -> dict:
    """The candidate beside the default model on the same photos; the verdict decides promotion."""
    from .verdict import judge

    return judge(folder, Path(args.out), Path(args.data), args.pets_real, args.faces)


STAGES = {
    "heads": Stage("heads", "fit the ImageNet, human-face and people heads", heads),
    "serving": Stage("serving", "write the LiteRT serving file", in_place(serving)),
    "boxes": Stage("boxes", "fit the face-box rule on real photos", in_place(boxes)),
    "face_head": Stage("face_head", "fit the face-embedding head", in_place(face_head)),
    "measure": Stage("measure", "measure as the bot answers", in_place(measure)),
    "compare": Stage("compare", "compare with the default model", in_place(compare)),
}


def plan(args: Namespace) -> list[Stage]:
    """The stages these settings need: the bot's heads only with people's photos, the box rule only
    with real pet photos."""
    names = ["heads"] if args.faces else []
    names.append("serving")
    if args.faces and args.pets_real:
        names.append("boxes")
    if args.faces:
        names += ["face_head", "measure"]
    names.append("compare")
    return [PETS, *(STAGES[n] for n in names)]
