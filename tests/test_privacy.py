"""Safe in public: consent, "why?" for its owner only, /forgetme held to /privacy on both stores,
abuse limits, and Telegram's lengths. The real bot against the fake Bot API over real HTTP."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from bot.texts import CAPTION_LIMIT, MESSAGE_LIMIT, fit, telegram_len
from classifier.selfie import Pet
from tests import test_bot
from tests.test_bot import GROUP, Harness, body, photo_bytes, private, reply_in, send_album, send_photo, user

fake = test_bot.fake  # the fake Bot API, as a fixture here too


def command(fake, chat, who, line, **extra):
    entities = [{"type": "bot_command", "offset": 0, "length": len(line.split()[0])}]
    return fake.message(chat, who, text=line, entities=entities, **extra)


def crowded(monkeypatch, faces: int = 0, pets: int = 0):
    """Every photo scored as it is, then given ``faces`` more faces and ``pets`` pets beside them."""
    from bot.scoring import Scorer

    score = Scorer.score

    async def more(self, image):
        result = await score(self, image)
        if not result.faces:
            return result
        face = result.faces[0]
        extra = [
            dataclasses.replace(face, box=dataclasses.replace(face.box, x=face.box.x + i + 1)) for i in range(faces)
        ]
        beside = [Pet(None, face.prediction) for _ in range(pets)]
        return dataclasses.replace(result, faces=result.faces + extra, pets=result.pets + beside)

    monkeypatch.setattr(Scorer, "score", more)


# -- Telegram's lengths -----------------------------------------------------------------------------
def test_fit_keeps_whole_lines_and_the_verdict_within_telegrams_count():
    lines = [f"{i}. 50% puppy 🐶 · your dog: 97% puppy 🐶" for i in range(100)]
    long = "\n".join(["📸 100 photos:", *lines, "", "Over 100 photos: 50% puppy", "🐶 █████░░░░░ 50%"])
    short = fit(long, CAPTION_LIMIT, keep_last=3)
    assert telegram_len(short) <= CAPTION_LIMIT < len(long)
    assert short.startswith("📸 100 photos:\n0. ") and short.endswith(
        "\n…\n\nOver 100 photos: 50% puppy\n🐶 █████░░░░░ 50%"
    )
    assert all(line in lines or line in long.splitlines() for line in short.splitlines() if line != "…")
    assert fit("🐶" * 600, CAPTION_LIMIT) == "🐶" * 511 + "…"  # an emoji counts two, as Telegram counts
    assert fit("short", CAPTION_LIMIT) == "short"


async def test_an_album_whose_caption_would_be_too_long_is_sent_within_1024(
    fake, tiny_classifier, tmp_path, monkeypatch
):
    """Ten photos, each a face with nine pets beside it: ~2,500 characters of caption, which Telegram
    (and the fake Bot API) refuse with a 400; the answer comes, fitted, with the album's verdict."""
    crowded(monkeypatch, pets=9)
    async with Harness(fake, tiny_classifier, tmp_path):
        await send_album(fake, private(400), user(400), [photo_bytes(i) for i in range(10)], group_id="pets")
        (answer,) = await reply_in(fake, 400, timeout=60)
    caption = body(answer)
    assert answer.method == "sendPhoto" and telegram_len(caption) <= CAPTION_LIMIT
    assert caption.startswith("📸 10 photos:\n1. ") and "\n…\n" in caption and "Over 10 photos: " in caption


async def test_a_busy_groups_merged_answers_leave_as_messages_within_4096(fake, tiny_classifier, tmp_path, monkeypatch):
    """Crowd photos (60 faces: a ~1,700-character line each) waiting in a busy group's outbox: merged
    into several messages, none over Telegram's 4,096, every answer in one of them."""
    crowded(monkeypatch, faces=59)
    players = [user(410 + i, f"P{i}") for i in range(8)]
    async with Harness(fake, tiny_classifier, tmp_path, group_messages=2, group_period_s=3.0):
        for i, player in enumerate(players):
            await send_photo(fake, GROUP, player, photo_bytes(i), caption="/mirror")

        def all_answered(_):
            replies = fake.replies_to(GROUP["id"])
            merged = sum(body(r).count("\n• ") for r in replies if body(r).startswith("🪞"))
            return merged + sum(not body(r).startswith("🪞") for r in replies) >= len(players)

        await fake.wait_sent(all_answered, timeout=90)
        await asyncio.sleep(0.5)
    replies = fake.replies_to(GROUP["id"])
    merged = [r for r in replies if body(r).startswith("🪞")]
    assert len(merged) >= 2 and all(telegram_len(body(r)) <= MESSAGE_LIMIT for r in merged)
    assert all(telegram_len(body(r)) <= CAPTION_LIMIT for r in replies if r.method == "sendPhoto")
    assert sum(body(r).count("\n• ") for r in merged) + len(replies) - len(merged) == len(players)
    assert not [s for s in fake.sent if body(s).startswith("Something went wrong")]


@pytest.mark.parametrize("method,field,limit", [("sendMessage", "text", 4096), ("sendPhoto", "caption", 1024)])
async def test_the_fake_api_refuses_what_telegram_refuses(fake, method, field, limit):
    import aiohttp

    url = f"{fake.api_base_url}{fake.token}/{method}"
    async with aiohttp.ClientSession() as session:
        for length, status in ((limit, 200), (limit + 1, 400)):
            params = {"chat_id": 5, field: "x" * (length - 2) + "🐶"}  # an emoji counts two
            if method == "sendPhoto":
                params["photo"] = "none"
            async with session.post(url, json=params) as r:
                answer = await r.json()
            assert r.status == status, answer
    too_long = "message is too long" if method == "sendMessage" else "message caption is too long"
    assert answer["description"] == f"Bad Request: {too_long}"
