"""Measuring an artifact the way the bot answers (``SelfieScorer``): subject decisions on pets,
people and neither, and the answers on people (found, spread, balance, steadiness, lookalike
separation). Photos are read from disk and kept in memory only; nothing of them is written."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from classifier.images import UnreadableImage, load_image
from classifier.selfie import SelfieScorer
from classifier.subject import NONE, PERSON, PET

from .data import IMAGE_SUFFIXES
from .progress import steps

log = logging.getLogger(__name__)
SUBJECTS = (PERSON, PET, NONE)
# re-framed, re-compressed, re-lit, shrunk, tilted, mirrored: the same face, as users resend it
PERTURBATIONS = ("crop", "jpeg", "dark", "bright", "contrast", "warm", "small", "rotate", "mirror")


def images_in(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def perturb(image: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
    w, h = image.size
    if kind == "crop":
        f = rng.uniform(0.75, 0.92)
        cw, ch = int(w * f), int(h * f)
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        return image.crop((x, y, x + cw, y + ch))
    if kind == "jpeg":
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=int(rng.integers(20, 45)))
        return load_image(buf.getvalue())
    if kind == "dark":
        return ImageEnhance.Brightness(image).enhance(rng.uniform(0.5, 0.7))
    if kind == "bright":
        return ImageEnhance.Brightness(image).enhance(rng.uniform(1.3, 1.6))
    if kind == "contrast":
        return ImageEnhance.Contrast(image).enhance(rng.uniform(0.6, 0.8))
    if kind == "warm":
        warm = np.asarray(image, np.float32) * np.array([1.15, 1.0, 0.8])
        return Image.fromarray(np.clip(warm, 0, 255).astype(np.uint8))
    if kind == "small":
        small = image.copy()
        small.thumbnail((200, 200))
        return small
    if kind == "rotate":
        return image.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR)
    if kind == "mirror":
        return ImageOps.mirror(image)
    raise ValueError(kind)


def none_photos() -> dict[str, Image.Image]:
    """Photos with neither a face nor a pet: scikit-image's samples (when installed) and made ones."""
    photos = {}
    try:
        from skimage import data

        for name in (
            "brick",
            "coffee",
            "coins",
            "colorwheel",
            "grass",
            "gravel",
            "hubble_deep_field",
            "immunohistochemistry",
            "logo",
            "moon",
            "page",
            "retina",
            "rocket",
            "text",
            "clock",
        ):
            photos[name] = load_image(Image.fromarray(np.asarray(getattr(data, name)())))
    except ImportError:
        log.warning("scikit-image is not installed: the 'neither' check uses made images only")
    rng = np.random.default_rng(7)
    photos["noise"] = Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
    blobs = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    photos["blurry blobs"] = Image.fromarray(blobs).resize((640, 480), Image.BICUBIC)
    sky = np.linspace(120, 230, 240)[:, None, None] * np.array([0.5, 0.7, 1.0])
    field = np.linspace(60, 120, 240)[:, None, None] * np.array([0.4, 0.8, 0.3])
    land = np.concatenate([np.repeat(sky, 640, 1), np.repeat(field, 640, 1)])
    photos["landscape"] = Image.fromarray(np.clip(land + rng.normal(0, 8, land.shape), 0, 255).astype(np.uint8))
    ramp = np.linspace(0, 1, 640)[None, :, None] * np.array([80, 140, 255])
    photos["gradient"] = Image.fromarray(np.repeat(ramp, 480, 0).astype(np.uint8))
    photos["black"], photos["white"] = Image.new("RGB", (640, 480)), Image.new("RGB", (640, 480), "white")
    return photos


def _read(scorer: SelfieScorer, source):
    try:
        return scorer.score(source)
    except UnreadableImage:
        return None


def evaluate_pets(scorer: SelfieScorer, paths: list[Path], labels: list[str]) -> dict:
    said = {s: 0 for s in SUBJECTS}
    right = right_as_pet = unreadable = 0
    for path, label in steps(zip(paths, labels), "pets", total=len(paths)):
        result = _read(scorer, path)
        if result is None:
            unreadable += 1
            continue
        said[result.subject] += 1
        head = result.headline
        if result.subject == PET:
            right_as_pet += head.label == label
        # "right" the way a user reads it: the answer names the right animal
        right += result.subject == PET and head.label == label
    n = len(paths) - unreadable
    return {
        "count": n,
        "answered": said,
        "as_pet": said[PET] / n if n else 0.0,
        "right": right / n if n else 0.0,
        "right_when_pet": right_as_pet / said[PET] if said[PET] else 0.0,
    }


def evaluate_none(scorer: SelfieScorer) -> dict:
    photos = none_photos()
    said = {name: scorer.score(photo).subject for name, photo in photos.items()}
    counts = {s: sum(v == s for v in said.values()) for s in SUBJECTS}
    return {"count": len(said), "answered": counts, "as_none": counts[NONE] / len(said), "each": said}


