"""Recording the rep's voice: 16 kHz mono from a microphone, crash-safe on disk, FLAC at the end.

While recording, audio goes to a journal folder `<root>/<name>.recording/`: `manifest.json`
(written atomically before any audio) and `audio.pcm` (raw 16-bit little-endian samples, appended
block by block and fsynced about every half second). A crash or kill at any moment leaves a journal
whose audio is every whole sample written; `recover_interrupted(root)` finds such journals on the
next start and `recover()` turns one into the FLAC a finished recording would have been.
`Recorder.finish()` writes `<root>/<name>.flac` atomically (temp file, fsync, rename) and only
then removes the journal, so at every instant at least one complete copy exists.

PortAudio calls the stream callback on its own real-time thread; the callback only copies the
block into a queue. A writer thread appends to the journal, computes the level for the meter and
watches for a device that stops delivering audio (unplugged mid-call).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
import soundfile
import structlog

from app.durable import atomic_file, free_space, fsync_dir, is_disk_full
from audio.decode import SAMPLE_RATE
from audio.devices import (
    DEVICE_ERRORS,
    DeviceSpec,
    InputDevice,
    device_error,
    list_input_devices,
    portaudio,
)
from audio.errors import AudioError, DeviceLostError, DiskFullError, RecordingStoppedError

__all__ = [
    "InputDevice",
    "InterruptedRecording",
    "Level",
    "Recorder",
    "discard",
    "list_input_devices",
    "recover",
    "recover_interrupted",
]

log = structlog.get_logger(__name__)

CHANNELS = 1
SAMPLE_BYTES = 2  # int16
# 50 ms blocks: the meter moves 20 times a second and a lost block is barely audible.
BLOCK_FRAMES = SAMPLE_RATE // 20
FSYNC_INTERVAL_S = 0.5
# A stream that delivers nothing for this long is gone (unplugged, driver crashed). Generous,
# because Bluetooth headsets can take a second to deliver their first block.
STALL_TIMEOUT_S = 3.0
# The level of digital silence; log10(0) has no value.
SILENCE_DBFS = -100.0

JOURNAL_SUFFIX = ".recording"
MANIFEST_NAME = "manifest.json"
AUDIO_NAME = "audio.pcm"
JOURNAL_VERSION = 1
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_STOP = object()


@dataclass(frozen=True)
class Level:
    """Loudness of the latest block, in dB relative to full scale (0 = loudest possible)."""

    rms_dbfs: float
    peak_dbfs: float


SILENT = Level(SILENCE_DBFS, SILENCE_DBFS)


def block_level(block: np.ndarray) -> Level:
    """RMS and peak of int16 samples in dBFS, floored at SILENCE_DBFS."""
    if block.size == 0:
        return SILENT
    samples = block.astype(np.float64) / 32768.0
    rms = float(np.sqrt(np.mean(samples**2)))
    peak = float(np.max(np.abs(samples)))
    return Level(_dbfs(rms), _dbfs(peak))


def _dbfs(amplitude: float) -> float:
    return max(20.0 * float(np.log10(amplitude)), SILENCE_DBFS) if amplitude > 0 else SILENCE_DBFS


class InputStreamLike(Protocol):
    """What the Recorder uses of sounddevice.InputStream."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


class InputStreamFactory(Protocol):
    """Opens an input stream; sounddevice.InputStream by default, a file-backed fake in tests."""

    def __call__(
        self,
        *,
        samplerate: float,
        channels: int,
        dtype: str,
        blocksize: int,
        device: DeviceSpec,
        callback: Callable[[np.ndarray, int, Any, Any], None],
        finished_callback: Callable[[], None],
    ) -> InputStreamLike: ...


def sounddevice_input_stream(**kwargs: Any) -> InputStreamLike:
    return portaudio("input").InputStream(**kwargs)


@dataclass(frozen=True)
class Manifest:
    version: int
    name: str
    attempt_id: str | None
    sample_rate: int
    channels: int
    sample_format: str
    started_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class InterruptedRecording:
    """A journal left by a recording that never finished (crash, kill, power loss)."""

    journal: Path
    name: str
    attempt_id: str | None
    started_at: datetime
    seconds: float  # whole samples captured

    @property
    def final_path(self) -> Path:
        return _final_path(self.journal.parent, self.name)


