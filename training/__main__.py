"""python -m training --data DIR [--backbone NAME] [--out models/] [--promote]"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .backbones import BACKBONES


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training",
        description="Retrain the Mirror Mirror classifier by transfer learning, evaluate it on a held-out "
        "test split, and export an artifact (model + card + report) into the models folder.",
    )
    p.add_argument(
        "--data", required=True, help="dataset folder: Kaggle layout (train/cat.1.jpg) or one sub-folder per class"
    )
    p.add_argument(
        "--backbone",
        default="efficientnet_lite0",
        choices=list(BACKBONES),
        help="feature extractor (default: %(default)s; keras.applications ones need internet)",
    )
    p.add_argument(
        "--weights",
        default="imagenet",
        help="'imagenet', 'none', a .pth state dict, or a model folder whose ImageNet head has them "
        "(a device run: models/lite2-20261202) (default: %(default)s)",
    )
    p.add_argument(
        "--mode",
        default="auto",
        choices=["auto", "cached", "end-to-end"],
        help="cached: run the frozen bottom once per image (fast on CPU, no augmentation); "
        "end-to-end: augmentation and full network each step; auto: end-to-end on a GPU",
    )
    p.add_argument("--epochs", type=int, help="shorthand: the same number of head and fine-tune epochs")
    p.add_argument("--head-epochs", type=int, default=6, help="phase 1 epochs, frozen backbone (default: %(default)s)")
    p.add_argument(
        "--fine-tune-epochs",
        type=int,
        default=6,
        help="phase 2 epochs, top of backbone unfrozen (default: %(default)s)",
    )
    p.add_argument("--head-lr", type=float, default=1e-3, help="phase 1 learning rate (default: %(default)s)")
    p.add_argument("--fine-tune-lr", type=float, default=1e-4, help="phase 2 learning rate (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=64, help="default: %(default)s")
    p.add_argument("--val-fraction", type=float, default=0.1, help="default: %(default)s")
    p.add_argument("--test-fraction", type=float, default=0.1, help="default: %(default)s")
    p.add_argument("--seed", type=int, default=1337, help="split and initialisation seed (default: %(default)s)")
    p.add_argument("--limit", type=int, help="use at most this many images per class (quick runs)")
    p.add_argument(
        "--mixed-precision",
        default="auto",
        choices=["auto", "on", "off"],
        help="bfloat16 compute; auto: on when a GPU is present",
    )
    p.add_argument("--out", default="models", help="where the artifact folder goes (default: %(default)s)")
    p.add_argument("--run-dir", default="runs", help="checkpoints of this run (default: %(default)s)")
    p.add_argument("--version", help="artifact folder name (default: date-backbone-id)")
    p.add_argument(
        "--promote",
        action="store_true",
        help="make it the default model, only if it beats the current default on the same test split",
    )
    p.add_argument(
        "--faces",
        type=Path,
        help="photos of people (portraits/, groups/): with --lookalike, adds the bot's heads (person, pet or "
        "neither; the answers on people) and measures them; EfficientNet-Lite backbones only",
    )
    p.add_argument("--lookalike", type=Path, help="faces labelled dog-like / cat-like (dog/, cat/): see --faces")
    p.add_argument(
        "--pets-real",
        type=Path,
        help="pets as people photograph them (dog/, cat/, other/): with --faces, fits and measures what decides "
        "each face box (python -m training.boxes)",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="one line per epoch instead of a bar")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.epochs is not None:
        args.head_epochs = args.fine_tune_epochs = args.epochs
    args.weights = None if args.weights.lower() == "none" else args.weights
    if bool(args.faces) != bool(args.lookalike):
        print("error: --faces and --lookalike go together", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from classifier import ModelError

    from .pipeline import run

    try:
        summary = run(args)
    except (FileNotFoundError, ValueError, ModelError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\nsummary")
    for key, value in summary.items():
        print(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