def evaluate_people(scorer: SelfieScorer, portraits: list[Path], groups: list[Path], seed: int = 0) -> dict:
    """Subject, faces found (as sent, as 200-px thumbnails, as tight crops), the answers' spread and
    balance, and steadiness: each portrait's spread over PERTURBATIONS against the spread between
    portraits."""
    rng = np.random.default_rng(seed)
    said = {s: 0 for s in SUBJECTS}
    found = {"photo": [], "thumbnail_200px": [], "tight_crop": []}
    dog, within = [], []
    for path in steps(portraits, "portraits"):
        try:
            image = load_image(path)
        except UnreadableImage:
            continue
        result = scorer.score(image)
        said[result.subject] += 1
        found["photo"].append(result.faces_found)
        thumb = image.copy()
        thumb.thumbnail((200, 200))
        found["thumbnail_200px"].append(scorer.score(thumb).faces_found)
        if not result.faces_found:
            continue
        b = result.largest.box
        found["tight_crop"].append(scorer.score(image.crop((b.x, b.y, b.x + b.w, b.y + b.h))).faces_found)
        p = result.headline.probabilities["dog"]
        dog.append(p)
        views = [p]
        for kind in PERTURBATIONS:
            again = scorer.score(perturb(image, kind, rng))
            if again.faces_found:
                views.append(again.headline.probabilities["dog"])
        within.append(float(np.std(views)))
    group_faces = []
    for path in groups:
        result = _read(scorer, path)
        if result is not None:
            said[result.subject] += 1
            group_faces.append(len(result.faces))
    dog = np.asarray(dog)
    between = float(np.std(dog)) if len(dog) else 0.0
    return {
        "portraits": len(portraits),
        "groups": len(groups),
        "answered": said,
        "as_person": said[PERSON] / max(sum(said.values()), 1),
        "found": {k: float(np.mean(v)) if v else 0.0 for k, v in found.items()},
        "faces_per_group_photo": float(np.mean(group_faces)) if group_faces else 0.0,
        "puppy_median": float(np.median(dog)) if len(dog) else None,
        "share_10_90": float(((dog > 0.1) & (dog < 0.9)).mean()) if len(dog) else None,
        "share_puppy": float((dog > 0.5).mean()) if len(dog) else None,
        "spread_between": between,
        "spread_within": float(np.mean(within)) if within else 0.0,
        "steadiness_ratio": float(np.mean(within) / between) if within and between else None,
        "perturbations": list(PERTURBATIONS),
    }


def evaluate_lookalike(scorer: SelfieScorer, paths: list[Path], dog_like: np.ndarray, sources: np.ndarray) -> dict:
    from .people import auc

    scores, keep = [], []
    for path in steps(paths, "lookalike"):
        result = _read(scorer, path)
        ok = result is not None and result.subject == PERSON
        keep.append(ok)
        scores.append(result.headline.probabilities["dog"] if ok else np.nan)
    scores, keep = np.asarray(scores), np.asarray(keep)
    out = {"count": len(paths), "answered_as_person": float(keep.mean()) if len(keep) else 0.0, "by_source": {}}
    for source in np.unique(sources):
        m = keep & (sources == source)
        if len(np.unique(dog_like[m])) == 2:
            out["by_source"][str(source)] = {
                "auc": auc(scores[m], dog_like[m]),
                "dog_like_mean": float(scores[m][dog_like[m] == 1].mean()),
                "cat_like_mean": float(scores[m][dog_like[m] == 0].mean()),
            }
    return out


def confusion(pets: dict, people: dict, none: dict) -> dict:
    """Rows: what the photo is; columns: what the bot answered."""
    return {"pet": pets["answered"], "person": people["answered"], "none": none["answered"]}


# -- made photos for the subject table: the crops real photos fail on, and a person with a pet ----


def close_up_of(image: Image.Image, detector, rng: np.random.Generator) -> Image.Image:
    """The pet's face filling the photo (its largest face box, 1.3-2x), or its centre when none is boxed:
    a cat on a cushion looking into the camera."""
    found = detector.detect(image)
    w, h = image.size
    if found:
        b = max(found, key=lambda f: f.box.area).box
        side, cx, cy = max(b.w, b.h) * rng.uniform(1.3, 2.0), b.x + b.w / 2, b.y + b.h / 2
    else:
        side, cx, cy = min(w, h) * rng.uniform(0.45, 0.65), w / 2, h / 2
    box = (max(0, cx - side / 2), max(0, cy - side / 2), min(w, cx + side / 2), min(h, cy + side / 2))
    return image.crop(tuple(round(v) for v in box))


def with_pet(person: Image.Image, pet: Image.Image, layout: str, detector, rng: np.random.Generator):
    """A person and a pet in one photo: ``beside`` (the pet photo next to the portrait, 55-90% of its
    height) or ``arms`` (the pet held below the face, 1.2-2.2 face widths wide); None without a face."""
    pw, ph = person.size
    if layout == "beside":
        s = ph * rng.uniform(0.55, 0.9) / pet.height
        pet = pet.resize((max(1, round(pet.width * s)), max(1, round(pet.height * s))))
        canvas = Image.new("RGB", (pw + pet.width, ph), tuple(int(v) for v in rng.integers(0, 255, 3)))
        canvas.paste(person, (0, 0))
        canvas.paste(pet, (pw, ph - pet.height))
        return canvas
    found = detector.detect(person)
    if not found:
        return None
    b = max(found, key=lambda f: f.box.area).box
    s = b.w * rng.uniform(1.2, 2.2) / pet.width
    pet = pet.resize((max(1, round(pet.width * s)), max(1, round(pet.height * s))))
    top = round(b.y + b.h * rng.uniform(1.0, 1.3))
    canvas = Image.new("RGB", (pw, max(ph, top + pet.height)), tuple(int(v) for v in np.asarray(person).mean((0, 1))))
    canvas.paste(person, (0, 0))
    x = round(b.x + b.w / 2 - pet.width / 2 + b.w * rng.uniform(-0.5, 0.5))
    canvas.paste(pet, (min(max(x, 0), max(pw - pet.width, 0)), top))
    return canvas
