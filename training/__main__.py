"""python -m training --data DIR [--faces DIR --lookalike DIR --pets-real DIR] [--promote]: one command
rebuilds the served model (``training/rebuild.py``); ``--resume RUN`` goes on with an interrupted one."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .backbones import BACKBONES
from .stages import PETS, STAGES


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training",
        description="Rebuild the Mirror Mirror model: fine-tune the pet classifier by transfer learning; with "
        "people's photos add the bot's heads, the box rule (with real pet photos) and the face head; write the "
        "serving file; measure everything as the bot answers; compare with the default model on the same photos; "
        "write the artifact (model + card + report) into the models folder, and with --promote make it the "
        "default if it is better. Interrupted, it goes on with --resume.",
    )
    p.add_argument("--data", help="dataset folder: Kaggle layout (train/cat.1.jpg) or one sub-folder per class")
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN",
        help="go on with an interrupted rebuild (its folder under --run-dir), with the settings it started with",
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
        "(a GPU run: models/$(cat models/DEFAULT)) (default: %(default)s)",
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
    p.add_argument("--out", help="where the artifact folder goes (default: models)")
    p.add_argument("--run-dir", default="runs", help="each run's stages and checkpoints (default: %(default)s)")
    p.add_argument("--version", help="artifact folder name (default: backbone-date-id)")
    p.add_argument(
        "--stop-after",
        choices=[PETS.name, *STAGES],
        help="stop after this stage, e.g. pets: fine-tune on a GPU machine, go on elsewhere with --resume",
    )
    p.add_argument(
        "--serving",
        default="auto",
        choices=["auto", "int8", "float32"],
        help="the LiteRT file: int8 calibrated on the photo folders, or float32; auto: int8 with the bot's heads",
    )
    p.add_argument(
        "--promote",
        action="store_true",
        help="make it the default model, only if measured beside the current default on the same photos it is "
        "better on one check and worse on none (comparison.md)",
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
        "each face box; compares with the default on them",
    )
    p.add_argument(
        "--no-progress", dest="progress", action="store_false", help="one line per epoch and stage instead of bars"
    )
    return p


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not (args.data or args.resume):
        p.error("--data is required (or --resume RUN)")
    defaults = vars(p.parse_args([]))  # what --resume refuses to see changed
    if not args.resume:
        if args.epochs is not None:
            args.head_epochs = args.fine_tune_epochs = args.epochs
        args.weights = None if args.weights.lower() == "none" else args.weights
    if bool(args.faces) != bool(args.lookalike):
        print("error: --faces and --lookalike go together", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from classifier import ModelError

    from .progress import enable
    from .rebuild import rebuild

    enable(args.progress)
    try:
        summary = rebuild(args, defaults)
    except KeyboardInterrupt:
        return 130
    except (FileNotFoundError, FileExistsError, ValueError, ModelError, RuntimeError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\nsummary")
    for key, value in summary.items():
        print(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
