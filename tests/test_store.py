"""The store on real backends: the game, settings, history, forgetting, the durable queue with
albums, rate limits and "why?" keys. SQLite on a real file; Redis on a real redis-server."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from bot.store import Incoming, open_store


async def test_leaderboard_keeps_each_players_best_and_latest_name(store):
    await store.record_score(-1, 7, "Ann", {"dog": 0.6, "cat": 0.4})
    await store.record_score(-1, 7, "Ann Lee", {"dog": 0.3, "cat": 0.7})
    await store.record_score(-1, 8, "Bob", {"dog": 0.9, "cat": 0.1})
    await store.record_score(-2, 9, "Elsewhere", {"dog": 1.0, "cat": 0.0})
    assert await store.top(-1, "dog") == [("Bob", 0.9), ("Ann Lee", 0.6)]
    assert await store.top(-1, "cat") == [("Ann Lee", 0.7), ("Bob", 0.1)]
    assert await store.top(-3, "dog") == []


async def test_history_is_a_running_mean_of_numbers_only(store):
    assert (await store.history(5)).empty
    await store.add_answer(5, {"cat": 0.2, "dog": 0.8})
    h = await store.add_answer(5, {"cat": 0.6, "dog": 0.4})
    assert h.count == 2 and h.mean == pytest.approx({"cat": 0.4, "dog": 0.6})
    assert (await store.history(6)).empty


async def test_forget_erases_one_user_everywhere_and_counts_it(store):
    await store.add_answer(5, {"cat": 0.2, "dog": 0.8})
    await store.record_score(-1, 5, "Ann", {"dog": 0.8, "cat": 0.2})
    await store.record_score(-2, 5, "Ann", {"dog": 0.8, "cat": 0.2})
    await store.record_score(-1, 6, "Bob", {"dog": 0.5, "cat": 0.5})
    await store.set_cards(5, False)
    await store.set_cards(-1, False)  # the group's setting is the group's, not Ann's
    await store.set_last_card(5, "file-card", "you are 80% puppy")
    assert await store.last_card(5) == ("file-card", "you are 80% puppy") and await store.last_card(6) is None
    gone = await store.forget(5)
    assert (gone.answers, gone.leaderboard_entries, gone.settings) == (1, 2, 1)
    assert (await store.history(5)).empty and await store.cards(5) is True
    assert await store.top(-1, "dog") == [("Bob", 0.5)] and await store.top(-2, "dog") == []
    assert await store.cards(-1) is False and await store.last_card(5) is None
    assert (await store.forget(5)).total == 0


def incoming(update_id, user_id, payload=None, album=None):
    return Incoming(update_id, user_id, payload or f"u{update_id}", album)


async def test_queue_records_once_serves_users_fairly_and_recovers(store):
    assert await store.enqueue([incoming(i, 80) for i in range(1, 6)] + [incoming(6, 81), incoming(7, None)]) == 7
    assert await store.enqueue([incoming(3, 80, "again"), incoming(8, 82)]) == 1  # a re-delivery is recognised
    assert await store.queued() == 8
    first = await store.take(3)
    assert [q.update_id for q in first] == [1, 6, 7] and first[0].payload == "u1"  # everyone's first
    assert [q.update_id for q in await store.take(2)] == [8, 2]
    await store.done(first[0])
    assert await store.recover() == 4  # taken but never done: a crash; they go back to the queue
    order = []
    while batch := await store.take(1):
        order.append(batch[0].update_id)
        await store.done(batch[0])
    assert sorted(order) == [2, 3, 4, 5, 6, 7, 8] and await store.queued() == 0 and await store.recover() == 0
    assert await store.take(5) == []


async def test_an_answered_id_with_another_payload_is_another_bots_update(store):
    """A new token (or a week without updates) begins update ids anew: the state of the old bot
    must not swallow the new bot's messages; a true re-delivery (same payload) is still dropped."""
    await store.enqueue([incoming(1, 70, "old bot: hello"), incoming(2, 70, "old bot: photo")])
    for queued in await store.take(2):
        await store.done(queued)
    assert await store.enqueue([incoming(1, 70, "old bot: hello")]) == 0  # re-delivered: already answered
    assert await store.enqueue([incoming(1, 71, "new bot: hi"), incoming(2, 71, "new bot: selfie")]) == 2
    assert await store.enqueue([incoming(2, 71, "new bot: selfie")]) == 0  # and its own re-delivery is known
    taken = await store.take(5)
    assert [(q.update_id, q.payload) for q in taken] == [(1, "new bot: hi"), (2, "new bot: selfie")]
    for queued in taken:
        await store.done(queued)
    assert await store.queued() == 0 and await store.recover() == 0


