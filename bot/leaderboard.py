"""Per-chat best scores for /top: display names and numbers only, saved atomically."""

from __future__ import annotations

from pathlib import Path

from .store import JsonFile


class Leaderboard:
    def __init__(self, path: Path):
        self._file = JsonFile(path)

    def record(self, chat_id: int, user_id: int, name: str, probabilities: dict[str, float]) -> None:
        with self._file.lock:
            chat = self._file.data.setdefault(str(chat_id), {})
            player = chat.setdefault(str(user_id), {"name": name, "best": {}})
            player["name"] = name
            for label, p in probabilities.items():
                player["best"][label] = max(player["best"].get(label, 0.0), round(float(p), 4))
            self._file.save()

    def top(self, chat_id: int, label: str, n: int = 3) -> list[tuple[str, float]]:
        with self._file.lock:
            players = list(self._file.data.get(str(chat_id), {}).values())
        ranked = sorted(((p["name"], p["best"].get(label, 0.0)) for p in players), key=lambda x: -x[1])
        return ranked[:n]
