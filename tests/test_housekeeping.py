"""Answered rows and expired keys go while the bot runs, not only at its next start; the fair order
reads only the last minutes' rows, however many answered ones a busy day leaves."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from bot.delivery import intake
from bot.store import Incoming, open_store
from tests.test_bot import Harness, private, reply_in, send_photo, user
from tests.test_poison import fake  # noqa: F401 - the fixture


def age(store, update_id: int, seconds: float) -> None:
    store._db.execute("UPDATE updates SET received = received - ? WHERE update_id = ?", (seconds, update_id))


async def test_housekeeping_drops_answered_rows_past_a_day_and_expired_keys(tmp_path):
    store = open_store(tmp_path)
    await store.enqueue([Incoming(i, 40 + i, f"u{i}") for i in (1, 2, 3)])
    one, two, _ = await store.take(3)
    await store.done(one, two)
    age(store, 1, 2 * 86400)
    await store.remember("new", "file-2")
    await store.remember("old", "file-1", ttl_s=-1)
    assert await store.housekeeping() == 2
    ids = {row[0] for row in store._db.execute("SELECT update_id FROM updates")}
    assert ids == {2, 3}  # a recent answer's id stays (a re-delivery is recognised), the taken one too
    assert await store.recall("old") is None and await store.recall("new") == "file-2"
    await store.close()


async def test_the_fair_order_uses_the_index_on_received(tmp_path):
    from bot.store.sqlite import FAIR_ORDER

    store = open_store(tmp_path)
    plan = store._db.execute(
        "EXPLAIN QUERY PLAN " + FAIR_ORDER + "SELECT update_id FROM ranked", (time.time() - 600,)
    ).fetchall()
    assert any("updates_by_received" in row[-1] for row in plan), plan
    await store.close()


async def test_the_running_bot_keeps_house(fake, tiny_classifier, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(intake, "HOUSEKEEPING_S", 0.2)
    async with Harness(fake, tiny_classifier, tmp_path):
        await send_photo(fake, private(44), user(44))
        await reply_in(fake, 44)
        db = sqlite3.connect(tmp_path / "mirror.sqlite3", isolation_level=None)  # beside the bot's own (WAL)
        (answered,) = [row[0] for row in db.execute("SELECT update_id FROM updates WHERE state = 'done'")]
        db.execute("UPDATE updates SET received = received - ? WHERE update_id = ?", (2 * 86400, answered))
        for _ in range(50):
            await asyncio.sleep(0.1)
            if not db.execute("SELECT 1 FROM updates WHERE update_id = ?", (answered,)).fetchall():
                break
        else:
            raise AssertionError("the answered row past its day is still there")
        db.close()


async def test_how_full_redis_is_shows_against_its_maxmemory(redis_url, tmp_path):
    import redis.asyncio as aioredis

    store, admin = open_store(tmp_path, redis_url), aioredis.Redis.from_url(redis_url)
    try:
        await admin.config_set("maxmemory", 0)
        assert await store.memory_use() == 0.0  # no limit: nothing to near
        await admin.config_set("maxmemory", 64 * 2**20)
        assert 0.0 < await store.memory_use() < 1.0
        assert await open_store(tmp_path / "sqlite").memory_use() == 0.0
    finally:
        await admin.config_set("maxmemory", 0)
        await admin.aclose()
        await store.close()
