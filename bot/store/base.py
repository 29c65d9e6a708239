"""The one interface every backend implements; handlers never know which one runs.

All methods are coroutines: the embedded SQLite backend answers in well under a millisecond on
the loop, the Redis backend over the network. Every backend keeps numbers and Telegram's JSON
(file ids), never photo bytes.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


WHY_TTL_S = 7 * 24 * 3600  # a "why?" button works for a week (Telegram keeps file ids much longer)
SHARE_TTL_S = 30 * 24 * 3600  # a share link's numbers


@dataclass(frozen=True)
class History:
    """A user's past answers on their own face: how many, and the running share of each label."""

    count: int
    mean: dict[str, float]  # label -> mean probability over the answers

    @property
    def empty(self) -> bool:
        return self.count == 0


@dataclass(frozen=True)
class Forgotten:
    answers: int
    leaderboard_entries: int
    settings: int
    others: int = 0  # "why?" buttons, share links, the last result card

    @property
    def total(self) -> int:
        return self.answers + self.leaderboard_entries + self.settings + self.others


@dataclass(frozen=True)
class Incoming:
    """An update to record: Telegram's JSON, who sent it, and the album it belongs to (if any)."""

    update_id: int
    user_id: int | None
    payload: str
    album: str | None = None  # "<chat id>:<media_group_id>": an album's photos are answered together

    @property
    def digest(self) -> str:
        """What tells a re-delivery (the same payload) from another bot's update under the same id."""
        return hashlib.sha256(self.payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Queued:
    """A recorded update waiting for (or taken by) a worker: Telegram's JSON, never photo bytes."""

    update_id: int
    payload: str
    received: float  # time.time() when it was recorded
    notice: int | None = None  # the "you're #12 in line" message sent for it, to remove when answered
    user_id: int | None = None
    album: str | None = None  # set: this stands for its whole album; ``take_album`` gives every photo
    ref: str | None = None  # the backend's own handle (a stream entry id), passed back to ``done``
    tries: int = 0  # times a process took it and ended before answering it (a crash; maybe this update's file)


class Store(ABC):
    # whether ``reserve``'s and ``claim``'s windows outlive the process (Redis); the default keeps them in memory
    windows_outlive_restarts = False

    # -- the durable queue of incoming updates ------------------------------------------------------
    @abstractmethod
    async def enqueue(self, updates: list[Incoming]) -> int:
        """Record updates durably; an id seen before is ignored. Returns how many were new."""

    @abstractmethod
    async def take(self, n: int) -> list[Queued]:
        """Up to ``n`` pending updates, fair between users (everyone's first before anyone's
        second). An album comes as one item (its first photo) with ``album`` set."""

    @abstractmethod
    async def album_last(self, album: str) -> float:
        """When the album's newest photo was recorded (time.time()), to wait for the rest of it."""

    @abstractmethod
    async def take_album(self, queued: Queued) -> list[Queued]:
        """Every photo of the album ``queued`` (from ``take``) stands for, itself included, all
        taken; photos of it that arrive later make a new album item."""

    async def done(self, *items: Queued) -> None:
        """The updates are answered (in one write): they are never handed out again."""
        await (await self.send_done(list(items)))()
        await self.accepted(list(items))

    @abstractmethod
    async def send_done(self, items: list[Queued]) -> Callable[[], Awaitable[None]]:
        """Record ``items`` as answered, all in one write (one answer for several updates: a kill
        must not leave some recorded and the answer unsent). Returns as soon as the record has left
        this process (committed to the file; written to the server's socket), with a function that
        waits for the server to confirm it: an answer's last bytes follow at once (``bot/answered.py``)."""

    @abstractmethod
    async def undo_done(self, items: list[Queued]) -> None:
        """Telegram did not accept the answer recorded by ``send_done``: ``items`` are this worker's
        again (answered after a crash, recorded again by the retry)."""

    async def accepted(self, items: list[Queued]) -> None:  # noqa: B027 - most stores have nothing to add
        """Telegram accepted the answer recorded by ``send_done`` (a store may finish the record now)."""

    @abstractmethod
    async def position(self, update_id: int) -> int:
        """Where a queued update stands in the fair order (1: next); 0 when it is no longer waiting."""

    @abstractmethod
    async def set_notice(self, update_id: int, message_id: int) -> bool:
        """Remember the "in line" message sent for a waiting update; False once a worker has taken it."""

    @abstractmethod
    async def recover(self) -> int:
        """Updates taken but never done (a crash) go back to the queue, their ``tries`` counted.
        Returns how many."""

    @abstractmethod
    async def queued(self) -> int:
        """How many updates wait to be taken."""

    async def memory_use(self) -> float:
        """How full the store is (Redis: used memory over ``maxmemory``); 0 when it has no limit."""
        return 0.0

    async def housekeeping(self) -> int:
        """Drop what has outlived its keep (answered updates' ids, expired keys); returns how many went.
        Called every ``HOUSEKEEPING_S`` by the intake. Redis expires its own keys: nothing to do there."""
        return 0

    # -- the game: each player's best score per label, per chat -----------------------------------
    @abstractmethod
    async def record_score(self, chat_id: int, user_id: int, name: str, probabilities: dict[str, float]) -> None: ...

    @abstractmethod
    async def top(self, chat_id: int, label: str, n: int = 3) -> list[tuple[str, float]]: ...

    # -- per-chat settings ------------------------------------------------------------------------
    @abstractmethod
    async def cards(self, chat_id: int) -> bool:
        """Answer with a picture card (default) or text only."""

    @abstractmethod
    async def set_cards(self, chat_id: int, on: bool) -> None: ...

    # -- each user's answers over time --------------------------------------------------------------
    @abstractmethod
    async def add_answer(self, user_id: int, probabilities: dict[str, float]) -> History:
        """Keep one answer (numbers only) and return the user's history including it."""

    @abstractmethod
    async def history(self, user_id: int) -> History: ...

    @abstractmethod
    async def forget(self, user_id: int) -> Forgotten:
        """Erase everything kept about a user: answers, leaderboard entries, their private chat's
        settings, their last result card, their "why?" keys and share links, and what the queue
        still holds of their answered updates (unanswered ones stay whole, to be answered). Rate
        limits stay: forgetting must not reset an abuse limit."""

    @abstractmethod
    async def set_last_card(self, user_id: int, file_id: str, caption: str) -> None:
        """The user's latest result card (Telegram's file id of the picture we sent, and its caption),
        offered to them in inline mode."""

    @abstractmethod
    async def last_card(self, user_id: int) -> tuple[str, str] | None: ...

    # -- short-lived keys -------------------------------------------------------------------------------
    @abstractmethod
    async def hit(self, user_id: int, limit: int, window_s: float, token: str, kind: str = "") -> float:
        """Count one photo (``token``: its update) against the user's allowance: 0 if allowed, else
        seconds to wait. The same token again (an update handled again after a crash) is not
        counted twice. ``kind`` names another allowance of the same id ("chat": a group's photos)."""

    @abstractmethod
    async def remember(self, key: str, file_id: str, ttl_s: float = WHY_TTL_S, user_id: int | None = None) -> None:
        """Keep a short value under a short key (a "why?" button's photo file id and owner, a share
        link's numbers); with ``user_id`` it is theirs, and ``forget`` erases it."""

    @abstractmethod
    async def recall(self, key: str) -> str | None: ...

    @abstractmethod
    async def ping(self) -> bool:
        """The store answers (for /readyz)."""

    # -- one "you're #12 in line" note per user at a time, whichever process sends it ---------------
    async def claim_note(self, user_id: int, update_id: int) -> bool:
        """True (and the user's note slot is held for ``update_id``) if no note of theirs is up."""
        notes = self.__dict__.setdefault("_notes", {})
        if user_id in notes:
            return False
        notes[user_id] = update_id
        return True

    async def release_note(self, user_id: int, update_id: int) -> None:
        notes = self.__dict__.setdefault("_notes", {})
        if notes.get(user_id) == update_id:
            del notes[user_id]

    # -- sliding windows shared by every process sending as the bot (Telegram's flood limits) --------
    async def reserve(self, key: str, limit: int, period_s: float, spend: bool = True) -> float:
        """0 if fewer than ``limit`` were spent under ``key`` in the last ``period_s`` (and, with
        ``spend``, spend one now); else the seconds until one frees up. One process: kept in memory."""
        windows = self.__dict__.setdefault("_windows", {})
        now = time.monotonic()
        spent = windows.get(key)
        while spent and spent[0] <= now - period_s:
            spent.popleft()
        if spent and len(spent) >= limit:
            return spent[0] + period_s - now
        if spend:
            windows.setdefault(key, deque()).append(now)
        elif not spent:
            windows.pop(key, None)  # idle chats cost no memory
        return 0.0

    async def claim(self, key: str, limit: int, period_s: float, hold_s: float) -> tuple[float, str | None]:
        """``reserve`` for a message whose moment Telegram counts is not known yet (it counts on
        arrival): the claim counts from now until ``settle`` stamps it (``hold_s`` at most), then for
        ``period_s``. Returns (0, token) when claimed, else (seconds to wait at most, None)."""
        claims = self.__dict__.setdefault("_claims", {}).setdefault(key, {})
        now = time.monotonic()
        for token, at in list(claims.items()):
            if at <= now - period_s:
                del claims[token]
        if len(claims) >= limit:
            return min(claims.values()) + period_s - now, None
        counter = self.__dict__.setdefault("_claimed", itertools.count())
        token = str(next(counter))
        claims[token] = now + hold_s
        return 0.0, token

    async def settle(self, key: str, token: str) -> None:
        """The claimed message has been answered by Telegram: it counts from now."""
        claims = self.__dict__.get("_claims", {}).get(key, {})
        if token in claims:
            claims[token] = time.monotonic()

    # -- one message to every process serving the bot (a model reload) ------------------------------
    def on_broadcast(self, callback: Callable[[str], Awaitable[None]]) -> None:
        """Call ``callback(message)`` for every broadcast, from any replica (this one included)."""
        self.__dict__.setdefault("_listeners", []).append(callback)

    async def broadcast(self, message: str) -> None:
        """Deliver to every replica's listeners; one process: straight to its own."""
        await self._deliver(message)

    async def _deliver(self, message: str) -> None:
        for callback in self.__dict__.get("_listeners", []):
            try:
                await callback(message)
            except Exception as exc:  # one listener's failure must not silence the others
                log.error("a broadcast listener failed: %s: %s", type(exc).__name__, exc)

    async def close(self) -> None:  # noqa: B027 - optional for backends without resources
        pass
