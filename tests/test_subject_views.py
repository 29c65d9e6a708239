"""What the card's subject numbers (``heads.subject``) change on the served path: a close-up's first
run reads the whole photo too, a pet beside a person by its cat mass, an undecided photo read upside
down; and an older card keeps its views."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from classifier import Classifier
from classifier.faces import Box, FoundFace
from classifier.selfie import Prepared, SelfieScorer
from classifier.subject import DEFAULTS
from training.boxes import SUBJECT
from training.subjects import with_pet

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def scorers():
    """The shipped model with an older card's numbers, and with the numbers training.boxes writes."""
    old, new = SelfieScorer(Classifier.load()), SelfieScorer(Classifier.load())
    old.rule.thresholds = dict(DEFAULTS)
    new.rule.thresholds = {**DEFAULTS, **SUBJECT}
    return old, new


def close_selfie_with_cat() -> Image.Image:
    """The astronaut's face filling 40-60% of the photo's side, Chelsea the cat held below it."""
    face = Image.fromarray(skimage_data.astronaut()).crop((130, 10, 350, 260))
    cat = Image.fromarray(skimage_data.chelsea())
    return with_pet(face, cat, "arms", SelfieScorer(Classifier.load()).detector, np.random.default_rng(3))


def test_an_older_card_keeps_its_numbers():
    assert DEFAULTS["close_up"] == 0.35 and DEFAULTS["turned_view"] == 0 and DEFAULTS["cat_beside"] >= 1.0
    assert DEFAULTS["photo_pet"] == 0.4 and DEFAULTS["photo_pet_beside"] == 0.4


def test_a_cat_in_the_arms_of_a_close_up_face_is_answered_beside_the_person(scorers):
    old, new = scorers
    photo = close_selfie_with_cat()
    before, prepared = old.score(photo), old.prepare(photo)
    assert not prepared.whole  # an older card: the first run reads the face alone ...
    assert before.subject == "person" and not before.pets  # ... and never sees the cat
    assert new.prepare(photo).whole  # the whole photo rides along in the same one run
    after = new.score(photo)
    assert after.subject == "person" and len(after.faces) == 1
    assert [p.prediction.label for p in after.pets] == ["cat"]


def test_a_pet_beside_a_person_by_its_cat_mass(scorers):
    old, new = scorers
    photo = np.full(1000, 1e-4)
    photo[834] = 0.8  # a suit
    photo[281] = 0.03  # a little tabby: a person's photo alone hardly ever has any cat
    pets = np.array([0.5, 0.5])
    assert new.rule.is_pet_photo([photo], pets, beside=True)
    assert not old.rule.is_pet_photo([photo], pets, beside=True)
    photo[281] = 0.005
    assert not new.rule.is_pet_photo([photo], pets, beside=True)


def test_an_undecided_photo_is_read_upside_down_too(scorers):
    """The second run adds the photo turned over; a cat only that view sees makes a pet photo."""
    old, new = scorers
    image = Image.fromarray(skimage_data.chelsea()).rotate(180)
    prepared = new.prepare(image)
    more = new.more_arrays(prepared)
    assert len(more) == 2 and len(old.more_arrays(prepared)) == 1
    np.testing.assert_array_equal(more[1], new.photo_array(image)[::-1, ::-1])
    nothing, cat = np.full(1000, 1e-3), np.full(1000, 1e-4)
    cat[281] = 0.9
    first = {"pets": np.array([[0.9, 0.1]]), "imagenet": nothing[None], "human": np.array([0.1])}
    empty = Prepared(image, [], np.zeros((1, 8, 8, 3)))
    turned = {"pets": np.array([[0.9, 0.1]] * 2), "imagenet": np.stack([nothing, cat]), "human": np.zeros(2)}
    assert new.read_more(empty, first, turned).subject == "pet"
    centre_only = {name: v[:1] for name, v in turned.items()}
    assert old.read_more(empty, first, centre_only).subject == "none"


def test_a_close_up_read_again_keeps_its_other_views_apart(scorers):
    """A close-up that the first run left undecided runs the whole photo, centre and turned view:
    the faces are read again beside the whole photo, the rest are views of it."""
    _, new = scorers
    image = Image.new("RGB", (400, 400))
    face = FoundFace(Box(40, 40, 320, 320), np.array([[150, 170], [250, 170], [200, 220], [160, 280], [240, 280]]), 0.9)
    prepared = Prepared(image, [face], np.zeros((1, 8, 8, 3)), whole=False)
    assert len(new.more_arrays(prepared)) == 3
    nothing, cat = np.full(1000, 1e-3), np.full(1000, 1e-4)
    cat[281] = 0.9
    first = {"pets": np.array([[0.9, 0.1]]), "imagenet": nothing[None], "human": np.array([0.01])}
    more = {"pets": np.array([[0.9, 0.1]] * 3), "imagenet": np.stack([nothing, nothing, cat]), "human": np.zeros(3)}
    new.rule.boxes, boxes = None, new.rule.boxes  # the older rule: a low human score is no person
    try:
        result = new.read_more(prepared, first, more)
    finally:
        new.rule.boxes = boxes
    assert result.subject == "pet" and result.pet.box is None
