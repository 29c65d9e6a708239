"""Scores, settings, answers, last cards and short-lived keys as rows; earlier versions' JSON files
(``leaderboard.json``, ``settings.json`` beside the database) are read once on first start, then deleted."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from ..game import Game
from ..records import WHY_TTL_S, Forgotten, History
from .connection import SQLiteConnection

log = logging.getLogger(__name__)

SET_CARDS = "INSERT INTO settings VALUES (?, ?) ON CONFLICT (chat_id) DO UPDATE SET cards = excluded.cards"


class SQLiteGame(SQLiteConnection, Game):
    # -- scores ---------------------------------------------------------------------------------------
    async def record_score(self, chat_id, user_id, name, probabilities):
        self._tx(_score_rows(chat_id, user_id, name, probabilities))

    async def top(self, chat_id, label, n=3):
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
    async def cards(self, chat_id):
        (rows,) = self._tx([("SELECT cards FROM settings WHERE chat_id = ?", (chat_id,))])
        return bool(rows[0][0]) if rows else True

    async def set_cards(self, chat_id, on):
        self._tx([(SET_CARDS, (chat_id, int(on)))])

    # -- history --------------------------------------------------------------------------------------
    async def add_answer(self, user_id, probabilities):
        numbers = json.dumps({k: round(float(v), 4) for k, v in probabilities.items()})
        _, rows = self._tx(
            [
                ("INSERT INTO answers VALUES (?, ?, ?)", (user_id, time.time(), numbers)),
                ("SELECT probabilities FROM answers WHERE user_id = ?", (user_id,)),
            ]
        )
        return _history(rows)

    async def history(self, user_id):
        (rows,) = self._tx([("SELECT probabilities FROM answers WHERE user_id = ?", (user_id,))])
        return _history(rows)

    async def forget(self, user_id):
        counts = self._tx(
            [
                ("DELETE FROM answers WHERE user_id = ? RETURNING 1", (user_id,)),
                ("SELECT DISTINCT chat_id FROM scores WHERE user_id = ?", (user_id,)),  # one entry per chat
                ("DELETE FROM scores WHERE user_id = ?", (user_id,)),
                ("DELETE FROM settings WHERE chat_id = ? RETURNING 1", (user_id,)),
                ("DELETE FROM last_cards WHERE user_id = ? RETURNING 1", (user_id,)),
                ("DELETE FROM refs WHERE user_id = ? RETURNING 1", (user_id,)),
                # answered: only the id and digest stay (a re-delivery is still recognised); hits stay too
                (
                    "UPDATE updates SET user_id = NULL, payload = NULL, album = NULL, notice = NULL "
                    "WHERE user_id = ? AND state = 'done'",
                    (user_id,),
                ),
            ]
        )
        answers, chats, _, settings, card, refs, _ = (len(rows) for rows in counts)
        return Forgotten(answers, chats, settings, card + refs)

    async def set_last_card(self, user_id, file_id, caption):
        self._tx([("INSERT OR REPLACE INTO last_cards VALUES (?, ?, ?)", (user_id, file_id, caption))])

    async def last_card(self, user_id):
        (rows,) = self._tx([("SELECT file_id, caption FROM last_cards WHERE user_id = ?", (user_id,))])
        return tuple(rows[0]) if rows else None

    # -- short-lived keys ---------------------------------------------------------------------------
    async def remember(self, key, file_id, ttl_s=WHY_TTL_S, user_id=None):
        self._tx(
            [
                (
                    "INSERT OR REPLACE INTO refs (key, file_id, expires, user_id) VALUES (?, ?, ?, ?)",
                    (key, file_id, time.time() + ttl_s, user_id),
                )
            ]
        )

    async def recall(self, key):
        (rows,) = self._tx([("SELECT file_id FROM refs WHERE key = ? AND expires >= ?", (key, time.time()))])
        return rows[0][0] if rows else None

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
                self._tx(_score_rows(int(chat_id), int(user_id), str(player["name"]), player.get("best", {})))

    def _import_settings(self, data: dict) -> None:
        for chat_id, values in data.items():
            if "cards" in values:
                self._tx([(SET_CARDS, (int(chat_id), int(bool(values["cards"]))))])


def _score_rows(chat_id, user_id, name, probabilities) -> list[tuple[str, tuple]]:
    return [
        (
            "INSERT INTO scores VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, user_id, label) "
            "DO UPDATE SET best = max(best, excluded.best), name = excluded.name",
            (chat_id, user_id, label, round(float(p), 4), name),
        )
        for label, p in probabilities.items()
    ] + [("UPDATE scores SET name = ? WHERE chat_id = ? AND user_id = ?", (name, chat_id, user_id))]


def _history(rows: list[tuple]) -> History:
    answers = [json.loads(r[0]) for r in rows]
    if not answers:
        return History(0, {})
    labels = answers[0].keys()
    return History(len(answers), {label: sum(a.get(label, 0.0) for a in answers) / len(answers) for label in labels})