async def test_an_answer_telegram_refused_is_undone_and_comes_back_after_a_crash(store):
    await store.enqueue([incoming(1, 60), incoming(2, 61)])
    one, two = await store.take(2)
    await (await store.send_done([one, two]))()  # recorded as the answers' last bytes went out
    await store.undo_done([one])  # 429 for the first: not sent
    await store.accepted([two])
    assert await store.recover() == 1  # a crash now: the refused one is answered again, not the other
    (again,) = await store.take(5)
    assert (again.update_id, again.payload) == (1, "u1")
    await store.done(again)
    assert await store.recover() == 0 and await store.take(5) == []


async def test_an_answer_for_several_updates_records_them_in_one_transaction(tmp_path):
    """An album's answer or a group's merged one answers several updates: killed during the record,
    the file holds all of them answered or none (each one alone left the first recorded, the answer unsent)."""
    store = open_store(tmp_path)
    await store.enqueue([incoming(i, 60 + i) for i in (1, 2, 3)])
    taken = await store.take(5)
    statements = []
    store._db.set_trace_callback(statements.append)
    await (await store.send_done(taken))()
    store._db.set_trace_callback(None)
    assert [s.split()[0] for s in statements] == ["BEGIN", "UPDATE", "UPDATE", "UPDATE", "COMMIT"]
    assert await store.recover() == 0 and await store.take(5) == []
    await store.close()


async def test_an_album_is_one_item_of_the_queue_and_is_taken_whole(store):
    await store.enqueue([incoming(1, 90, album="-5:a"), incoming(2, 90, album="-5:a"), incoming(3, 91)])
    await store.enqueue([incoming(4, 90, album="-5:a")])  # the album's last photo comes a moment later
    taken = await store.take(10)
    assert [(q.update_id, q.album) for q in taken] == [(1, "-5:a"), (3, None)]  # the album once, by its first
    assert await store.album_last("-5:a") >= taken[0].received
    whole = await store.take_album(taken[0])
    assert [q.update_id for q in whole] == [1, 2, 4] and {q.payload for q in whole} == {"u1", "u2", "u4"}
    assert await store.take(10) == [] and await store.queued() == 0
    assert await store.recover() >= 2  # nothing done yet: after a crash the album comes back, still as one
    (again,) = [q for q in await store.take(10) if q.album]
    assert again.update_id == 1 and [q.update_id for q in await store.take_album(again)] == [1, 2, 4]
    for q in whole:
        await store.done(q)
    assert await store.recover() == 1 and [q.update_id for q in await store.take(10)] == [3]


async def test_rate_limit_and_why_keys(store):
    assert [await store.hit(7, 2, 60, t) for t in ("u1", "u2")] == [0.0, 0.0]
    assert await store.hit(7, 2, 60, "u1") == 0.0  # u1 handled again after a crash: counted once
    wait = await store.hit(7, 2, 60, "u3")
    assert 55 < wait <= 60 and await store.hit(8, 2, 60, "u4") == 0.0  # per user
    await store.remember("k1", "file-abc")
    assert await store.recall("k1") == "file-abc" and await store.recall("nope") is None
    await store.remember("short", "file-x", ttl_s=0.05)
    await asyncio.sleep(0.2)
    assert await store.recall("short") is None
    assert await store.ping() is True


async def test_sqlite_keeps_numbers_only_and_survives_a_restart(tmp_path):
    first = open_store(tmp_path)
    await asyncio.gather(*(first.add_answer(u, {"cat": 0.5, "dog": 0.5}) for u in range(8) for _ in range(25)))
    await first.close()
    again = open_store(tmp_path)
    assert [(await again.history(u)).count for u in range(8)] == [25] * 8
    await again.close()
    rows = sqlite3.connect(tmp_path / "mirror.sqlite3").execute("SELECT * FROM answers").fetchall()
    assert all(len(r) == 3 and isinstance(r[2], str) and json.loads(r[2]) for r in rows)  # user, time, numbers


