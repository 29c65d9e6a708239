"""The queue's other half: recording answers. ``done:`` keys leave with the answer's last bytes; the
stream entry is acknowledged once Telegram accepts the answer, so a kill in between loses nothing."""

from __future__ import annotations

from redis.exceptions import ResponseError

from ..queue import Queue
from ..records import Queued
from .connection import GROUP, KEEP_S, RedisConnection

DONE = """
local p, id, keep, stream, entry, album, group = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7]
redis.call('SET', p .. 'done:' .. id, 1, 'EX', keep)
redis.call('DEL', p .. 'where:' .. id, p .. 'taken:' .. id, p .. 'notice:' .. id)
if stream ~= '' then
  redis.call('XACK', stream, group, entry)
  redis.call('XDEL', stream, entry)
  if album ~= '' then redis.call('DEL', p .. 'albumtaken:' .. album) end
end
return 1
"""


class RedisAnswers(RedisConnection, Queue):
    def _done_command(self, q: Queued) -> tuple:
        """The DONE script for one update: recorded, its keys and stream entry cleaned up."""
        level, entry = q.ref.split("/") if q.ref else ("", "")
        stream = self._q(int(level)) if level else ""
        album = q.ref if q.ref and q.album else ""
        return ("EVAL", DONE, 0, self.p, q.update_id, KEEP_S, stream, entry, album, GROUP)

    async def accepted(self, items):
        """Telegram took the answer: the entry is acknowledged and its keys cleaned up. A replica that
        dies before this leaves only ``done:``; whoever reclaims the entry finishes it (``_mark_taken``)."""
        if items:
            async with self.redis.pipeline(transaction=False) as pipe:
                for q in items:
                    pipe.execute_command(*self._done_command(q))
                await pipe.execute()

    async def undo_done(self, items):
        if items:
            await self.redis.delete(*(f"{self.p}done:{q.update_id}" for q in items))

    async def send_done(self, items):
        """``done:`` for each update, written to Redis's socket before this returns (no wait for the
        reply, during which the loop would run other tasks before the answer's last bytes go). The
        stream entry stays this replica's until Telegram accepts the answer (``accepted``)."""
        commands = [("SET", f"{self.p}done:{q.update_id}", 1, "EX", KEEP_S) for q in items]
        pool = self.redis.connection_pool
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
        except BaseException:
            await conn.disconnect()
            await pool.release(conn)
            raise

        async def confirmed() -> None:
            try:
                for _ in commands:
                    reply = await conn.read_response()
                    if isinstance(reply, ResponseError):
                        raise reply
            except BaseException:
                await conn.disconnect()
                raise
            finally:
                await pool.release(conn)

        return confirmed
