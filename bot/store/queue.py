"""The durable queue of incoming updates: recorded before anything is answered, handed out fairly,
recorded answered in the same write as the answer leaves, taken again after a crash."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from .records import Incoming, Queued


class Queue(ABC):
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
        waits for the server to confirm it: an answer's last bytes follow at once (``bot/delivery/exactly_once.py``)."""

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

    async def housekeeping(self) -> int:
        """Drop what has outlived its keep (answered updates' ids, expired keys); returns how many went.
        Called every ``HOUSEKEEPING_S`` by the intake. Redis expires its own keys: nothing to do there."""
        return 0

    # -- one "you're #12 in line" note per user at a time, whichever process sends it ---------------
    @abstractmethod
    async def claim_note(self, user_id: int, update_id: int) -> bool:
        """True (and the user's note slot is held for ``update_id``) if no note of theirs is up."""

    @abstractmethod
    async def release_note(self, user_id: int, update_id: int) -> None: ...
