"""python -m classifier.selfiebench: the CPU a selfie costs the bot, old path and new, one run.

- old: what the bot did before YuNet (OpenCV's Haar cascade on a 1024-px copy, a square crop per
  face, each crop and its mirror image through the model; no face: the whole photo and its mirror);
- new: ``SelfieScorer`` (YuNet, landmark-aligned crop, one model run per face; the whole photo
  only when no person is found).

Each side runs in its own process on the same 1280-px JPEGs (made before the clocks start), one
photo at a time: wall time per photo (p50, p95) and the process's CPU time per photo (user +
system, all threads: what the photo costs a 2-core machine).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIDE = 1280


def make_selfies(n: int, folder: Path | None = None) -> list[bytes]:
    """``n`` 1280-px JPEG selfies: photos from ``folder`` (e.g. ../shared/data/faces/portraits) or,
    without one, scikit-image's astronaut portrait, shifted, tilted and noised so each differs."""
    from PIL import Image

    rng = np.random.default_rng(0)
    if folder:
        sources = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:n]
        bases = [Image.open(p).convert("RGB") for p in sources]
    else:
        from skimage import data

        bases = [Image.fromarray(data.astronaut())]
    photos = []
    for i in range(n):
        base = bases[i % len(bases)]
        scale = SIDE / max(base.size)
        img = base.resize((round(base.width * scale), round(base.height * scale)), Image.BICUBIC)
        img = img.rotate(float(rng.uniform(-8, 8)), resample=Image.BILINEAR)
        noisy = np.asarray(img, np.int16) + rng.integers(-5, 6, (img.height, img.width, 3))
        buf = io.BytesIO()
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
        photos.append(buf.getvalue())
    return photos


def _old_path(model_dir: str | None):
    """The previous bot: Haar faces, square crops with a 35% margin, photo + mirror through the model."""
    import cv2
    from PIL import Image, ImageOps

    from .images import load_image, to_model_input
    from .model import Classifier

    cv2.setNumThreads(1)
    clf = Classifier.load(model_dir).warm_up()
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    size = clf.card.input_size

    def score(photo: bytes):
        image = load_image(photo, min_size=SIDE)
        if max(image.size) > SIDE:
            image.thumbnail((SIDE, SIDE), Image.BILINEAR)
        scale = min(1.0, 1024 / max(image.size))
        small = image.resize((round(image.width * scale), round(image.height * scale)))
        grey = cv2.equalizeHist(np.asarray(small.convert("L")))
        side = max(12, int(min(grey.shape) * 0.06))
        found = cascade.detectMultiScale(grey, scaleFactor=1.15, minNeighbors=5, minSize=(side, side))
        crops = []
        for x, y, w, h in np.asarray(found) / scale if len(found) else []:
            s = min(int(max(w, h) * 1.7), image.width, image.height)
            left = int(min(max(x + w / 2 - s / 2, 0), image.width - s))
            top = int(min(max(y + h / 2 - s / 2, 0), image.height - s))
            crops.append(image.crop((left, top, left + s, top + s)))
        crops = crops or [image]
        arrays = [to_model_input(c, size) for c in crops] + [to_model_input(ImageOps.mirror(c), size) for c in crops]
        return clf.predict_proba_arrays(np.stack(arrays)), len(found)

    return score, clf.card.version


def _new_path(model_dir: str | None):
    from .model import Classifier
    from .selfie import SelfieScorer

    scorer = SelfieScorer(Classifier.load(model_dir).warm_up())

    def score(photo: bytes):
        result = scorer.score(photo)
        return result, len(result.faces)

    return score, scorer.classifier.card.version


def child(side: str, model_dir: str | None, photo_dir: str) -> dict:
    photos = [p.read_bytes() for p in sorted(Path(photo_dir).glob("*.jpg"))]
    score, version = (_old_path if side == "old" else _new_path)(model_dir)
    score(photos[0])  # first-call costs are the server's start-up, not a photo's
    walls, faces = [], []
    cpu0 = time.process_time()
    for photo in photos:
        t = time.perf_counter()
        _, n = score(photo)
        walls.append(time.perf_counter() - t)
        faces.append(n)
    cpu = time.process_time() - cpu0
    return {
        "side": side,
        "model": version,
        "photos": len(photos),
        "p50_ms": float(np.percentile(walls, 50) * 1000),
        "p95_ms": float(np.percentile(walls, 95) * 1000),
        "cpu_ms_per_photo": cpu / len(photos) * 1000,
        "faces_found_share": float(np.mean([n > 0 for n in faces])),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m classifier.selfiebench", description=__doc__.split("\n\n")[0])
    p.add_argument("--old-model", default="models/lite2-20261124", help="the old path's model (default: %(default)s)")
    p.add_argument("--model", help="the new path's model (default: models/DEFAULT)")
    p.add_argument("--photos", type=int, default=40, help="selfies (default: %(default)s)")
    p.add_argument("--faces", type=Path, help="a folder of portraits to make the selfies from")
    p.add_argument("--child", choices=["old", "new"], help=argparse.SUPPRESS)
    p.add_argument("--photo-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        model = args.old_model if args.child == "old" else args.model
        print(json.dumps(child(args.child, model, args.photo_dir)))
        return 0
    results = {}
    with tempfile.TemporaryDirectory(prefix="mirror-selfies-") as photo_dir:
        for i, photo in enumerate(make_selfies(args.photos, args.faces)):
            Path(photo_dir, f"{i:03d}.jpg").write_bytes(photo)
        for side in ("old", "new"):
            cmd = [sys.executable, "-m", "classifier.selfiebench", "--child", side, "--photo-dir", photo_dir]
            cmd += ["--old-model", args.old_model] + (["--model", args.model] if args.model else [])
            out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            if out.returncode:
                print(out.stderr[-3000:], file=sys.stderr)
                return 1
            results[side] = json.loads(out.stdout.strip().splitlines()[-1])
    old, new = results["old"], results["new"]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"{old['photos']} selfies, {SIDE} px JPEG, one at a time, {cpus} CPUs; "
        f"old: Haar + {old['model']} with mirror; new: YuNet + aligned crop + {new['model']}"
    )
    print("| measure | old path | new path | better by |\n| --- | --- | --- | --- |")
    for key, name in (
        ("p50_ms", "wall p50 (ms)"),
        ("p95_ms", "wall p95 (ms)"),
        ("cpu_ms_per_photo", "CPU per photo (ms)"),
    ):
        print(f"| {name} | {old[key]:.1f} | {new[key]:.1f} | {old[key] / new[key]:.1f}x |")
    print(f"| a face found | {old['faces_found_share']:.0%} | {new['faces_found_share']:.0%} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
