"""The result card: the photo, downscaled, each person's face boxed and labelled "73% puppy", each
pet's face circled and labelled "pet: 97% kitty", or a pet photo labelled "this one: 99% kitty".

Drawn with Pillow and its bundled open font (Aileron, via ``ImageFont.load_default(size)``), so
nothing is fetched or installed for it. Card text stays ASCII because that font has no Hangul
or emoji; the localised sentence goes in the caption.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from classifier.selfie import SelfieResult

MAX_SIDE = 1024
MIN_SIDE = 360  # panoramas and slivers are padded to this so labels fit
PUPPY, KITTY, INK = (255, 140, 0), (40, 120, 255), (20, 20, 28)
TILE = 400  # an album's grid cell: 3 columns stay under 1,280 px


def _font(size: int):
    return ImageFont.load_default(size=size)


def _fit(image: Image.Image) -> tuple[Image.Image, float, tuple[int, int]]:
    scale = min(1.0, MAX_SIDE / max(image.size))
    photo = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BILINEAR)
    width, height = max(photo.width, MIN_SIDE), max(photo.height, MIN_SIDE)
    canvas = Image.new("RGB", (width, height), INK)
    offset = ((width - photo.width) // 2, (height - photo.height) // 2)
    canvas.paste(photo, offset)
    return canvas, scale, offset


def label_text(prediction, card) -> tuple[str, tuple[int, int, int]]:
    label = prediction.label
    percent = prediction.percentages[card.display(label)]
    colour = PUPPY if label == "dog" else KITTY if label == "cat" else (120, 200, 80)
    return f"{percent}% {card.display(label)}", colour


def render(result: SelfieResult, card, fmt: str = "JPEG") -> bytes:
    return _encode(draw(result, card), fmt)


def draw(result: SelfieResult, card) -> Image.Image:
    """The card as a picture: the photo with each face boxed and labelled, or the pet labelled."""
    canvas, scale, (ox, oy) = _fit(result.image)
    pen = ImageDraw.Draw(canvas)
    size = max(14, min(canvas.size) // 16)
    font, line = _font(size), max(2, size // 7)

    def on_card(b):  # a box of the photo, in the card's pixels
        x0, y0 = ox + b.x * scale, oy + b.y * scale
        return x0, y0, x0 + b.w * scale, y0 + b.h * scale

    if result.faces_found:
        for number, face in enumerate(result.faces, 1):
            x0, y0, x1, y1 = on_card(face.box)
            text, colour = label_text(face.prediction, card)
            if len(result.faces) > 1:
                text = f"{number}: {text}"
            pen.rounded_rectangle((x0, y0, x1, y1), radius=line * 3, outline=colour, width=line)
            _tag(pen, text, font, colour, (x0, y0), canvas.size, above=True)
    # pets: an oval around the face and a label below it ("pet: 97% kitty"), so people and pets are
    # told apart at a glance; a pet seen in the whole photo (no face boxed) gets a label at the bottom
    alone = not result.faces_found
    for pet in result.pets:
        text, colour = label_text(pet.prediction, card)
        if pet.box is None:
            tag = f"this one: {text}" if alone else f"pet: {text}"
            _tag(pen, tag, font, colour, (canvas.width / 2, canvas.height), canvas.size, above=True, centred=True)
            continue
        x0, y0, x1, y1 = on_card(pet.box)
        pen.ellipse((x0, y0, x1, y1), outline="white", width=line + 2)
        pen.ellipse((x0, y0, x1, y1), outline=colour, width=line)
        _tag(pen, f"pet: {text}", font, colour, ((x0 + x1) / 2, y1), canvas.size, above=False, centred=True)
    return canvas


def render_album(results: list[SelfieResult | None], card, fmt: str = "JPEG") -> bytes:
    """An album's card: each photo's card in a grid, numbered as in the caption; a photo that could
    not be read or had neither face nor pet is a grey tile."""
    columns = 2 if len(results) <= 4 else 3
    rows = -(-len(results) // columns)
    cell = TILE
    grid = Image.new("RGB", (columns * cell, rows * cell), INK)
    painter = ImageDraw.Draw(grid)
    font = _font(max(14, cell // 12))
    for i, result in enumerate(results):
        x, y = (i % columns) * cell, (i // columns) * cell
        if result is not None and result.headline is not None:
            tile = draw(result, card)
            tile.thumbnail((cell - 8, cell - 8))
            grid.paste(tile, (x + (cell - tile.width) // 2, y + (cell - tile.height) // 2))
        else:
            painter.rectangle((x + 4, y + 4, x + cell - 4, y + cell - 4), fill=(70, 70, 78))
            painter.text((x + cell / 2, y + cell / 2), "no face or pet", font=font, fill="white", anchor="mm")
        _tag(painter, str(i + 1), font, INK, (x + 8, y + 8), grid.size, above=False)
    return _encode(grid, fmt)


def _encode(picture: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    picture.save(buf, fmt, quality=88)
    return buf.getvalue()


def _tag(pen, text, font, colour, anchor, canvas_size, above=True, centred=False):
    """A filled label next to ``anchor``, moved inside the canvas when it would spill over."""
    left, top, right, bottom = pen.textbbox((0, 0), text, font=font)
    pad = max(3, (bottom - top) // 4)
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    x = anchor[0] - w / 2 if centred else anchor[0]
    y = anchor[1] - h - pad if above else anchor[1] + pad
    if y < 0:
        y = anchor[1] + pad
    x = min(max(x, 0), canvas_size[0] - w)
    y = min(max(y, 0), canvas_size[1] - h)
    pen.rounded_rectangle((x, y, x + w, y + h), radius=pad, fill=colour)
    pen.text((x + pad - left, y + pad - top), text, font=font, fill="white")
