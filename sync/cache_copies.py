"""A copy of every attempt recorded here, kept beside the cache until the server has it.

The cache is one SQLite file; if that file is lost or damaged, the practice calls it held that
the server does not have yet would be lost with it (their recordings stay on disk, orphaned).
So `Cache.record_attempt` first writes the attempt as it is about to be saved (the transcript,
the provisional score, the recording's path) to `<cache dir>/<user id>.attempts/<id>.json`,
atomically and durably, and the copy goes once the server has confirmed the attempt. When a
cache is rebuilt (sync/cache_repair.py), every copy whose attempt it lacks is recorded again
under the same id: sent once, as a retry would be, never a duplicate on the server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import structlog

from app.durable import atomic_file
from sync.rows import dumps

log = structlog.get_logger(__name__)

COPY_VERSION = 1
SUFFIX = ".json"


def copies_dir(cache_file: Path) -> Path:
    """Where the copies of a cache file's unsynced attempts live (per user, like the cache)."""
    return cache_file.with_name(f"{cache_file.stem}.attempts")


def keep(directory: Path, attempt_id: str, attempt: Mapping[str, Any]) -> None:
    """Write (or replace) the copy of one attempt, whole and on disk before this returns."""
    directory.mkdir(parents=True, exist_ok=True)
    document = {"version": COPY_VERSION, "attempt": dict(attempt)}
    with atomic_file(directory / f"{uuid.UUID(attempt_id)}{SUFFIX}") as handle:
        handle.write(dumps(document).encode("utf-8"))


def read(directory: Path, attempt_id: str) -> Mapping[str, Any] | None:
    """The attempt in one copy; None (logged, the file left as is) if it cannot be read."""
    path = directory / f"{attempt_id}{SUFFIX}"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("version") != COPY_VERSION:
            raise ValueError(f"unknown copy version {document.get('version')!r}")
        attempt = document["attempt"]
        if not isinstance(attempt, dict):
            raise ValueError("the copy holds no attempt")
    except (OSError, ValueError, KeyError, AttributeError) as error:
        log.warning("attempt copy unreadable", left="in place", path=str(path), error=str(error))
        return None
    return attempt


def ids(directory: Path) -> list[str]:
    """The attempt ids that have a copy, oldest copy first (without reading them)."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob(f"*{SUFFIX}"):
        try:
            found.append((path.stat().st_mtime_ns, str(uuid.UUID(path.stem))))
        except (OSError, ValueError):
            continue  # gone meanwhile, or not a copy of ours
    return [attempt_id for _, attempt_id in sorted(found)]


def forget(directory: Path, attempt_ids: Iterable[str]) -> None:
    """The server has these attempts: their copies are no longer needed."""
    for attempt_id in attempt_ids:
        try:
            (directory / f"{attempt_id}{SUFFIX}").unlink(missing_ok=True)
        except OSError as error:
            # Kept one round longer: the next sync forgets it again.
            log.warning("attempt copy not removed", attempt_id=attempt_id, error=str(error))
