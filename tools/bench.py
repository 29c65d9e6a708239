"""python -m tools.bench: the naive baseline and the serving path, side by side, one run.

Baseline, the way the course does it: the Keras model, a full-size decode, ``model.predict`` on
one image per call (and, under concurrency, one thread per request).
Serving: ``Classifier`` (LiteRT, JPEG draft decoding) behind ``MicroBatcher``.
Each side runs in a fresh process so start-up time and peak memory are its own.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

PHOTO_SIZE = (1600, 1200)  # a typical phone photo as Telegram delivers it, scaled up to stress decoding


def make_photos(n: int, size: tuple[int, int] = PHOTO_SIZE) -> list[bytes]:
    """``n`` distinct phone-sized JPEGs made from the example photo (rotated, with sensor-like noise)."""
    from PIL import Image, ImageFilter

    base = Image.open(Path(__file__).resolve().parent.parent / "models" / "examples" / "cat.jpg").convert("RGB")
    rng = np.random.default_rng(0)
    photos = []
    for i in range(n):
        img = base.resize(size).rotate(i * 7 % 30 - 15).filter(ImageFilter.SMOOTH)
        arr = np.clip(np.asarray(img, np.int16) + rng.integers(-6, 7, (size[1], size[0], 3)), 0, 255)
        buf = io.BytesIO()
        Image.fromarray(arr.astype(np.uint8)).save(buf, "JPEG", quality=90)
        photos.append(buf.getvalue())
    return photos


def percentile_ms(values, q):
    return float(np.percentile(values, q) * 1000)


# -- the two sides, each in its own process -------------------------------------------------------
def child(side: str, model_dir: str | None, photo_dir: str, n: int, concurrency: int, started: float) -> dict:
    files = sorted(Path(photo_dir).glob("*.jpg"))
    if side == "baseline":
        predict_one, predict_async, close = _baseline(model_dir)
    else:
        predict_one, predict_async, close = _serving(model_dir)
    predict_one(files[0].read_bytes())
    first_answer_s = time.time() - started
    photos = [f.read_bytes() for f in files]
    latencies = []
    for photo in photos[:n]:
        t = time.perf_counter()
        predict_one(photo)
        latencies.append(time.perf_counter() - t)
    t = time.perf_counter()
    count = asyncio.run(predict_async(photos, concurrency, n))
    throughput = count / (time.perf_counter() - t)
    extra = close()
    return {
        "side": side,
        "first_answer_s": first_answer_s,
        "p50_ms": percentile_ms(latencies, 50),
        "p95_ms": percentile_ms(latencies, 95),
        "throughput": throughput,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **extra,
    }


def _baseline(model_dir):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    from PIL import Image

    from classifier.card import ModelCard, default_model_dir
    from classifier.model import softmax

    directory = Path(model_dir) if model_dir else default_model_dir()
    card = ModelCard.load(directory)
    model = keras.saving.load_model(directory / card.model_file, compile=False)

    def predict_one(photo):
        image = Image.open(io.BytesIO(photo)).convert("RGB").resize((card.input_size, card.input_size))
        x = np.expand_dims(np.asarray(image, np.float32), 0)
        out = model.predict(x, verbose=0)
        return softmax(out["pets"] if isinstance(out, dict) else out, card.temperature)[0]

    async def predict_async(photos, concurrency, n):
        # the naive server: one thread per request, each calling model.predict
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(concurrency) as pool:
            jobs = [loop.run_in_executor(pool, predict_one, photos[i % len(photos)]) for i in range(n * 2)]
            await asyncio.gather(*jobs)
        return n * 2

    def close():
        return {"model_gmacs": _gmacs(model)}

    return predict_one, predict_async, close


def _serving(model_dir):
    from classifier.batching import MicroBatcher
    from classifier.model import Classifier

    clf = Classifier.load(model_dir).warm_up()  # as the bot does before it says it is ready
    batcher = None

    async def predict_async(photos, concurrency, n):
        nonlocal batcher
        batcher = MicroBatcher(clf, max_pending=concurrency * 2)
        per_client = n * 2 // concurrency

        async def client(k):
            for j in range(per_client):
                await batcher.predict(photos[(k + j) % len(photos)])

        await asyncio.gather(*(client(k) for k in range(concurrency)))
        await batcher.aclose()
        return per_client * concurrency

    def close():
        sizes = batcher.batches if batcher else []
        mean_batch = float(np.mean(sizes)) if sizes else 0.0
        file = clf.card.extra.get("litert", {}).get("quantised", "float32").split(" ")[0]
        if clf.runtime.name != "litert":
            file = "keras"
        return {"runtime": clf.runtime.name, "model": clf.card.version, "mean_batch": mean_batch, "file": file}

    return clf.predict, predict_async, close


def _gmacs(model) -> float:
    """Multiply-accumulates of one forward pass, from the Keras layers' shapes."""
    import keras

    macs = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):  # a multi-head artifact nests its parts
            macs += _gmacs(layer) * 1e9
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)):
            out = layer.output.shape
            spatial = int(np.prod(out[1:-1])) if len(out) > 2 else 1
            macs += spatial * int(np.prod(layer.weights[0].shape))
    return macs / 1e9


