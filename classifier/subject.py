"""Who the answer is about: each face box a person, a pet or neither; then the photo's subject.

A face box alone does not make a person: YuNet, like any face finder, also boxes frontal dog and
cat faces (on real photos most of them), fur and texture. Each box is decided on its own from what
its crop's one forward pass already gives, plus the box itself (``box_features``):

- the ``human`` head's logit (a person's face vs anything else a face finder boxes);
- the ImageNet head on the crop: how much dog (118 breeds), cat (5 cats), other animal, and how
  sure it is of anything;
- YuNet's score and the geometry of its five landmarks (a dog's eyes sit wider and its "mouth"
  corners lower than a person's), and the box's share of the photo.

A small multinomial logistic regression on those (``BoxRule``, fitted on real photos of people,
pets and other animals by ``training.boxes``; its weights live in the model card) says person, pet
or neither. Then the photo's subject:

- person: at least one person's face (pets' faces in the same photo are answered beside them, or
  with none boxed the whole photo's dog or cat mass: ``photo_pet_beside``, ``cat_beside``);
- pet: no person, a pet's face (answered from its crop), or else the whole photo's ImageNet head
  finds a dog or cat: sure (``photo_pet``), or less sure (``photo_pet_low``) while the pet
  classifier itself is confident (``pets_sure``), in the photo, its centre or (``turned_view``)
  the photo upside down;
- none: neither (a landscape, a car, noise, another animal).

Artifacts without a fitted box rule keep the older one: the human head's threshold alone.
"""

from __future__ import annotations

import numpy as np

PERSON, PET, NONE = "person", "pet", "none"
KINDS = (PERSON, PET, NONE)  # a box's possible answers, in the box rule's class order
# ImageNet-1k class indices (inclusive ranges): 151 Chihuahua .. 268 Mexican hairless; 281 tabby .. 285 Egyptian cat
IMAGENET_PETS = {"dog": [[151, 268]], "cat": [[281, 285]]}
# other animals: fish, birds, reptiles, ... (0-150), wolves, foxes, hyenas (269-280), wild cats to insects (286-397)
IMAGENET_ANIMALS = [[0, 150], [269, 280], [286, 397]]
DEFAULTS = {
    "face_score": 0.6,  # YuNet confidence for a box to be looked at
    "human": 0.5,  # P(person's face) from the human head (artifacts without a box rule)
    "face_pet": 0.5,  # without a human head: a crop this much dog or cat (ImageNet) is a pet's face
    "photo_pet": 0.4,  # ImageNet dog + cat mass that makes a photo a pet photo by itself
    "photo_pet_low": 0.15,  # ... or this much, when the pet classifier is at least
    "pets_sure": 0.98,  # ... this sure of cat or dog
    "photo_pet_beside": 0.4,  # ... beside a person's face, with no pet's face boxed
    "cat_beside": 1.0,  # ... or this much cat alone (a person draws dog mass, hardly ever cat)
    "close_up": 0.35,  # a face box's side over the photo's that makes a close-up (its first run: the face alone)
    "turned_view": 0,  # 1: an undecided photo's second run also reads it upside down (a cat on its back)
    "breed": 0.5,  # a pet's breed is named when the ImageNet head gives it at least this
    "close_up_person": 0.8,  # a face filling the photo is a person below this only if the photo shows no pet
}
BOX_FEATURES = (
    "human_logit",
    "log_dog",
    "log_cat",
    "log_animal",
    "log_top",
    "yunet_score",
    "eyes_to_mouth",
    "mouth_width",
    "nose_offset",
    "box_width",
    "box_aspect",
    "box_share",
)


def _ranges(spans) -> np.ndarray:
    return np.concatenate([np.arange(lo, hi + 1) for lo, hi in spans])


def box_features(human: float, imagenet: np.ndarray, score: float, landmarks, box, image_size) -> np.ndarray:
    """One box's features (``BOX_FEATURES``): ``human`` P(person's face) from the human head,
    ``imagenet`` the crop's 1000 ImageNet probabilities, YuNet's ``score`` and five ``landmarks``
    (eyes, nose, mouth corners), ``box`` (x, y, w, h) and the photo's (width, height)."""
    p = np.clip(np.asarray(imagenet, np.float64), 1e-9, 1.0)
    h = float(np.clip(human, 1e-6, 1 - 1e-6))
    lm = np.asarray(landmarks, np.float64).reshape(5, 2)
    eyes = lm[1] - lm[0]
    d = max(float(np.hypot(*eyes)), 1.0)
    # measured in the frame of the eyes (x along them, y across), so a tilted face reads the same
    ux = eyes / d
    uy = np.array([-ux[1], ux[0]])
    eye_mid, mouth_mid = (lm[0] + lm[1]) / 2, (lm[3] + lm[4]) / 2
    x, y, w, hgt = (float(v) for v in box)
    width, height = image_size
    return np.array(
        [
            np.log(h / (1 - h)),
            np.log(p[_DOG].sum()),
            np.log(p[_CAT].sum()),
            np.log(p[_ANIMAL].sum()),
            np.log(p.max()),
            float(score),
            float((mouth_mid - eye_mid) @ uy) / d,
            float(np.hypot(*(lm[4] - lm[3]))) / d,
            float((lm[2] - eye_mid) @ ux) / d,
            w / d,
            hgt / max(w, 1.0),
            np.sqrt(w * hgt / max(width * height, 1.0)),
        ]
    )


