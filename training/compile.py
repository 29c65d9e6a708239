"""python -m training.compile MODEL_DIR [--int8 PHOTOS... | --float16]: add the fast LiteRT serving file.

``--check PHOTOS...`` writes nothing: it compares the served file with the Keras model, every head,
on whole photos and face crops, and the people heads on the face crops alone.

Export does this already when training runs on TensorFlow; artifacts trained elsewhere (JAX on
a GPU) get their ``model.tflite`` here. The converted graph must agree with the Keras model
within ``TOLERANCE`` in probability on every check image, or nothing is written.

``--int8`` quantises weights and activations to 8 bits (XNNPACK's integer kernels), calibrated on
the inputs the bot really sends: whole photos and YuNet's aligned face crops from the folders
given. On the 2-core machine a photo then costs 16 ms of CPU instead of 39 (lite2, one at a time),
so a selfie's face crop and its whole photo together cost less than the face alone did. It must
agree with the Keras model on photos kept out of the calibration (``INT8_MEAN``, ``INT8_MAX`` on
the pet classifier), or nothing is written; the card records the differences of every head.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from classifier.card import ModelCard, ModelError
from classifier.model import probabilities
from classifier.runtime import TFLITE_FILE, KerasRuntime, LiteRTRuntime

from .progress import steps

TOLERANCE = 0.005  # 0.5 percentage points
INT8_MEAN, INT8_MAX = 0.01, 0.15  # int8: the pet classifier's mean and largest difference on real photos
CALIBRATION = 240  # inputs that calibrate int8 (the converter's own advice: a few hundred)
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def check_images(size: int, n: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = np.linspace(0, 255, size, dtype=np.float32)
    images = [rng.uniform(0, 255, (size, size, 3)) for _ in range(n - 2)]
    images += [np.stack([smooth[None, :].repeat(size, 0)] * 3, -1), np.full((size, size, 3), 127.0)]
    return np.stack(images).astype(np.float32)


def calibration_inputs(
    folders: list[Path], size: int, n: int = CALIBRATION, seed: int = 0, faces_only: bool = False
) -> np.ndarray:
    """Model inputs as the bot makes them: each photo whole, and the aligned crop of its largest
    face when YuNet finds one (with ``faces_only``, the crops alone); photos spread over
    ``folders``, read in memory only."""
    import random

    from classifier.faces import FaceDetector, Photo, aligned_crop
    from classifier.images import UnreadableImage, load_image, to_model_input

    paths = [p for folder in folders for p in sorted(Path(folder).rglob("*")) if p.suffix.lower() in PHOTO_SUFFIXES]
    random.Random(seed).shuffle(paths)
    detector, inputs = FaceDetector(), []
    for path in steps(paths, "calibration photos"):
        if len(inputs) >= n:
            break
        try:
            image = load_image(path)
        except UnreadableImage:
            continue
        if not faces_only:
            inputs.append(to_model_input(image, size))
        photo = Photo(image)
        faces = detector.detect(photo)
        if faces:
            inputs.append(aligned_crop(photo, max(faces, key=lambda f: f.box.area), size))
    if not inputs:
        raise ModelError(f"no photos to calibrate int8 on in {', '.join(map(str, folders))}")
    return np.stack(inputs[:n]).astype(np.float32)


def convert(
    keras_model, calibration: np.ndarray | None = None, float16: bool = False, keep_float: str | None = None
) -> bytes:
    """The LiteRT file: float32, int8 calibrated on ``calibration`` inputs (with ``keep_float``, the
    operators whose names match that regular expression stay float32), or float16 weights."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    if keras.backend.backend() != "tensorflow":  # checked first: a JAX GPU machine may have no TensorFlow at all
        raise RuntimeError("converting to LiteRT needs the TensorFlow backend (KERAS_BACKEND=tensorflow)")
    import tensorflow as tf

    def converter():
        made = tf.lite.TFLiteConverter.from_keras_model(keras_model)
        if calibration is not None:
            made.optimizations = [tf.lite.Optimize.DEFAULT]
            made.representative_dataset = lambda: ([x[None]] for x in calibration)
        elif float16:  # half the file; XNNPACK computes in float32 on CPUs without float16 arithmetic
            made.optimizations = [tf.lite.Optimize.DEFAULT]
            made.target_spec.supported_types = [tf.float16]
        return made

    with _captured_output() as captured:
        try:
            blob = converter().convert()
            if calibration is not None and keep_float:
                blob = _keep_float(converter(), blob, keep_float, calibration)
            return blob
        except Exception as exc:
            raise RuntimeError(f"LiteRT conversion failed: {exc}\n{captured()[-4000:]}") from None


def _keep_float(converter, int8: bytes, pattern: str, calibration: np.ndarray) -> bytes:
    """The int8 file again, the operators named by ``pattern`` left in float32 (the converter's
    selective quantisation; names as the int8 file has them)."""
    import re

    import tensorflow as tf

    names = [t["name"] for t in tf.lite.Interpreter(model_content=int8).get_tensor_details()]
    denied = [name for name in names if re.search(pattern, name)]
    if not denied:
        raise ModelError(f"--keep-float {pattern!r} names no operator of the model")
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter,
        debug_dataset=lambda: ([x[None]] for x in calibration[:8]),
        debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denied),
    )
    return debugger.get_nondebug_quantized_model()


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


