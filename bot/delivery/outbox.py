"""Group answers over Telegram's ~20 messages a minute per group: merged, never dropped.

When a group has allowance, an answer goes out at once as usual (its card, its "why?" button).
When it has none, the answer waits in the group's outbox and its worker moves on (the update is
recorded as answered only when the answer is sent, so a crash meanwhile answers it after the
restart). As soon as the group has allowance again, everything that waited leaves as one message,
a line per answer, replying to the newest photo; a lone answer leaves as it was. More lines than
one message holds (Telegram's 4,096) leave as several, each recording its own answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Message, ReplyParameters
from telegram.error import TelegramError

from ..texts import MESSAGE_LIMIT, fit, telegram_len
from .exactly_once import Ticket, answering_together, hand_over
from .pacing import ChatPacer
from .sending import answer

log = logging.getLogger(__name__)


@dataclass
class Waiting:
    send: Callable[[], Awaitable]  # the answer as it would have been sent alone
    line: str  # the answer in one line, for a merged message
    reply_to: Message
    ticket: Ticket | None


class Outbox:
    def __init__(self, pacer: ChatPacer, header: Callable[[str], str]):
        self.pacer, self.header = pacer, header  # header(language): the merged message's first line
        self._waiting: dict[int, list[Waiting]] = {}
        self._flushers: dict[int, asyncio.Task] = {}

    async def answer(self, reply_to: Message, single: Callable[[], Awaitable], line: str) -> Message | None:
        """Send ``single()`` now if the chat has allowance and nothing waits (returns what was sent);
        else queue it to merge (returns None)."""
        chat_id = reply_to.chat_id
        if chat_id >= 0 or (not self._waiting.get(chat_id) and await self.pacer.wait_for(chat_id) == 0):
            return await answer(single)
        self._waiting.setdefault(chat_id, []).append(Waiting(single, line, reply_to, hand_over()))
        if chat_id not in self._flushers:
            self._flushers[chat_id] = asyncio.create_task(self._flush(chat_id))
        return None

    async def _flush(self, chat_id: int) -> None:
        try:
            while self._waiting.get(chat_id):
                while (wait := await self.pacer.wait_for(chat_id)) > 0:
                    await asyncio.sleep(wait)
                batch, rest = self._fitting(self._waiting.pop(chat_id))
                if rest:  # the next message, after the group's allowance again
                    self._waiting[chat_id] = rest
                # this task's next reply records every update in the batch, in one write
                answering_together([w.ticket for w in batch if w.ticket is not None])
                try:
                    await self._send(batch)
                except TelegramError as exc:  # left unrecorded: answered again after a restart
                    log.error("a merged group answer failed: %s", type(exc).__name__)
        finally:
            self._flushers.pop(chat_id, None)

    def _body(self, batch: list[Waiting]) -> str:
        newest = batch[-1].reply_to
        language = newest.from_user.language_code if newest.from_user else None
        header = self.header(language)
        room = MESSAGE_LIMIT - telegram_len(header) - len("\n• ")
        return "\n".join([header] + [f"• {fit(w.line, room)}" for w in batch])  # one line always fits

    def _fitting(self, batch: list[Waiting]) -> tuple[list[Waiting], list[Waiting]]:
        """The first answers of ``batch`` that one merged message holds, and the rest."""
        n = 1
        while n < len(batch) and telegram_len(self._body(batch[: n + 1])) <= MESSAGE_LIMIT:
            n += 1
        return batch[:n], batch[n:]

    async def _send(self, batch: list[Waiting]) -> None:
        if len(batch) == 1:  # through ``answer``: a retry after a 5xx or a timeout is the answer too
            await answer(batch[0].send)
            return
        newest, body = batch[-1].reply_to, self._body(batch)
        quoted = ReplyParameters(newest.message_id, allow_sending_without_reply=True)
        await answer(lambda: newest.get_bot().send_message(newest.chat_id, body, reply_parameters=quoted))

    async def close(self, timeout: float) -> None:
        """Send what waits if the groups' allowance comes within ``timeout``; the rest stays recorded
        as unanswered and is answered after the restart."""
        flushers = list(self._flushers.values())
        if not flushers:
            return
        done, pending = await asyncio.wait(flushers, timeout=timeout)
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)
