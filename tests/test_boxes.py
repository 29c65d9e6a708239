"""The box rule's fitting and the subject table (``training.boxes``), on made features and made photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from classifier.subject import BOX_FEATURES, KINDS, BoxRule
from tests.conftest import jpeg_bytes
from training.boxes import Boxes, _label, fit_rule, held_back, measure, misses_grid, rates, table_markdown

F = {name: i for i, name in enumerate(BOX_FEATURES)}


def made_boxes(n=60, seed=0) -> Boxes:
    """People: a high human logit; pets: much dog or cat on the crop; neither: another animal."""
    rng = np.random.default_rng(seed)
    boxes = Boxes()
    for kind in KINDS:
        for _ in range(n):
            x = rng.normal(0, 1, len(BOX_FEATURES))
            x[F["human_logit"]] = {"person": 4, "pet": -3, "none": -2}[kind] + rng.normal(0, 1)
            x[F["log_dog"]] = {"person": -7, "pet": -0.2, "none": -6}[kind] + rng.normal(0, 0.5)
            x[F["log_animal"]] = {"person": -6, "pet": -5, "none": -0.3}[kind] + rng.normal(0, 0.5)
            boxes.add(x, kind, kind)
    return boxes


def test_the_rule_fitted_on_boxes_tells_the_kinds_apart_and_survives_the_card():
    rule, fit = fit_rule(made_boxes())
    assert fit["boxes"] == {"person": 60, "pet": 60, "none": 60}
    assert min(fit["fit_accuracy"].values()) > 0.9
    again = BoxRule.from_card(rule.to_card())
    fresh = made_boxes(1, seed=1)  # one new box of each kind
    for kind, x in zip(fresh.labels, fresh.features):
        assert again.kind(x) == rule.kind(x) == kind


def test_a_rule_needs_every_kind():
    boxes = made_boxes()
    only = Boxes(
        [x for x, y in zip(boxes.features, boxes.labels) if y != "none"], [y for y in boxes.labels if y != "none"]
    )
    with pytest.raises(ValueError, match="each kind"):
        fit_rule(only)


def test_folder_labels_that_do_not_fit_a_box_are_left_out():
    x = np.zeros(len(BOX_FEATURES))
    x[[F["log_dog"], F["log_cat"], F["log_animal"]]] = np.log(0.01)
    x[F["human_logit"]] = 3.0
    assert _label("dog", x) is None  # an owner's face in a dog photo is not the dog
    assert _label("person", x) == "person" and _label("lookalike", x) == "person"
    assert _label("other", x) is None  # a person holding a rabbit
    x[F["log_dog"]] = np.log(0.9)
    assert _label("dog", x) == "pet" and _label("lookalike", x) is None  # an animal reference photo


def test_the_held_back_split_is_fixed_by_name_and_near_30_percent():
    names = [f"dogemo_{i}.jpg" for i in range(2000)]
    share = np.mean([held_back(n) for n in names])
    assert 0.27 < share < 0.33
    assert [held_back(n) for n in names] == [held_back(f"/elsewhere/{n}") for n in names]


def test_the_subject_table_as_the_bot_answers(tmp_path):
    """Made folders: the astronaut as a person, Chelsea as a cat, a cup as 'other': the table, its
    rates and the misses grid."""
    skimage_data = pytest.importorskip("skimage.data")
    from classifier import Classifier
    from classifier.selfie import SelfieScorer

    photos = {"faces": skimage_data.astronaut(), "cat": skimage_data.chelsea(), "other": skimage_data.coffee()}
    items = []
    for name, pixels in photos.items():
        for i in range(40):  # enough names that some fall in the held-back split
            path = tmp_path / f"{name}_{i}.jpg"
            if held_back(path.name) and sum(p.stem.startswith(name) for p, *_ in items) < 2:
                path.write_bytes(jpeg_bytes(Image.fromarray(pixels)))
                folder, kind = ("faces", "person") if name == "faces" else ("pets-real", name)
                items.append((path, folder, kind))
    result = measure(SelfieScorer(Classifier.load()), items)
    table = result["table"]
    assert table["faces person"]["person"] == 2 and table["pets-real cat"]["cat"] == 2
    assert table["pets-real other"]["none"] == 2 and sum(table["made none"].values()) >= 20
    # made of the held-back photos: each cat as a close-up and upside down; people alternate a dog
    # (none here) and a cat, beside them and in their arms
    assert sum(table["made pet close-up"].values()) == sum(table["made pet turned"].values()) == 2
    assert sum(table["made person+pet"].values()) == 2
    r = rates(table)
    assert r["people_as_person"] == 1.0 and r["pets_answered_as_pet"] == 1.0 and r["other_animals_as_none"] == 1.0
    assert "| pets-real cat | 0 | 2 |" in table_markdown(result)
    grid = misses_grid([(str(items[0][0]), "cat", "none", 0.9)], tmp_path / "misses.png")
    assert Image.open(grid).size[0] > 0
