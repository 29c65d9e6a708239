"""What the bot says reads right: English articles before a breed, Korean particles after a word."""

from __future__ import annotations

import string
from types import SimpleNamespace

import pytest

from bot import phrases, texts
from bot.texts import pet_message, pets_lines, text
from classifier.breeds import CATS, DOGS, FIRST_CAT, FIRST_DOG, breed_name
from classifier.model import Prediction
from classifier.selfie import Pet
from classifier.wording import indefinite

CARD = SimpleNamespace(labels=["cat", "dog"], emoji={}, display=lambda label: label)
SIAMESE, EGYPTIAN_MAU = FIRST_CAT + 3, FIRST_CAT + 4
AFGHAN_HOUND, BEAGLE = FIRST_DOG + 9, FIRST_DOG + 11


def a_pet(breed: int, label: str = "cat", said: str = "") -> Pet:
    other = "dog" if label == "cat" else "cat"
    return Pet(None, Prediction({label: 0.99, other: 0.01}, label, {}, said), breed)


@pytest.mark.parametrize(
    "noun,said",
    [
        ("Egyptian Mau", "an Egyptian Mau"),
        ("Abyssinian", "an Abyssinian"),
        ("Siamese", "a Siamese"),
        ("otterhound", "an otterhound"),
        ("Irish setter", "an Irish setter"),
        ("husky", "a husky"),
        ("Yorkshire terrier", "a Yorkshire terrier"),
    ],
)
def test_the_article_follows_the_first_sound(noun, said):
    assert indefinite(noun) == said


def test_every_breed_gets_its_article():
    vowel_sounds = {name for name, _ in DOGS + CATS if name[0].lower() in "aeiou"}
    assert {"Egyptian Mau", "Afghan hound", "English setter", "Old English sheepdog", "Irish wolfhound"} <= vowel_sounds
    for name, _ in DOGS + CATS:
        assert indefinite(name) == ("an " if name in vowel_sounds else "a ") + name


@pytest.mark.parametrize(
    "breed,label,said",
    [
        (EGYPTIAN_MAU, "cat", "— an Egyptian Mau, I'd say"),
        (SIAMESE, "cat", "— a Siamese, I'd say"),
        (AFGHAN_HOUND, "dog", "— an Afghan hound, I'd say"),
        (BEAGLE, "dog", "— a beagle, I'd say"),
    ],
)
def test_a_pets_answer_names_its_breed_with_the_right_article(breed, label, said):
    first = pet_message("en", a_pet(breed, label), CARD).splitlines()[0]
    assert first.endswith(said), first
    assert " a Egyptian" not in first and " a Afghan" not in first


def test_a_pet_beside_a_person_names_its_breed_with_the_right_article():
    assert pets_lines("en", [a_pet(EGYPTIAN_MAU)], CARD, inline=True) == ["🐾 your cat looks like an Egyptian Mau"]
    assert pets_lines("en", [a_pet(SIAMESE)], CARD, inline=True) == ["🐾 your cat looks like a Siamese"]


def test_korean_names_the_breed_without_an_article():
    first = pet_message("ko", a_pet(EGYPTIAN_MAU), CARD).splitlines()[0]
    assert first.endswith("— 이집션 마우 같아요"), first
    assert pets_lines("ko", [a_pet(SIAMESE)], CARD, inline=True) == ["🐾 고양이는 샴 같아요"]
    assert pets_lines("ko", [a_pet(BEAGLE, "dog")], CARD, inline=True) == ["🐾 강아지는 비글 같아요"]
    assert breed_name(SIAMESE, "ko") == "샴"


@pytest.mark.parametrize(
    "word,pair,form",
    [
        ("고양이", "(은)는", "는"),
        ("샴", "(은)는", "은"),
        ("고양이", "(이)가", "가"),
        ("샴", "(이)가", "이"),
        ("강아지", "(을)를", "를"),
        ("곰", "(을)를", "을"),
        ("강아지", "(과)와", "와"),
        ("곰", "(과)와", "과"),
        ("강아지", "(이)에요", "예요"),
        ("곰", "(이)에요", "이에요"),
        ("Mau", "(이)가", "(이)가"),  # not Hangul: the neutral form
        ("", "(은)는", "(은)는"),
    ],
)
def test_a_korean_particle_follows_the_last_syllable(word, pair, form):
    assert phrases.particle(word, pair) == form


def test_korean_templates_choose_the_particle_by_the_word_put_before_it():
    # a label other than dog and cat (a card's own) ends in a consonant here: 거북 (turtle), 곰 (bear)
    assert text("ko", "breed_line", animal="거북", breed="샴", a_breed="") == "🐾 거북은 샴 같아요"
    assert text("ko", "breed_line", animal="고양이", breed="샴", a_breed="") == "🐾 고양이는 샴 같아요"
    assert text("ko", "shared_pet", percent=80, name="곰").startswith("친구의 반려동물은 80% 곰이에요!")
    assert text("ko", "shared_pet", percent=80, name="고양이").startswith("친구의 반려동물은 80% 고양이예요!")
    # a name the user chose is filled in as it is, never read as a template's particle
    assert text("en", "result_named", name="Kim (은)는", parts="1% puppy") == "Kim (은)는, you are 1% puppy"


def test_every_language_says_every_key_and_each_template_fills():
    for lang, table in phrases.TEXTS.items():
        assert set(table) == set(phrases.TEXTS["en"]), lang
        for key, template in table.items():
            if isinstance(template, str):
                names = {n for _, n, _, _ in string.Formatter().parse(template) if n}
                assert text(lang, key, **dict.fromkeys(names, "고양이"))


def test_the_texts_module_still_offers_what_it_always_did():
    for name in ("TEXTS", "EMOJI", "language", "text", "CAPTION_LIMIT", "MESSAGE_LIMIT", "fit", "telegram_len"):
        assert hasattr(texts, name), name
    assert texts.text is phrases.text and texts.TEXTS is phrases.TEXTS
    assert texts.language("ko-KR") == "ko" and texts.language("fr") == "en"


def test_the_classifier_cli_says_the_article_too():
    from classifier.__main__ import _pet

    said = _pet(a_pet(EGYPTIAN_MAU, said="you are 99% kitty, 1% puppy"))
    assert said == "this one is 99% kitty, 1% puppy (an Egyptian Mau, I'd say)"