class Recorder:
    """Records one take from a microphone into `<root>/<name>.flac`.

    `on_level` and `on_error` are called on the recorder's writer thread; a GUI must hand them to
    its own thread. `finish()` always keeps what was captured: after a device loss it writes the
    FLAC and then raises DeviceLostError with the file's path.
    """

    def __init__(
        self,
        root: Path,
        name: str,
        *,
        attempt_id: str | None = None,
        device: DeviceSpec = None,
        on_level: Callable[[Level], None] | None = None,
        on_error: Callable[[AudioError], None] | None = None,
        stream_factory: InputStreamFactory | None = None,
        fsync_interval: float = FSYNC_INTERVAL_S,
        stall_timeout: float = STALL_TIMEOUT_S,
    ) -> None:
        if not _SAFE_NAME.fullmatch(name):
            raise ValueError(f"recording name {name!r} must be letters, digits, '.', '_' or '-'")
        self.root = Path(root)
        self.name = name
        self.attempt_id = attempt_id
        self.device = device
        self.final_path = _final_path(self.root, name)
        self.journal = _journal_path(self.root, name)
        self._on_level = on_level
        # Public, so that whoever starts the recorder can listen (set before start()).
        self.on_error = on_error
        self._stream_factory = stream_factory or sounddevice_input_stream
        self._fsync_interval = fsync_interval
        self._stall_timeout = stall_timeout
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stream: InputStreamLike | None = None
        self._writer: threading.Thread | None = None
        self._stopping = threading.Event()
        self._error: AudioError | None = None
        self._level = SILENT
        self._frames = 0
        self._synced_frames = 0
        self._overflows = 0
        # Set when the journal cannot take more (disk full): blocks are dropped, not queued up.
        self._halted = False

    @property
    def level(self) -> Level:
        return self._level

    @property
    def seconds(self) -> float:
        """Seconds of audio written to the journal so far."""
        return self._frames / SAMPLE_RATE

    @property
    def synced_frames(self) -> int:
        """Samples known to be on disk (fsynced): what a power cut right now would keep."""
        return self._synced_frames

    @property
    def error(self) -> AudioError | None:
        return self._error

    def start(self) -> None:
        """Open the microphone and start recording; NoInputDeviceError/DevicePermissionError."""
        if self._stream is not None:
            raise RuntimeError("this Recorder has already been started")
        if self.final_path.exists() or self.journal.exists():
            raise FileExistsError(f"a recording named {self.name!r} already exists in {self.root}")
        try:
            stream = self._stream_factory(
                samplerate=SAMPLE_RATE,
                channels=CHANNELS,
                dtype="int16",
                blocksize=BLOCK_FRAMES,
                device=self.device,
                callback=self._callback,
                finished_callback=self._stream_finished,
            )
        except DEVICE_ERRORS as error:
            raise device_error(error, "input", self.device) from error
        try:
            pcm = _create_journal(self.journal, self._manifest())
        except BaseException:
            stream.close()
            raise
        self._stream = stream
        self._writer = threading.Thread(
            target=self._write, args=(pcm,), name=f"recorder-{self.name}", daemon=True
        )
        self._writer.start()
        try:
            stream.start()
        except DEVICE_ERRORS as error:
            self._stop_writer()
            stream.close()
            discard(self.journal)
            raise device_error(error, "input", self.device) from error
        log.info("recording started", name=self.name, attempt_id=self.attempt_id)

    def finish(self) -> Path:
        """Stop, write `<root>/<name>.flac` and remove the journal; return the FLAC's path.

        Raises DeviceLostError (with `.path` set to the saved FLAC) if the device was lost.
        """
        if self._stream is None:
            raise RuntimeError("this Recorder was never started")
        if self._stopping.is_set():
            raise RuntimeError("this Recorder has already finished")
        self._stopping.set()
        try:
            self._stream.stop()
            self._stream.close()
        except Exception as error:
            # A device that vanished often fails to stop too; the audio is already queued.
            log.warning("stream did not stop cleanly", name=self.name, error=str(error))
        self._stop_writer()
        try:
            path = _journal_to_flac(self.journal, self.final_path)
        except OSError as error:
            if is_disk_full(error):
                raise DiskFullError(self._disk_full_message(flac_saved=False)) from error
            raise AudioError(
                f"Cannot save the recording as {self.final_path}: {error}. What was recorded is "
                "kept and will be offered for recovery at the next start."
            ) from error
        log.info("recording finished", name=self.name, seconds=round(self.seconds, 2))
        if isinstance(self._error, RecordingStoppedError):
            raise type(self._error)(str(self._error), path=path)
        if self._error is not None:
            raise self._error
        return path

    def _manifest(self) -> Manifest:
        return Manifest(
            version=JOURNAL_VERSION,
            name=self.name,
            attempt_id=self.attempt_id,
            sample_rate=SAMPLE_RATE,
            channels=CHANNELS,
            sample_format="int16le",
            started_at=datetime.now(UTC).isoformat(),
        )

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # PortAudio's real-time thread: copy and go. Blocking or allocating much here drops audio.
        if self._halted:
            return
        if status and status.input_overflow:
            self._overflows += 1
        self._queue.put(indata.copy())

    def _stream_finished(self) -> None:
        if not self._stopping.is_set():
            self._queue.put(_StreamEnded())

    def _write(self, pcm: BinaryIO) -> None:
        last_block = last_sync = time.monotonic()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=0.1)
                except queue.Empty:
                    item = None
                now = time.monotonic()
                if item is _STOP:
                    break
                if isinstance(item, np.ndarray):
                    last_block = now
                    self._append(pcm, item)
                elif isinstance(item, _StreamEnded) or self._stalled(now - last_block):
                    self._device_lost()
                if now - last_sync >= self._fsync_interval:
                    self._sync(pcm)
                    last_sync = now
            self._sync(pcm)
        except OSError as error:
            self._halted = True
            self._fail(self._write_error(error))
            with contextlib.suppress(OSError):
                self._sync(pcm)  # whatever of the last block still fits
        finally:
            try:
                pcm.close()
            except OSError as error:  # the buffer's last bytes did not fit; the file is closed
                log.warning("journal closed with a write error", name=self.name, error=str(error))
            if self._overflows:
                log.warning("input overflowed", name=self.name, blocks=self._overflows)

    def _append(self, pcm: BinaryIO, block: np.ndarray) -> None:
        mono = block.reshape(-1).astype("<i2", copy=False)
        pcm.write(mono.tobytes())
        self._frames += len(mono)
        self._level = block_level(mono)
        _notify(self._on_level, self._level)

    def _write_error(self, error: OSError) -> AudioError:
        if is_disk_full(error):
            return DiskFullError(self._disk_full_message(flac_saved=True))
        return AudioError(f"Cannot save the recording to {self.journal}: {error}.")

    def _disk_full_message(self, *, flac_saved: bool) -> str:
        """`flac_saved` False: not even the FLAC fits, so the journal stays for recovery."""
        space = free_space(self.root)
        where = f" ({space})" if space else ""
        saved = (
            "Everything recorded up to then is kept."
            if flac_saved
            else "Everything recorded up to then is kept on disk and will be offered for "
            "recovery at the next start, once some space is free."
        )
        return (
            f"The disk is full{where}: the recording stopped at {_clock(self.seconds)}. {saved} "
            "Free some disk space before the next call."
        )

    def _sync(self, pcm: BinaryIO) -> None:
        pcm.flush()
        os.fsync(pcm.fileno())
        self._synced_frames = self._frames

    def _stalled(self, quiet_seconds: float) -> bool:
        return quiet_seconds > self._stall_timeout and not self._stopping.is_set()

    def _device_lost(self) -> None:
        # Also after finish() began: the stream may have ended just before the user clicked stop.
        if self._error is None:
            when = _clock(self.seconds)
            self._fail(
                DeviceLostError(
                    f"The microphone stopped sending audio at {when} (unplugged?). "
                    "Everything recorded up to then is kept."
                )
            )

    def _fail(self, error: AudioError) -> None:
        self._error = error
        log.error("recording failed", name=self.name, error=str(error))
        _notify(self.on_error, error)

    def _stop_writer(self) -> None:
        self._stopping.set()
        self._queue.put(_STOP)
        if self._writer is not None:
            self._writer.join()