def face_features(out: dict[str, np.ndarray], i: int, face, image_size) -> np.ndarray:
    """``box_features`` of found face ``i`` (a ``FoundFace``) from its crop's outputs by head."""
    b = face.box
    return box_features(
        out["human"][i], out["imagenet"][i], face.score, face.landmarks, (b.x, b.y, b.w, b.h), image_size
    )


_DOG, _CAT, _ANIMAL = _ranges(IMAGENET_PETS["dog"]), _ranges(IMAGENET_PETS["cat"]), _ranges(IMAGENET_ANIMALS)


class BoxRule:
    """Person, pet or neither for one box's features: a standardised multinomial logistic
    regression, as stored in the card (``heads.boxes``)."""

    def __init__(self, mean, scale, coef, intercept, features=BOX_FEATURES, classes=KINDS):
        self.mean, self.scale = np.asarray(mean, float), np.asarray(scale, float)
        self.coef, self.intercept = np.asarray(coef, float), np.asarray(intercept, float)
        self.features, self.classes = tuple(features), tuple(classes)
        if self.features != BOX_FEATURES or self.coef.shape != (len(self.classes), len(BOX_FEATURES)):
            raise ValueError("the card's box rule was fitted on other features")

    @classmethod
    def from_card(cls, spec: dict) -> BoxRule:
        return cls(**spec)

    def to_card(self) -> dict:
        return {
            "features": list(self.features),
            "classes": list(self.classes),
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "coef": self.coef.round(6).tolist(),
            "intercept": self.intercept.round(6).tolist(),
        }

    def proba(self, x: np.ndarray) -> np.ndarray:
        """(N, 3) probabilities of person, pet, neither for (N, features) rows."""
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(-1, keepdims=True)

    def reading(self, x: np.ndarray) -> tuple[str, float]:
        """(kind, its probability) for one row of features."""
        p = self.proba(x)[0]
        return self.classes[int(np.argmax(p))], float(p.max())

    def kind(self, x: np.ndarray) -> str:
        return self.reading(x)[0]


class SubjectRule:
    """Applies the card's rule to one forward pass's outputs (probabilities by head)."""

    def __init__(self, card):
        heads = card.heads or {}
        ranges = heads.get("imagenet") or IMAGENET_PETS
        self.pet_classes = _ranges([span for spans in ranges.values() for span in spans])
        self.thresholds = {**DEFAULTS, **heads.get("subject", {})}
        self.boxes = BoxRule.from_card(heads["boxes"]) if "boxes" in heads else None

    def pet_mass(self, imagenet: np.ndarray) -> np.ndarray:
        """Probability that each image is a dog or a cat, by the ImageNet head."""
        return np.asarray(imagenet)[..., self.pet_classes].sum(-1)

    def box_reading(self, out: dict[str, np.ndarray], i: int, face, image_size) -> tuple[str, float]:
        """Is face box ``i`` (a ``FoundFace``) a person's face, a pet's face or neither, and how sure
        (1.0 where no box rule is fitted)?"""
        if self.boxes is not None and "human" in out and "imagenet" in out:
            return self.boxes.reading(face_features(out, i, face, image_size))
        # an older artifact: a person by the human head (or the ImageNet head); anything else the photo decides
        if "human" in out:
            return (PERSON if out["human"][i] >= self.thresholds["human"] else NONE), 1.0
        if "imagenet" in out:
            return (PERSON if self.pet_mass(out["imagenet"][i]) < self.thresholds["face_pet"] else NONE), 1.0
        return PERSON, 1.0

    def breed(self, imagenet: np.ndarray | None) -> int | None:
        """The ImageNet dog or cat class the head is sure of (``breed`` threshold), or None."""
        if imagenet is None:
            return None
        top = int(np.argmax(imagenet))
        return top if top in _BREEDS and float(imagenet[top]) >= self.thresholds["breed"] else None

    def is_pet_photo(self, imagenet_views: list[np.ndarray], pets: np.ndarray, beside: bool = False) -> bool:
        """Is there a dog or a cat in the photo? ``imagenet_views``: the ImageNet head's
        probabilities for each view of the photo (the most confident view counts); ``pets``: the pet
        classifier's. ``beside`` a person, only the ImageNet head's word counts (``photo_pet_beside``):
        the pet classifier is sure of cat or dog on any face."""
        if not imagenet_views:  # an artifact without an ImageNet head
            return True
        mass, t = max(float(self.pet_mass(v)) for v in imagenet_views), self.thresholds
        if beside:
            cat = max(float(np.asarray(v)[_CAT].sum()) for v in imagenet_views)
            return mass >= t["photo_pet_beside"] or cat >= t["cat_beside"]
        return mass >= t["photo_pet"] or (mass >= t["photo_pet_low"] and float(np.max(pets)) >= t["pets_sure"])


_BREEDS = set(_DOG.tolist()) | set(_CAT.tolist())
