"""python -m classifier.compile MODEL_DIR: add the fast LiteRT serving file to an artifact.

Export does this already when training runs on TensorFlow; artifacts trained elsewhere (JAX on
a GPU) get their ``model.tflite`` here. The converted graph must agree with the Keras model
within ``TOLERANCE`` in probability on every check image, or nothing is written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from .card import ModelCard, ModelError
from .model import probabilities
from .runtime import TFLITE_FILE, KerasRuntime, LiteRTRuntime

TOLERANCE = 0.005  # 0.5 percentage points


def check_images(size: int, n: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = np.linspace(0, 255, size, dtype=np.float32)
    images = [rng.uniform(0, 255, (size, size, 3)) for _ in range(n - 2)]
    images += [np.stack([smooth[None, :].repeat(size, 0)] * 3, -1), np.full((size, size, 3), 127.0)]
    return np.stack(images).astype(np.float32)


def convert(keras_model) -> bytes:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("converting to LiteRT needs the TensorFlow backend (KERAS_BACKEND=tensorflow)")
    with _captured_output() as captured:
        try:
            return tf.lite.TFLiteConverter.from_keras_model(keras_model).convert()
        except Exception as exc:
            raise RuntimeError(f"LiteRT conversion failed: {exc}\n{captured()[-4000:]}") from None


@contextlib.contextmanager
def _captured_output():
    """The converter prints a SavedModel listing (one ``TensorSpec`` line per variable, ~250 lines)
    and retracing warnings straight to file descriptors 1 and 2; keep them out of the terminal and
    show them only if the conversion fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        saved = [os.dup(1), os.dup(2)]
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)

        def text() -> str:
            sys.stdout.flush()
            sys.stderr.flush()
            sink.seek(0)
            return sink.read().decode("utf-8", "replace")

        try:
            yield text
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def max_disagreement(keras_runtime, litert_runtime, card: ModelCard) -> float:
    """The largest probability difference between the two runtimes, over every head."""
    x = check_images(card.input_size)
    a, b = probabilities(keras_runtime(x), card), probabilities(litert_runtime(x), card)
    if set(a) != set(b):
        raise ModelError(f"LiteRT has the outputs {sorted(b)}, Keras {sorted(a)}")
    return max(float(np.abs(a[name] - b[name]).max()) for name in a)


def compile_artifact(directory: Path, keras_model=None) -> float:
    """Write ``directory/model.tflite``; returns the largest probability difference seen."""
    directory = Path(directory)
    card = ModelCard.load(directory)
    keras_runtime = KerasRuntime(directory / card.model_file)
    if keras_model is None:
        keras_model = keras_runtime.model
    tmp = directory / (TFLITE_FILE + ".tmp")
    tmp.write_bytes(convert(keras_model))
    try:
        diff = max_disagreement(keras_runtime, LiteRTRuntime(tmp), card)
        if diff > TOLERANCE:
            raise ModelError(f"LiteRT and Keras disagree by {diff:.4f} in probability; not writing {TFLITE_FILE}")
        tmp.replace(directory / TFLITE_FILE)
    finally:
        tmp.unlink(missing_ok=True)
    return diff


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m classifier.compile", description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir", type=Path)
    args = p.parse_args(argv)
    try:
        diff = compile_artifact(args.model_dir)
    except (ModelError, RuntimeError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.model_dir / TFLITE_FILE} (max probability difference vs Keras {diff:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
