"""Small JSON state files (leaderboard, chat settings) that survive restarts and crashes.

Every change rewrites the file atomically (temp file, fsync, rename): a crash leaves either the
old or the new content, never a torn file. Only names, numbers and settings go here; photos never.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path


class JsonFile:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = threading.Lock()
        self.data: dict = self._read()

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError):
            # keep the unreadable file aside for a human instead of overwriting it
            self.path.replace(self.path.with_suffix(".corrupt"))
            return {}

    def save(self) -> None:
        """Call with ``lock`` held."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.data, f, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class ChatSettings:
    """Per-chat choices; for now whether answers come as a picture card or as text."""

    def __init__(self, path: Path):
        self._file = JsonFile(path)

    def cards(self, chat_id: int) -> bool:
        return self._file.data.get(str(chat_id), {}).get("cards", True)

    def set_cards(self, chat_id: int, on: bool) -> None:
        with self._file.lock:
            self._file.data.setdefault(str(chat_id), {})["cards"] = on
            self._file.save()
