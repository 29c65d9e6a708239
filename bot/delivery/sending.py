"""Sending to Telegram: ``send`` for any request (retried on transient errors), ``answer`` for the one
that answers the update being handled, which is recorded as answered as it leaves (``exactly_once``)."""

from __future__ import annotations

import asyncio

from telegram import Message
from telegram.error import NetworkError, RetryAfter, TimedOut

from .exactly_once import final_reply


async def send(coro_factory, attempts: int = 4):
    """Retry a send on transient network errors (429s are retried by the rate limiter)."""
    for attempt in range(attempts):
        try:
            return await coro_factory()
        except RetryAfter as exc:  # only reached if the limiter gave up
            delay = exc.retry_after
            await asyncio.sleep(delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay))
        except (TimedOut, NetworkError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5 * 2**attempt)
    return await coro_factory()


async def answer(coro_factory):
    """Send the request that answers this update (or, in a group's outbox, the updates merged into it)."""

    def final():
        final_reply()  # again on each retry: the first attempt may have failed before any request
        return coro_factory()

    return await send(final)


async def reply(message: Message, body: str):
    """Answer with a text, quoting ``message``."""
    return await answer(lambda: message.reply_text(body, do_quote=True))
