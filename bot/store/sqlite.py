"""The embedded store: one SQLite file (standard library), write-ahead log, one connection.

Each call is one short transaction (well under a millisecond), run on the event loop itself; a
crash leaves the last committed state. One process owns the file (several replicas use Redis).
The JSON files of earlier versions (``leaderboard.json``, ``settings.json`` beside the database)
are read once on first start, then deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

from .base import WHY_TTL_S, Forgotten, History, Queued, Store

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
FAIR_WINDOW_S = 600  # updates served in the last 10 minutes count against a user's next turn
# a user's turn: their place among their own waiting updates, plus how many of theirs were served
# lately, so someone with 50 photos goes behind everyone's first (parameter: the window's start)
FAIR_ORDER = (
    "WITH served AS (SELECT user_id, count(*) AS n FROM updates "
    "WHERE state != 'pending' AND received > ? GROUP BY user_id), "
    "ranked AS (SELECT u.update_id, u.user_id, u.payload, u.received, u.notice, u.album, u.tries, "
    "coalesce(s.n, 0) + ROW_NUMBER() OVER "
    "(PARTITION BY coalesce(u.user_id, u.update_id) ORDER BY u.update_id) AS turn "
    "FROM updates u LEFT JOIN served s ON s.user_id = u.user_id WHERE u.state = 'pending' "
    # an album is one item: its first pending photo, and none while a worker has the album
    "AND (u.album IS NULL OR (u.update_id = (SELECT min(a.update_id) FROM updates a "
    "WHERE a.album = u.album AND a.state = 'pending') AND NOT EXISTS (SELECT 1 FROM updates t "
    "WHERE t.album = u.album AND t.state = 'taken')))) "
)
KEEP_DONE_S = 24 * 3600  # answered updates' ids are kept a day, so a re-delivered one is recognised


async def _confirmed() -> None:
    pass


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
        self._migrate_json(self.path.parent)

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

    # -- the durable queue ----------------------------------------------------------------------------
    async def enqueue(self, updates):
        now = time.time()
        rows = self._tx(
            [
                (
                    # the same id with another payload is another bot's update (ids begin anew with a
                    # new token, or after a week without updates): an answered one is replaced
                    "INSERT INTO updates (update_id, user_id, received, payload, album, digest) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (update_id) DO UPDATE SET user_id = excluded.user_id, "
                    "received = excluded.received, payload = excluded.payload, album = excluded.album, "
                    "digest = excluded.digest, state = 'pending', notice = NULL, tries = 0 "
                    "WHERE updates.state = 'done' AND updates.digest IS NOT excluded.digest RETURNING 1",
                    (u.update_id, u.user_id, now, u.payload, u.album, u.digest),
                )
                for u in updates
            ]
        )
        return sum(len(r) for r in rows)

    async def take(self, n):
        if n <= 0:
            return []
        with self._transaction() as db:
            rows = db.execute(
                FAIR_ORDER + "SELECT update_id, payload, received, notice, user_id, album, tries FROM ranked "
                "ORDER BY turn, update_id LIMIT ?",
                (time.time() - FAIR_WINDOW_S, n),
            ).fetchall()
            db.executemany("UPDATE updates SET state = 'taken' WHERE update_id = ?", [(r[0],) for r in rows])
        return [_queued(row) for row in rows]

    async def album_last(self, album):
        (rows,) = self._tx([("SELECT max(received) FROM updates WHERE album = ?", (album,))])
        return rows[0][0] or 0.0

    async def take_album(self, queued):
        (rows,) = self._tx(
            [
                (
                    "UPDATE updates SET state = 'taken' WHERE album = ? AND state != 'done' "
                    "RETURNING update_id, payload, received, notice, user_id, album, tries",
                    (queued.album,),
                )
            ]
        )
        return sorted((_queued(row) for row in rows), key=lambda q: q.update_id)

    async def position(self, update_id):
        (rows,) = self._tx(
            [
                (
                    FAIR_ORDER + "SELECT count(*) FROM ranked, (SELECT turn AS t, update_id AS i FROM ranked "
                    "WHERE update_id = ?) AS me WHERE turn < me.t OR (turn = me.t AND update_id <= me.i)",
                    (time.time() - FAIR_WINDOW_S, update_id),
                )
            ]
        )
        return rows[0][0]

    async def set_notice(self, update_id, message_id):
        (rows,) = self._tx(
            [
                (
                    "UPDATE updates SET notice = ? WHERE update_id = ? AND state = 'pending' RETURNING 1",
                    (message_id, update_id),
                )
            ]
        )
        return bool(rows)

    async def send_done(self, items):
        self._tx(
            [("UPDATE updates SET state = 'done', payload = NULL WHERE update_id = ?", (q.update_id,)) for q in items]
        )
        return _confirmed  # committed: nothing more to wait for

    async def undo_done(self, items):
        self._tx(
            [
                (
                    "UPDATE updates SET state = 'taken', payload = ? WHERE update_id = ? AND state = 'done'",
                    (q.payload, q.update_id),
                )
                for q in items
            ]
        )

    async def recover(self):
        rows, _ = self._tx(
            [
                ("UPDATE updates SET state = 'pending', tries = tries + 1 WHERE state = 'taken' RETURNING 1", ()),
                ("DELETE FROM updates WHERE state = 'done' AND received < ?", (time.time() - KEEP_DONE_S,)),
                ("DELETE FROM refs WHERE expires < ?", (time.time(),)),
            ]
        )[0:2]
        return len(rows)

    async def queued(self):
        (rows,) = self._tx([("SELECT count(*) FROM updates WHERE state = 'pending'", ())])
        return rows[0][0]

    async def housekeeping(self):
        now = time.time()
        done, refs = self._tx(
            [
                ("DELETE FROM updates WHERE state = 'done' AND received < ? RETURNING 1", (now - KEEP_DONE_S,)),
                ("DELETE FROM refs WHERE expires < ? RETURNING 1", (now,)),
            ]
        )
        return len(done) + len(refs)

    # -- game ---------------------------------------------------------------------------------------
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

    async def ping(self):
        self._tx([("SELECT 1", ())])
        return True

    async def close(self):
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
                self._tx(_score_rows(int(chat_id), int(user_id), str(player["name"]), player.get("best", {})))

    def _import_settings(self, data: dict) -> None:
        for chat_id, values in data.items():
            if "cards" in values:
                self._tx([(SET_CARDS, (int(chat_id), int(bool(values["cards"]))))])


SET_CARDS = "INSERT INTO settings VALUES (?, ?) ON CONFLICT (chat_id) DO UPDATE SET cards = excluded.cards"


def _score_rows(chat_id, user_id, name, probabilities) -> list[tuple[str, tuple]]:
    return [
        (
            "INSERT INTO scores VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, user_id, label) "
            "DO UPDATE SET best = max(best, excluded.best), name = excluded.name",
            (chat_id, user_id, label, round(float(p), 4), name),
        )
        for label, p in probabilities.items()
    ] + [("UPDATE scores SET name = ? WHERE chat_id = ? AND user_id = ?", (name, chat_id, user_id))]


def _queued(row: tuple) -> Queued:
    *fields, tries = row
    return Queued(*fields, tries=tries)


def _history(rows: list[tuple]) -> History:
    answers = [json.loads(r[0]) for r in rows]
    if not answers:
        return History(0, {})
    labels = answers[0].keys()
    return History(len(answers), {label: sum(a.get(label, 0.0) for a in answers) / len(answers) for label in labels})
