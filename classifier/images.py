"""Turning whatever a user sends into an RGB picture the model can take. Memory only, no disk.

Untrusted files are held to limits read from the header before any pixel is decoded (as imgproxy
does): an allow-list of formats, a pixel count, a shape, and a memory budget for the decoded image
and its conversion. A large photo is reduced before it is converted, so a conversion never holds a
second full-size copy.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # a phone photo is ~12 MP, a few phones save 48-50 MP
# the decoded image plus its conversion's full-size copy, at most: a 24 MP PNG or HEIC fits (32 MP; JPEGs
# of any size are decoded at a fraction), a 7000x7000 RGBA or 16-bit file does not. Two decode threads
# with one such file each stay under 700 MiB with the bot's own ~360 (tests/hostile.py)
DECODE_BUDGET = 128 * 1024 * 1024
MIN_SIDE = 8  # nothing narrower holds a face or a pet
MAX_ASPECT = 20  # a panorama is ~6:1; a 1 x 40,000,000 strip is an attack
# what phones and chat apps send (a phone's multi-picture MPO opens as JPEG); everything else (EPS runs
# Ghostscript, PSD, ICNS, ...) is refused unread
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "HEIF", "AVIF", "BMP", "TIFF")
ImageSource = bytes | bytearray | memoryview | str | Path | Image.Image

# bytes per pixel Pillow holds while decoding (multi-band modes take 4) and, for modes that are converted
# before they can be reduced, the full-size converted copy
_HELD = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2, "I": 4, "F": 4}
_CONVERTED = {"1": 1, "P": 4, "I;16": 4, "I;16L": 4, "I;16B": 4, "I;16N": 4}
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _register_heif() -> None:
    """iPhones save HEIC; pillow-heif (maintained; BSD-3, its wheel bundles the LGPL libheif and
    libde265) teaches Pillow to open it. AVIF is Pillow's own since 11.3. Without pillow-heif,
    HEIC is refused with the usual message. Size guards are the same for every format."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return
    register_heif_opener(thumbnails=False)


_register_heif()


class UnreadableImage(ValueError):
    """The input is not an image we can read; ``str(exc)`` is safe to show to a user."""


def decode_cost(mode: str, width: int, height: int) -> int:
    """Bytes held at once to decode an image of this mode and size and bring it to 8 bits."""
    return width * height * (_HELD.get(mode, 4) + _CONVERTED.get(mode, 0))


def check_shape(width: int, height: int, what: str = "image") -> None:
    """Refuse sizes no photo has: too many pixels, a side under ``MIN_SIDE``, a strip."""
    if width * height > MAX_PIXELS:
        raise UnreadableImage(f"the {what} is too large ({width}x{height} pixels); please send a smaller one")
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_ASPECT * min(width, height):
        raise UnreadableImage(f"the {what} has an odd shape ({width}x{height} pixels); please send a photo")


def load_image(source: ImageSource, min_size: int | None = None) -> Image.Image:
    """Decode bytes, a path or a PIL image into an upright RGB image.

    Honours EXIF orientation, takes the first frame of animations, flattens transparency onto
    white and converts any mode (L, P, CMYK, 16-bit, float, ...) to 8-bit RGB. With ``min_size``, the
    image is decoded or reduced to the smallest 1/2, 1/3, ... scale that keeps both sides >=
    ``min_size`` (a JPEG through DCT scaling: a 12 MP photo decodes several times faster).
    Raises ``UnreadableImage``, with a message fit for the user, for anything else.
    """
    image = source if isinstance(source, Image.Image) else _open(source)
    try:
        image.seek(0)
        if min_size and image.format in ("JPEG", "MPO"):
            image.draft("RGB", (min_size, min_size))  # the header's size and mode are the drafted ones now
        check_shape(*image.size)
        if decode_cost(image.mode, *image.size) > DECODE_BUDGET:
            raise UnreadableImage(
                f"the image is too large to read ({image.width}x{image.height} pixels, {image.mode}); "
                "please send a smaller one"
            )
        orientation = image.getexif().get(0x0112, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
        image = _to_8bit(image)
        if min_size:
            factor = min(image.size) // min_size
            if factor >= 2:
                image = image.reduce(factor)
        image = _to_rgb(image)
        if orientation in _ORIENTATION:
            image = image.transpose(_ORIENTATION[orientation])
        # a caller's image is never changed: every step above returns a new one (a copy if nothing else)
        return image.copy() if image is source else image
    except UnreadableImage:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure, MemoryError included, is the user's clear answer
        raise UnreadableImage("the image file is damaged or incomplete") from exc


def load_photo(source: ImageSource, side: int) -> Image.Image:
    """``load_image`` for a photo to read: decoded at about ``side`` and no side larger than it."""
    image = load_image(source, min_size=side)
    if max(image.size) > side:
        image.thumbnail((side, side), Image.BILINEAR)
    return image


def _open(source) -> Image.Image:
    if isinstance(source, (str, Path)):
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise UnreadableImage(f"cannot read {source}: {exc.strerror or exc}") from exc
    else:
        data = bytes(source)
    if not data:
        raise UnreadableImage("the file is empty")
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=FORMATS)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise UnreadableImage("this is not an image I can read (try a JPEG, PNG or HEIC photo)") from exc
        raise UnreadableImage("the image is too large; please send a smaller one") from exc
    except Exception as exc:  # noqa: BLE001 - a header no decoder can parse
        raise UnreadableImage("the image file is damaged or incomplete") from exc


def _to_8bit(image: Image.Image) -> Image.Image:
    """Modes that cannot be reduced as they are become 8-bit (or 32-bit integer) first."""
    if image.mode.startswith("I;16"):
        return image.convert("I")
    if image.mode == "1":
        return image.convert("L")
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "F"):
        # 16-bit or float greyscale, reduced already: scale 16-bit to 0..255 instead of clipping to
        # white, float 0..1 to 0..255; NaN and infinities are black
        arr = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(arr.max()) if arr.size else 0.0
        scale = 255.0 / 65535.0 if peak > 255 else (255.0 if image.mode == "F" and peak <= 1.0 else 1.0)
        image = Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def to_model_input(image: Image.Image, size: int) -> np.ndarray:
    """Resize to the model's square input (whole picture, no crop) as uint8 HxWx3."""
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR, reducing_gap=3.0)
    return np.asarray(image, dtype=np.uint8)
