"""Finding faces and cutting them out the same way every time.

YuNet (``models/face-detector/``, see its NOTICE) on ONNX Runtime (``classifier/yunet.py``): a box,
five landmarks and a score per face, 4-8 ms per photo on one core. It replaced the Haar cascade,
which missed tight crops and thumbnails and cost ~140 ms per photo.

Crops are aligned on the landmarks (eyes level, the same scale and place every time), so the same
face re-cropped, re-framed or tilted gives nearly the same model input: steadier answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

YUNET = Path(__file__).resolve().parent.parent / "models" / "face-detector" / "yunet-2023mar-anysize.onnx"
# YuNet finds faces of ~10-300 px at its input scale. A selfie's face is large: a 480-px pass finds it
# (12 ms on one core through OpenCV's DNN, ~4.5 through ONNX Runtime). Small faces (a group, a crowd): the
# 640-px pass, which on our 52 group photos finds the same faces as 640 alone. None: a padded 320-px pass
# (a tight crop, a face filling the photo).
FIRST_SIDE = 480
SMALL = 40  # px at FIRST_SIDE: a face this small or smaller sends the photo to the 640-px pass
DETECT_SIDE = 640
RETRY_SIDE = 320  # last pass, only when nothing was found: a tight crop or a face filling the photo
RETRY_PAD = 0.4  # ... padded by this fraction on each side, so the face is small enough to be seen
MIN_INPUT = 64  # px: smaller inputs are padded
SCORE = 0.6  # YuNet's confidence; below this, boxes on our checks were mostly texture
# ArcFace's 5-point template (112-px frame): eyes, nose tip, mouth corners, as they appear in the image
TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)
ZOOM = 0.7  # the template shrunk to this share of the crop: hair, ears and chin stay in the picture
# how the face embedding's chip is framed (the card's heads.face_embedding "framing"; none: the template)
TEMPLATE_FRAMING, DLIB_FRAMING = "yunet_template", "dlib_5_point"
# a chip's views (the card's "views"): name -> (scale about the centre, shift x, y in chip px, mirrored)
VIEWS = {
    "chip": (1.0, 0, 0, False),
    "mirror": (1.0, 0, 0, True),
    "zoom_in": (1.05, 0, 0, False),
    "zoom_out": (0.95, 0, 0, False),
    "left": (1.0, -3, 0, False),
    "right": (1.0, 3, 0, False),
    "up": (1.0, 0, -3, False),
    "down": (1.0, 0, 3, False),
}


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def center_x(self) -> float:
        return self.x + self.w / 2

    @property
    def area(self) -> int:
        return self.w * self.h


@dataclass(frozen=True)
class FoundFace:
    box: Box
    landmarks: np.ndarray  # (5, 2) image coordinates: eyes, nose tip, mouth corners (image left first)
    score: float


class FaceDetector:
    """``detect(image)`` -> faces left to right. Safe to call from several threads at once."""

    def __init__(self, model: Path = YUNET, score: float = SCORE):
        import cv2

        from .yunet import YuNet

        if not Path(model).is_file():
            raise FileNotFoundError(f"face detector not found: {model}")
        cv2.setNumThreads(1)  # resizes and crops on one core: the bot runs photos side by side on its threads
        self._cv2, self.model, self.score = cv2, str(model), score
        self._yunet = YuNet(model, score)

    def _run(self, bgr: np.ndarray, side: int, pad: float = 0.0) -> np.ndarray:
        """Raw YuNet rows (x, y, w, h, 10 landmark coordinates, score) in ``bgr``'s coordinates."""
        cv2 = self._cv2
        # shrunk first, then padded (the same picture YuNet sees, without padding the large copy)
        scale = side / (max(bgr.shape[:2]) * (1 + 2 * pad))
        if scale < 1.0:
            # area averaging only where bilinear would skip pixels (it costs ~6x more)
            method = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR
            bgr = cv2.resize(bgr, (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale)), interpolation=method)
        else:
            scale = 1.0
        border = int(round(max(bgr.shape[:2]) * pad))
        if border:
            bgr = cv2.copyMakeBorder(bgr, border, border, border, border, cv2.BORDER_CONSTANT, value=(127, 127, 127))
        short = MIN_INPUT - min(bgr.shape[:2])
        if short > 0:  # YuNet answers garbage (boxes scored 1.0) for slivers a few pixels high: pad them
            bottom, right = max(0, MIN_INPUT - bgr.shape[0]), max(0, MIN_INPUT - bgr.shape[1])
            bgr = cv2.copyMakeBorder(bgr, 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=(127, 127, 127))
        rows = self._yunet.infer(bgr)
        rows[:, [0, 1, *range(4, 14)]] -= border  # positions lose the border; width and height do not
        rows[:, :14] /= scale
        return rows

    def detect(self, image: Image.Image | np.ndarray | Photo, max_faces: int = 10) -> list[FoundFace]:
        """Faces in ``image`` (RGB), left to right, at most ``max_faces`` (the largest kept)."""
        cv2 = self._cv2
        photo = image if isinstance(image, Photo) else Photo(image)
        height, width = photo.rgb.shape[:2]
        # every pass reads one copy shrunk to DETECT_SIDE: shrinking a 1280-px photo (and padding it,
        # for the last pass) at full size for each pass cost more than YuNet itself (pet photos: 3 passes)
        rgb, shrink = photo.small()
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        rows = self._run(bgr, FIRST_SIDE)
        # small faces found: look closer. None at all: a closer look found none either on any of the 1,126
        # photos of faces/ and pets-real/ (a pet photo paid 53 ms for it), so only the padded pass follows
        if len(rows) and rows[:, 2].min() * FIRST_SIDE / max(bgr.shape[:2]) <= SMALL:
            rows = self._run(bgr, DETECT_SIDE)
        if not len(rows):
            rows = self._run(bgr, RETRY_SIDE, RETRY_PAD)
        if len(rows) and shrink < 1.0:
            rows[:, :14] /= shrink
        faces = []
        for row in rows:
            x, y = max(0.0, row[0]), max(0.0, row[1])
            w, h = min(row[2], width - x), min(row[3], height - y)
            if w < 4 or h < 4:
                continue
            box = Box(int(round(x)), int(round(y)), int(round(w)), int(round(h)))
            faces.append(FoundFace(box, row[4:14].reshape(5, 2).astype(np.float64), float(row[14])))
        faces = sorted(faces, key=lambda f: -f.box.area)[:max_faces]
        return sorted(faces, key=lambda f: f.box.center_x)


