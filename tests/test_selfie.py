"""Faces, result cards and the heat map, on real sample photos that scikit-image ships."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.resultcard import MIN_SIDE, render
from classifier.explain import Explainer
from classifier.faces import Box, FaceDetector, crop_face
from classifier.selfie import SelfieScorer

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def astronaut():
    return Image.fromarray(skimage_data.astronaut())


def group_of(face: Image.Image, n: int) -> Image.Image:
    """n copies of the face, five to a row (a class photo)."""
    cols, rows = min(n, 5), (n + 4) // 5
    group = Image.new("RGB", (face.width * cols, face.height * rows))
    for i in range(n):
        tile = face if i % 2 == 0 else face.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        group.paste(tile, ((i % 5) * face.width, (i // 5) * face.height))
    return group


def test_detector_finds_the_face_and_not_a_cat(astronaut):
    detector = FaceDetector()
    (box,) = detector.detect(astronaut)
    assert 150 < box.x < 220 and 40 < box.y < 110 and 70 < box.w < 130  # Eileen Collins' face
    assert detector.detect(Image.fromarray(skimage_data.coffee())) == []


def test_group_faces_are_left_to_right(astronaut):
    boxes = FaceDetector().detect(group_of(astronaut, 3))
    assert len(boxes) == 3 and [b.x for b in boxes] == sorted(b.x for b in boxes)


def test_crop_stays_inside_the_photo():
    image = Image.new("RGB", (100, 80))
    crop = crop_face(image, Box(80, 60, 30, 30))
    assert crop.size[0] == crop.size[1] <= 80


def test_scoring_is_deterministic_and_per_face(tiny_classifier, astronaut):
    scorer = SelfieScorer(tiny_classifier)
    photo = group_of(astronaut, 2)
    a, b = scorer.score(photo), scorer.score(photo)
    assert a.faces_found and len(a.faces) == 2
    assert [f.prediction.probabilities for f in a.faces] == [f.prediction.probabilities for f in b.faces]
    whole = scorer.score(Image.fromarray(skimage_data.coffee()))
    assert not whole.faces_found and len(whole.faces) == 1 and whole.faces[0].box is None


def test_flip_averaging_is_symmetric(tiny_classifier, astronaut):
    scorer = SelfieScorer(tiny_classifier, tta=True)
    mirrored = astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    p1 = scorer.score(astronaut).faces[0].prediction.probabilities
    p2 = scorer.score(mirrored).faces[0].prediction.probabilities
    assert p1["dog"] == pytest.approx(p2["dog"], abs=0.02)  # same face, mirrored: nearly the same answer


@pytest.mark.parametrize(
    "faces,size",
    [
        (0, (640, 480)),
        (1, (512, 512)),
        (2, (1024, 512)),
        (10, (2560, 1024)),
        (0, (3000, 40)),
        (0, (30, 2000)),
        (1, (512, 512)),
    ],
)
def test_cards_for_any_number_of_faces_and_shape(tiny_classifier, astronaut, faces, size):
    photo = group_of(astronaut, faces) if faces else Image.fromarray(skimage_data.coffee()).resize(size)
    result = SelfieScorer(tiny_classifier).score(photo)
    assert len(result.faces) == max(faces, 1)
    card = Image.open(io.BytesIO(render(result, tiny_classifier.card)))
    assert max(card.size) <= 1024 and min(card.size) >= MIN_SIDE
    pixels = np.asarray(card).astype(int)
    assert pixels.std() > 10  # not blank
    if faces:  # the boxes are drawn in the label colours
        orange_or_blue = ((pixels[..., 0] > 230) & (pixels[..., 1] > 120) & (pixels[..., 1] < 160)) | (
            (pixels[..., 2] > 230) & (pixels[..., 0] < 60)
        )
        assert orange_or_blue.sum() > 100


def test_heat_map_has_the_photo_shape_and_is_not_constant(tiny_classifier, astronaut):
    explainer = Explainer(tiny_classifier)
    photo = astronaut.resize((300, 200))
    heat = explainer.heatmap(photo)
    assert heat.shape == (200, 300) and heat.std() > 0.01 and np.abs(heat).max() <= 1.0
    again = explainer.heatmap(photo)
    assert np.array_equal(heat, again)
    result = SelfieScorer(tiny_classifier).score(astronaut)
    overlay = explainer.overlay(astronaut, result)
    assert overlay.size == astronaut.size
    assert np.abs(np.asarray(overlay, int) - np.asarray(astronaut, int)).sum() > 0
