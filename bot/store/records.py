"""What the store hands in and out: plain frozen records, numbers and Telegram's JSON (file ids),
never photo bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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