def _notify(callback: Callable[[Any], None] | None, value: object) -> None:
    """Call a listener; its bug must not stop the writer thread, which would lose the recording."""
    if callback is None:
        return
    try:
        callback(value)
    except Exception:
        log.exception("recorder listener failed", listener=repr(callback))


class _StreamEnded:
    """Queued by PortAudio's finished callback when the stream ends without being asked to."""


def recover_interrupted(root: Path) -> list[InterruptedRecording]:
    """Journals in `root` of recordings that never finished, oldest first.

    Call at start-up, before recording: a journal being written right now would be listed too.
    A journal whose FLAC exists (a crash between the two last steps of finish) is removed.
    """
    found = []
    for journal in sorted(Path(root).glob(f"*{JOURNAL_SUFFIX}")):
        if not journal.is_dir():
            continue
        name = journal.name.removesuffix(JOURNAL_SUFFIX)
        if _final_path(journal.parent, name).exists():
            log.info("removing journal of a finished recording", journal=str(journal))
            discard(journal)
            continue
        if not (journal / MANIFEST_NAME).exists() and _journal_frames(journal) == 0:
            # Killed between creating the folder and its manifest: no audio was captured yet.
            log.info("removing empty recording journal", journal=str(journal))
            discard(journal)
            continue
        try:
            manifest = _read_manifest(journal)
        except (OSError, ValueError, TypeError) as error:
            log.warning(
                "unreadable recording journal left as is", journal=str(journal), error=error
            )
            continue
        found.append(
            InterruptedRecording(
                journal=journal,
                name=manifest.name,
                attempt_id=manifest.attempt_id,
                started_at=datetime.fromisoformat(manifest.started_at),
                seconds=_journal_frames(journal) / manifest.sample_rate,
            )
        )
    return sorted(found, key=lambda recording: recording.started_at)


