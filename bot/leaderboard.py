"""Per-chat best scores for /top. Stores display names and numbers only, never photos.

Every update rewrites one small JSON file atomically (temp file, fsync, rename), so a crash
leaves either the old or the new board, never a torn one.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path


class Leaderboard:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, dict]] = self._read()

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError):
            # keep the unreadable file aside for a human instead of overwriting it
            self.path.replace(self.path.with_suffix(".corrupt"))
            return {}

    def record(self, chat_id: int, user_id: int, name: str, probabilities: dict[str, float]) -> None:
        with self._lock:
            player = self._data.setdefault(str(chat_id), {}).setdefault(str(user_id), {"name": name, "best": {}})
            player["name"] = name
            for label, p in probabilities.items():
                player["best"][label] = max(player["best"].get(label, 0.0), round(float(p), 4))
            self._write()

    def top(self, chat_id: int, label: str, n: int = 3) -> list[tuple[str, float]]:
        with self._lock:
            players = self._data.get(str(chat_id), {}).values()
            ranked = sorted(((p["name"], p["best"].get(label, 0.0)) for p in players), key=lambda x: -x[1])
        return ranked[:n]

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".leaderboard-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self._data, f, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
