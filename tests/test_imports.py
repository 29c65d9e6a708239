"""The architecture in the import graph: bot -> classifier <- training, tools on top of them all, no cycle
between modules (an import inside a function counts too: it is a cycle all the same)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "classifier", "training", "tools")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The project's modules ``path`` imports, anywhere in it."""
    name, found = module_name(path), set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m.split(".")[0] in PACKAGES}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        edges[name] = {m for m in imports_of(path) if m in modules and m != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_back_into_one_that_imports_it():
    edges = graph()
    # a package imports its own modules in __init__ (which import nothing back but siblings): not a cycle
    found = [c for c in cycles({k: {m for m in v if not k.startswith(m + ".")} for k, v in edges.items()})]
    assert not found, found


def test_dependencies_point_one_way():
    for name, targets in graph().items():
        top = name.split(".")[0]
        allowed = {"bot": {"bot", "classifier"}, "classifier": {"classifier"}, "training": {"training", "classifier"}}
        if top in allowed:
            wrong = {t for t in targets if t.split(".")[0] not in allowed[top]}
            assert not wrong, f"{name} imports {sorted(wrong)}"


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# inside bot/: the handlers call down into delivery and the store; nothing below calls back up
BELOW_HANDLERS = ("bot.delivery", "bot.store", "bot.messages", "bot.scoring", "bot.texts", "bot.phrases", "bot.config")


def test_nothing_below_the_handlers_imports_them():
    for name, targets in graph().items():
        if name.startswith(BELOW_HANDLERS):
            up = {t for t in targets if t.startswith(("bot.handlers", "bot.app"))}
            assert not up, f"{name} imports {sorted(up)}"


def test_the_store_knows_nothing_of_telegram_delivery():
    for name, targets in graph().items():
        if name.startswith("bot.store"):
            wrong = {t for t in targets if not t.startswith(("bot.store", "bot.config"))}
            assert not wrong, f"{name} imports {sorted(wrong)}"


def test_no_module_of_the_bot_outgrows_a_readers_sitting():
    big = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "bot").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 300
    }
    assert not big, f"split these by concern: {big}"
