"""Recording that an update is answered at the last moment before its reply leaves.

A crash can fall between Telegram accepting a reply and the bot recording it. Recorded after the
reply, that update would be answered again on restart; recorded when the reply's HTTP request
starts (after any flood-control wait), it is not, and the only loss left is a crash inside that
request's first milliseconds. A second identical answer in a group is spam, so this is the side
we take (``python -m bot.loadtest --crash-after N`` measures both: lost and answered twice).

Context variables carry the update being handled and whether the coming request is its answer:
each update runs in its own task, and the values follow it through python-telegram-bot's
callbacks and rate limiter down to ``AnsweringRequest``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

from telegram.request import HTTPXRequest


@dataclass
class Ticket:
    """One update's claim to be answered: ``mark`` records it; ``handed_over`` when another task
    (a group's outbox) will send the answer, and so record it, later."""

    mark: Callable[[], Awaitable[None]]
    handed_over: bool = False


_ticket: ContextVar[Ticket | None] = ContextVar("answer_ticket", default=None)
_final: ContextVar[bool] = ContextVar("final_reply", default=False)


def answering(mark: Callable[[], Awaitable[None]]) -> Ticket:
    """For the current task: ``mark`` records its update as answered."""
    ticket = Ticket(mark)
    _ticket.set(ticket)
    return ticket


def hand_over() -> Ticket | None:
    """The current update's answer will be sent by someone else, who calls its ``mark``."""
    ticket = _ticket.get()
    if ticket is not None:
        ticket.handed_over = True
    return ticket


def final_reply() -> None:
    """The next request in this task sends the update's answer."""
    _final.set(True)


async def answered() -> None:
    """Record the current task's update as answered now (repeating this is harmless)."""
    ticket = _ticket.get()
    if ticket is not None:
        await ticket.mark()


class AnsweringRequest(HTTPXRequest):
    """Records the update as answered as its answer's request starts."""

    async def do_request(self, url, method, request_data=None, *args, **kwargs):
        if _final.get():
            _final.set(False)
            await answered()
        return await super().do_request(url, method, request_data, *args, **kwargs)
