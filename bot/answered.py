"""Recording that an update is answered the moment its answer has left.

A crash can fall between Telegram accepting a reply and the bot recording it (the update is then
answered again after the restart), or between recording and the reply leaving (it is never
answered). The answer is recorded just before the last chunk of its HTTP request is handed to the
operating system: until then Telegram holds an incomplete request, which it drops if the bot dies,
and the update is answered after the restart; once recorded, only that one write remains, and a
crash after it still lets the kernel deliver what was written. Recording when the request started
left the whole upload of a result card as a window for losing the answer (one lost in a 3-replica
burst with a SIGKILL, ``python -m bot.loadtest --replicas 3 --crash-after 100``); recording after
the last byte, or after the response, left a window for a duplicate (1 in a CI crash run, 3 per
crash when recorded after the response, the kill following an observed answer). The record is only
written out before the last chunk (``Store.send_done``); its confirmation is awaited after: waiting
for Redis's reply first let the loop run other tasks in between, and 2 of 4 three-replica crash
runs lost answers that way.

A recorded answer is still only a claim until Telegram accepts it: a 429 (flood control), a 5xx or
no response at all undoes the record (``Ticket.refused``), so a kill while the bot waits out
``retry_after`` leaves the update unanswered in the store, and it is answered after the restart; the
retry records it again. Redis keeps the stream entry until the 200 (``Store.accepted``). The windows
left: a kill between Telegram's 200 and the record being confirmed is at most one answer twice per
kill (the record left before the last chunk, so only its confirmation is missing); no response (a
dropped connection after the last chunk) is taken as not sent, and may be answered twice if
Telegram had in fact accepted it.

Measured against the fake Bot API with Telegram's flood rule (``python -m bot.loadtest``,
2026-12-02): 300 photos from 100 users with a SIGKILL after 60 answers, 3 runs; 20 runs of 119
photos (100 photos, 3 albums, 2 groups of 8) killed at every kind of moment in turn (after N
answers, as a card's upload reaches Telegram, during a storm of 429s, while an album is collected,
while a group's answers wait in its outbox: ``--kill random --runs 20``); 3 replicas on Redis, one
killed the same ways: 0 lost and 0 answered twice in every run. But the CI-sized burst (24 photos,
``--kill upload``) lost 1 of 34 answers in about one run in four: killed as the fake Bot API sees
a card's request arrive, the record was in SQLite while part of the body had not reached the
kernel. "Just before the last chunk" holds only for the chunk: earlier chunks can still wait in
the asyncio transport's buffer (up to its 64 KiB high-water mark) when the record is written. Open:
record only once the transport's buffer is empty.

Context variables carry the update being handled and whether the coming request is its answer:
each update runs in its own task, and the values follow it through python-telegram-bot's
callbacks and rate limiter down to ``AnsweringRequest`` and the transport beneath it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from http import HTTPStatus

import httpx
from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)


@dataclass
class Ticket:
    """One update's claim to be answered: ``mark`` records it; ``handed_over`` when another task
    (a group's outbox) will send the answer, and so record it, later. ``undo`` takes the record back
    when Telegram did not accept the answer; ``accept`` tells the store it did."""

    mark: Callable[[], Awaitable[Callable[[], Awaitable[None]]]]  # returns: wait for the store to confirm
    undo: Callable[[], Awaitable[None]] | None = None
    accept: Callable[[], Awaitable[None]] | None = None
    handed_over: bool = False
    recorded: bool = False

    async def record(self) -> Callable[[], Awaitable[None]] | None:
        """Record the update as answered, once (a retried request does not record it again); returns
        what waits for the store's confirmation, or None when it was recorded before."""
        if self.recorded:
            return None
        self.recorded = True
        return await self.mark()

    async def refused(self) -> None:
        """Telegram did not take the answer (429, 5xx, no response): the record is undone, so a kill
        before the retry still answers it after the restart, and the retry records it again."""
        if not self.recorded:
            return
        self.recorded = False
        if self.undo is not None:
            await self.undo()

    async def accepted(self) -> None:
        if self.recorded and self.accept is not None:
            await self.accept()


_ticket: ContextVar[Ticket | None] = ContextVar("answer_ticket", default=None)
_final: ContextVar[bool] = ContextVar("final_reply", default=False)
_sending: ContextVar[Ticket | None] = ContextVar("sending_answer", default=None)


def answering(mark, undo=None, accept=None) -> Ticket:
    """For the current task: ``mark`` records its update as answered (``undo``, ``accept``: see ``Ticket``)."""
    ticket = Ticket(mark, undo, accept)
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


class AnsweringRequest(HTTPXRequest):
    """Records the update as answered once its answer's request has been written out."""

    async def do_request(self, url, method, request_data=None, *args, **kwargs):
        if not _final.get():
            return await super().do_request(url, method, request_data, *args, **kwargs)
        _final.set(False)
        ticket = _ticket.get()
        token = _sending.set(ticket)
        try:
            code, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        except Exception:  # no response (a dropped connection, a timeout): not known to be accepted
            if ticket is not None:
                await ticket.refused()
            raise
        finally:
            _sending.reset(token)
        if ticket is not None:
            if code == HTTPStatus.OK:
                await ticket.accepted()
            elif code == HTTPStatus.TOO_MANY_REQUESTS or code >= 500:  # not sent: retried by ``send``
                await ticket.refused()
        return code, payload

    def _build_client(self) -> httpx.AsyncClient:
        settings = dict(self._client_kwargs)
        settings["transport"] = _AnsweringTransport(limits=settings["limits"])  # the client's limits go to it
        return httpx.AsyncClient(**settings)


class _AnsweringTransport(httpx.AsyncHTTPTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        ticket = _sending.get()
        if ticket is not None:
            request.stream = _MarkWhenWritten(request.stream, ticket)
        return await super().handle_async_request(request)


class _MarkWhenWritten(httpx.AsyncByteStream):
    """The request body, chunk by chunk; the update is recorded just before its last chunk is
    written (looking one chunk ahead), so Telegram cannot have the whole request unrecorded."""

    def __init__(self, stream, ticket: Ticket):
        self._stream, self._ticket = stream, ticket

    async def __aiter__(self):
        held = None
        async for chunk in self._stream:
            if held is not None:
                yield held
            held = chunk
        confirmed = await self._ticket.record()
        if held is not None:
            yield held
        if confirmed is not None:
            try:
                await confirmed()
            except Exception as exc:  # noqa: BLE001 - the answer is out; failing its request would send it twice
                log.error("an answer left but its record was not confirmed: %s", type(exc).__name__)

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()
