"""A disk that fills up, at the file boundary: the Recorder's journal gets ENOSPC after N bytes.

What the OS does when a disk is full: the write that does not fit writes what fits and fails
with ENOSPC. Only the journal's audio file is affected, so the rest of the app (FLAC, cache)
still writes, as when the recording itself filled the last free space and something was freed.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from audio import capture


class FillingDisk:
    """A journal's audio file on a disk with room for `room` more bytes (then ENOSPC)."""

    def __init__(self, pcm: BinaryIO, room: int) -> None:
        self._pcm = pcm
        self._room = room

    def write(self, data: bytes) -> int:
        fits = bytes(data[: self._room])
        self._pcm.write(fits)
        self._room -= len(fits)
        if len(fits) < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return len(fits)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pcm, name)


def journals_fill_the_disk(monkeypatch: pytest.MonkeyPatch, room: int) -> None:
    """From now on every Recorder's journal has `room` bytes of audio before the disk is full."""
    real = capture._create_journal

    def on_a_filling_disk(journal: Path, manifest: capture.Manifest) -> BinaryIO:
        return FillingDisk(real(journal, manifest), room)  # type: ignore[return-value]

    monkeypatch.setattr(capture, "_create_journal", on_a_filling_disk)