def recover(journal: Path | InterruptedRecording) -> Path:
    """Turn an interrupted journal into its FLAC (every whole sample captured); return its path."""
    path = journal.journal if isinstance(journal, InterruptedRecording) else Path(journal)
    name = path.name.removesuffix(JOURNAL_SUFFIX)
    final = _journal_to_flac(path, _final_path(path.parent, name))
    log.info("recording recovered", journal=str(path), path=str(final))
    return final


def discard(journal: Path | InterruptedRecording) -> None:
    """Delete a journal (the user chose not to keep an interrupted recording)."""
    path = journal.journal if isinstance(journal, InterruptedRecording) else Path(journal)
    shutil.rmtree(path, ignore_errors=False)


def _final_path(root: Path, name: str) -> Path:
    return root / f"{name}.flac"


def _journal_path(root: Path, name: str) -> Path:
    return root / f"{name}{JOURNAL_SUFFIX}"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


def _create_journal(journal: Path, manifest: Manifest) -> BinaryIO:
    """Make the journal folder with its manifest on disk; return the audio file to append to."""
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.mkdir()
    with atomic_file(journal / MANIFEST_NAME) as handle:
        handle.write(json.dumps(asdict(manifest), indent=2).encode())
    pcm = open(journal / AUDIO_NAME, "xb")  # noqa: SIM115 (the writer thread owns and closes it)
    fsync_dir(journal)
    return pcm


def _read_manifest(journal: Path) -> Manifest:
    data = json.loads((journal / MANIFEST_NAME).read_text())
    manifest = Manifest(**data)
    if manifest.sample_format != "int16le" or manifest.channels != CHANNELS:
        raise ValueError(f"unsupported journal format {manifest.sample_format}/{manifest.channels}")
    return manifest


def _journal_frames(journal: Path) -> int:
    audio = journal / AUDIO_NAME
    return audio.stat().st_size // SAMPLE_BYTES if audio.exists() else 0


def _journal_samples(journal: Path) -> Iterator[np.ndarray]:
    """The journal's int16 samples in blocks; a torn last sample (half written) is dropped."""
    frames = _journal_frames(journal)
    if frames == 0:
        return
    with open(journal / AUDIO_NAME, "rb") as pcm:
        remaining = frames
        while remaining:
            count = min(remaining, 1 << 20)
            yield np.frombuffer(pcm.read(count * SAMPLE_BYTES), dtype="<i2")
            remaining -= count


class _KeepsWriteErrors:
    """The FLAC's file for soundfile's virtual I/O, keeping the first write error.

    soundfile drops exceptions raised in its I/O callbacks (libsndfile only sees a short write),
    and a full disk must fail the FLAC, not leave a short one under the final name.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self._handle.write(data)
        except OSError as error:
            self.error = self.error or error
            return 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def _journal_to_flac(journal: Path, final: Path) -> Path:
    manifest = _read_manifest(journal)
    with atomic_file(final) as handle:
        target = _KeepsWriteErrors(handle)
        with soundfile.SoundFile(
            target,
            "w",
            samplerate=manifest.sample_rate,
            channels=CHANNELS,
            format="FLAC",
            subtype="PCM_16",
        ) as flac:
            for block in _journal_samples(journal):
                flac.write(block)
        if target.error is not None:
            raise target.error  # inside atomic_file: no short FLAC takes the final name
    # The FLAC is complete and on disk before its source goes.
    discard(journal)
    return final
