"""Who the answer is about: a person, a pet, or neither.

A face box alone does not make a person: YuNet, like any face finder, also boxes frontal dog and
cat faces, fur and texture. Two heads of the same forward pass decide (``training/heads.py``):

- person: a face whose crop the ``human`` head calls a person's face (a linear head on the pooled
  features and ImageNet log-probabilities, fitted on people's faces against what YuNet boxes in
  pet photos);
- pet: no person, and the backbone's own ImageNet head (118 dog breeds, 5 domestic cats) finds a
  dog or cat in the photo: sure (``photo_pet``), or less sure (``photo_pet_low``, against ~3% on
  photos of other things) while the pet classifier itself is confident (``pets_sure``);
- none: neither (a landscape, a car, noise, another animal).

Thresholds live in the model card (``heads.subject``); the training report measures them.
Artifacts without these heads keep the old behaviour: faces -> person, else the whole photo is a pet.
"""

from __future__ import annotations

import numpy as np

PERSON, PET, NONE = "person", "pet", "none"
# ImageNet-1k class indices (inclusive ranges): 151 Chihuahua .. 268 Mexican hairless; 281 tabby .. 285 Egyptian cat
IMAGENET_PETS = {"dog": [[151, 268]], "cat": [[281, 285]]}
# chosen on the Kaggle training split and scikit-image's sample photos; see the training report
DEFAULTS = {
    "face_score": 0.6,  # YuNet confidence for a box to be looked at
    "human": 0.5,  # P(person's face) from the human head
    "face_pet": 0.5,  # without a human head: a crop this much dog or cat (ImageNet) is a pet's face
    "photo_pet": 0.4,  # ImageNet dog + cat mass that makes a photo a pet photo by itself
    "photo_pet_low": 0.15,  # ... or this much, when the pet classifier is at least
    "pets_sure": 0.98,  # ... this sure of cat or dog
}


class SubjectRule:
    """Applies the card's thresholds to one forward pass's outputs (probabilities by head)."""

    def __init__(self, card):
        heads = card.heads or {}
        ranges = heads.get("imagenet") or IMAGENET_PETS
        self.pet_classes = np.concatenate([np.arange(lo, hi + 1) for spans in ranges.values() for lo, hi in spans])
        self.thresholds = {**DEFAULTS, **heads.get("subject", {})}

    def pet_mass(self, imagenet: np.ndarray) -> np.ndarray:
        """Probability that each image is a dog or a cat, by the ImageNet head."""
        return np.asarray(imagenet)[..., self.pet_classes].sum(-1)

    def is_person(self, out: dict[str, np.ndarray], i: int) -> bool:
        """Is face crop ``i`` a person's face?"""
        if "human" in out:
            return bool(out["human"][i] >= self.thresholds["human"])
        if "imagenet" in out:
            return bool(self.pet_mass(out["imagenet"][i]) < self.thresholds["face_pet"])
        return True

    def is_pet_photo(self, imagenet_views: list[np.ndarray], pets: np.ndarray) -> bool:
        """Is the photo a dog or a cat? ``imagenet_views``: the ImageNet head's probabilities for
        each view of the photo (the most confident view counts); ``pets``: the pet classifier's."""
        if not imagenet_views:  # an artifact without an ImageNet head
            return True
        mass, t = max(float(self.pet_mass(v)) for v in imagenet_views), self.thresholds
        return mass >= t["photo_pet"] or (mass >= t["photo_pet_low"] and float(np.max(pets)) >= t["pets_sure"])
