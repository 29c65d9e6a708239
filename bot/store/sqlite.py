"""The embedded store: one SQLite file (standard library), write-ahead log, one connection.

Each call is one short transaction (well under a millisecond), so handlers call it directly;
a crash leaves the last committed state. The JSON files of earlier versions (``leaderboard.json``,
``settings.json`` beside the database) are read once on first start, then deleted.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

from .base import Forgotten, History, Store

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    chat_id INTEGER NOT NULL, user_id INTEGER NOT NULL, label TEXT NOT NULL,
    best REAL NOT NULL, name TEXT NOT NULL, PRIMARY KEY (chat_id, user_id, label)
);
CREATE TABLE IF NOT EXISTS settings (chat_id INTEGER PRIMARY KEY, cards INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    user_id INTEGER NOT NULL, at REAL NOT NULL, probabilities TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_user ON answers (user_id);
"""


class SQLiteStore(Store):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()  # one connection shared by the loop and worker threads
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
            self._db.executescript(SCHEMA)
        self._migrate_json(self.path.parent)

    def _tx(self, statements: list[tuple[str, tuple]]) -> list[list[tuple]]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = [self._db.execute(sql, args).fetchall() for sql, args in statements]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return rows

    # -- game ---------------------------------------------------------------------------------------
    def record_score(self, chat_id, user_id, name, probabilities):
        self._tx(
            [
                (
                    "INSERT INTO scores VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, user_id, label) "
                    "DO UPDATE SET best = max(best, excluded.best), name = excluded.name",
                    (chat_id, user_id, label, round(float(p), 4), name),
                )
                for label, p in probabilities.items()
            ]
            + [("UPDATE scores SET name = ? WHERE chat_id = ? AND user_id = ?", (name, chat_id, user_id))]
        )

    def top(self, chat_id, label, n=3):
        (rows,) = self._tx(
            [
                (
                    "SELECT name, best FROM scores WHERE chat_id = ? AND label = ? ORDER BY best DESC, name LIMIT ?",
                    (chat_id, label, n),
                )
            ]
        )
        return [(name, best) for name, best in rows]

    # -- settings -------------------------------------------------------------------------------------
    def cards(self, chat_id):
        (rows,) = self._tx([("SELECT cards FROM settings WHERE chat_id = ?", (chat_id,))])
        return bool(rows[0][0]) if rows else True

    def set_cards(self, chat_id, on):
        self._tx(
            [
                (
                    "INSERT INTO settings VALUES (?, ?) ON CONFLICT (chat_id) DO UPDATE SET cards = excluded.cards",
                    (chat_id, int(on)),
                )
            ]
        )

    # -- history --------------------------------------------------------------------------------------
    def add_answer(self, user_id, probabilities):
        numbers = json.dumps({k: round(float(v), 4) for k, v in probabilities.items()})
        _, rows = self._tx(
            [
                ("INSERT INTO answers VALUES (?, ?, ?)", (user_id, time.time(), numbers)),
                ("SELECT probabilities FROM answers WHERE user_id = ?", (user_id,)),
            ]
        )
        return _history(rows)

    def history(self, user_id):
        (rows,) = self._tx([("SELECT probabilities FROM answers WHERE user_id = ?", (user_id,))])
        return _history(rows)

    def forget(self, user_id):
        counts = self._tx(
            [
                ("DELETE FROM answers WHERE user_id = ? RETURNING 1", (user_id,)),
                ("SELECT DISTINCT chat_id FROM scores WHERE user_id = ?", (user_id,)),  # one entry per chat
                ("DELETE FROM scores WHERE user_id = ?", (user_id,)),
                ("DELETE FROM settings WHERE chat_id = ? RETURNING 1", (user_id,)),
            ]
        )
        answers, chats, _, settings = (len(rows) for rows in counts)
        return Forgotten(answers, chats, settings)

    def close(self):
        with self._lock:
            self._db.close()

    # -- earlier versions' JSON files ---------------------------------------------------------------
    def _migrate_json(self, folder: Path) -> None:
        for name, load in (("leaderboard.json", self._import_leaderboard), ("settings.json", self._import_settings)):
            path = folder / name
            if not path.is_file():
                continue
            try:
                load(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, AttributeError) as exc:
                log.warning("could not migrate %s (%s); left in place", path, type(exc).__name__)
                continue
            path.unlink()  # no second copy of people's names and scores that /forgetme would miss
            log.info("migrated %s into %s", name, self.path.name)

    def _import_leaderboard(self, data: dict) -> None:
        for chat_id, players in data.items():
            for user_id, player in players.items():
                self.record_score(int(chat_id), int(user_id), str(player["name"]), player.get("best", {}))

    def _import_settings(self, data: dict) -> None:
        for chat_id, values in data.items():
            if "cards" in values:
                self.set_cards(int(chat_id), bool(values["cards"]))


def _history(rows: list[tuple]) -> History:
    answers = [json.loads(r[0]) for r in rows]
    if not answers:
        return History(0, {})
    labels = answers[0].keys()
    return History(len(answers), {label: sum(a.get(label, 0.0) for a in answers) / len(answers) for label in labels})
