"""The embedded store on a real SQLite file: the game, settings, history, forgetting, migration."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from bot.store import open_store


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path)
    yield s
    s.close()


def test_leaderboard_keeps_each_players_best_and_latest_name(store):
    store.record_score(-1, 7, "Ann", {"dog": 0.6, "cat": 0.4})
    store.record_score(-1, 7, "Ann Lee", {"dog": 0.3, "cat": 0.7})
    store.record_score(-1, 8, "Bob", {"dog": 0.9, "cat": 0.1})
    store.record_score(-2, 9, "Elsewhere", {"dog": 1.0, "cat": 0.0})
    assert store.top(-1, "dog") == [("Bob", 0.9), ("Ann Lee", 0.6)]
    assert store.top(-1, "cat") == [("Ann Lee", 0.7), ("Bob", 0.1)]
    assert store.top(-3, "dog") == []


def test_history_is_a_running_mean_of_numbers_only(store, tmp_path):
    assert store.history(5).empty
    store.add_answer(5, {"cat": 0.2, "dog": 0.8})
    h = store.add_answer(5, {"cat": 0.6, "dog": 0.4})
    assert h.count == 2 and h.mean == pytest.approx({"cat": 0.4, "dog": 0.6})
    assert store.history(6).empty
    rows = sqlite3.connect(tmp_path / "mirror.sqlite3").execute("SELECT * FROM answers").fetchall()
    assert all(len(r) == 3 and isinstance(r[2], str) and json.loads(r[2]) for r in rows)  # user, time, numbers


def test_forget_erases_one_user_everywhere_and_counts_it(store):
    store.add_answer(5, {"cat": 0.2, "dog": 0.8})
    store.record_score(-1, 5, "Ann", {"dog": 0.8, "cat": 0.2})
    store.record_score(-2, 5, "Ann", {"dog": 0.8, "cat": 0.2})
    store.record_score(-1, 6, "Bob", {"dog": 0.5, "cat": 0.5})
    store.set_cards(5, False)
    store.set_cards(-1, False)  # the group's setting is the group's, not Ann's
    gone = store.forget(5)
    assert (gone.answers, gone.leaderboard_entries, gone.settings) == (1, 2, 1)
    assert store.history(5).empty and store.cards(5) is True
    assert store.top(-1, "dog") == [("Bob", 0.5)] and store.top(-2, "dog") == []
    assert store.cards(-1) is False
    assert store.forget(5).total == 0


def test_survives_a_restart_and_many_threads(tmp_path):
    first = open_store(tmp_path)
    threads = [
        threading.Thread(target=lambda u=u: [first.add_answer(u, {"cat": 0.5, "dog": 0.5}) for _ in range(25)])
        for u in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first.close()
    again = open_store(tmp_path)
    assert [again.history(u).count for u in range(8)] == [25] * 8
    again.close()


def test_older_json_files_are_migrated_once_and_removed(tmp_path):
    (tmp_path / "leaderboard.json").write_text(
        json.dumps({"-100": {"7": {"name": "Ann", "best": {"dog": 0.9, "cat": 0.3}}}}), encoding="utf-8"
    )
    (tmp_path / "settings.json").write_text(json.dumps({"7": {"cards": False}}), encoding="utf-8")
    store = open_store(tmp_path)
    assert store.top(-100, "dog") == [("Ann", 0.9)] and store.cards(7) is False
    assert not (tmp_path / "leaderboard.json").exists() and not (tmp_path / "settings.json").exists()
    store.close()


def test_an_unreadable_json_file_is_left_for_a_human(tmp_path):
    (tmp_path / "leaderboard.json").write_text("{not json", encoding="utf-8")
    store = open_store(tmp_path)
    assert (tmp_path / "leaderboard.json").exists() and store.top(-1, "dog") == []
    store.close()


def test_queue_records_once_serves_users_fairly_and_recovers(store):
    assert store.enqueue([(i, 80, f"a{i}") for i in range(1, 6)] + [(6, 81, "b"), (7, None, "c")]) == 7
    assert store.enqueue([(3, 80, "again"), (8, 82, "d")]) == 1  # Telegram re-delivered 3: recognised
    assert store.last_update_id() == 8 and store.queued() == 8
    first = store.take(3)
    assert [q.update_id for q in first] == [1, 6, 7] and first[0].payload == "a1"  # everyone's first
    assert [q.update_id for q in store.take(2)] == [8, 2]
    store.done(1)
    assert store.recover() == 4  # taken but never done: a crash; they go back to the queue
    order = []
    while batch := store.take(1):
        order.append(batch[0].update_id)
        store.done(order[-1])
    assert sorted(order) == [2, 3, 4, 5, 6, 7, 8] and store.queued() == 0 and store.recover() == 0
    assert store.take(5) == []
