"""Sliding windows: each user's photo allowance, and Telegram's flood limits shared by every process
sending as the bot."""

from __future__ import annotations

from abc import ABC, abstractmethod


class Limits(ABC):
    # whether ``reserve``'s and ``claim``'s windows outlive the process (Redis), or live in its memory
    windows_outlive_restarts = False

    @abstractmethod
    async def hit(self, user_id: int, limit: int, window_s: float, token: str, kind: str = "") -> float:
        """Count one photo (``token``: its update) against the user's allowance: 0 if allowed, else
        seconds to wait. The same token again (an update handled again after a crash) is not
        counted twice. ``kind`` names another allowance of the same id ("chat": a group's photos)."""

    @abstractmethod
    async def reserve(self, key: str, limit: int, period_s: float, spend: bool = True) -> float:
        """0 if fewer than ``limit`` were spent under ``key`` in the last ``period_s`` (and, with
        ``spend``, spend one now); else the seconds until one frees up."""

    @abstractmethod
    async def claim(self, key: str, limit: int, period_s: float, hold_s: float) -> tuple[float, str | None]:
        """``reserve`` for a message whose moment Telegram counts is not known yet (it counts on
        arrival): the claim counts from now until ``settle`` stamps it (``hold_s`` at most), then for
        ``period_s``. Returns (0, token) when claimed, else (seconds to wait at most, None)."""

    @abstractmethod
    async def settle(self, key: str, token: str) -> None:
        """The claimed message has been answered by Telegram: it counts from now."""
