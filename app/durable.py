"""Files that reach the disk whole or not at all: what survives a crash, a kill or a power cut.

Shared by the recorder's journal (audio/), the call records (app/client/call_files.py) and the
copies of unsynced attempts kept beside the cache (sync/cache_copies.py).
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A file that appears at `path` complete and fsynced, or not at all."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename or new file in `directory` durable (POSIX; Windows has no directory fsync)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# A full disk -----------------------------------------------------------------------------------
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(error: BaseException) -> bool:
    """Whether a write failed because the disk (or the user's quota) is full.

    SQLite reports it as SQLITE_FULL ("database or disk is full"), not as an OSError.
    """
    if isinstance(error, OSError):
        return error.errno in DISK_FULL_ERRNOS
    return str(getattr(error, "sqlite_errorname", "")).startswith("SQLITE_FULL")


def free_space(path: Path) -> str:
    """The free space where `path` is, for people ("3.2 MB free on /home"), or "" if unknown."""
    folder = Path(path)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    return f"{_size(free)} free in {folder}"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
