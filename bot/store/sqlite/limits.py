"""Each user's photo allowance as rows of ``hits``; the flood windows stay in memory (``bot/store/memory.py``)."""

from __future__ import annotations

import time

from ..limits import Limits
from .connection import SQLiteConnection


class SQLiteLimits(SQLiteConnection, Limits):
    async def hit(self, user_id, limit, window_s, token, kind=""):
        now, who = time.time(), (kind, user_id)
        with self._transaction() as db:
            # everyone's spent hits of this kind go: none outlives its window
            db.execute("DELETE FROM hits WHERE kind = ? AND at <= ?", (kind, now - window_s))
            rows = db.execute("SELECT at, token FROM hits WHERE kind = ? AND user_id = ? ORDER BY at", who).fetchall()
            if any(t == token for _, t in rows):
                return 0.0
            if len(rows) >= limit:
                return window_s - (now - rows[0][0])
            db.execute("INSERT INTO hits (user_id, at, token, kind) VALUES (?, ?, ?, ?)", (user_id, now, token, kind))
        return 0.0
