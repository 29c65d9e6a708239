"""python -m classifier [--json] [--model DIR] IMAGE...

One line per image; a bad file gets a one-line error and the rest still run (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m classifier", description="How much puppy, how much kitty?")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, GIF, WebP, ...)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
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
    failed = False
    for path in args.images:
        try:
            pred = clf.predict(path)
        except UnreadableImage as exc:
            failed = True
            if args.json:
                print(json.dumps({"path": path, "error": str(exc)}), flush=True)
            print(f"{path}: error: {exc}", file=sys.stderr, flush=True)
            continue
        if args.json:
            print(json.dumps({"path": path, **pred.to_json()}), flush=True)
        else:
            print(f"{path}: {pred.text}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
