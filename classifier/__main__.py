"""python -m classifier [--json] [--faces] [--model DIR] IMAGE...

One line per image; a bad file gets a one-line error and the rest still run (exit status 1).
Plain: the whole image through the pet classifier. ``--faces``: exactly what the bot answers
(person, pet or neither; one answer per person's face); a video or animation (MP4, WebM, MOV, GIF)
gets the bot's answer over 12 of its frames, with the spreads across frames and of the answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CLIPS = {".mp4", ".webm", ".mov", ".m4v", ".mkv", ".gif"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m classifier", description="How much puppy, how much kitty?")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, GIF, WebP, ...)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--faces",
        action="store_true",
        help="answer as the bot does: subject person/pet/none, one answer per face (left to right)",
    )
    p.add_argument("--model", metavar="DIR", help="model folder (default: the one named by models/DEFAULT)")
    args = p.parse_args(argv)

    from .card import ModelError
    from .images import UnreadableImage
    from .model import Classifier

    try:
        clf = Classifier.load(args.model)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.faces:
        from .selfie import SelfieScorer

        scorer = SelfieScorer(clf)

        def answer(path):
            if Path(path).suffix.lower() in CLIPS:
                from .clips import combine, sample_frames

                try:
                    data = Path(path).read_bytes()
                except OSError as exc:
                    raise UnreadableImage(exc.strerror or str(exc)) from None
                return combine([scorer.score(frame) for frame in sample_frames(data)], clf)
            return scorer.score(path)

        describe = _describe
    else:
        answer, describe = clf.predict, lambda pred: pred.text
    failed = False
    for path in args.images:
        try:
            result = answer(path)
        except UnreadableImage as exc:
            failed = True
            if args.json:
                print(json.dumps({"path": path, "error": str(exc)}), flush=True)
            print(f"{path}: error: {exc}", file=sys.stderr, flush=True)
            continue
        if args.json:
            print(json.dumps({"path": path, **result.to_json()}), flush=True)
        else:
            print(f"{path}: {describe(result)}", flush=True)
    return 1 if failed else 0


def _describe(result) -> str:
    """The bot's answer in one line of English."""
    if hasattr(result, "frames"):  # a clip
        spread = f"(frames spread {result.spread_frames:.3f}, the answer {result.spread_answer:.3f})"
        return f"over {result.agreeing} of {result.frames} frames: {_describe(result.result)} {spread}"
    if result.subject == "none":
        return "no face or pet found"
    pets = "; ".join(_pet(p) for p in result.pets)
    if result.subject == "pet":
        return "a pet: " + pets if len(result.pets) == 1 else f"{len(result.pets)} pets: {pets}"
    if len(result.faces) == 1:
        people = result.faces[0].prediction.text
    else:
        people = f"{len(result.faces)} faces, left to right: " + "; ".join(f.prediction.text for f in result.faces)
    return people + (f"; beside them, {pets}" if pets else "")


def _pet(pet) -> str:
    from .breeds import breed_name
    from .wording import indefinite

    said = pet.prediction.text.replace("you are", "this one is", 1)
    breed = breed_name(pet.breed) if pet.breed is not None else None
    return said + (f" ({indefinite(breed)}, I'd say)" if breed else "")


if __name__ == "__main__":
    sys.exit(main())
