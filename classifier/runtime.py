"""Where the numbers are computed: LiteRT (the fast serving path) or Keras (always available).

LiteRT runs the same graph converted to ``model.tflite`` at export time, with XNNPACK kernels:
on a 2-core CPU about 4x faster per photo than Keras and it starts without importing
TensorFlow. Both return the model's raw outputs for a float32 batch of RGB pixels in [0, 255],
by output name: ``pets`` (the cat/dog logits) and, for multi-head artifacts, ``imagenet``,
``people`` and ``human`` (see ``training/heads.py``). A single-output model's one output is ``pets``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import numpy as np

from .card import ModelError

TFLITE_FILE = "model.tflite"
MAIN = "pets"


def _named(outputs) -> dict[str, np.ndarray]:
    if isinstance(outputs, dict):
        return {k: np.asarray(v, np.float64) for k, v in outputs.items()}
    return {MAIN: np.asarray(outputs, np.float64)}


class KerasRuntime:
    name = "keras"

    def __init__(self, path: Path):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            import keras
        except ImportError:
            raise ModelError(
                f"{path.parent} has no {TFLITE_FILE}, and serving its Keras model needs the training extra "
                f"(pip install '.[training]'); or run `python -m training.compile {path.parent}` where it is"
            ) from None

        try:
            self.model = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # a corrupt or incompatible file: say so in one line
            raise ModelError(f"cannot load {path}: {type(exc).__name__}: {exc}") from None
        self._lock = threading.Lock()
        self.input_shape = tuple(self.model.inputs[0].shape[1:])
        out = self.model.output
        named = out if isinstance(out, dict) else {MAIN: self.model.outputs[0]}
        self.output_widths = {name: int(t.shape[-1]) for name, t in named.items()}

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        with self._lock:
            return _named(self.model.predict_on_batch(batch))

    def warm_up(self) -> None:
        self(np.zeros((1, *self.input_shape), np.float32))  # builds the predict function once


class LiteRTRuntime:
    name = "litert"
    # Measured on the 2-core machine (lite2-20261125, XNNPACK, 16 photos): 14.9 ms per photo one at a
    # time, 11.4 in pairs, 11.1 in fours; each interpreter keeps its own packed weights and arena, so
    # fours cost +65 MiB for nothing. Chunks of at most 2.
    MAX_CHUNK = 2

    def __init__(self, path: Path, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        retain_freed_memory()

        self._content = Path(path).read_bytes()
        self._threads = threads or min(os.cpu_count() or 1, 4)
        self._make = lambda: Interpreter(model_content=self._content, num_threads=self._threads)
        self._by_batch: dict[int, object] = {}
        self._lock = threading.Lock()
        try:
            probe, _, outputs = self._interpreter(1)
        except Exception as exc:
            raise ModelError(f"cannot load {path}: {type(exc).__name__}: {exc}") from None
        self.input_shape = tuple(probe.get_input_details()[0]["shape"][1:])
        self.output_widths = {name: int(d["shape"][-1]) for name, d in outputs.items()}

    def _interpreter(self, n: int):
        """(interpreter, input index, output details by name), one per batch size seen: resizing
        and re-allocating costs more than a run."""
        entry = self._by_batch.get(n)
        if entry is None:
            with _native_stderr_silenced():
                interp = self._make()
                detail = interp.get_input_details()[0]
                if detail["shape"][0] != n:
                    interp.resize_tensor_input(detail["index"], [n, *detail["shape"][1:]])
                interp.allocate_tensors()
            entry = self._by_batch[n] = (interp, detail["index"], self._outputs(interp))
        return entry

    @staticmethod
    def _outputs(interp) -> dict[str, dict]:
        """Output details by name: the export signature names them; an older file has one output."""
        signatures = interp.get_signature_list()
        if len(signatures) == 1:
            details = interp.get_signature_runner().get_output_details()
            if MAIN in details:
                by_index = {d["index"]: d for d in interp.get_output_details()}
                return {name: by_index[d["index"]] for name, d in details.items()}
        return {MAIN: interp.get_output_details()[0]}

    def warm_up(self) -> None:
        """Make and run every chunk size's interpreter now. Creating one holds Python's GIL for
        ~0.1 s, which in a server would freeze the event loop the first time each size came up."""
        n = 1
        while n <= self.MAX_CHUNK:
            self(np.zeros((n, *self.input_shape), np.float32))
            n *= 2

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        # run as power-of-two chunks up to MAX_CHUNK (5 = 2 + 2 + 1): no padding waste
        outputs = {name: [] for name in self.output_widths}
        start = 0
        with self._lock:
            while start < len(batch):
                n = min(1 << ((len(batch) - start).bit_length() - 1), self.MAX_CHUNK)
                interp, input_index, named = self._interpreter(n)
                interp.set_tensor(input_index, np.ascontiguousarray(batch[start : start + n], np.float32))
                interp.invoke()
                for name, detail in named.items():
                    outputs[name].append(np.asarray(interp.get_tensor(detail["index"]), np.float64))
                start += n
        return {
            name: np.concatenate(parts) if parts else np.zeros((0, self.output_widths[name]))
            for name, parts in outputs.items()
        }


@contextlib.contextmanager
def _native_stderr_silenced():
    """LiteRT's C++ logger prints "INFO: Created TensorFlow Lite XNNPACK delegate" on every new
    interpreter and no setting turns it off; hide file descriptor 2 for those few milliseconds."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def retain_freed_memory(limit: int = 16 << 20) -> None:
    """With a model's large buffers in the process, glibc hands every freed photo buffer straight
    back to the OS, so the next decode page-faults fresh memory: a 1280-px JPEG decoded in 9.3 ms
    instead of 4.3 (measured; 8 MB was not enough, 16 MB is). Each thread's arena keeps up to ``limit``."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, limit)
        libc.mallopt(m_trim_threshold, limit)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def litert_available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def open_runtime(directory: Path, model_file: str, prefer: str = "auto"):
    """``auto``: LiteRT when the artifact has ``model.tflite`` and LiteRT is installed, else Keras."""
    tflite = directory / TFLITE_FILE
    if prefer == "litert" or (prefer == "auto" and tflite.is_file() and litert_available()):
        if not tflite.is_file():
            raise ModelError(f"{directory} has no {TFLITE_FILE}; run `python -m training.compile {directory}`")
        return LiteRTRuntime(tflite)
    model_path = directory / model_file
    if not model_path.is_file():
        raise ModelError(f"{directory} has a card but no {model_file}")
    return KerasRuntime(model_path)
