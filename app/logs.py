"""Logging setup shared by every entry point: structlog key/value lines on stderr.

stdout stays for a command's actual output (`coachdesk transcribe --json`, `make types`).
Log ids (attempt, org) for context, never secrets: `redact` (the last processor before the
renderer) blanks every field named like a secret and any JSON Web Token or API secret found in
a value or the event, so a careless `log.info(..., headers=...)` cannot leak one. Event names
are short lowercase phrases with no sentence punctuation, details in fields (a test keeps the
style: tests/app/test_logs.py).

The desktop app also keeps its lines in a log file (`default_log_file()`, rotated by the
standard library's RotatingFileHandler at MAX_LOG_BYTES, one older file kept): started from a
menu or an icon it has no console, and support asks for the log. About names the file.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import platformdirs
import structlog

APP_NAME = "Coachdesk"
LOG_FILE_NAME = "coachdesk.log"
# One older file is kept beside it (coachdesk.log.1): enough for "what happened yesterday".
MAX_LOG_BYTES = 5 * 2**20
BACKUP_COUNT = 1
REDACTED = "[redacted]"
# Field names whose values are secrets whatever they hold.
_SECRET_NAME = re.compile(r"token|password|passphrase|secret|authorization|api_?key|cookie", re.I)
# Secrets recognisable by their shape: JWTs (access and anon/service keys), Stripe and
# Standard Webhooks secrets, bearer headers.
_SECRET_VALUE = re.compile(
    r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]+|\b(?:whsec|sk_live|sk_test|rk_live)_[\w]+|Bearer\s+\S+"
)
_LOGGER_NAME = "coachdesk"

_log_file: Path | None = None


def default_log_file() -> Path:
    """Where the desktop app writes its log (platformdirs' user log folder)."""
    return platformdirs.user_log_path(APP_NAME, appauthor=False) / LOG_FILE_NAME


def current_log_file() -> Path | None:
    """The file this process logs to, if any."""
    return _log_file


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: secrets out of every field and the event."""
    for key, value in event.items():
        if key != "event" and _SECRET_NAME.search(key) and value is not None:
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = _SECRET_VALUE.sub(REDACTED, value)
        elif not isinstance(value, int | float | bool) and value is not None:
            text = str(value)
            cleaned = _SECRET_VALUE.sub(REDACTED, text)
            if cleaned != text:
                event[key] = cleaned
    return event


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (pytest swaps it per test)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _file_handler(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    return logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_LOG_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
    )


def configure_logging(
    level: str | None = None, *, to_file: bool = False, log_file: Path | None = None
) -> None:
    """Log at `level` (else $COACHDESK_LOG_LEVEL, else INFO) to stderr; with `to_file`, to
    `log_file` (default: default_log_file()) too."""
    global _log_file
    if to_file and log_file is None:
        log_file = default_log_file()
    name = (level or os.environ.get("COACHDESK_LOG_LEVEL", "INFO")).upper()
    logger = logging.getLogger(_LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.addHandler(_StderrHandler())
    logger.setLevel(logging.DEBUG)  # structlog filters by level before anything is rendered
    logger.propagate = False
    _log_file = None
    if log_file is not None:
        try:
            logger.addHandler(_file_handler(log_file))
            _log_file = log_file
        except OSError as error:  # a read-only home must not stop the app; stderr still works
            print(f"cannot write the log file {log_file}: {error}", file=sys.stderr)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            redact,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, name, logging.INFO)),
        logger_factory=lambda *_args: logger,
        cache_logger_on_first_use=False,
    )
