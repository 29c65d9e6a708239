"""The embedded store: one SQLite file (standard library), write-ahead log, one connection; one
process owns it, so the note slots, flood windows and broadcasts stay in that process's memory."""

from __future__ import annotations

from pathlib import Path

from ..base import Store
from ..memory import MemoryNotes, MemoryWindows
from .connection import ALBUM_INDEX, SCHEMA
from .game import SQLiteGame
from .limits import SQLiteLimits
from .queue import FAIR_ORDER, FAIR_WINDOW_S, KEEP_DONE_S, SQLiteQueue


class SQLiteStore(SQLiteQueue, SQLiteGame, SQLiteLimits, MemoryNotes, MemoryWindows, Store):
    def __init__(self, path: Path):
        super().__init__()  # the in-memory parts: note slots, flood windows, broadcast listeners
        self._connect(path)
        self._migrate_json(self.path.parent)


__all__ = ["ALBUM_INDEX", "FAIR_ORDER", "FAIR_WINDOW_S", "KEEP_DONE_S", "SCHEMA", "SQLiteStore"]