class Photo:
    """One photo's pixels as ``detect`` and ``aligned_crop`` read them, each made once: the RGB array
    (~1.5 ms for 1280 px; YuNet and each crop made their own) and the copy every YuNet pass reads."""

    def __init__(self, image: Image.Image | np.ndarray):
        if isinstance(image, Image.Image):
            image = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
        self.rgb = image
        self._small: tuple[np.ndarray, float] | None = None

    def small(self) -> tuple[np.ndarray, float]:
        """The copy shrunk to at most DETECT_SIDE, and its scale to ``rgb``."""
        if self._small is None:
            import cv2

            shrink = min(1.0, DETECT_SIDE / max(self.rgb.shape[:2]))
            small = self.rgb
            if shrink < 1.0:
                size = (round(self.rgb.shape[1] * shrink), round(self.rgb.shape[0] * shrink))
                small = cv2.resize(self.rgb, size, interpolation=cv2.INTER_AREA)
            self._small = (small, shrink)
        return self._small


def alignment(landmarks: np.ndarray, size: int, zoom: float = ZOOM, target: np.ndarray | None = None) -> np.ndarray:
    """The 2x3 similarity transform (rotation, scale, shift) taking the face's landmarks onto the
    template in a ``size`` square (or onto ``target``, in the square's pixels)."""
    import cv2

    if target is None:
        target = (TEMPLATE - 56.0) * (size / 112.0 * zoom) + size / 2.0
    matrix, _ = cv2.estimateAffinePartial2D(landmarks.astype(np.float32), target.astype(np.float32), method=cv2.LMEDS)
    if matrix is None:  # degenerate landmarks: fall back to the eyes alone
        matrix = _two_point(landmarks[:2], target[:2])
    return matrix


