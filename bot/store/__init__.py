"""Where the bot's state lives: leaderboards, chat settings and each user's past answers (numbers
only, never photos). ``base.Store`` is the interface handlers use; ``open_store`` picks the backend."""

from pathlib import Path

from .base import History, Store


def open_store(state_dir: Path) -> Store:
    """The embedded default: one SQLite file in ``state_dir`` (older JSON files are migrated)."""
    from .sqlite import SQLiteStore

    return SQLiteStore(Path(state_dir) / "mirror.sqlite3")


__all__ = ["History", "Store", "open_store"]
