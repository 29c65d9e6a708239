"""What the bot keeps about players and chats: best scores, a chat's settings, each user's answers
over time, their last result card and short-lived keys ("why?" buttons, share links)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from .records import WHY_TTL_S, Forgotten, History


class Game(ABC):
    # -- each player's best score per label, per chat -----------------------------------------------
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

    # here, not in the queue: most of what it erases is the player's; it also clears their answered updates
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
    async def remember(self, key: str, file_id: str, ttl_s: float = WHY_TTL_S, user_id: int | None = None) -> None:
        """Keep a short value under a short key (a "why?" button's photo file id and owner, a share
        link's numbers); with ``user_id`` it is theirs, and ``forget`` erases it."""

    @abstractmethod
    async def recall(self, key: str) -> str | None: ...
