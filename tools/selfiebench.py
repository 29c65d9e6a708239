"""python -m tools.selfiebench: the CPU a photo costs the bot, a baseline's code and this one's, one run.

- baseline: ``SelfieScorer`` as a git revision of this repository had it (``--baseline``, default:
  the code of 2026-11-25, before each face box was decided on its own), with that revision's
  default model, run from a temporary git worktree;
- new: ``SelfieScorer`` of the working tree.

Each side runs in its own process on the same 1280-px JPEGs (made before the clocks start), one
photo at a time: selfies, and with ``--pets`` pet photos too (the path that finds no person).
Wall time per photo (p50, p95) and the process's CPU time per photo (user + system, all threads:
what the photo costs a 2-core machine).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SIDE = 1280


BASELINE = "c7d3f01"  # main on 2026-11-25: the human head's threshold decided each face; pets ran the photo 3 ways


def make_photos(n: int, folder: Path | None = None) -> list[bytes]:
    """``n`` 1280-px JPEGs: photos from ``folder`` (e.g. ../shared/data/faces/portraits) or, without
    one, scikit-image's astronaut portrait, shifted, tilted and noised so each differs."""
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


# One side's whole path (``SelfieScorer.score``, which every revision has), run with ``python -c`` in that
# revision's tree: a baseline needs no code of this one. Wall time per photo and the process's CPU time.
CHILD = """
import json, sys, time
from pathlib import Path
import numpy as np
from classifier.model import Classifier
from classifier.selfie import SelfieScorer

photos = [p.read_bytes() for p in sorted(Path(sys.argv[1]).glob("*.jpg"))]
scorer = SelfieScorer(Classifier.load(sys.argv[2] if len(sys.argv) > 2 else None).warm_up())
scorer.score(photos[0])  # first-call costs are the server's start-up, not a photo's
walls, faces = [], []
cpu0 = time.process_time()
for photo in photos:
    t = time.perf_counter()
    faces.append(len(scorer.score(photo).faces))
    walls.append(time.perf_counter() - t)
cpu = time.process_time() - cpu0
print(json.dumps({
    "model": scorer.classifier.card.version,
    "photos": len(photos),
    "p50_ms": float(np.percentile(walls, 50) * 1000),
    "p95_ms": float(np.percentile(walls, 95) * 1000),
    "cpu_ms_per_photo": cpu / len(photos) * 1000,
    "faces_found_share": float(np.mean([n > 0 for n in faces])),
}))
"""


# The parts of a selfie's path that every revision has (decode, YuNet, the largest face's aligned
# crop, one model run on it), timed with that revision's own functions: run with ``python -c`` in
# the revision's tree, so a baseline needs no code of this one. CPU time of the whole process.
PARTS = """
import json, sys, time
from pathlib import Path
import numpy as np
from classifier.faces import FaceDetector, aligned_crop
from classifier.images import load_image
from classifier.model import Classifier
from classifier.selfie import WORK_SIDE
try:
    from classifier.faces import Photo  # the photo's array made once for YuNet and the crop
except ImportError:  # a revision before it: each made its own
    Photo = None

photos = [p.read_bytes() for p in sorted(Path(sys.argv[1]).glob("*.jpg"))]
clf = Classifier.load(sys.argv[2] if len(sys.argv) > 2 else None).warm_up()
detector, size = FaceDetector(), clf.card.input_size
spent = dict.fromkeys(("decode", "yunet", "crop", "backbone"), 0.0)
for k, photo in enumerate(photos):
    clock = time.process_time()
    image = load_image(photo, min_size=WORK_SIDE)
    pixels = Photo(image) if Photo else image
    faces = detector.detect(pixels)
    marks = [time.process_time()]
    crops = [aligned_crop(pixels, max(faces, key=lambda f: f.box.area), size)] if faces else []
    marks.append(time.process_time())
    if crops:
        clf.runtime(np.stack(crops).astype(np.float32))
    marks.append(time.process_time())
    if k == 0:
        continue  # first-call costs are the server's start-up
    detected = marks[0]  # decode and YuNet apart: decode again, alone
    again = time.process_time()
    load_image(photo, min_size=WORK_SIDE)
    decode = time.process_time() - again
    spent["decode"] += decode
    spent["yunet"] += detected - clock - decode
    spent["crop"] += marks[1] - marks[0]
    spent["backbone"] += marks[2] - marks[1]
n = len(photos) - 1
print(json.dumps({k: 1000 * v / n for k, v in spent.items()}))
"""


