"""Saving a file the person chose (an export, the audit log, a team summary): complete at its
name or not there at all (app.durable.atomic_file), and when the disk or folder refuses, a
sentence that says what to do instead of an OSError."""

from __future__ import annotations

from pathlib import Path

from app.durable import atomic_file
from app.errors import CoachdeskError


def save_as(path: Path, data: bytes, what: str, again: str = "save") -> Path:
    """`data` at `path` (`what`: "the export", "the audit log"... for the sentence)."""
    target = Path(path)
    try:
        with atomic_file(target) as out:
            out.write(data)
    except OSError as error:
        raise CoachdeskError(
            f"Could not save {what} as {target}: {error.strerror or error}. Choose another "
            f"folder, or free some space, and {again} again."
        ) from error
    return target
