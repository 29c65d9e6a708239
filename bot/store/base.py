"""The one interface every backend implements; handlers never know which one runs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


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

    @property
    def total(self) -> int:
        return self.answers + self.leaderboard_entries + self.settings


@dataclass(frozen=True)
class Queued:
    """A recorded update waiting for (or taken by) a worker: Telegram's JSON, never photo bytes."""

    update_id: int
    payload: str
    received: float  # time.time() when it was recorded
    notice: int | None = None  # the "you're #12 in line" message sent for it, to remove when answered
    user_id: int | None = None


class Store(ABC):
    # -- the durable queue of incoming updates ------------------------------------------------------
    @abstractmethod
    def enqueue(self, updates: list[tuple[int, int | None, str]]) -> int:
        """Record (update_id, user_id, JSON) durably; an id seen before is ignored. Returns how many were new."""

    @abstractmethod
    def take(self, n: int) -> list[Queued]:
        """Up to ``n`` pending updates, fair between users (everyone's first before anyone's second)."""

    @abstractmethod
    def done(self, update_id: int) -> None: ...

    @abstractmethod
    def position(self, update_id: int) -> int:
        """Where a queued update stands in the fair order (1: next); 0 when it is no longer waiting."""

    @abstractmethod
    def set_notice(self, update_id: int, message_id: int) -> bool:
        """Remember the "in line" message sent for a waiting update; False once a worker has taken it."""

    @abstractmethod
    def recover(self) -> int:
        """After a crash: updates taken but never done go back to the queue. Returns how many."""

    @abstractmethod
    def queued(self) -> int:
        """How many updates wait to be taken."""

    @abstractmethod
    def last_update_id(self) -> int | None:
        """The newest update recorded, so polling resumes after it."""

    # -- the game: each player's best score per label, per chat -----------------------------------
    @abstractmethod
    def record_score(self, chat_id: int, user_id: int, name: str, probabilities: dict[str, float]) -> None: ...

    @abstractmethod
    def top(self, chat_id: int, label: str, n: int = 3) -> list[tuple[str, float]]: ...

    # -- per-chat settings ------------------------------------------------------------------------
    @abstractmethod
    def cards(self, chat_id: int) -> bool:
        """Answer with a picture card (default) or text only."""

    @abstractmethod
    def set_cards(self, chat_id: int, on: bool) -> None: ...

    # -- each user's answers over time --------------------------------------------------------------
    @abstractmethod
    def add_answer(self, user_id: int, probabilities: dict[str, float]) -> History:
        """Keep one answer (numbers only) and return the user's history including it."""

    @abstractmethod
    def history(self, user_id: int) -> History: ...

    @abstractmethod
    def forget(self, user_id: int) -> Forgotten:
        """Erase everything kept about a user: answers, leaderboard entries, their private chat's settings."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        pass
