"""Turning whatever a user sends into an RGB picture the model can take. Memory only, no disk."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # a phone photo is ~12 MP; far beyond this is a decompression bomb
ImageSource = bytes | bytearray | memoryview | str | Path | Image.Image


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


def load_image(source: ImageSource, min_size: int | None = None) -> Image.Image:
    """Decode bytes, a path or a PIL image into an upright RGB image.

    Honours EXIF orientation, takes the first frame of animations, flattens transparency onto
    white and converts any mode (L, P, CMYK, 16-bit, ...) to 8-bit RGB. With ``min_size``, a
    JPEG is decoded at the smallest 1/2, 1/4 or 1/8 scale that keeps both sides >= ``min_size``
    (DCT scaling: a 12 MP photo decodes several times faster).
    """
    if isinstance(source, Image.Image):
        image = source
    else:
        image = _open(source)
    try:
        if image.width * image.height > MAX_PIXELS:
            raise UnreadableImage(
                f"the image is too large ({image.width}x{image.height} pixels); please send a smaller one"
            )
        image.seek(0)
        if min_size and image.format == "JPEG":
            image.draft("RGB", (min_size, min_size))
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
        # a photo decoded here is ours to turn in place (a copy of 1280x1280 costs ~1 ms); a caller's is not
        if image is source:
            image = ImageOps.exif_transpose(image)
        else:
            ImageOps.exif_transpose(image, in_place=True)
        return _to_rgb(image)
    except UnreadableImage:
        raise
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise UnreadableImage("the image file is damaged or incomplete") from exc


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
            return Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise UnreadableImage("this is not an image we can read (try a JPEG, PNG or HEIC photo)") from exc
        raise UnreadableImage("the image is too large; please send a smaller one") from exc
    except (OSError, ValueError) as exc:
        raise UnreadableImage("the image file is damaged or incomplete") from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale 0..65535 to 0..255 instead of clipping everything to white
        arr = np.asarray(image, dtype=np.float64)
        scale = 255.0 / 65535.0 if arr.size and arr.max() > 255 else 1.0
        image = Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        image = image.point(lambda v: v * 255.0 if v <= 1.0 else v).convert("L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image if image.mode == "RGB" else image.convert("RGB")


def to_model_input(image: Image.Image, size: int) -> np.ndarray:
    """Resize to the model's square input (whole picture, no crop) as uint8 HxWx3."""
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR, reducing_gap=3.0)
    return np.asarray(image, dtype=np.uint8)
