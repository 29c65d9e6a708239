"""Recording that an update is answered the moment its answer has left, so a kill at any instant
loses no answer and sends none twice.

Recorded too early, a kill before the reply leaves loses it; too late, a kill after Telegram took it
answers it again after the restart. So the answer's request is written out but for its last ``TAIL``
bytes; the bot waits until the socket takes more, records (``Store.send_done``, written before the tail
and confirmed after it), then writes the tail in one send with nothing awaited between. Killed before
the record, Telegram holds an incomplete request and drops it; after it, the kernel delivers the whole
request though the process is gone. A 429, a 5xx or no response undoes the record (``Ticket.refused``),
and the retry records again. An answer for several updates (an album, a group's merged message)
records them all in one write (``answering_together``). Windows left: a kill between the record's write
and the tail's send (microseconds) loses that answer; a kill between Telegram's 200 and the record's
confirmation may send one answer twice. ``tests/test_exactly_once.py`` kills a sender at each moment.

Context variables carry the ticket of the update being handled through python-telegram-bot's
callbacks and rate limiter down to ``AnsweringRequest`` and its transport.
"""

from __future__ import annotations

import asyncio
import logging
import select
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from http import HTTPStatus

import httpcore
import httpx
from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)
TAIL = 256  # the bytes written after the record: few enough that a writable socket takes them in one send
WRITABLE_POLL_S = 0.002


@dataclass
class Ticket:
    """The claim that ``items`` (updates) are answered: ``mark(items)`` records them; ``handed_over``
    when another task (a group's outbox) will send the answer, and so record it, later.
    ``undo(items)`` takes the record back when Telegram did not accept the answer; ``accept(items)``
    tells the store it did."""

    mark: Callable[[list], Awaitable[Callable[[], Awaitable[None]]]]  # returns: wait for the store to confirm
    undo: Callable[[list], Awaitable[None]] | None = None
    accept: Callable[[list], Awaitable[None]] | None = None
    items: list = field(default_factory=list)
    handed_over: bool = False
    recorded: bool = False
    armed: bool = False  # the next write carries the answer's last bytes
    confirm: Callable[[], Awaitable[None]] | None = None  # waits for the store to confirm the record

    async def record(self) -> Callable[[], Awaitable[None]] | None:
        """Record the update as answered, once (a retried request does not record it again); returns
        what waits for the store's confirmation, or None when it was recorded before."""
        if self.recorded:
            return None
        self.recorded = True
        return await self.mark(self.items)

    async def refused(self) -> None:
        """Telegram did not take the answer (429, 5xx, no response): the record is undone, so a kill
        before the retry still answers it after the restart, and the retry records it again."""
        if not self.recorded:
            return
        self.recorded = False
        if self.undo is not None:
            await self.undo(self.items)

    async def accepted(self) -> None:
        if self.recorded and self.accept is not None:
            await self.accept(self.items)


_ticket: ContextVar[Ticket | None] = ContextVar("answer_ticket", default=None)
_final: ContextVar[bool] = ContextVar("final_reply", default=False)
_sending: ContextVar[Ticket | None] = ContextVar("sending_answer", default=None)


def answering(mark, undo=None, accept=None, items=()) -> Ticket:
    """For the current task: ``mark(items)`` records its updates as answered (``undo``, ``accept``: see ``Ticket``)."""
    ticket = Ticket(mark, undo, accept, list(items))
    _ticket.set(ticket)
    return ticket


def answering_together(tickets: list[Ticket]) -> Ticket | None:
    """For the current task: its next answer answers every one of ``tickets``' updates (a group's
    merged message), recorded in one write of the store. One record each left a window between two
    records: killed there, the first update is recorded answered and its answer never sent. The
    tickets come from one intake, so the first one's functions record them all."""
    if not tickets:
        _ticket.set(None)
        return None
    first = tickets[0]
    return answering(first.mark, first.undo, first.accept, [item for t in tickets for item in t.items])


