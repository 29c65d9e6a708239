"""A photo expected to wait more than a few seconds gets "you're #12 in line, about 20 s", removed when
its turn comes. The estimate divides the place by the answers per second measured lately."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from telegram import Update
from telegram.error import TelegramError

from ..messages import lang
from ..store import Store
from ..texts import text

log = logging.getLogger(__name__)
NOTICE_AFTER_S = 8  # a photo expected to wait longer gets "you're #12 in line, about 20 s"
RATE_WINDOW_S = 30  # the answer rate behind that estimate is measured over this long
DEFAULT_RATE = 2.0  # answers per second assumed before any are measured


class PlaceInLine:
    def __init__(self, store: Store, free: Callable[[], int]):
        self.store, self.free = store, free  # free(): workers free now, who take the first photos at once
        self._tasks: set[asyncio.Task] = set()
        self._answered: deque[float] = deque()

    def tell(self, update: Update) -> None:
        """Send the note if this photo will wait (in its own task, kept referenced until it ends)."""
        task = asyncio.create_task(self._tell(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def answered(self, n: int) -> None:
        self._answered.extend([time.monotonic()] * n)

    def per_second(self) -> float:
        """Updates answered per second lately (a cautious guess before there is any history)."""
        now = time.monotonic()
        while self._answered and self._answered[0] < now - RATE_WINDOW_S:
            self._answered.popleft()
        if len(self._answered) < 5:
            return DEFAULT_RATE
        return len(self._answered) / max(now - self._answered[0], 1.0)

    async def _tell(self, update: Update) -> None:
        """ "You're #12 in line, about 20 s" when a photo will wait a while; removed when its turn
        comes. One at a time per user: a note per photo of a burst would spend Telegram's ~30
        messages/s on notes (measured: 1,000 photos from 200 users, p95 72 -> 124 s)."""
        user = update.effective_user.id if update.effective_user else 0
        if not await self.store.claim_note(user, update.update_id):
            return  # this user already has a note up (sent by any replica)
        place = await self.store.position(update.update_id)
        ahead = place - self.free()  # free workers take the first ones at once
        seconds = ahead / self.per_second()
        if not place or ahead <= 0 or seconds < NOTICE_AFTER_S:
            await self.store.release_note(user, update.update_id)
            return
        try:
            notice = await update.effective_message.reply_text(
                text(lang(update), "in_line", place=place, seconds=max(5, round(seconds / 5) * 5)), do_quote=True
            )
        except TelegramError as exc:  # only a courtesy: the answer still comes
            log.warning("could not send the place in line: %s", type(exc).__name__)
            await self.store.release_note(user, update.update_id)
            return
        # killed between Telegram's reply and this commit, the note stays in its chat: no Bot API method
        # finds a message again (the load test allows that window only: NOTE_IN_FLIGHT_S)
        if not await self.store.set_notice(update.update_id, notice.message_id):
            await self.store.release_note(user, update.update_id)
            await remove(notice.get_bot(), notice.chat_id, notice.message_id)  # its turn came meanwhile


async def remove(bot, chat_id: int, message_id: int) -> None:
    try:
        await bot.delete_message(chat_id, message_id)
    except TelegramError as exc:  # already gone, or too old to delete: nothing a user would miss
        log.info("could not remove a place-in-line message: %s", type(exc).__name__)
