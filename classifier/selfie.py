"""Reading a photo the way the bot answers it: every face box decided on its own (a person's face,
a pet's face or neither, ``subject.py``), then one prediction per person's face, left to right,
and one per pet beside them, or one for the pet photo.

Work is split so a server can batch the model calls of many photos (``bot/scoring.py``): ``steps``
yields model inputs and takes their outputs back. One model run per photo reads it: ``prepare``
(decode, find faces, aligned crops, and the whole photo as one more input) -> model -> ``read``.
A close-up selfie's first run reads its face alone. Only a photo that run leaves undecided (no face
of either, and the whole photo not clearly a dog or cat) runs its central part too (``more_arrays``
-> model -> ``read_more``). ``score`` drives it in one thread.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from .faces import Box, FaceDetector, FoundFace, Photo, aligned_crop, face_chips, framing_of
from .images import ImageSource, load_photo, to_model_input
from .model import Classifier, Prediction
from .subject import NONE, PERSON, PET, SubjectRule

WORK_SIDE = 1280  # photos are decoded no larger than this: plenty for faces, cheap to decode
PHOTO_SIDE = 640  # the whole photo is shrunk from this copy for the model: the same input, cheaper to make
# a face box this large (its side over the photo's, as sqrt of the areas) is a close-up selfie: no room for a pet
# that YuNet did not box too, so the first model run reads the face alone (3 in 4 portraits of faces/)
CLOSE_UP = 0.35
CENTER = 0.8  # the pet check also looks at the photo's central 80%: +0.6 points of pets found (Kaggle test split)


def close_up(box: Box, image: Image.Image, side: float = CLOSE_UP) -> bool:
    """Does the face box fill the photo (its side over the photo's at least ``side``)?"""
    return box.area >= side**2 * image.width * image.height


@dataclass(frozen=True)
class Face:
    box: Box
    prediction: Prediction
    score: float = 1.0  # the face finder's confidence
    # its five landmarks (eyes, nose, mouth corners): "why?" frames the face by them
    landmarks: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Pet:
    """A dog or cat: its face's box (None: seen in the whole photo, no face boxed), its answer, and
    the ImageNet breed (class index) when that head is sure of one."""

    box: Box | None
    prediction: Prediction
    breed: int | None = None

    @property
    def area(self) -> int:
        return self.box.area if self.box else 0


@dataclass(frozen=True)
class SelfieResult:
    image: Image.Image  # the upright RGB photo (at most WORK_SIDE), for drawing a result card
    subject: str  # "person", "pet" or "none"
    faces: list[Face] = field(default_factory=list)  # people's faces, left to right
    pets: list[Pet] = field(default_factory=list)  # pets, left to right (beside people, or the photo's subject)

    @property
    def faces_found(self) -> bool:
        return bool(self.faces)

    @property
    def largest(self) -> Face | None:
        return max(self.faces, key=lambda f: f.box.area) if self.faces else None

    @property
    def pet(self) -> Pet | None:
        """The main pet: the largest boxed one, or the one seen in the whole photo."""
        return max(self.pets, key=lambda p: p.area) if self.pets else None

    @property
    def headline(self) -> Prediction | None:
        """The one answer: a person's largest face, else the pet, or None for neither."""
        if self.subject == PERSON:
            return self.largest.prediction
        return self.pet.prediction if self.subject == PET else None

    def most(self, label: str) -> int:
        """Index (left to right) of the face with the highest probability of ``label``."""
        return int(np.argmax([f.prediction.probabilities[label] for f in self.faces]))

    def to_json(self) -> dict:
        """What the bot answers, as data (``python -m classifier --json --faces``)."""

        def probs(p: Prediction) -> dict:
            return {k: round(v, 6) for k, v in p.probabilities.items()}

        def box(b: Box | None) -> list[int] | None:
            return [b.x, b.y, b.w, b.h] if b else None

        head = self.headline
        return {
            "subject": self.subject,
            "label": head.label if head else None,
            "probabilities": probs(head) if head else None,
            "faces": [{"box": box(f.box), "probabilities": probs(f.prediction)} for f in self.faces],
            "pets": [
                {"box": box(p.box), "label": p.prediction.label, "probabilities": probs(p.prediction), "breed": p.breed}
                for p in self.pets
            ],
        }


@dataclass(frozen=True)
class Prepared:
    image: Image.Image
    found: list[FoundFace]
    arrays: np.ndarray  # model inputs: the aligned face crops, (mirror_faces) their mirror images, the whole photo
    whole: bool = True  # the whole photo is the last input (not for a close-up: see CLOSE_UP)
    chips: np.ndarray | None = None  # (faces, views, 150, 150, 3) for the face embedding (artifacts that read faces)


class SelfieScorer:
    """``score(image)`` -> ``SelfieResult``.

    ``mirror_faces`` averages each face crop with its mirror image. Off by default: aligned crops
    are already steady under re-sending (the training report measures it), and a selfie's answer
    then takes one model run for the face and one for the whole photo, batched together."""

    def __init__(self, classifier: Classifier, detector: FaceDetector | None = None, mirror_faces: bool = False):
        self.classifier = classifier
        self.detector = detector or FaceDetector()
        self.mirror_faces = mirror_faces
        self.rule = SubjectRule(classifier.card)
        self._center_view = "imagenet" in classifier.heads

    @property
    def size(self) -> int:
        return self.classifier.card.input_size

    def decode(self, source: ImageSource) -> Image.Image:
        return load_photo(source, WORK_SIDE)

    def prepare(self, source: ImageSource) -> Prepared:
        """CPU work before the model: decode, find faces, aligned crops, the whole photo."""
        image = self.decode(source)
        photo = Photo(image)
        found = [f for f in self.detector.detect(photo) if f.score >= self.rule.thresholds["face_score"]]
        crops = [aligned_crop(photo, f, self.size) for f in found]
        if self.mirror_faces:
            crops += [c[:, ::-1] for c in crops]
        whole = not any(close_up(f.box, image, self.rule.thresholds["close_up"]) for f in found)
        if whole:
            crops.append(self.photo_array(image))
        chips = None
        if found and self.classifier.reads_faces:
            framing, views = framing_of(self.classifier.card.heads["face_embedding"])
            chips = np.stack([face_chips(photo, f, framing, views) for f in found])
        return Prepared(image, found, np.stack(crops), whole, chips)

    def photo_array(self, image: Image.Image) -> np.ndarray:
        """The whole photo as the model's input (resized from a smaller copy when the photo is large:
        the same input at a fraction of the cost)."""
        if max(image.size) > 2 * PHOTO_SIDE:
            image = image.copy()
            image.thumbnail((PHOTO_SIDE, PHOTO_SIDE), Image.BILINEAR)
        return to_model_input(image, self.size)

    def read(self, prepared: Prepared, outputs: dict[str, np.ndarray]) -> SelfieResult | None:
        """People's faces, pets' faces and the whole photo's answer; None when the photo needs more
        views to decide (no face of either, and the whole photo not read yet or not clearly a pet)."""
        found, n = prepared.found, len(prepared.found)
        faces = outputs
        if self.mirror_faces and n:
            faces = {name: (v[:n] + v[n : 2 * n]) / 2 for name, v in outputs.items()}
        photo = {name: v[-1] for name, v in outputs.items()} if prepared.whole else None
        people, pets = [], []
        for i, face in enumerate(found):
            kind, sure = self.rule.box_reading(faces, i, face, prepared.image.size)
            if kind == PERSON and sure < self.rule.thresholds["close_up_person"] and close_up(face.box, prepared.image):
                # an unsure close-up: a cat's face filling the photo reads much like a person's; the
                # whole photo tells (its ImageNet head sees the animal), so it is needed first
                if photo is None:
                    return None
                if "imagenet" in photo and self.rule.pet_mass(photo["imagenet"]) >= self.rule.thresholds["photo_pet"]:
                    kind = PET
            if kind == PERSON:
                people.append(i)
            elif kind == PET:
                # the crop and the whole photo agree better than either alone (pets-real, Kaggle)
                both = faces["pets"][i] if photo is None else (faces["pets"][i] + photo["pets"]) / 2
                pets.append(Pet(face.box, self.classifier.explain(both), self._breed(faces, i)))
        people = self._people(prepared, faces, people)
        # beside people only with the ImageNet head's word for it; alone, an older artifact's photo is a pet
        beside = bool(people)
        if not pets and photo is not None and (not beside or "imagenet" in photo):
            if self._photo_is_pet(photo, [], beside=beside):
                pets.append(Pet(None, self.classifier.explain(photo["pets"]), self.rule.breed(photo.get("imagenet"))))
        if people:
            return SelfieResult(prepared.image, PERSON, people, pets)
        if pets and photo is not None:  # a close-up pet: its answer waits for the whole photo too
            return SelfieResult(prepared.image, PET, pets=pets)
        return None

    def _breed(self, out: dict[str, np.ndarray], i: int) -> int | None:
        return self.rule.breed(out["imagenet"][i]) if "imagenet" in out else None

    def _photo_is_pet(self, photo: dict[str, np.ndarray], more_views: list[np.ndarray], beside: bool = False) -> bool:
        views = [photo["imagenet"], *more_views] if "imagenet" in photo else []
        return self.rule.is_pet_photo(views, photo["pets"], beside)

    def _people(self, prepared: Prepared, out: dict[str, np.ndarray], people: list[int]) -> list[Face]:
        """People's faces (indices into ``prepared.found``) with their answers: from the face
        embedding (only people's faces pay for it), else from the model's people head."""
        if prepared.chips is not None and people:
            answers = [self._answer(float(d)) for d in self.classifier.people_from_chips(prepared.chips[people])]
        else:
            answers = [self._person(out, i) for i in people]
        found = [prepared.found[i] for i in people]
        return [Face(f.box, a, f.score, f.landmarks) for f, a in zip(found, answers)]

    def _person(self, out: dict[str, np.ndarray], i: int) -> Prediction:
        if "people" not in out:  # an artifact without a people head: the pet classifier on the face
            return self.classifier.explain(out["pets"][i])
        return self._answer(float(out["people"][i]))

    def _answer(self, dog: float) -> Prediction:
        labels = self.classifier.card.labels
        return self.classifier.explain(np.array([dog if label == "dog" else 1.0 - dog for label in labels]))

    def more_arrays(self, prepared: Prepared) -> np.ndarray:
        """What an undecided photo runs next: the whole photo (unless the first run had it), its
        central 80% (the framing ImageNet's classifier was trained on) and, where the card says so,
        the photo upside down (a cat on its back, which ImageNet's upright photos rarely show)."""
        image = prepared.image
        w, h = image.size
        m = (1 - CENTER) / 2
        views = [] if prepared.whole else [self.photo_array(image)]
        views.append(self.photo_array(image.crop((round(w * m), round(h * m), round(w * (1 - m)), round(h * (1 - m))))))
        if self.rule.thresholds["turned_view"]:
            views.append(self.photo_array(image)[::-1, ::-1])
        return np.stack(views)

    def read_more(self, prepared: Prepared, first: dict[str, np.ndarray], more: dict[str, np.ndarray]) -> SelfieResult:
        """Pet or neither, from the whole photo and its other views (and the faces again, with the
        whole photo beside them, when the first run read the faces alone)."""
        if not prepared.whole:
            first = {name: np.concatenate([first[name], more[name][:1]]) for name in first}
            more = {name: v[1:] for name, v in more.items()}
            prepared = replace(prepared, whole=True)
            result = self.read(prepared, first)
            if result is not None:
                return result
        photo = {name: v[-1] for name, v in first.items()}
        views = list(more["imagenet"]) if self._center_view else []
        if not self._photo_is_pet(photo, views):
            return SelfieResult(prepared.image, NONE)
        pet = Pet(None, self.classifier.explain(photo["pets"]), self.rule.breed(photo.get("imagenet")))
        return SelfieResult(prepared.image, PET, pets=[pet])

    def steps(self, source: ImageSource) -> Generator[np.ndarray, dict, SelfieResult]:
        """The whole reading as a generator: it yields model inputs and is sent their outputs, so the
        caller decides where the model runs (here in ``score``; shared micro-batches in the bot).
        Drive it with ``advance``. One model run reads most photos; an undecided one runs its
        central view too."""
        prepared = self.prepare(source)
        first = yield prepared.arrays
        result = self.read(prepared, first)
        if result is None:
            result = self.read_more(prepared, first, (yield self.more_arrays(prepared)))
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