def matmul_gflops() -> float:
    """What this CPU does on the friendliest possible work: a large float32 matrix product."""
    a = np.random.rand(2048, 2048).astype(np.float32)
    a @ a
    t = time.perf_counter()
    for _ in range(5):
        a @ a
    return 5 * 2 * 2048**3 / (time.perf_counter() - t) / 1e9


# -- the parent: run both, print the table ----------------------------------------------------------
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="model folder (default: models/DEFAULT)")
    p.add_argument("--photos", type=int, default=40, help="photos in the latency loop (default: %(default)s)")
    p.add_argument("--concurrency", type=int, default=32, help="concurrent requests (default: %(default)s)")
    p.add_argument(
        "--compare",
        nargs="+",
        default=[],
        metavar="MODEL",
        help="more serving sides in the same run, e.g. the same model's float32 or float16 file (a copy of its "
        "folder compiled with python -m training.compile [--float16])",
    )
    p.add_argument("--json", action="store_true", help="print the raw results as JSON too")
    p.add_argument("--child", choices=["baseline", "serving"], help=argparse.SUPPRESS)
    p.add_argument("--started", type=float, help=argparse.SUPPRESS)
    p.add_argument("--photo-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.model, args.photo_dir, args.photos, args.concurrency, args.started)))
        return 0
    with tempfile.TemporaryDirectory(prefix="mirror-bench-") as photo_dir:
        results = _run_sides(args, photo_dir)
    if results is None:
        return 1
    print_table(results, matmul_gflops())
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


def _run_sides(args, photo_dir: str) -> dict | None:
    """Both sides on the same photos, made once before either side's clock starts."""
    for i, photo in enumerate(make_photos(max(args.photos, args.concurrency))):
        Path(photo_dir, f"{i:03d}.jpg").write_bytes(photo)
    results = {}
    sides = [("baseline", args.model), ("serving", args.model)] + [(f"serving:{m}", m) for m in args.compare]
    for label, model in sides:
        side = label.split(":")[0]
        cmd = [
            sys.executable,
            "-m",
            "tools.bench",
            "--child",
            side,
            "--photo-dir",
            photo_dir,
            "--photos",
            str(args.photos),
            "--concurrency",
            str(args.concurrency),
            "--started",
            repr(time.time()),
        ]
        if model:
            cmd += ["--model", model]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            return None
        results[label] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown CPU"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


def vnni() -> bool:
    try:
        return "avx512_vnni" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def print_table(r: dict, gflops: float) -> None:
    b = r["baseline"]
    serving = {k: v for k, v in r.items() if k.startswith("serving")}
    measures = [
        ("single photo p50 (ms)", "p50_ms", False),
        ("single photo p95 (ms)", "p95_ms", False),
        ("photos/s, 32 concurrent", "throughput", True),
        ("start to first answer (s)", "first_answer_s", False),
        ("peak RSS (MiB)", "peak_rss_mib", False),
    ]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    names = {
        k: f"{v['model']} ({v['file']})" if k == "serving" else f"{Path(k[8:]).name} ({v['file']})"
        for k, v in serving.items()
    }
    print(
        f"machine: {cpus} CPUs ({cpu_name()}); photos {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG; serving runtime(s): "
        + ", ".join(f"{names[k]} {v['runtime']}, mean micro-batch {v['mean_batch']:.1f}" for k, v in serving.items())
    )
    head = " | ".join(f"{names[k]} | better by" for k in serving)
    print(f"| measure | naive baseline | {head} |\n| --- | --- |" + " --- | --- |" * len(serving))
    for name, key, higher in measures:
        cells = []
        for v in serving.values():
            ratio = v[key] / b[key] if higher else b[key] / v[key]
            cells.append(f"{v[key]:.1f} | {ratio:.1f}x")
        print(f"| {name} | {b[key]:.1f} | " + " | ".join(cells) + " |")
    floor_ms = 2 * b["model_gmacs"] / gflops * 1000
    print(
        f"\nphysical limit: the model needs {b['model_gmacs']:.2f} GMACs per photo; this CPU does {gflops:.0f} GFLOP/s "
        f"on a large float32 matmul, so >= {floor_ms:.1f} ms per photo of pure float32 compute "
        f"({1000 / floor_ms:.0f} photos/s)"
        + (
            "; with AVX-512 VNNI an int8 multiply-add is 4x a float32 one per instruction, so the int8 bound is "
            f"{floor_ms / 4:.1f} ms ({4000 / floor_ms:.0f} photos/s)"
            if vnni()
            else ""
        )
    )
    for k, v in serving.items():
        line = (
            f"{names[k]}: {v['throughput']:.0f} photos/s, {v['throughput'] * floor_ms / 10:.0f}% of the float32 bound"
        )
        if vnni():
            line += f", {v['throughput'] * floor_ms / 40:.0f}% of the int8 bound"
        print(line)


if __name__ == "__main__":
    sys.exit(main())
