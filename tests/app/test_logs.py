"""The log: secrets never reach it, the file rotates, and event names keep one style."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from app import logs
from app.logs import REDACTED, configure_logging

REPO = Path(__file__).resolve().parents[2]
# A real shape of token: header.payload.signature of an HS256 JWT.
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ0cmFpbmVlIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQifQ."
    "c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
)


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "logs" / "coachdesk.log"
    configure_logging("INFO", to_file=True, log_file=path)
    yield path
    configure_logging("INFO")


def test_secrets_never_reach_the_log_by_name_or_by_shape(log_file):
    log = structlog.get_logger("test")
    log.info("signed in", access_token=JWT, password="hunter2", org_id="org-1")
    log.info("request failed", url=f"https://example.test/x?token={JWT}", status=401)
    log.info(f"header was Bearer {JWT}")
    log.warning("webhook rotated", detail="new secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    written = log_file.read_text()
    assert JWT not in written and "hunter2" not in written and "whsec_" not in written
    assert written.count(REDACTED) >= 5
    assert "org_id=org-1" in written and "status=401" in written  # context stays


def test_the_log_file_rotates_keeping_one_older_file(log_file, monkeypatch):
    monkeypatch.setattr(logs, "MAX_LOG_BYTES", 2_000)
    configure_logging("INFO", to_file=True, log_file=log_file)  # takes the smaller limit
    log = structlog.get_logger("test")
    for n in range(200):
        log.info("filler line", n=n)
    older = log_file.with_name("coachdesk.log.1")
    assert older.exists() and log_file.exists()
    assert log_file.stat().st_size <= 2_000 and older.stat().st_size <= 2_000
    assert not log_file.with_name("coachdesk.log.2").exists()
    assert "n=199" in log_file.read_text()


def _event_names() -> Iterator[tuple[str, int, str]]:
    levels = {"debug", "info", "warning", "error", "exception", "critical"}
    for folder in ("app", "ui", "sync", "audio", "server"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in levels
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in {"log", "logger"}
                    and node.args
                ):
                    first = node.args[0]
                    name = first.value if isinstance(first, ast.Constant) else ast.unparse(first)
                    yield str(path.relative_to(REPO)), node.lineno, str(name)


def test_event_names_are_short_lowercase_phrases_with_details_in_fields():
    names = list(_event_names())
    assert len(names) > 100  # the scan finds the code's log calls
    style = re.compile(r"[a-z][a-z0-9 ,'():/._<>=+-]*")
    off = [(p, line, n) for p, line, n in names if not style.fullmatch(n) or n.endswith(".")]
    assert off == [], "event names: lowercase, no sentence punctuation; details go in fields"
