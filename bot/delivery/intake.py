"""Durable intake: no update is confirmed to Telegram before it is recorded in the store, and none
is lost when the process dies.

- Polling: ``getUpdates`` confirms everything before its ``offset``, so the next call is made only
  after the last batch is committed to the store (a crash in between: Telegram delivers the batch
  again and the store recognises the ids). Webhook: the 200 is sent after the commit.
- Workers take recorded updates ``limit`` at a time, fair between users, and run the handlers on
  them; an update is marked done when its handlers have finished. The queue holds Telegram's JSON
  (file ids), never photo bytes: a photo is downloaded when a worker takes it, so a long queue
  costs no memory, and nobody is told "busy".
- After a crash, updates that were taken and not answered are answered on the next start. An update
  is recorded as answered as its answer's last bytes leave (``exactly_once.py`` says why there).
- A photo expected to wait gets "you're #12 in line, about 20 s" (``place_in_line.py``); one that
  waited longer than ``max_wait_s`` gets "please send it again".
- An album (photos sharing a ``media_group_id``) is one item of the queue: its worker waits until
  no photo of it has arrived for ``ALBUM_QUIET_S``, takes them all and answers once.
- Stopping: no new updates are taken, those in hand get ``grace_s`` to finish, the rest stay queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import warnings

from telegram import Update
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.warnings import PTBUserWarning

from ..config import ALLOWED_UPDATES
from ..messages import Album, album_of, has_image, lang
from ..scoring import CAREFUL
from ..store import Incoming, Queued, Store
from ..texts import text
from .exactly_once import answering
from .place_in_line import PlaceInLine, remove
from .sending import answer

log = logging.getLogger(__name__)
# getUpdates is read raw on purpose (see ``poll``); PTB would warn on every call
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)
POLL_TIMEOUT_S = 10
# Telegram hands out up to 100 updates per call; turning 100 into objects and starting their handlers
# was one ~70 ms stretch of the event loop in a burst (`python -m tools.loadtest`): 20 at a time keep it short
UPDATES_PER_POLL = 20
ALBUM_QUIET_S = 1.5  # Telegram delivers an album's photos within a second of each other
HOUSEKEEPING_S = 600  # answered rows and expired keys dropped this often, not only at start


class Intake:
    def __init__(
        self,
        application,
        store: Store,
        limit: int,
        max_wait_s: float,
        grace_s: float = 30.0,
        *,
        metrics,
        after_crash=None,
    ):
        self.application, self.store, self.metrics = application, store, metrics
        self.after_crash = after_crash  # called when the last run's unfinished updates were recovered
        self.limit, self.max_wait_s, self.grace_s = limit, max_wait_s, grace_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self.line = PlaceInLine(store, free=lambda: self.limit - len(self._tasks))

    # -- recording ----------------------------------------------------------------------------------
    async def record(self, updates: list[Update], unreadable: list[dict] = ()) -> int:
        """Commit updates to the store (before they are confirmed); returns how many were new.
        ``unreadable``: updates as Telegram sent them that could not be read; kept so they get an answer."""
        rows = [
            Incoming(u.update_id, u.effective_user.id if u.effective_user else None, u.to_json(), album_of(u))
            for u in updates
        ] + [Incoming(raw["update_id"], None, json.dumps(raw)) for raw in unreadable]
        new = await self.store.enqueue(rows) if rows else 0
        if new:
            self.metrics.updates.inc(new)
            self.metrics.photos.inc(sum(1 for u in updates if u.effective_message and has_image(u.effective_message)))
            self._wake.set()
            for update in updates:
                if update.effective_message and has_image(update.effective_message):
                    self.line.tell(update)
        return new

    async def poll(self) -> None:
        """Long-poll Telegram until stopped; each batch is recorded before the next call confirms it."""
        bot = self.application.bot
        await bot.delete_webhook(drop_pending_updates=False)
        # no remembered offset: ids are not trusted across bots (a new token, or a week without
        # updates, begins them anew). Telegram redelivers what it has not confirmed; the store knows
        # a re-delivery by its id and payload, and takes the same id with another payload as new.
        offset, pause = None, 1.0
        ask = {"timeout": POLL_TIMEOUT_S, "limit": UPDATES_PER_POLL, "allowed_updates": list(ALLOWED_UPDATES)}
        while not self._stopping.is_set():
            try:
                # raw, so one update this library cannot read does not stop every later one (PTB's
                # get_updates raises for the whole batch, and the same batch would come back forever)
                raw = await bot.do_api_request(
                    "getUpdates", api_kwargs={**ask, "offset": offset}, read_timeout=POLL_TIMEOUT_S + 10
                )
            except TimedOut:
                continue
            except (NetworkError, TelegramError) as exc:  # Telegram or the network is down: try again, slower
                log.warning("getUpdates failed (%s); retrying in %.0f s", type(exc).__name__, pause)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), pause)
                pause = min(pause * 2, 30.0)
                continue
            pause = 1.0
            if raw:
                await self.record(*_parse(raw, bot))
                offset = max(item["update_id"] for item in raw) + 1

    # -- working ------------------------------------------------------------------------------------
    async def work(self) -> None:
        """Run handlers on recorded updates, at most ``limit`` at once, until stopped."""
        recovered = await self.store.recover()
        if recovered:
            log.info("answering %d updates left unfinished by the last run", recovered)
            if self.after_crash is not None:
                self.after_crash()
        measured, kept = 0.0, time.monotonic()
        while not self._stopping.is_set():
            if time.monotonic() - measured > 1.0:
                measured = time.monotonic()
                self.metrics.queue.set(await self.store.queued())
                self.metrics.store_memory.set(await self.store.memory_use())
            if time.monotonic() - kept > HOUSEKEEPING_S:
                kept = time.monotonic()
                try:
                    await self.store.housekeeping()
                except Exception as exc:  # noqa: BLE001 - housekeeping waits for the next round
                    log.warning("housekeeping failed: %s", type(exc).__name__)
            self._wake.clear()  # before taking: whatever arrives after the take wakes the wait below
            free = self.limit - len(self._tasks)
            for queued in await self.store.take(free) if free > 0 else []:
                task = asyncio.create_task(self._handle(queued))
                self._tasks.add(task)
                task.add_done_callback(self._finished)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def _handle(self, queued: Queued) -> None:
        items, ticket = [queued], None
        try:
            if queued.album:
                items = await self._whole_album(queued) or items
            # this task's replies mark them done when sent, and undo that when Telegram refuses them
            ticket = answering(self._mark, self.store.undo_done, self.store.accepted, items)
            if any(item.tries for item in items):
                log.warning("update %s was in hand when a process ended: its file is read apart", queued.update_id)
                CAREFUL.set(True)  # this task's own context: the handlers' reads go to a child process
            for item in items:
                await self.store.release_note(item.user_id or 0, item.update_id)
            updates = await self._read(items)
            if updates:
                await self._dispatch(items, updates)
        except asyncio.CancelledError:
            raise  # cut off while stopping: stays taken, and is answered after the restart
        except Exception as exc:  # a broken update must not stop the queue; handlers answer their own errors
            log.error("update %s could not be handled: %s: %s", queued.update_id, type(exc).__name__, exc)
        if ticket is None or not (ticket.handed_over or ticket.recorded):  # handed over: the outbox records it
            await self.store.done(*items)
        self.line.answered(len(items))

    async def _read(self, items: list[Queued]) -> list[Update]:
        """The recorded updates as objects; none when the library cannot read them (that is answered)."""
        try:
            return [Update.de_json(json.loads(item.payload), self.application.bot) for item in items]
        except Exception as exc:  # noqa: BLE001 - whatever the library cannot read still gets an answer
            log.error("update %s could not be read: %s", items[0].update_id, type(exc).__name__)
            await self._unreadable(json.loads(items[0].payload))
            return []

    async def _dispatch(self, items: list[Queued], updates: list[Update]) -> None:
        for item, update in zip(items, updates):
            if item.notice and update.effective_chat:  # its turn has come: the "in line" note is done
                await remove(self.application.bot, update.effective_chat.id, item.notice)
        update, waited = updates[0], time.time() - min(item.received for item in items)
        if waited > self.max_wait_s and update.effective_message and has_image(update.effective_message):
            await self._too_late(update)
        else:  # an album is one update to the handlers (``TypeHandler(Album, ...)``)
            await self.application.process_update(Album(updates) if len(updates) > 1 else update)

    async def _mark(self, items: list[Queued]):
        """Records ``items`` as answered (one store write), and how long each waited for its answer."""
        now = time.time()
        for item in items:
            self.metrics.reply.observe(now - item.received)
        return await self.store.send_done(items)

    async def _whole_album(self, queued: Queued) -> list[Queued]:
        """Wait until the album's photos stop arriving, then take them all."""
        while (wait := await self.store.album_last(queued.album) + ALBUM_QUIET_S - time.time()) > 0:
            await asyncio.sleep(wait)
        return await self.store.take_album(queued)

    async def _unreadable(self, raw: dict) -> None:
        """An update the library could not read: if it came from a chat, say something went wrong."""
        chat_id = next(
            (v["chat"]["id"] for v in raw.values() if isinstance(v, dict) and isinstance(v.get("chat"), dict)), None
        )
        if chat_id is None:
            return
        user = next((v["from"] for v in raw.values() if isinstance(v, dict) and isinstance(v.get("from"), dict)), {})
        try:
            await answer(lambda: self.application.bot.send_message(chat_id, text(user.get("language_code"), "error")))
        except TelegramError as exc:
            log.warning("could not answer an unreadable update: %s", type(exc).__name__)

    async def _too_late(self, update: Update) -> None:
        minutes = max(1, round(self.max_wait_s / 60))
        self.metrics.refused.labels("too_late").inc()
        body = text(lang(update), "too_late", minutes=minutes)
        await answer(lambda: update.effective_message.reply_text(body, do_quote=True))

    # -- stopping -----------------------------------------------------------------------------------
    async def stop(self) -> None:
        """Take nothing new; give what is in hand ``grace_s`` to finish; leave the rest queued."""
        self._stopping.set()
        self._wake.set()
        if self._tasks:
            done, pending = await asyncio.wait(set(self._tasks), timeout=self.grace_s)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("%d updates did not finish in %.0f s; they stay queued", len(pending), self.grace_s)
                await asyncio.gather(*pending, return_exceptions=True)
        left = await self.store.queued()
        if left:
            log.info("%d updates stay queued for the next start", left)


def _parse(raw: list[dict], bot) -> tuple[list[Update], list[dict]]:
    """Telegram's updates as objects, and apart, those this library could not read."""
    updates, unreadable = [], []
    for item in raw:
        try:
            updates.append(Update.de_json(item, bot))
        except Exception as exc:  # noqa: BLE001 - a newer Bot API field, a malformed update
            log.error("update %s could not be read: %s", item.get("update_id"), type(exc).__name__)
            unreadable.append(item)
    return updates, unreadable