def int8_differences(keras_runtime, litert_runtime, card: ModelCard, inputs: np.ndarray) -> dict:
    """Mean and largest difference of every head between Keras and the int8 file on ``inputs``."""
    a, b = probabilities(keras_runtime(inputs), card), probabilities(litert_runtime(inputs), card)
    return {
        name: {"mean": float(np.abs(a[name] - b[name]).mean()), "max": float(np.abs(a[name] - b[name]).max())}
        for name in a
    }


def check_served(directory: Path, folders: list[Path], n: int = 400) -> dict:
    """How far the served file's answers are from the Keras model's, every head, on whole photos
    and face crops from ``folders``, and the people heads on the face crops alone (the only inputs
    a person's answer is read from); nothing is written."""
    directory = Path(directory)
    card = ModelCard.load(directory)
    keras_runtime, served = KerasRuntime(directory / card.model_file), LiteRTRuntime(directory / TFLITE_FILE)
    mixed = int8_differences(keras_runtime, served, card, calibration_inputs(folders, card.input_size, n))
    faces = calibration_inputs(folders, card.input_size, n, seed=1, faces_only=True)
    on_faces = int8_differences(keras_runtime, served, card, faces)
    return {"photos_and_faces": mixed, "faces": {k: on_faces[k] for k in ("people", "human") if k in on_faces}}


def compile_artifact(
    directory: Path,
    keras_model=None,
    int8_from: list[Path] | None = None,
    float16: bool = False,
    keep_float: str | None = None,
) -> float:
    """Write ``directory/model.tflite`` (int8 when ``int8_from`` names photo folders); returns the
    largest probability difference of the pet classifier seen."""
    from classifier.probes import record

    directory = Path(directory)
    card = ModelCard.load(directory)
    keras_runtime = KerasRuntime(directory / card.model_file)
    if keras_model is None:
        keras_model = keras_runtime.model
    calibration = check = None
    if int8_from:
        inputs = calibration_inputs(int8_from, card.input_size, CALIBRATION + CALIBRATION // 3)
        kept_out = max(1, len(inputs) // 4)  # checked on, never calibrated on
        calibration, check = inputs[:-kept_out], inputs[-kept_out:]
    tmp = directory / (TFLITE_FILE + ".tmp")
    tmp.write_bytes(convert(keras_model, calibration, float16, keep_float))
    try:
        litert = LiteRTRuntime(tmp)
        if check is None:
            diff = max_disagreement(keras_runtime, litert, card)
            if diff > TOLERANCE:
                raise ModelError(f"LiteRT and Keras disagree by {diff:.4f} in probability; not writing {TFLITE_FILE}")
            if float16:
                card.extra["litert"] = {"quantised": "float16 weights, float32 compute", "difference_vs_keras": diff}
            else:
                card.extra.pop("litert", None)
        else:
            heads = int8_differences(keras_runtime, litert, card, check)
            diff = heads["pets"]["max"]
            if heads["pets"]["mean"] > INT8_MEAN or diff > INT8_MAX:
                raise ModelError(f"int8 and Keras disagree (pets: {heads['pets']}); not writing {TFLITE_FILE}")
            card.extra["litert"] = {
                "quantised": "int8 weights and activations, float input and outputs"
                + (f"; operators matching {keep_float!r} in float32" if keep_float else ""),
                "calibration_inputs": len(calibration),
                "difference_vs_keras": {k: {m: round(v, 5) for m, v in d.items()} for k, d in heads.items()},
                "checked_on": f"{len(check)} inputs kept out of the calibration",
            }
        tmp.replace(directory / TFLITE_FILE)
    finally:
        tmp.unlink(missing_ok=True)
    from classifier.model import Classifier

    card.extra["probes"] = record(Classifier(LiteRTRuntime(directory / TFLITE_FILE), card, directory))
    card.save(directory)  # the canary checks the served file's own answers
    return diff


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.compile", description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir", type=Path)
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--int8", type=Path, nargs="+", metavar="PHOTOS", help="quantise, calibrated on these folders")
    kind.add_argument("--float16", action="store_true", help="float16 weights (half the file)")
    p.add_argument(
        "--keep-float",
        metavar="REGEX",
        help="with --int8: operators whose names match stay float32 (e.g. 'shared_bottom_1/(stem|blocks_[0-9]_)')",
    )
    kind.add_argument("--check", type=Path, nargs="+", metavar="PHOTOS", help="only compare the served file to Keras")
    args = p.parse_args(argv)
    if args.keep_float and not args.int8:
        p.error("--keep-float goes with --int8")
    if args.check:
        import json

        print(json.dumps(check_served(args.model_dir, args.check), indent=1))
        return 0
    try:
        diff = compile_artifact(args.model_dir, int8_from=args.int8, float16=args.float16, keep_float=args.keep_float)
    except (ModelError, RuntimeError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.model_dir / TFLITE_FILE} (max probability difference vs Keras {diff:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