def _run(script: str, where: Path, photo_dir: str, model: str | None) -> dict:
    """``script`` in its own process, from ``where`` (this tree, or the baseline's worktree)."""
    cmd = [sys.executable, "-c", script, photo_dir] + ([model] if model else [])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(where)}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=where)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.selfiebench", description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", default=BASELINE, help="git revision of the baseline's code (default: %(default)s)")
    p.add_argument("--model", help="the new path's model (default: models/DEFAULT)")
    p.add_argument("--photos", type=int, default=40, help="photos of each kind (default: %(default)s)")
    p.add_argument("--faces", type=Path, help="a folder of portraits to make the selfies from")
    p.add_argument("--pets", type=Path, help="a folder of pet photos (e.g. ../shared/data/pets-real/dog) to time too")
    p.add_argument("--parts", action="store_true", help="time decode, YuNet, crop and backbone apart on the selfies")
    args = p.parse_args(argv)
    here = Path(__file__).resolve().parent.parent
    kinds = {"selfies": args.faces} | ({"pets": args.pets} if args.pets else {})
    rows = {}
    with tempfile.TemporaryDirectory(prefix="mirror-bench-") as tmp:
        base = Path(tmp, "baseline")
        made = subprocess.run(
            ["git", "-C", str(here), "worktree", "add", "--detach", "-q", str(base), args.baseline],
            capture_output=True,
            text=True,
        )
        if made.returncode:
            print(f"error: cannot check out {args.baseline}: {made.stderr.strip()}", file=sys.stderr)
            return 1
        try:
            for kind, folder in kinds.items():
                photo_dir = Path(tmp, kind)
                photo_dir.mkdir()
                for i, photo in enumerate(make_photos(args.photos, folder)):
                    (photo_dir / f"{i:03d}.jpg").write_bytes(photo)
                rows[kind] = (_run(CHILD, base, str(photo_dir), None), _run(CHILD, here, str(photo_dir), args.model))
                if kind == "selfies" and args.parts:
                    parts = (_run(PARTS, base, str(photo_dir), None), _run(PARTS, here, str(photo_dir), args.model))
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1
        finally:
            subprocess.run(["git", "-C", str(here), "worktree", "remove", "--force", str(base)], capture_output=True)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"{args.photos} photos of each kind, {SIDE} px JPEG, one at a time, {cpus} CPUs; "
        f"baseline: {args.baseline} with its default model"
    )
    print("| photos | measure | baseline | new | better by |\n| --- | --- | --- | --- | --- |")
    for kind, (old, new) in rows.items():
        for key, name in (
            ("p50_ms", "wall p50 (ms)"),
            ("p95_ms", "wall p95 (ms)"),
            ("cpu_ms_per_photo", "CPU per photo (ms)"),
        ):
            print(f"| {kind} | {name} | {old[key]:.1f} | {new[key]:.1f} | {old[key] / new[key]:.2f}x |")
        print(f"| {kind} | a face found | {old['faces_found_share']:.0%} | {new['faces_found_share']:.0%} | |")
    if args.parts:
        old, new = parts
        print("\nthe parts every revision has (CPU ms per selfie; the largest face's crop, one model run):")
        print("| part | baseline | new | new / baseline |\n| --- | --- | --- | --- |")
        for key in (*old, "total"):
            a = sum(old.values()) if key == "total" else old[key]
            b = sum(new.values()) if key == "total" else new[key]
            print(f"| {key} | {a:.1f} | {b:.1f} | {f'{b / a:.2f}' if a > 0 else '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
