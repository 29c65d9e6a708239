"""No poison pills: an update in hand when a process ended is counted on both stores, and the bot reads
its file in a child process, so a file that ends processes ends only that child and is answered once."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from PIL import Image

from bot.playground.fakeapi import FakeBotAPI
from bot.store import Incoming, open_store
from classifier import sandbox
from tests.conftest import png_bytes
from tests.test_bot import Harness, body, photo_bytes, private, reply_in, user


@pytest.fixture
async def fake():
    server = await FakeBotAPI().start()
    yield server
    await server.stop()


async def test_an_update_in_hand_when_a_process_ended_is_taken_again_with_its_tries(store):
    await store.enqueue([Incoming(1, 50, "u1"), Incoming(2, 51, "u2")])
    first = await store.take(2)
    assert [q.tries for q in first] == [0, 0]
    await store.done(first[1])
    assert await store.recover() == 1  # the process ended with update 1 in hand
    (again,) = await store.take(5)
    assert (again.update_id, again.tries) == (1, 1)
    assert await store.recover() == 1
    (third,) = await store.take(5)
    assert third.tries == 2
    await store.done(third)
    assert await store.take(5) == []


async def test_an_album_in_hand_when_a_process_ended_is_counted(store):
    await store.enqueue([Incoming(i, 90, f"u{i}", "-5:a") for i in (1, 2)])
    (first,) = await store.take(5)
    await store.take_album(first)
    await store.recover()
    (again,) = await store.take(5)
    assert again.tries == 1 and [q.update_id for q in await store.take_album(again)] == [1, 2]


async def crashed_with(fake, tmp_path, uid: int, content: bytes) -> None:
    """What a process ended by a file leaves: its update recorded, taken, never answered."""
    message = fake.message(private(uid), user(uid), photo=fake.photo_sizes(content))
    store = open_store(tmp_path)
    await store.enqueue([Incoming(7000 + uid, uid, json.dumps({"update_id": 7000 + uid, "message": message}))])
    assert len(await store.take(1)) == 1
    await store.close()


async def test_a_file_that_ended_a_process_is_answered_from_a_child(
    fake, tiny_classifier, tmp_path, monkeypatch, caplog
):
    """The file got past the budgets and ended the last process: now it ends only a child (here one allowed
    less memory than the file needs), and its sender hears "couldn't read" once; the bot goes on."""
    monkeypatch.setattr(sandbox, "MEMORY", 320 * 2**20)
    await crashed_with(fake, tmp_path, 61, png_bytes(Image.new("RGBA", (7000, 7000), (0, 0, 0, 0))))
    caplog.set_level(logging.WARNING, "bot.delivery.intake")
    async with Harness(fake, tiny_classifier, tmp_path):
        (answer,) = await reply_in(fake, 61)
        assert "couldn't read" in body(answer)
        await fake.push(fake.message(private(62), user(62), photo=fake.photo_sizes(photo_bytes(2))))
        (plain,) = await reply_in(fake, 62)
        assert body(plain).startswith("you are ")  # the next photo is read in the bot, as ever
        await asyncio.sleep(0.5)
    assert len(fake.replies_to(61)) == 1
    assert any("read apart" in r.getMessage() for r in caplog.records)


async def test_an_innocent_photo_in_hand_at_a_crash_is_answered_as_ever(fake, tiny_classifier, tmp_path):
    await crashed_with(fake, tmp_path, 63, photo_bytes(3))
    async with Harness(fake, tiny_classifier, tmp_path):
        (answer,) = await reply_in(fake, 63)
        assert body(answer).startswith("you are ")
        await asyncio.sleep(0.5)
    assert len(fake.replies_to(63)) == 1
