"""The face embedding behind people's answers (classifier/face_embedding.py): dlib's network rebuilt
as an ONNX graph must give dlib's own embedding, and the embedding must stay inside one answer."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
from PIL import Image
from skimage import data as skimage_data

from classifier.face_embedding import SIDE, FaceEmbedder, read_dlib_weights, weights_file
from classifier.faces import FaceDetector, face_chip


@pytest.fixture(scope="module")
def embedder():
    return FaceEmbedder()


@pytest.fixture(scope="module")
def astronaut_chip():
    image = Image.fromarray(skimage_data.astronaut())
    (face,) = FaceDetector().detect(image)
    return face_chip(image, face)


def test_the_onnx_graph_gives_dlibs_own_embedding(embedder, astronaut_chip):
    dlib = pytest.importorskip("dlib", reason="dlib-bin (a dev dependency) is the reference")
    net = dlib.face_recognition_model_v1(str(weights_file()))
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    chips = [astronaut_chip, astronaut_chip[::-1].copy(), noise]
    ours = embedder.infer(np.stack(chips))
    theirs = np.stack([np.asarray(net.compute_face_descriptor(c)) for c in chips])
    assert ours.shape == (3, 128)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    # the three differ, so the check compares something: a face, the same face upside down, noise
    assert min(np.linalg.norm(ours[0] - ours[1]), np.linalg.norm(ours[0] - ours[2])) > 0.3


def test_the_same_face_reframed_stays_the_same_person(embedder):
    """YuNet's landmarks frame the chip: a re-cropped, shrunk photo of the face lands well within
    dlib's same-person distance (0.6) of the original."""
    image = Image.fromarray(skimage_data.astronaut())
    detector = FaceDetector()
    reframed = image.crop((60, 10, 470, 420)).resize((300, 300), Image.BILINEAR)
    chips = [face_chip(im, detector.detect(im)[0]) for im in (image, reframed)]
    a, b = embedder.infer(np.stack(chips))
    assert np.linalg.norm(a - b) < 0.3


def test_a_wrong_weights_file_or_input_is_refused(embedder, tmp_path):
    predictor = weights_file().parent / "shape_predictor_5_face_landmarks.dat"
    with pytest.raises(ValueError):
        read_dlib_weights(predictor)
    with pytest.raises(ValueError):
        embedder.infer(np.zeros((1, 112, 112, 3), np.uint8))
    assert embedder.infer(np.zeros((0, SIDE, SIDE, 3), np.uint8)).shape == (0, 128)


def _with_face_head(classifier, weights: np.ndarray, bias: float = 0.0):
    from classifier import Classifier

    card = copy.deepcopy(classifier.card)
    card.heads["face_embedding"] = {"weights": list(weights), "bias": bias, "center": 0.0, "scale": 1.0}
    return Classifier(classifier.runtime, card, classifier.path)


def test_a_persons_answer_comes_from_the_face_head_and_keeps_no_embedding(embedder, astronaut_chip):
    """The card's 128 weights decide: flipping their sign flips the answer around 50%; the result
    the bot stores from carries numbers only, nothing embedding-sized."""
    from classifier import Classifier
    from classifier.selfie import SelfieScorer

    shipped = Classifier.load()
    e = embedder.infer(astronaut_chip[None])[0]
    w = (e - e.mean()) / np.linalg.norm(e - e.mean())
    astronaut = Image.fromarray(skimage_data.astronaut())
    answers = []
    for sign in (1, -1):
        scorer = SelfieScorer(_with_face_head(shipped, sign * w))
        result = scorer.score(astronaut)
        assert result.subject == "person"
        dog = result.headline.probabilities["dog"]
        expected = 1 / (1 + np.exp(-sign * float(e @ w)))
        assert dog == pytest.approx(expected, abs=1e-4)
        answers.append(dog)
        for f in dataclasses.fields(result):
            value = getattr(result, f.name)
            assert not (isinstance(value, np.ndarray) and 128 in value.shape)
        assert "128" not in str([len(v) for v in result.to_json().values() if isinstance(v, list)])
    assert answers[0] > 0.5 > answers[1]


def test_the_shipped_card_reads_faces_and_says_how():
    from classifier import Classifier

    card = Classifier.load().card
    head = card.heads["face_embedding"]
    assert len(head["weights"]) == 128 and head["scale"] > 0
    assert "never stored" in head["privacy"]