async def test_a_database_from_before_albums_gains_the_column(tmp_path):
    db = sqlite3.connect(tmp_path / "mirror.sqlite3")
    db.execute(
        "CREATE TABLE updates (update_id INTEGER PRIMARY KEY, user_id INTEGER, received REAL NOT NULL, "
        "state TEXT NOT NULL DEFAULT 'pending', payload TEXT, notice INTEGER)"
    )
    db.execute("INSERT INTO updates (update_id, user_id, received, payload) VALUES (5, 1, 0, 'old')")
    db.commit()
    db.close()
    store = open_store(tmp_path)
    (old,) = await store.take(5)
    assert old.update_id == 5 and old.album is None and old.payload == "old"
    await store.close()


async def test_older_json_files_are_migrated_once_and_removed(tmp_path):
    (tmp_path / "leaderboard.json").write_text(
        json.dumps({"-100": {"7": {"name": "Ann", "best": {"dog": 0.9, "cat": 0.3}}}}), encoding="utf-8"
    )
    (tmp_path / "settings.json").write_text(json.dumps({"7": {"cards": False}}), encoding="utf-8")
    store = open_store(tmp_path)
    assert await store.top(-100, "dog") == [("Ann", 0.9)] and await store.cards(7) is False
    assert not (tmp_path / "leaderboard.json").exists() and not (tmp_path / "settings.json").exists()
    await store.close()


async def test_an_unreadable_json_file_is_left_for_a_human(tmp_path):
    (tmp_path / "leaderboard.json").write_text("{not json", encoding="utf-8")
    store = open_store(tmp_path)
    assert (tmp_path / "leaderboard.json").exists() and await store.top(-1, "dog") == []
    await store.close()


async def test_redis_replicas_share_one_queue_and_take_over_from_a_dead_one(redis_url, tmp_path):
    one, two = open_store(tmp_path, redis_url, "one", 0.6), open_store(tmp_path, redis_url, "two", 0.6)
    try:
        assert await one.enqueue([incoming(i, 100 + i) for i in range(1, 5)]) == 4
        assert await two.enqueue([incoming(2, 102), incoming(5, 105)]) == 1  # Telegram retried 2 to the other
        held = await one.take(2)
        alive = await two.take(1)  # two keeps what it holds: its claims are refreshed while it lives
        assert [q.update_id for q in held] == [1, 2] and [q.update_id for q in alive] == [3]
        await one.done(held[0])
        await one.close()  # "one" dies holding update 2
        await asyncio.sleep(1.0)
        taken = await two.take(10)
        assert sorted(q.update_id for q in taken) == [2, 4, 5]  # 2 reclaimed; 3 is not taken twice
        for q in taken + alive:
            await two.done(q)
        assert await two.queued() == 0 and await two.take(10) == []
    finally:
        await two.close()


async def test_redis_broadcast_reaches_every_replica(redis_url, tmp_path):
    stores = [open_store(tmp_path, redis_url, f"r{i}") for i in range(3)]
    heard: list[tuple[int, str]] = []
    for i, s in enumerate(stores):
        s.on_broadcast(lambda message, i=i: _note(heard, i, message))
    await asyncio.sleep(0.3)  # subscribed
    await stores[1].broadcast("reload")
    for _ in range(50):
        if len(heard) == 3:
            break
        await asyncio.sleep(0.05)
    assert sorted(heard) == [(0, "reload"), (1, "reload"), (2, "reload")]
    for s in stores:
        await s.close()


async def _note(heard, i, message):
    heard.append((i, message))


async def test_flood_windows_are_shared_and_peeking_spends_nothing(store):
    assert [await store.reserve("chat:-5", 2, 0.5) for _ in range(2)] == [0.0, 0.0]
    assert 0 < await store.reserve("chat:-5", 2, 0.5, spend=False) <= 0.5
    assert 0 < await store.reserve("chat:-5", 2, 0.5) <= 0.5  # full: nothing spent either
    assert await store.reserve("chat:7", 2, 0.5, spend=False) == 0.0
    await asyncio.sleep(0.6)
    assert await store.reserve("chat:-5", 2, 0.5) == 0.0


