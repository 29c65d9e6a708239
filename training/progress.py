"""Progress bars for the long loops of a rebuild (tqdm: a bar, a rate and a time estimate per loop).

Off with ``python -m training --no-progress`` (one line per stage instead), and whenever the output is
not a terminal, so logs of a scheduled run stay readable.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_enabled = True


def enable(on: bool) -> None:
    global _enabled
    _enabled = on


def steps(items: Iterable[T], what: str, total: int | None = None) -> Iterator[T]:
    """``items`` with a bar (what, count, rate, elapsed and time left) on stderr."""
    if not (_enabled and sys.stderr.isatty()):
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, desc=what, total=total, unit="photo", leave=False, dynamic_ncols=True)


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"
