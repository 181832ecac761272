"""The client's structure rules (docs/architecture.md), checked by reading the code."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QT_FREE_UI_LINES = 40
SYNC_FILE_LINES = 600
# Names under which code holds a Session or a Cache (attributes and variables).
_HOLDER = re.compile(r"^_?(session|cache)$|_(session|cache)$", re.I)


def _modules(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((REPO / folder).rglob("*.py"))


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_every_ui_module_of_substance_uses_qt():
    """A Qt-free module in ui/ is client core in the wrong place (it belongs in app/client/)."""
    misplaced = []
    for path in _modules("ui"):
        text = path.read_text(encoding="utf-8")
        qt = any(name.startswith("PySide6") for name in _imports(ast.parse(text)))
        if len(text.splitlines()) > QT_FREE_UI_LINES and not qt:
            misplaced.append(str(path.relative_to(REPO)))
    assert misplaced == []


def test_no_sync_module_is_over_600_lines():
    long = {
        str(p.relative_to(REPO)): n
        for p in _modules("sync")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > SYNC_FILE_LINES
        and p.name != "db_types.py"  # generated
    }
    assert long == {}


def _private_uses(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__"):
            continue
        holder = node.value
        if isinstance(holder, ast.Name) and holder.id in {"Session", "Cache"}:
            yield f"{path.relative_to(REPO)}:{node.lineno} {holder.id}.{node.attr}"
        elif isinstance(holder, ast.Name | ast.Attribute):
            name = holder.id if isinstance(holder, ast.Name) else holder.attr
            if name != "self" and _HOLDER.search(name):
                yield f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node)}"


def test_nobody_reaches_a_private_member_of_session_or_cache():
    """Callers use what Session and Cache make public (Session.rpc, Session.download, the
    cache's methods); their own modules may use their privates through `self` only."""
    found = [
        use
        for path in _modules("app", "ui", "sync", "audio", "server", "bench", "tests")
        for use in _private_uses(path)
    ]
    assert found == []


def test_the_private_member_check_sees_the_forms_it_looks_for(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "backend._session._stored()\nSession._call(f)\nengine.cache._owner\nself._cache.db\n"
    )
    found = [line.split(" ", 1)[1] for line in _private_uses_at(sample)]
    assert found == ["backend._session._stored", "Session._call", "engine.cache._owner"]


def _private_uses_at(path: Path) -> list[str]:
    global REPO
    saved, REPO = REPO, path.parent
    try:
        return sorted(_private_uses(path), key=lambda use: int(use.split(":")[1].split()[0]))
    finally:
        REPO = saved