def hand_over() -> Ticket | None:
    """The current update's answer will be sent by someone else, who records it (``answering_together``)."""
    ticket = _ticket.get()
    if ticket is not None:
        ticket.handed_over = True
    return ticket


def final_reply() -> None:
    """The next request in this task sends the update's answer."""
    _final.set(True)


class AnsweringRequest(HTTPXRequest):
    """Records the update as answered once its answer's request has been written out."""

    def __init__(self, connection_pool_size: int = 16, **kwargs):
        # the same limits python-telegram-bot would give its own transport
        transport = _AnsweringTransport(limits=httpx.Limits(max_connections=connection_pool_size))
        super().__init__(connection_pool_size=connection_pool_size, httpx_kwargs={"transport": transport}, **kwargs)

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


class _AnsweringTransport(httpx.AsyncHTTPTransport):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # httpx takes no network backend (the one private attribute touched here); its pool does
        self._pool._network_backend = _RecordingBackend(self._pool._network_backend)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        ticket = _sending.get()
        if ticket is not None:
            request.stream = _MarkWhenWritten(request.stream, ticket)
        return await super().handle_async_request(request)


class _MarkWhenWritten(httpx.AsyncByteStream):
    """The request body, chunk by chunk (looking one ahead): the ticket is armed before the last
    chunk goes, so the write that carries it records the update (``_RecordingStream``)."""

    def __init__(self, stream, ticket: Ticket):
        self._stream, self._ticket = stream, ticket

    async def __aiter__(self):
        held = None
        async for chunk in self._stream:
            if held is not None:
                yield held
            held = chunk
        if held:
            self._ticket.armed = True
            yield held
        else:  # no body: its headers, already written, were the request's last bytes
            self._ticket.confirm = await self._ticket.record()
        confirm, self._ticket.confirm = self._ticket.confirm, None
        if confirm is not None:
            try:
                await confirm()
            except Exception as exc:  # noqa: BLE001 - the answer is out; failing its request would send it twice
                log.error("an answer left but its record was not confirmed: %s", type(exc).__name__)

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class _RecordingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, backend: httpcore.AsyncNetworkBackend):
        self._backend = backend

    async def connect_tcp(self, *args, **kwargs):
        return _RecordingStream(await self._backend.connect_tcp(*args, **kwargs))

    async def connect_unix_socket(self, *args, **kwargs):
        return _RecordingStream(await self._backend.connect_unix_socket(*args, **kwargs))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _RecordingStream(httpcore.AsyncNetworkStream):
    """A connection whose write of an armed answer's last chunk records the update in between: all
    but the last ``TAIL`` bytes first, written through to the kernel (anyio's transports keep no
    bytes of their own once a write returns); then a wait until the socket is writable, so the tail
    fits in the kernel's buffer; then the record; then the tail, in one send with no await between.
    Killed before the record, Telegram holds an incomplete request; after it, the kernel has it all."""

    def __init__(self, stream: httpcore.AsyncNetworkStream):
        self._stream = stream

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        ticket = _sending.get()
        if ticket is None or not ticket.armed or not buffer:
            return await self._stream.write(buffer, timeout)
        ticket.armed = False
        head, tail = buffer[:-TAIL], buffer[-TAIL:]
        if head:
            await self._stream.write(head, timeout)
        await _writable(self._stream.get_extra_info("socket"), timeout)
        ticket.confirm = await ticket.record()
        await self._stream.write(tail, timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(self, *args, **kwargs) -> httpcore.AsyncNetworkStream:
        return _RecordingStream(await self._stream.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


async def _writable(sock, timeout: float | None) -> None:
    """Until the kernel takes more bytes on ``sock`` (polled: asyncio lets no one else watch a socket
    its transport owns). Without a socket (a test's stream), at once."""
    if sock is None:
        return
    poll = select.poll()
    poll.register(sock.fileno(), select.POLLOUT)
    deadline = None if timeout is None else time.monotonic() + timeout
    while not poll.poll(0):
        if deadline is not None and time.monotonic() > deadline:
            raise httpcore.WriteTimeout("the socket stayed full")
        await asyncio.sleep(WRITABLE_POLL_S)