def _two_point(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    (sx, sy), (dx, dy) = src[1] - src[0], dst[1] - dst[0]
    scale = np.hypot(dx, dy) / max(np.hypot(sx, sy), 1e-6)
    angle = np.arctan2(dy, dx) - np.arctan2(sy, sx)
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return np.hstack([rot, (dst[0] - rot @ src[0])[:, None]])


def aligned_crop(
    image: Image.Image | np.ndarray | Photo,
    face: FoundFace,
    size: int,
    zoom: float = ZOOM,
    target: np.ndarray | None = None,
) -> np.ndarray:
    """The face as a ``size`` x ``size`` uint8 RGB array, eyes level, same framing every time
    (``target``: where the five landmarks go, in the square's pixels; default the model's framing)."""
    return warp(image, alignment(face.landmarks, size, zoom, target), size)


def warp(image: Image.Image | np.ndarray | Photo, matrix: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` square that ``matrix`` (2x3, image -> square) maps the image onto, bilinear."""
    import cv2

    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    # not from the photo's small copy: its area-averaged pixels moved people's answers by 1.4 points on
    # average (9 at most) over faces/portraits, away from the crops the people head was fitted on
    rgb = image.rgb if isinstance(image, Photo) else np.asarray(image)
    if scale < 0.5:  # shrinking a lot: halve the face's region first (Gaussian pyramid), or the crop aliases
        x0, y0, x1, y1 = _footprint(matrix, size, rgb.shape)
        rgb, offset = rgb[y0:y1, x0:x1], np.array([x0, y0], float)
        halvings = 0
        while scale < 0.5 and min(rgb.shape[:2]) >= 4:
            rgb, scale, halvings = cv2.pyrDown(rgb), scale * 2, halvings + 1
        # region pixel q is image point q * 2^halvings + offset
        k = 2.0**halvings
        matrix = np.hstack([matrix[:, :2] * k, (matrix[:, :2] @ offset + matrix[:, 2])[:, None]])
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def chip_matrix(
    image: Image.Image | np.ndarray | Photo, face: FoundFace, framing: str = TEMPLATE_FRAMING
) -> np.ndarray:
    """Image -> the face embedding's 150-px chip (2x3). ``TEMPLATE_FRAMING``: YuNet's five landmarks
    onto ``face_embedding.TEMPLATE``. ``DLIB_FRAMING``: dlib's own chip, its 5-point predictor run
    on YuNet's box (``classifier/landmarks.py``)."""
    from .face_embedding import SIDE, TEMPLATE

    if framing == TEMPLATE_FRAMING:
        return alignment(face.landmarks, SIDE, target=TEMPLATE)
    if framing != DLIB_FRAMING:
        raise ValueError(f"unknown face chip framing {framing!r}")
    from . import landmarks

    rgb = image.rgb if isinstance(image, Photo) else np.asarray(image)
    b = face.box
    parts = landmarks.predictor()(rgb, (b.x, b.y, b.x + b.w - 1, b.y + b.h - 1))
    return landmarks.chip_matrix(parts, SIDE)


def framing_of(head: dict) -> tuple[str, tuple[str, ...]]:
    """(framing, views) named by the card's ``heads.face_embedding``; a card naming none was fitted
    on one chip framed from YuNet's landmarks, and keeps it."""
    return head.get("framing", TEMPLATE_FRAMING), tuple(head.get("views", ("chip",)))


def face_chip(image: Image.Image | np.ndarray | Photo, face: FoundFace, framing: str = TEMPLATE_FRAMING) -> np.ndarray:
    """The face framed for dlib's face-recognition network (see ``chip_matrix``)."""
    from .face_embedding import SIDE

    return warp(image, chip_matrix(image, face, framing), SIDE)


def face_chips(
    image: Image.Image | np.ndarray | Photo, face: FoundFace, framing: str = TEMPLATE_FRAMING, views=("chip",)
) -> np.ndarray:
    """(len(views), 150, 150, 3): the chip seen a few ways (``VIEWS``), whose embeddings the answer
    averages: one face's answer then moves less with where the landmarks fell."""
    from .face_embedding import SIDE

    matrix = chip_matrix(image, face, framing)
    centre = (SIDE - 1) / 2
    warped: dict[tuple, np.ndarray] = {}  # a mirror image costs no second warp
    out = []
    for name in views:
        scale, dx, dy, mirror = VIEWS[name]
        if (scale, dx, dy) not in warped:
            m = matrix * scale
            m[:, 2] += centre * (1 - scale) + np.array([dx, dy])
            warped[scale, dx, dy] = warp(image, m, SIDE)
        chip = warped[scale, dx, dy]
        out.append(chip[:, ::-1] if mirror else chip)
    return np.stack(out)


def _footprint(matrix: np.ndarray, size: int, shape) -> tuple[int, int, int, int]:
    """The part of the image the ``size`` square maps back to (with a margin), clipped to the image."""
    inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], float) @ inverse.T
    (x0, y0), (x1, y1) = np.floor(corners.min(0)) - 4, np.ceil(corners.max(0)) + 4
    h, w = shape[:2]
    x0, y0 = int(min(max(x0, 0), w - 1)), int(min(max(y0, 0), h - 1))
    return x0, y0, int(max(min(x1, w), x0 + 1)), int(max(min(y1, h), y0 + 1))


def face_square(size: tuple[int, int], box: Box, margin: float = 0.35) -> tuple[int, int, int]:
    """(left, top, side) of a square around the face with ``margin`` on every side, inside the photo
    (for drawing and heat maps, where an upright square is what people expect to see)."""
    width, height = size
    side = min(int(max(box.w, box.h) * (1 + 2 * margin)), width, height)
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    left = int(min(max(cx - side / 2, 0), width - side))
    top = int(min(max(cy - side / 2, 0), height - side))
    return left, top, side
