"""Reading a photo the way the bot answers it: whose answer is it (person, pet or neither), then
one prediction per person's face, left to right, or one for the pet.

Work is split so a server can batch the model calls of many photos (``bot/scoring.py``): ``steps``
yields model inputs and takes their outputs back: ``prepare`` (decode, find faces, aligned crops)
-> model -> ``read_faces``; only when no person is found, ``photo_arrays`` -> model -> ``read_photo``.
``score`` drives it in one thread.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

from .faces import Box, FaceDetector, FoundFace, aligned_crop
from .images import ImageSource, load_image, to_model_input
from .model import Classifier, Prediction
from .subject import NONE, PERSON, PET, SubjectRule

WORK_SIDE = 1280  # photos are decoded no larger than this: plenty for faces, cheap to decode
CENTER = 0.8  # the pet check also looks at the photo's central 80%: +0.6 points of pets found (Kaggle test split)


@dataclass(frozen=True)
class Face:
    box: Box
    prediction: Prediction
    score: float = 1.0  # the face finder's confidence


@dataclass(frozen=True)
class SelfieResult:
    image: Image.Image  # the upright RGB photo (at most WORK_SIDE), for drawing a result card
    subject: str  # "person", "pet" or "none"
    faces: list[Face] = field(default_factory=list)  # people's faces, left to right (subject "person")
    pet: Prediction | None = None  # the answer for a pet photo (subject "pet")

    @property
    def faces_found(self) -> bool:
        return bool(self.faces)

    @property
    def largest(self) -> Face | None:
        return max(self.faces, key=lambda f: f.box.area) if self.faces else None

    @property
    def headline(self) -> Prediction | None:
        """The one answer: a person's largest face, the pet, or None for neither."""
        if self.subject == PERSON:
            return self.largest.prediction
        return self.pet if self.subject == PET else None

    def most(self, label: str) -> int:
        """Index (left to right) of the face with the highest probability of ``label``."""
        return int(np.argmax([f.prediction.probabilities[label] for f in self.faces]))

    def to_json(self) -> dict:
        """What the bot answers, as data (``python -m classifier --json --faces``)."""

        def probs(p: Prediction) -> dict:
            return {k: round(v, 6) for k, v in p.probabilities.items()}

        head = self.headline
        return {
            "subject": self.subject,
            "label": head.label if head else None,
            "probabilities": probs(head) if head else None,
            "faces": [
                {"box": [f.box.x, f.box.y, f.box.w, f.box.h], "probabilities": probs(f.prediction)} for f in self.faces
            ],
        }


@dataclass(frozen=True)
class Prepared:
    image: Image.Image
    found: list[FoundFace]
    arrays: np.ndarray  # model inputs: the aligned face crops, then (mirror_faces) their mirror images


