"""The README stays a five-minute read about the product as it is, and every page and module it sends a
reader to exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_short_and_undated():
    assert len(README.splitlines()) <= 150
    assert not re.findall(r"\b20\d\d-\d\d-\d\d\b", README), "dates belong in commit messages"


def test_every_linked_page_and_named_module_exists():
    for link in re.findall(r"\]\(([^)#]+)\)", README):
        assert (ROOT / link).exists(), link
    pages = [README, *(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))]
    for module in {m for page in pages for m in re.findall(r"python -m ([a-z_][a-z_.]*)", page)}:
        assert importlib.util.find_spec(module) is not None, f"python -m {module}"
