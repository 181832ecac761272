"""No production module imports testing code, and the local stack's modules keep their layers
(docs/architecture.md, "Rules the tests keep").

Modules are parsed, not imported: importing would run them, and an import inside a function
(the lazy kind) counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_PACKAGES = ("app", "ui", "sync", "audio", "server")
# Testing helpers kept beside production code so benchmarks can use them; they may import each
# other, nothing else in the packages above may import them.
TESTING_MODULES = ("server.db.testing", "server.webhooks.testing")
FORBIDDEN_PACKAGES = ("tests",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module name an import statement anywhere in `tree` names, relative ones resolved;
    `from a import b` yields both `a` and `a.b`, since `b` may be a module."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def _forbidden(name: str) -> bool:
    return any(
        name == banned or name.startswith(f"{banned}.")
        for banned in TESTING_MODULES + FORBIDDEN_PACKAGES
    )


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    tree = ast.parse(source)
    return sorted(name for name in _imported(tree, module, is_package) if _forbidden(name))


def _production_modules() -> list[Path]:
    return sorted(
        path
        for package in PRODUCTION_PACKAGES
        for path in (REPO_ROOT / package).rglob("*.py")
        if _module_name(path) not in TESTING_MODULES
    )


def test_no_production_module_imports_testing_code():
    modules = _production_modules()
    assert len(modules) > 50, "the walk found too few modules: is REPO_ROOT right?"
    found = {
        str(path.relative_to(REPO_ROOT)): bad
        for path in modules
        if (bad := violations(path.read_text(), _module_name(path), path.name == "__init__.py"))
    }
    assert found == {}


def test_the_check_sees_every_form_of_import():
    bad = """
import server.db.testing
from server.db import testing
from server.webhooks.testing import Receiver
import tests.stack_fixtures

def later():
    from tests import conftest
"""
    assert violations(bad, "server.example") == [
        "server.db.testing",
        "server.webhooks.testing",
        "server.webhooks.testing.Receiver",
        "tests",
        "tests.conftest",
        "tests.stack_fixtures",
    ]
    assert violations("from ..db import testing", "server.stack.example") == ["server.db.testing"]
    assert violations("from . import testing", "server.db", is_package=True) == [
        "server.db.testing"
    ]
    fine = "from server.db.scratch import migrated_database\nimport server.db.testing_notes"
    assert violations(fine, "server.example") == []


def _stack_imports(name: str) -> set[str]:
    path = REPO_ROOT / "server" / "stack" / f"{name}.py"
    return _imported(ast.parse(path.read_text()), f"server.stack.{name}", name == "__init__")


def test_stack_package_init_imports_nothing():
    # Importing any server.stack module must not load the Starlette app.
    assert _stack_imports("__init__") == set()


def test_simple_and_resumable_uploads_do_not_import_each_other():
    assert "server.stack.resumable" not in _stack_imports("storage")
    assert "server.stack.storage" not in _stack_imports("resumable")


def test_the_request_context_depends_on_no_api():
    apis = {f"server.stack.{name}" for name in ("app", "rest", "storage", "resumable", "auth")}
    assert _stack_imports("context") & apis == set()
    assert _stack_imports("storage_objects") & apis == set()
    for name in ("rest", "storage", "resumable", "auth", "auth_mail"):
        assert "server.stack.app" not in _stack_imports(name), name
