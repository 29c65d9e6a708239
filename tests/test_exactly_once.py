"""The moment an answer is recorded: between the two writes of its request's last chunk."""

import asyncio
import socket

import httpcore
from aiohttp import web
from telegram import InputFile
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter  # how PTB's Bot passes a method's arguments

from bot.delivery import exactly_once as answered
from bot.delivery.exactly_once import TAIL, AnsweringRequest, Ticket, _RecordingStream, _sending


class _Inner(httpcore.AsyncNetworkStream):
    """A connection that notes its writes; its socket is one end of a real socket pair."""

    def __init__(self, sock, events):
        self.sock, self.events = sock, events

    async def write(self, buffer, timeout=None):
        self.events.append(("write", bytes(buffer)))

    def get_extra_info(self, info):
        return self.sock if info == "socket" else None


def _fill(sock) -> None:
    sock.setblocking(False)
    try:
        while True:
            sock.send(b"x" * 65536)
    except BlockingIOError:
        pass


def _drain(sock) -> None:
    sock.setblocking(False)
    try:
        while sock.recv(1 << 20):
            pass
    except BlockingIOError:
        pass


async def test_the_record_waits_until_the_kernel_takes_the_last_bytes_and_nothing_waits_between():
    a, b = socket.socketpair()
    events = []

    async def confirm():
        events.append(("confirmed",))

    async def mark(_items):
        events.append(("record",))
        return confirm

    with a, b:
        _fill(a)  # the kernel takes nothing more: the tail would wait in this process's memory
        ticket = Ticket(mark)
        ticket.armed = True
        stream = _RecordingStream(_Inner(a, events))
        body = bytes(range(256)) * 40
        token = _sending.set(ticket)
        try:
            writing = asyncio.create_task(stream.write(body))
            await asyncio.sleep(0.1)
            assert events == [("write", body[:-TAIL])], "recorded while the socket was full"
            _drain(b)
            await asyncio.wait_for(writing, 5)
            await stream.write(b"more")  # disarmed: an ordinary write
        finally:
            _sending.reset(token)
    assert events == [("write", body[:-TAIL]), ("record",), ("write", body[-TAIL:]), ("write", b"more")]
    assert ticket.confirm is confirm and not ticket.armed


async def test_an_answer_through_the_bots_http_client_is_recorded_once_and_arrives_whole(unused_tcp_port):
    """The real client (PTB's HTTPXRequest beneath the bot) against a local server: the recording
    connection is the one in use, the record comes before the server has the whole body, and is
    confirmed after."""
    seen, events = [], []

    async def handler(request):
        seen.append((await request.read(), list(events)))
        return web.json_response({"ok": True, "result": True})

    app = web.Application(client_max_size=1 << 24)
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    client = AnsweringRequest()
    await client.initialize()

    async def confirm():
        events.append("confirmed")

    async def mark(_items):
        events.append("record")
        return confirm

    card = bytes(range(256)) * 2000  # a result card's size: many chunks
    data = RequestData(
        [
            RequestParameter.from_input("chat_id", 1),
            RequestParameter.from_input("photo", InputFile(card, filename="c.jpg")),
        ]
    )

    async def answer():
        answered.answering(mark)
        answered.final_reply()
        return await client.do_request(f"http://127.0.0.1:{unused_tcp_port}/sendPhoto", "POST", data)

    try:
        code, _ = await asyncio.create_task(answer())
        plain, _ = await client.do_request(f"http://127.0.0.1:{unused_tcp_port}/getMe", "POST", None)
    finally:
        await client.shutdown()
        await runner.cleanup()
    assert code == 200 and plain == 200
    assert card in seen[0][0] and seen[0][1][:1] == ["record"]  # whole, and recorded before it was whole
    assert seen[1][1] == ["record", "confirmed"]  # an ordinary request records nothing
    assert events == ["record", "confirmed"]


CHILD = """
import asyncio, os, sys
from telegram import InputFile
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter
from bot.delivery import exactly_once as answered
from bot.delivery.exactly_once import AnsweringRequest

async def main(url, size):
    client = AnsweringRequest()
    await client.initialize()
    await client.do_request(url + "/getMe", "POST", None)  # the connection is open: the answer's request goes at once

    async def confirm():
        pass

    async def mark(_items):
        print("recorded", flush=True)
        return confirm

    card = RequestData([RequestParameter.from_input("chat_id", 5), RequestParameter.from_input(
        "photo", InputFile(os.urandom(size), filename="card.jpg"))])
    answered.answering(mark)
    answered.final_reply()
    await client.do_request(url + "/sendPhoto", "POST", card)
    await asyncio.sleep(30)  # killed before this ends

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def test_an_answer_killed_as_it_reaches_telegram_is_recorded_exactly_when_telegram_carries_it_out():
    """The bot SIGKILLed as its answer's request reaches the fake Bot API, at several moments of the
    upload: an answer recorded and not carried out is lost; carried out and not recorded, sent twice."""
    import sys

    from bot.playground.fakeapi import FakeBotAPI

    outcomes = []
    # a card's size, and 16 MB: still on its way when the kill comes
    for size, delay in ((200_000, 0.0), (200_000, 0.005), (16_000_000, 0.0), (16_000_000, 0.001)):
        fake = await FakeBotAPI().start()
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, fake.api_base_url + fake.token, str(size), stdout=asyncio.subprocess.PIPE
        )

        async def kill(child=child, delay=delay):
            await asyncio.sleep(delay)
            child.kill()
            await child.wait()

        fake.hooks["sendPhoto"] = kill
        try:
            recorded = b"recorded" in await asyncio.wait_for(child.stdout.read(), 60)
            await asyncio.wait_for(child.wait(), 60)
            await asyncio.sleep(0.2)
        finally:
            await fake.stop()
        carried_out = any(s.method == "sendPhoto" for s in fake.sent)
        outcomes.append((size, delay, recorded, carried_out, fake.dropped))
    assert all(recorded == carried_out for _, _, recorded, carried_out, _ in outcomes), outcomes
    # both kinds of moment came: before the whole request had left (dropped), and after
    assert {carried for *_, carried, _ in outcomes} == {True, False}, outcomes