async def test_redis_replicas_share_telegrams_overall_limit(redis_url, tmp_path):
    stores = [open_store(tmp_path, redis_url, f"r{i}") for i in range(3)]
    spent = [await stores[i % 3].reserve("all", 30, 1.0) == 0.0 for i in range(40)]
    assert sum(spent) == 30  # 30 a second for the bot, whichever replica sends
    for s in stores:
        await s.close()


async def test_a_claim_counts_while_in_flight_and_a_period_after_it_is_settled(store):
    claims = [await store.claim("all", 2, 0.5, 30.0) for _ in range(2)]
    assert [wait for wait, _ in claims] == [0.0, 0.0] and all(token for _, token in claims)
    wait, token = await store.claim("all", 2, 0.5, 30.0)
    assert token is None and wait > 0.5  # both in flight: longer than a period
    await asyncio.sleep(0.6)
    assert (await store.claim("all", 2, 0.5, 30.0))[1] is None  # in flight however long it takes
    await store.settle("all", claims[0][1])
    wait, token = await store.claim("all", 2, 0.5, 30.0)
    assert token is None and 0 < wait <= 0.5  # settled: a period from its answer
    await asyncio.sleep(0.6)
    assert (await store.claim("all", 2, 0.5, 30.0))[1] is not None


async def test_redis_replicas_share_the_claims_on_telegrams_overall_limit(redis_url, tmp_path):
    stores = [open_store(tmp_path, redis_url, f"r{i}") for i in range(3)]
    claimed = [(await stores[i % 3].claim("all", 30, 1.0, 30.0))[1] for i in range(40)]
    assert sum(token is not None for token in claimed) == 30
    for s in stores:
        await s.close()


async def test_one_place_in_line_note_per_user_and_none_for_an_answered_update(store):
    assert await store.claim_note(7, 1) and not await store.claim_note(7, 2)  # one note per user at a time
    await store.release_note(7, 2)  # not the holder: nothing changes
    assert not await store.claim_note(7, 3)
    await store.release_note(7, 1)
    assert await store.claim_note(7, 3)
    await store.enqueue([incoming(50, 7)])
    (taken,) = await store.take(1)
    await store.done(taken)
    assert await store.set_notice(50, 999) is False  # answered already: the note must go, not be kept


async def test_forget_erases_the_users_keys_and_answered_updates_and_keeps_rate_limits(store):
    """/forgetme must not reset an abuse limit; it erases the user's "why?" keys and share links (not
    another's) and what answered updates of theirs still hold; an unanswered one stays whole."""
    await store.remember("why-5", '{"file_id": "f", "user_id": 5}', user_id=5)
    await store.remember("share:5", '{"dog": 0.5}', ttl_s=30 * 24 * 3600, user_id=5)
    await store.remember("why-6", '{"file_id": "g", "user_id": 6}', user_id=6)
    await store.enqueue([incoming(1, 5, "Ann's photo"), incoming(2, 5, "Ann's next", album="5:a"), incoming(3, 5)])
    taken = await store.take(2)
    for q in taken:
        await store.done(q)
    assert [await store.hit(5, 1, 60, t) for t in ("u1", "u2")][1] > 0
    assert await store.hit(5, 1, 60, "n1", kind="note") == 0.0 and await store.hit(5, 1, 60, "n2", kind="note") > 0
    gone = await store.forget(5)
    assert gone.others == 2 and gone.total == 2
    assert await store.recall("why-5") is None and await store.recall("share:5") is None
    assert await store.recall("why-6") is not None
    assert await store.hit(5, 1, 60, "u3") > 0 and await store.hit(5, 1, 60, "n3", kind="note") > 0  # still spent
    assert await store.enqueue([incoming(1, 5, "Ann's photo")]) == 0  # an answered one is still recognised
    (left,) = await store.take(5)
    assert (left.update_id, left.user_id, left.payload) == (3, 5, "u3")  # waiting: kept whole, to be answered
