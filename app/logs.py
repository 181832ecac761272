"""Logging setup shared by every entry point: structlog key/value lines on stderr.

stdout stays for a command's actual output (`coachdesk transcribe --json`, `make types`).
Never log tokens, passwords or webhook secrets; log ids (attempt, org) for context.

The desktop app also keeps its lines in a log file (`default_log_file()`): started from a menu
or an icon it has no console, and support asks for the log. About names the file.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import IO

import platformdirs
import structlog

APP_NAME = "Coachdesk"
LOG_FILE_NAME = "coachdesk.log"
# One older file is kept beside it (coachdesk.log.1): enough for "what happened yesterday".
MAX_LOG_BYTES = 5 * 2**20

_log_file: Path | None = None


def default_log_file() -> Path:
    """Where the desktop app writes its log (platformdirs' user log folder)."""
    return platformdirs.user_log_path(APP_NAME, appauthor=False) / LOG_FILE_NAME


def current_log_file() -> Path | None:
    """The file this process logs to, if any."""
    return _log_file


class _Tee:
    """Writes each line to stderr and the log file."""

    def __init__(self, *streams: IO[str]) -> None:
        self._streams = streams

    def write(self, text: str) -> int:
        for stream in self._streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self._streams:
            stream.flush()


def _open_log(path: Path) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.stat().st_size > MAX_LOG_BYTES:
        path.replace(path.with_name(path.name + ".1"))
    return path.open("a", encoding="utf-8")


def configure_logging(
    level: str | None = None, *, to_file: bool = False, log_file: Path | None = None
) -> None:
    """Log at `level` (else $COACHDESK_LOG_LEVEL, else INFO) to stderr; with `to_file`, to
    `log_file` (default: default_log_file()) too."""
    global _log_file
    if to_file and log_file is None:
        log_file = default_log_file()
    name = (level or os.environ.get("COACHDESK_LOG_LEVEL", "INFO")).upper()
    out: IO[str] | _Tee = sys.stderr
    _log_file = None
    if log_file is not None:
        try:
            out = _Tee(sys.stderr, _open_log(log_file))
            _log_file = log_file
        except OSError as error:  # a read-only home must not stop the app; stderr still works
            print(f"cannot write the log file {log_file}: {error}", file=sys.stderr)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, name, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(out),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
