"""dlib's 5-point landmarks and face-chip framing (classifier/landmarks.py) must be dlib's own, and a
card that names no framing must keep the chip it was fitted on."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from PIL import Image
from skimage import data as skimage_data

from classifier import landmarks
from classifier.face_embedding import SIDE, TEMPLATE, weights_file
from classifier.faces import DLIB_FRAMING, TEMPLATE_FRAMING, FaceDetector, aligned_crop, face_chip, face_chips


@pytest.fixture(scope="module")
def faces():
    """The astronaut as sent, tilted and shrunk, with YuNet's face in each."""
    base = Image.fromarray(skimage_data.astronaut())
    images = [base, base.rotate(12, resample=Image.BILINEAR), base.resize((300, 300), Image.BILINEAR)]
    detector = FaceDetector()
    return [(np.asarray(im), detector.detect(im)[0]) for im in images]


def _box(face):
    b = face.box
    return b.x, b.y, b.x + b.w - 1, b.y + b.h - 1


def test_the_numpy_cascade_gives_dlibs_landmarks_and_chip(faces):
    dlib = pytest.importorskip("dlib", reason="dlib-bin (a dev dependency) is the reference")
    from classifier.face_embedding import FaceEmbedder

    reference = dlib.shape_predictor(str(landmarks.predictor_file()))
    ours_chips, their_chips = [], []
    for rgb, face in faces:
        ours = landmarks.predictor()(rgb, _box(face))
        shape = reference(rgb, dlib.rectangle(*_box(face)))
        theirs = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], float)
        assert np.abs(ours - theirs).max() <= 1.0  # dlib rounds to whole pixels
        their_chips.append(dlib.get_face_chip(rgb, shape, SIDE, landmarks.PADDING))
        ours_chips.append(face_chip(rgb, face, DLIB_FRAMING))
    # the same chip as dlib's: bilinear sampling apart, the network sees the same face
    ours_e, theirs_e = np.split(FaceEmbedder().infer(np.stack(ours_chips + their_chips)), 2)
    assert np.linalg.norm(ours_e - theirs_e, axis=1).max() < 0.06


def test_the_similarity_fit_is_umeyamas():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([4.0, -2.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    m = landmarks.similarity(src, src @ (scale * rot).T + shift)
    np.testing.assert_allclose(m, np.hstack([scale * rot, shift[:, None]]), atol=1e-9)


def test_a_card_without_a_framing_keeps_todays_chip(faces):
    from classifier import Classifier
    from classifier.faces import framing_of
    from classifier.selfie import SelfieScorer

    rgb, face = faces[0]
    today = aligned_crop(rgb, face, SIDE, target=TEMPLATE)
    np.testing.assert_array_equal(face_chip(rgb, face), today)
    shipped = Classifier.load()
    card = copy.deepcopy(shipped.card)  # an older card: its face head names no framing
    for key in ("framing", "views"):
        card.heads["face_embedding"].pop(key, None)
    assert framing_of(card.heads["face_embedding"]) == (TEMPLATE_FRAMING, ("chip",))
    older = Classifier(shipped.runtime, card, shipped.path)
    prepared = SelfieScorer(older).prepare(Image.fromarray(rgb))
    np.testing.assert_array_equal(prepared.chips[:, 0][0], today)
    assert prepared.chips.shape[1] == 1


def test_each_view_is_a_chip_and_the_answer_averages_them(faces):
    from classifier import Classifier
    from classifier.face_embedding import FaceEmbedder

    rgb, face = faces[0]
    chips = face_chips(rgb, face, DLIB_FRAMING, ("chip", "mirror", "zoom_in"))
    assert chips.shape == (3, SIDE, SIDE, 3)
    np.testing.assert_array_equal(chips[1], chips[0][:, ::-1])
    assert 0 < np.abs(chips[2].astype(int) - chips[0]).mean() < 40
    shipped = Classifier.load()
    card = copy.deepcopy(shipped.card)
    card.heads["face_embedding"].update(framing=DLIB_FRAMING, views=["chip", "mirror", "zoom_in"])
    classifier = Classifier(shipped.runtime, card, shipped.path)
    e = FaceEmbedder().infer(chips)
    expected = 1 / (1 + np.exp(-card.face_embedding_logit(e.mean(0, keepdims=True))))
    np.testing.assert_allclose(classifier.people_from_chips(chips[None]), expected, atol=1e-5)


def test_a_wrong_file_is_refused():
    with pytest.raises(ValueError):
        landmarks.read_predictor(weights_file())
