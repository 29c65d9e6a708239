"""The one SQLite file every concern's tables live in: its schema, and one short transaction per call.

Write-ahead log, one connection, run on the event loop itself; a crash leaves the last committed
state. One process owns the file (several replicas use Redis).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

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
CREATE TABLE IF NOT EXISTS updates (
    update_id INTEGER PRIMARY KEY, user_id INTEGER, received REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', payload TEXT, notice INTEGER, album TEXT, digest TEXT
);
CREATE INDEX IF NOT EXISTS updates_by_state ON updates (state, user_id, update_id);
-- the fair order counts each user's updates of the last minutes: without it every take read every answered row
CREATE INDEX IF NOT EXISTS updates_by_received ON updates (received);
CREATE TABLE IF NOT EXISTS refs (
    key TEXT PRIMARY KEY, file_id TEXT NOT NULL, expires REAL NOT NULL, user_id INTEGER
);
CREATE TABLE IF NOT EXISTS last_cards (user_id INTEGER PRIMARY KEY, file_id TEXT NOT NULL, caption TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hits (user_id INTEGER NOT NULL, at REAL NOT NULL, token TEXT, kind TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS hits_by_user ON hits (user_id, at);
"""
ALBUM_INDEX = "CREATE INDEX IF NOT EXISTS updates_by_album ON updates (album, state) WHERE album IS NOT NULL"


class SQLiteConnection:
    """The connection each concern's mixin runs its statements on (opened by ``SQLiteStore``)."""

    path: Path
    _db: sqlite3.Connection
    _lock: threading.Lock

    def _connect(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()  # one connection shared by the loop and worker threads
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(updates)")}
            if "album" not in columns:  # a database from before albums
                self._db.execute("ALTER TABLE updates ADD COLUMN album TEXT")
            if "digest" not in columns:  # from before digests: its answered ids count as another bot's
                self._db.execute("ALTER TABLE updates ADD COLUMN digest TEXT")
            if "tries" not in columns:
                self._db.execute("ALTER TABLE updates ADD COLUMN tries INTEGER NOT NULL DEFAULT 0")
            self._db.execute(ALBUM_INDEX)
            if "user_id" not in {row[1] for row in self._db.execute("PRAGMA table_info(refs)")}:
                self._db.execute("ALTER TABLE refs ADD COLUMN user_id INTEGER")  # older keys: nobody's
            if "kind" not in {row[1] for row in self._db.execute("PRAGMA table_info(hits)")}:
                self._db.execute("ALTER TABLE hits ADD COLUMN kind TEXT NOT NULL DEFAULT ''")
            self._db.execute("CREATE INDEX IF NOT EXISTS refs_by_user ON refs (user_id) WHERE user_id IS NOT NULL")
            self._db.execute("CREATE INDEX IF NOT EXISTS hits_by_kind ON hits (kind, at)")
            self._db.execute("CREATE INDEX IF NOT EXISTS refs_by_expiry ON refs (expires)")

    @contextlib.contextmanager
    def _transaction(self):
        """The connection, inside one transaction: committed on success, rolled back on any error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _tx(self, statements: list[tuple[str, tuple]]) -> list[list[tuple]]:
        with self._transaction() as db:
            return [db.execute(sql, args).fetchall() for sql, args in statements]

    async def ping(self):
        self._tx([("SELECT 1", ())])
        return True

    async def close(self):
        with self._lock:
            self._db.close()
