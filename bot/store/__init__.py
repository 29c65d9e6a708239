"""Where the bot's state lives: the queue of incoming updates, leaderboards, chat settings, each
user's past answers (numbers only, never photos), rate limits and "why?" keys.

``base.Store`` is the interface handlers use, one part per concern (``queue``, ``game``, ``limits``,
``bus``); ``open_store`` picks the backend: one SQLite file in STATE_DIR by default, Redis when
REDIS_URL is set (several replicas share it)."""

from pathlib import Path

from .base import SHARE_TTL_S, WHY_TTL_S, Forgotten, History, Incoming, Queued, Store


def open_store(state_dir: Path, redis_url: str | None = None, replica: str = "bot", reclaim_s: float = 30.0) -> Store:
    if redis_url:
        from .redis import RedisStore

        return RedisStore(redis_url, consumer=replica, reclaim_s=reclaim_s)
    from .sqlite import SQLiteStore

    return SQLiteStore(Path(state_dir) / "mirror.sqlite3")


__all__ = ["SHARE_TTL_S", "WHY_TTL_S", "Forgotten", "History", "Incoming", "Queued", "Store", "open_store"]