class SelfieScorer:
    """``score(image)`` -> ``SelfieResult``.

    ``mirror_photo`` averages a whole photo with its mirror image (as the pet classifier was
    evaluated); ``mirror_faces`` does the same for face crops. Off by default for faces: aligned
    crops are already steady under re-sending (the training report measures it), and a selfie's
    answer then takes one model run (~12 ms) instead of two."""

    def __init__(
        self,
        classifier: Classifier,
        detector: FaceDetector | None = None,
        mirror_faces: bool = False,
        mirror_photo: bool = True,
    ):
        self.classifier = classifier
        self.detector = detector or FaceDetector()
        self.mirror_faces, self.mirror_photo = mirror_faces, mirror_photo
        self.rule = SubjectRule(classifier.card)
        self._center_view = "imagenet" in classifier.heads

    @property
    def size(self) -> int:
        return self.classifier.card.input_size

    def decode(self, source: ImageSource) -> Image.Image:
        image = load_image(source, min_size=WORK_SIDE)
        if max(image.size) > WORK_SIDE:
            image.thumbnail((WORK_SIDE, WORK_SIDE), Image.BILINEAR)
        return image

    def prepare(self, source: ImageSource) -> Prepared:
        """CPU work before the model: decode, find faces, aligned crops."""
        image = self.decode(source)
        found = [f for f in self.detector.detect(image) if f.score >= self.rule.thresholds["face_score"]]
        crops = [aligned_crop(image, f, self.size) for f in found]
        if self.mirror_faces:
            crops += [c[:, ::-1] for c in crops]
        arrays = np.stack(crops) if crops else np.zeros((0, self.size, self.size, 3), np.uint8)
        return Prepared(image, found, arrays)

    @staticmethod
    def _views(outputs: dict[str, np.ndarray], n: int, mirrored: bool) -> dict[str, np.ndarray]:
        """Average each image with its mirror image (when both were in the batch)."""
        if not mirrored:
            return outputs
        return {name: (v[:n] + v[n:]) / 2 for name, v in outputs.items()}

    def read_faces(self, prepared: Prepared, outputs: dict[str, np.ndarray]) -> SelfieResult | None:
        """People's faces among the found ones, or None when there is no person (then the whole
        photo decides, see ``photo_arrays``)."""
        found = prepared.found
        if not found:
            return None
        out = self._views(outputs, len(found), self.mirror_faces)
        people = []
        for i, face in enumerate(found):
            if not self.rule.is_person(out, i):
                continue  # a pet's face, fur or texture: the whole photo decides
            people.append(Face(face.box, self._person(out, i), face.score))
        return SelfieResult(prepared.image, PERSON, people) if people else None

    def _person(self, out: dict[str, np.ndarray], i: int) -> Prediction:
        if "people" not in out:  # an artifact without a people head: the pet classifier on the face
            return self.classifier.explain(out["pets"][i])
        dog = float(out["people"][i])
        labels = self.classifier.card.labels
        return self.classifier.explain(np.array([dog if label == "dog" else 1.0 - dog for label in labels]))

    def photo_arrays(self, image: Image.Image) -> np.ndarray:
        """Model inputs for the whole photo: the photo, its mirror image, and (for the pet check)
        its central 80%, the framing ImageNet's classifier was trained on."""
        arrays = [to_model_input(image, self.size)]
        if self.mirror_photo:
            arrays.append(to_model_input(ImageOps.mirror(image), self.size))
        if self._center_view:
            w, h = image.size
            m = (1 - CENTER) / 2
            arrays.append(
                to_model_input(
                    image.crop((round(w * m), round(h * m), round(w * (1 - m)), round(h * (1 - m)))), self.size
                )
            )
        return np.stack(arrays)

    def read_photo(self, prepared: Prepared, outputs: dict[str, np.ndarray]) -> SelfieResult:
        """Pet or neither, from the whole photo's outputs (see ``photo_arrays``)."""
        k = 2 if self.mirror_photo else 1
        photo = {name: v[:k].mean(0) for name, v in outputs.items()}
        views = [photo["imagenet"], outputs["imagenet"][k]] if self._center_view else []
        if not self.rule.is_pet_photo(views, photo["pets"]):
            return SelfieResult(prepared.image, NONE)
        return SelfieResult(prepared.image, PET, pet=self.classifier.explain(photo["pets"]))

    def steps(self, source: ImageSource) -> Generator[np.ndarray, dict, SelfieResult]:
        """The whole reading as a generator: it yields model inputs and is sent their outputs, so the
        caller decides where the model runs (here in ``score``; shared micro-batches in the bot).
        Drive it with ``advance``. A selfie takes one model run; only a photo without a person's
        face runs the whole photo too."""
        prepared = self.prepare(source)
        result = self.read_faces(prepared, (yield prepared.arrays)) if prepared.found else None
        if result is None:
            result = self.read_photo(prepared, (yield self.photo_arrays(prepared.image)))
        return result

    def score(self, source: ImageSource) -> SelfieResult:
        steps = self.steps(source)
        kind, value = advance(steps)
        while kind == "run":
            kind, value = advance(steps, self.classifier.outputs(value))
        return value


def advance(steps: Generator, outputs: dict | None = None) -> tuple[str, np.ndarray | SelfieResult]:
    """One step of ``SelfieScorer.steps``: ("run", model inputs) or ("done", result). Returned, not
    raised, so it can run on a worker thread (a StopIteration cannot cross into a future)."""
    try:
        return "run", steps.send(outputs)
    except StopIteration as done:
        return "done", done.value
