"""Scoring people: one prediction per face, left to right, or the whole photo if none is found."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from .faces import Box, FaceDetector, crop_face
from .images import ImageSource, load_image, to_model_input
from .model import Classifier, Prediction

WORK_SIDE = 1280  # photos are decoded no larger than this: plenty for faces, cheap to decode


@dataclass(frozen=True)
class Face:
    box: Box | None  # None: the whole photo was scored
    prediction: Prediction


@dataclass(frozen=True)
class SelfieResult:
    image: Image.Image  # the upright RGB photo (at most WORK_SIDE), for drawing a result card
    faces: list[Face]
    faces_found: bool

    def most(self, label: str) -> int:
        """Index (left to right) of the face with the highest probability of ``label``."""
        return int(np.argmax([f.prediction.probabilities[label] for f in self.faces]))


class SelfieScorer:
    """``score(image)`` -> ``SelfieResult``. ``tta`` averages each crop with its mirror image."""

    def __init__(self, classifier: Classifier, detector: FaceDetector | None = None, tta: bool = True):
        self.classifier = classifier
        self.detector = detector or FaceDetector()
        self.tta = tta

    def decode(self, source: ImageSource) -> Image.Image:
        image = load_image(source, min_size=WORK_SIDE)
        if max(image.size) > WORK_SIDE:
            image.thumbnail((WORK_SIDE, WORK_SIDE), Image.BILINEAR)
        return image

    def prepare(self, source: ImageSource):
        """CPU work before the model: decode, find faces, crop. Returns (image, boxes, model inputs)."""
        image = self.decode(source)
        boxes = self.detector.detect(image) or [None]
        crops = [image if b is None else crop_face(image, b) for b in boxes]
        size = self.classifier.card.input_size
        arrays = [to_model_input(c, size) for c in crops]
        if self.tta:
            arrays += [to_model_input(ImageOps.mirror(c), size) for c in crops]
        return image, boxes, np.stack(arrays)

    def finish(self, image: Image.Image, boxes: list, probs: np.ndarray) -> SelfieResult:
        if self.tta:
            probs = (probs[: len(boxes)] + probs[len(boxes) :]) / 2
        faces = [Face(box, self.classifier.explain(p)) for box, p in zip(boxes, probs)]
        return SelfieResult(image, faces, boxes[0] is not None)

    def score(self, source: ImageSource) -> SelfieResult:
        image, boxes, arrays = self.prepare(source)
        return self.finish(image, boxes, self.classifier.predict_proba_arrays(arrays))
