"""Telegram's flood limits as Telegram applies them: ~30 messages a second overall, ~20 a minute in
a group, ~1 a second in any one chat; a 429's ``retry_after`` is honoured and the request retried.

The windows live in the store, so replicas sending as one bot share them (Redis), and only messages
count (python-telegram-bot's ``AIORateLimiter`` also counts chat actions, deletions and file
look-ups, which in a group would spend its 20 a minute on "typing...", and retries a 429 outside
its windows). ``ChatPacer`` knows each chat's allowance, so a group's answers can wait for it
together and leave merged (``outbox.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from ..store import Store

log = logging.getLogger(__name__)

GROUP_PER_MINUTE = 20
PRIVATE_PER_SECOND = 1
OVERALL_PER_SECOND = 30
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendAnimation",
        "sendVideo",
        "sendMediaGroup",
        "sendSticker",
        "copyMessage",
        "forwardMessage",
    }
)


HOLD_S = 30.0  # longest a message is taken to be in flight (an upload at the request timeout)


class ChatPacer:
    """Sliding windows: groups (negative ids) 20 messages a minute, other chats 1 a second, the
    bot as a whole 30 a second. Telegram counts a message when it arrives, some time between its
    reservation and Telegram's answer (an upload, a stalled event loop): in the overall window a
    message counts from its reservation until a second after that answer (``Store.claim``), where a
    window from the reservation alone let a 90-user burst arrive 31 over the limit."""

    def __init__(
        self,
        store: Store,
        group_limit=GROUP_PER_MINUTE,
        group_period=60.0,
        chat_limit=PRIVATE_PER_SECOND,
        chat_period=1.0,
        overall=OVERALL_PER_SECOND,
    ):
        self.store, self.overall = store, overall
        self.group, self.chat = (group_limit, group_period), (chat_limit, chat_period)
        self._quiet_until, self._started = 0.0, time.monotonic()

    def after_crash(self) -> None:
        """The last process died at work (the intake recovered its updates): windows kept in memory
        died with it, while Telegram still counts what it sent in its final second, so nothing more
        leaves until a second after this start (start-up takes ~0.6 s of it anyway)."""
        if not self.store.windows_outlive_restarts:
            self._quiet_until = self._started + 1.0

    def _window(self, chat_id: int) -> tuple[int, float]:
        return self.group if chat_id < 0 else self.chat

    async def wait_for(self, chat_id: int) -> float:
        """Seconds until the chat may get another message (0: now)."""
        return await self.store.reserve(f"chat:{chat_id}", *self._window(chat_id), spend=False)

    async def acquire(self, chat_id: int | None) -> str:
        """Wait for the chat's allowance and the bot's, and spend one message of each; returns the
        claim to ``sent`` once Telegram has answered."""
        if chat_id is not None:  # first: a group's outbox must see its window fill up as it sends
            while (wait := await self.store.reserve(f"chat:{chat_id}", *self._window(chat_id))) > 0:
                await asyncio.sleep(wait)
        if (quiet := self._quiet_until - time.monotonic()) > 0:
            await asyncio.sleep(quiet)
        while True:
            wait, token = await self.store.claim("all", self.overall, 1.0, HOLD_S)
            if token is not None:
                return token
            # over a period: the oldest claim is still in flight, and frees up a second after its answer
            await asyncio.sleep(wait if wait <= 1.0 else 0.05)

    async def sent(self, token: str) -> None:
        await self.store.settle("all", token)


class FloodLog:
    """Telegram's 429s, logged once: the first of a minute at once, the others of that minute as one
    line with their count when it ends (``/metrics`` counts every one)."""

    PERIOD = 60.0

    def __init__(self):
        self._since: float | None = None
        self._more, self._longest = 0, 0.0

    def hit(self, method: str, seconds: float) -> None:
        now = time.monotonic()
        if self._since is not None and now - self._since < self.PERIOD:
            self._more, self._longest = self._more + 1, max(self._longest, seconds)
            return
        self.flush()
        self._since = now
        log.warning(
            "Telegram's flood control: 429 on %s, retry after %.0f s; more this minute are counted", method, seconds
        )
        with contextlib.suppress(RuntimeError):  # no running loop: flushed by the next hit or at shutdown
            asyncio.get_running_loop().call_later(self.PERIOD, self.flush)

    def flush(self) -> None:
        if self._more:
            log.warning(
                "Telegram's flood control: %d more 429s within a minute of the first (longest retry after %.0f s)",
                self._more,
                self._longest,
            )
        self._more, self._longest = 0, 0.0


def retry_seconds(exc: RetryAfter) -> float:
    value = getattr(exc, "_retry_after", None)  # a timedelta in PTB 22; its public field warns
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value or 1)


class TelegramLimits(BaseRateLimiter):
    """``ChatPacer``'s windows for every message, and a 429 honoured for every request. A retry
    waits out ``retry_after`` and spends the allowance again (a retried send is a send), and while
    one request waits every other request waits too: Telegram's flood control is per bot."""

    def __init__(self, pacer: ChatPacer, metrics=None, max_retries: int = 3):
        self.pacer, self.metrics, self.max_retries = pacer, metrics, max_retries
        self.floods = FloodLog()
        self._until = 0.0  # time.monotonic() when the flood wait ends

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        self.floods.flush()

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        message = endpoint in MESSAGE_METHODS  # only messages spend an allowance; any request may get a 429
        chat_id = data.get("chat_id")
        numeric = isinstance(chat_id, int) or (isinstance(chat_id, str) and chat_id.lstrip("-").isdigit())
        retries = rate_limit_args or self.max_retries
        attempt = 0
        while True:
            while (wait := self._until - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            claim = await self.pacer.acquire(int(chat_id) if numeric else None) if message else None
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_seconds(exc)
                self.floods.hit(endpoint, seconds)
                if self.metrics is not None:
                    self.metrics.floods.labels(endpoint).inc()
                if attempt >= retries:
                    raise
                attempt += 1
                self._until = max(self._until, time.monotonic() + seconds + 0.1)
            finally:
                if claim is not None:
                    await self.pacer.sent(claim)
