"""The subject table of ``python -m training.boxes``: held-back photos answered as the bot answers
(``SelfieScorer``), rows what the photo is, columns what the bot said, with the worst misses drawn as
a grid a maintainer can look at.

Beside the real photos, made ones from the same held-back split, for what real photos fail on and
the folders hardly hold: each held-back cat (and a third of the dogs) as a close-up of its face and
upside down, and each held-back photo of people with a held-back pet beside them or in their arms
(``training.subjects.with_pet``). Photos are read into memory only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from classifier.images import UnreadableImage, load_image
from classifier.selfie import WORK_SIDE, SelfieScorer
from classifier.subject import NONE, PERSON, PET

from .progress import steps
from .subjects import close_up_of, none_photos, with_pet

HELD_BACK = 0.3  # share of each folder's photos never fitted on
# what a photo is, for the subject table: (folder, kind)
ROWS = (
    "pets-real dog",
    "pets-real cat",
    "pets-real other",
    "kaggle dog",
    "kaggle cat",
    "faces person",
    "made none",
    "made pet close-up",
    "made pet turned",
    "made person+pet",
)


def held_back(name: str) -> bool:
    """Is this photo in the split nobody fits on? Decided by its file name alone, so it never moves."""
    return int(hashlib.sha1(Path(name).name.encode()).hexdigest()[:8], 16) % 1000 < HELD_BACK * 1000


def made_photos(scorer: SelfieScorer, items: list, seed: int = 0):
    """(row, name, kind, image) for the made rows, from held-back photos only."""
    rng = np.random.default_rng(seed)
    pets = [(p, k) for p, f, k in items if f == "pets-real" and k in ("dog", "cat") and held_back(p.name)]
    for i, (path, kind) in enumerate(pets):
        if kind == "cat" or i % 3 == 0:
            image = scorer.decode(path)
            yield "made pet close-up", f"{path} close-up", kind, close_up_of(image, scorer.detector, rng)
            yield "made pet turned", f"{path} turned", kind, image.rotate(180)
    by_kind = {k: [p for p, kind in pets if kind == k] for k in ("dog", "cat")}
    people = [p for p, f, k in items if f == "faces" and held_back(p.name)]
    for i, path in enumerate(people):
        group = by_kind["cat" if i % 2 else "dog"]
        if not group:
            continue
        person, pet = scorer.decode(path), scorer.decode(group[(i // 2) % len(group)])
        for layout in ("beside", "arms"):
            made = with_pet(person, pet, layout, scorer.detector, rng)
            if made is not None:
                made.thumbnail((WORK_SIDE, WORK_SIDE))
                yield "made person+pet", f"{path} + {group[(i // 2) % len(group)].name} {layout}", "person+pet", made


def _kind_of(result) -> str:
    """What the bot answered, as a column of the subject table."""
    if result.subject == PERSON:
        return "person+pet" if result.pets else PERSON
    if result.subject == PET:
        return result.pet.prediction.label  # "cat" or "dog": the animal named
    return NONE


COLUMNS = ("dog", "cat", PERSON, "person+pet", NONE)


def measure(scorer: SelfieScorer, items: list, misses: int = 24) -> dict:
    """The subject table on held-back photos (rows: what the photo is; columns: what the bot said),
    the headline rates, and the worst misses (path, what it is, what was said, how sure)."""
    table = {row: dict.fromkeys(COLUMNS, 0) for row in ROWS}
    wrong = []
    for path, folder, kind in steps(items, "subjects: photos"):
        if not held_back(path.name) or kind == "lookalike":
            continue
        row = f"{folder} {kind}"
        try:
            result = scorer.score(path)
        except UnreadableImage:
            continue
        said = _kind_of(result)
        table[row][said] += 1
        if not _right(kind, said):
            sure = result.headline.probabilities[result.headline.label] if result.headline else 1.0
            wrong.append((sure, str(path), kind, said))
    for name, photo in none_photos().items():
        said = _kind_of(scorer.score(photo))
        table["made none"][said] += 1
        if said != NONE:
            wrong.append((1.0, "made:" + name, "none", said))
    for row, name, kind, photo in made_photos(scorer, items):
        result = scorer.score(photo)
        said = _kind_of(result)
        table[row][said] += 1
        if not _right(kind, said):
            sure = result.headline.probabilities[result.headline.label] if result.headline else 1.0
            wrong.append((sure, "made:" + name, kind, said))
    wrong.sort(reverse=True)
    return {"table": table, "rates": rates(table), "misses": [w[1:] + (round(w[0], 3),) for w in wrong[:misses]]}


def _right(kind: str, said: str) -> bool:
    if kind == "person+pet":
        return said == "person+pet"  # both answered
    if kind in ("dog", "cat"):
        return said in (kind, "person+pet")  # a pet beside its owner is answered too
    if kind == PERSON:
        return said in (PERSON, "person+pet")
    return said == NONE


def rates(table: dict, folder: str = "pets-real") -> dict:
    """Headline rates; the pets' on ``folder`` (real photos), the Kaggle copies' apart."""

    def share(rows, cols):
        n = sum(sum(table[r].values()) for r in rows)
        return sum(table[r][c] for r in rows for c in cols) / n if n else None

    def pets(where):
        rows = [f"{where} dog", f"{where} cat"]
        alone = sum(table[r]["dog"] + table[r]["cat"] for r in rows)
        right = table[rows[0]]["dog"] + table[rows[1]]["cat"]
        return share(rows, ("dog", "cat", "person+pet")), right / alone if alone else None, share(rows, (PERSON,))

    real, kaggle = pets(folder), pets("kaggle")
    return {
        "pets_answered_as_pet": real[0],
        "pets_right_animal": real[1],
        "pets_as_person_alone": real[2],
        "kaggle_answered_as_pet": kaggle[0],
        "kaggle_right_animal": kaggle[1],
        "people_as_person": share(["faces person"], (PERSON, "person+pet")),
        "other_animals_as_none": share([f"{folder} other"], (NONE,)),
        "neither_as_none": share(["made none"], (NONE,)),
        "person_and_pet_both": share(["made person+pet"], ("person+pet",)),
        "close_up_pets_as_pet": share(["made pet close-up"], ("dog", "cat", "person+pet")),
        "turned_pets_as_pet": share(["made pet turned"], ("dog", "cat", "person+pet")),
    }


def misses_grid(misses: list, path: Path, tile: int = 160, columns: int = 6) -> Path:
    """The worst misses as one picture: each photo with what it is and what the bot said."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=13)
    rows = max(1, -(-len(misses) // columns))
    sheet = Image.new("RGB", (columns * tile, rows * (tile + 18)), (20, 20, 28))
    pen = ImageDraw.Draw(sheet)
    for i, (where, truth, said, sure) in enumerate(misses):
        x, y = (i % columns) * tile, (i // columns) * (tile + 18)
        if not where.startswith("made:"):
            try:
                photo = load_image(where)
                photo.thumbnail((tile, tile))
                sheet.paste(photo, (x + (tile - photo.width) // 2, y + (tile - photo.height) // 2))
            except UnreadableImage:
                pass
        pen.text((x + 3, y + tile + 2), f"{truth} -> {said} {sure:.0%}", fill=(255, 220, 120), font=font)
    sheet.save(path)
    return path


def table_markdown(result: dict) -> str:
    lines = [
        "| photo is \\ answered | " + " | ".join(COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for row, counts in result["table"].items():
        lines.append(f"| {row} | " + " | ".join(str(counts[c]) for c in COLUMNS) + " |")
    lines.append("")
    lines += [f"- {k.replace('_', ' ')}: {v:.1%}" for k, v in result["rates"].items() if v is not None]
    return "\n".join(lines)
