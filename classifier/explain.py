"""Why: what moved the answer, drawn on the photo.

Occlusion on the served model itself (LiteRT or Keras, no gradients needed, so no TensorFlow at
serving time): each patch of the model's input greyed out in turn, the answer's change mapped back.
Positive where the picture pushed towards the first label of ``toward`` (puppy), negative where it
pushed towards the other (kitty). A person's face read by the face embedding is explained the same
way on its face chip (``face_heatmap``).
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from .images import to_model_input
from .model import Classifier

OCCLUDE, OCCLUDE_STEP = 30, 20  # px of the 150-px face chip: 7 x 7 patches, 50 embeddings a face
PATCHES = 7  # patches per side of the model's input (a quarter of its side each, overlapping by half): 50 inputs
GREY = 128


def occlusions(side: int, patches: int = PATCHES) -> list[tuple[int, int, int]]:
    """(y, x, size) of each patch: ``patches`` per side, each a quarter of ``side``, overlapping."""
    size = side // 4
    starts = np.linspace(0, side - size, patches).round().astype(int)
    return [(int(y), int(x), size) for y in starts for x in starts]


class Explainer:
    def __init__(self, classifier: Classifier):
        self.classifier = classifier

    def heatmap(self, image: Image.Image, toward: tuple[str, str] = ("dog", "cat"), person: bool = False) -> np.ndarray:
        """A float map in [-1, 1] with ``image``'s height and width. ``person``: explain the
        people head (dog-like vs cat-like face), which is what answers for a person."""
        labels = self.classifier.card.labels
        plus, minus = (labels.index(t) if t in labels else i for i, t in zip((-1, 0), toward))
        side = self.classifier.card.input_size
        pixels = to_model_input(image, side)
        spots = occlusions(side)
        batch = np.repeat(pixels[None], len(spots) + 1, axis=0)
        for k, (y, x, size) in enumerate(spots, start=1):
            batch[k, y : y + size, x : x + size] = GREY
        out = self.classifier.runtime(batch.astype(np.float32))
        if person and "people" in out:
            target = out["people"].reshape(len(batch), -1)[:, 0]
        else:
            target = out["pets"][:, plus] - out["pets"][:, minus]
        heat, count = np.zeros((side, side), np.float32), np.zeros((side, side), np.float32)
        for (y, x, size), value in zip(spots, target[1:]):
            heat[y : y + size, x : x + size] += target[0] - value  # > 0: this part pushed towards ``plus``
            count[y : y + size, x : x + size] += 1
        # patches overlap by half: a blur of that width turns their steps into the slope they measure
        heat = cv2.GaussianBlur(heat / np.maximum(count, 1), (0, 0), spots[0][2] / 4)
        peak = np.abs(heat).max()
        heat = heat / peak if peak > 0 else heat
        resized = Image.fromarray(heat, "F").resize(image.size, Image.BILINEAR)
        return np.clip(np.asarray(resized), -1.0, 1.0)

    def face_heatmap(self, image: Image.Image, face) -> tuple[np.ndarray, np.ndarray]:
        """What moved a person's answer when it comes from the face embedding (no gradients through
        ONNX Runtime): each patch of the face chip greyed out in turn, the answer's change mapped
        back onto the photo. (map in [-1, 1], where the chip covers) at ``image``'s size."""
        import cv2

        from .face_embedding import SIDE, TEMPLATE
        from .faces import alignment, face_chip

        chip = face_chip(image, face)
        chips, spots = [chip], []
        for y in range(0, SIDE - OCCLUDE + 1, OCCLUDE_STEP):
            for x in range(0, SIDE - OCCLUDE + 1, OCCLUDE_STEP):
                grey = chip.copy()
                grey[y : y + OCCLUDE, x : x + OCCLUDE] = 128
                chips.append(grey)
                spots.append((y, x))
        dog = self.classifier.people_from_chips(np.stack(chips))
        heat, count = np.zeros((SIDE, SIDE), np.float32), np.zeros((SIDE, SIDE), np.float32)
        for (y, x), p in zip(spots, dog[1:]):
            heat[y : y + OCCLUDE, x : x + OCCLUDE] += dog[0] - p  # > 0: this part made the face more puppy
            count[y : y + OCCLUDE, x : x + OCCLUDE] += 1
        heat = heat / np.maximum(count, 1)
        peak = np.abs(heat).max()
        heat = heat / peak if peak > 0 else heat
        matrix = alignment(face.landmarks, SIDE, target=TEMPLATE)
        size, flags = (image.width, image.height), cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        back = cv2.warpAffine(heat, matrix, size, flags=flags, borderValue=0)
        covered = cv2.warpAffine(np.ones_like(heat), matrix, size, flags=flags, borderValue=0)
        return np.clip(back, -1.0, 1.0), covered

    def overlay(self, image: Image.Image, result=None) -> Image.Image:
        """The photo with warm colours where it looked puppy and cool where it looked kitty;
        per face when faces were found, else over the whole photo."""
        from .faces import face_square

        heat = np.zeros((image.height, image.width), np.float32)
        weight = np.zeros_like(heat)
        boxes = [f.box for f in result.faces] if result and result.faces_found else [None]
        if self.classifier.reads_faces and boxes != [None]:
            from .faces import FoundFace

            for f in result.faces:
                face_heat, covered = self.face_heatmap(image, FoundFace(f.box, f.landmarks, f.score))
                heat += face_heat
                weight += covered
            heat = np.where(weight > 0, heat / np.maximum(weight, 1e-6), 0)
            return blend(image, heat)
        for box in boxes:
            if box is None:
                heat += self.heatmap(image)
                weight += 1
                continue
            x0, y0, side = face_square(image.size, box)
            crop = image.crop((x0, y0, x0 + side, y0 + side))
            heat[y0 : y0 + side, x0 : x0 + side] += self.heatmap(crop, person=True)
            weight[y0 : y0 + side, x0 : x0 + side] += 1
        heat = np.where(weight > 0, heat / np.maximum(weight, 1), 0)
        return blend(image, heat)


def blend(image: Image.Image, heat: np.ndarray, strength: float = 0.55) -> Image.Image:
    """Orange for positive (puppy), blue for negative (kitty), alpha by magnitude."""
    base = np.asarray(image.convert("RGB"), np.float32)
    warm, cool = np.array([255, 140, 0], np.float32), np.array([30, 120, 255], np.float32)
    colour = np.where(heat[..., None] >= 0, warm, cool)
    alpha = (np.abs(heat)[..., None] * strength).clip(0, 1)
    return Image.fromarray((base * (1 - alpha) + colour * alpha).astype(np.uint8))
