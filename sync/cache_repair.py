"""A damaged cache file: found when the cache opens, set aside (kept), and the cache rebuilt.

A cache file can be damaged outside the app's control: truncated to nothing by a full disk or a
sync tool, overwritten, torn by a power cut on a disk that lies about its writes. SQLite would
take an empty file for an empty database, and a damaged one fails with a bare "database disk
image is malformed" at some later query. So `check` runs before the cache is used: an empty file,
a file that is not SQLite, or one whose pages fail SQLite's `quick_check` is damaged. The cache
then moves the file (and its WAL) aside under a new name, never deleting it, starts a new one,
records again every attempt whose copy is kept beside it (sync/cache_copies.py), and the next
sync brings the server's rows back. `CacheRepair.message` tells the user what happened.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
# The SQLite result codes that mean the file's content is not a sound database; any other error
# (locked, cannot open, I/O) says nothing about the file and is raised as it is.
_DAMAGE_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_SIDE_FILES = ("-wal", "-shm")


class CacheDamagedError(Exception):
    """The cache file cannot be trusted; `reason` says why, in words a user can read."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"The local cache {path} is damaged: {reason}.")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class CacheRepair:
    """What opening a damaged cache did about it."""

    reason: str
    kept_as: Path  # the damaged file, moved aside (its WAL beside it)
    recovered: int  # unsynced practice calls recorded again from their copies

    @property
    def message(self) -> str:
        calls = (
            f"your {self.recovered} practice call{'s' if self.recovered != 1 else ''} not yet "
            "synced were recovered from this computer and will sync"
            if self.recovered
            else "no practice call waiting to sync was lost"
        )
        return (
            f"Coachdesk's local data was damaged ({self.reason}) and has been rebuilt: {calls}; "
            "everything else comes back from the server at the next sync. The damaged file is "
            f"kept as {self.kept_as}."
        )


def check(path: Path) -> None:
    """Raise CacheDamagedError if the cache file at `path` exists and is not a sound database."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return  # a new cache
    if size == 0:
        raise CacheDamagedError(path, "the file is empty")
    with open(path, "rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise CacheDamagedError(path, "the file is not a Coachdesk cache (no SQLite header)")
    problems = _quick_check(path)
    if problems:
        raise CacheDamagedError(path, f"SQLite's check failed: {problems[0]}")


def _quick_check(path: Path) -> list[str]:
    """SQLite's structural check of every page (not the slower index-content cross-check)."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        rows = conn.execute("pragma quick_check").fetchall()
    except sqlite3.DatabaseError as error:
        if not str(getattr(error, "sqlite_errorname", "")).startswith(_DAMAGE_CODES):
            raise
        return [str(error)]
    finally:
        conn.close()
    results = [str(row[0]) for row in rows]
    return [] if results == ["ok"] else results


def set_aside(path: Path) -> Path:
    """Move the damaged file and its WAL to `<name>.damaged-<UTC time>` (kept, never deleted)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    kept = path.with_name(f"{path.name}.damaged-{stamp}")
    # The WAL first: a kill in between leaves the damaged file to be found again at the next
    # open, never a new cache beside the old cache's WAL (which SQLite would replay into it).
    for suffix in _SIDE_FILES:
        side = Path(f"{path}{suffix}")
        if side.exists():
            # Beside the kept file under SQLite's own naming, so opening it finds its WAL.
            side.replace(Path(f"{kept}{suffix}"))
    path.replace(kept)
    log.warning("damaged cache set aside", path=str(path), kept_as=str(kept))
    return kept
