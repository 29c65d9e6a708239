"""The queue of updates as rows of one table: the fair order in SQL, each step one transaction."""

from __future__ import annotations

import time

from ..queue import Queue
from ..records import Queued
from .connection import SQLiteConnection

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


class SQLiteQueue(SQLiteConnection, Queue):
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

    # recover and housekeeping also drop expired "why?" keys (refs): the file's one sweep
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


def _queued(row: tuple) -> Queued:
    *fields, tries = row
    return Queued(*fields, tries=tries)
