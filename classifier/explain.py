"""Why: a signed Grad-CAM map on the backbone's last convolution.

Positive where the picture pushed towards the first label of ``toward`` (puppy), negative where
it pushed towards the other (kitty). Needs the Keras model (LiteRT has no gradients), loaded
lazily the first time someone asks.
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from .images import to_model_input
from .model import Classifier

OCCLUDE, OCCLUDE_STEP = 30, 20  # px of the 150-px face chip: 7 x 7 patches, 50 embeddings a face


class Explainer:
    def __init__(self, classifier: Classifier):
        self.classifier = classifier
        self._graph = None
        self._lock = threading.Lock()

    def _build(self):
        import keras

        from .runtime import KerasRuntime

        runtime = self.classifier.runtime
        model = (
            runtime.model
            if isinstance(runtime, KerasRuntime)
            else KerasRuntime(self.classifier.path / self.classifier.card.model_file).model
        )
        if isinstance(model.output, dict):  # a multi-head artifact (training/heads.py)
            shared, top = model.get_layer("shared_bottom"), model.get_layer("tuned_top")
            pets, people = model.get_layer("logits"), model.get_layer("people")

            def heads(x, training=False):
                features = shared(x, training=training)
                pooled = top(features, training=training)
                return features, pets(pooled), people(pooled)

            return heads
        conv = [layer for layer in model.layers if len(layer.output.shape) == 4][-1]
        single = keras.Model(model.inputs, [conv.output, model.outputs[0]])
        return lambda x, training=False: (*single(x, training=training), None)

    def heatmap(self, image: Image.Image, toward: tuple[str, str] = ("dog", "cat"), person: bool = False) -> np.ndarray:
        """A float map in [-1, 1] with ``image``'s height and width. ``person``: explain the
        people head (dog-like vs cat-like face), which is what answers for a person."""
        import tensorflow as tf

        labels = self.classifier.card.labels
        plus, minus = (labels.index(t) if t in labels else i for i, t in zip((-1, 0), toward))
        x = tf.constant(to_model_input(image, self.classifier.card.input_size)[None].astype(np.float32))
        with self._lock:
            if self._graph is None:
                self._graph = self._build()
            with tf.GradientTape() as tape:
                features, logits, people = self._graph(x, training=False)
                target = people[:, 0] if person and people is not None else logits[:, plus] - logits[:, minus]
            grads = tape.gradient(target, features)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        cam = tf.reduce_sum(weights * features, axis=-1)[0].numpy()
        peak = np.abs(cam).max()
        cam = cam / peak if peak > 0 else cam
        resized = Image.fromarray(cam.astype(np.float32), "F").resize(image.size, Image.BILINEAR)
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
