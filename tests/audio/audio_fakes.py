"""Stand-ins for PortAudio streams: they call the Recorder's/Player's callbacks the way PortAudio
does, from their own thread, with audio from a file instead of a microphone.

Only the hardware boundary is faked; everything behind the callbacks is the real code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import sounddevice


class FileInputStream:
    """An InputStream whose "microphone" plays `samples` (int16) block by block.

    `block_interval` is the wall time between blocks (0: as fast as possible).
    `lose_after` blocks: the device disappears (PortAudio ends the stream, calls finished_callback).
    `hang_after` blocks: the device silently stops delivering (a stalled driver).
    After the last sample the fake goes quiet, like a muted microphone, until stopped.
    """

    def __init__(
        self,
        samples: np.ndarray,
        *,
        samplerate: float,
        channels: int,
        dtype: str,
        blocksize: int,
        device: Any,
        callback: Callable[[np.ndarray, int, Any, Any], None],
        finished_callback: Callable[[], None],
        block_interval: float = 0.0,
        lose_after: int | None = None,
        hang_after: int | None = None,
    ) -> None:
        assert samples.dtype == np.int16 and samples.ndim == 1
        self.samples = samples
        self.opened_with = {"samplerate": samplerate, "channels": channels, "dtype": dtype}
        self.blocksize = blocksize
        self.callback = callback
        self.finished_callback = finished_callback
        self.block_interval = block_interval
        self.lose_after = lose_after
        self.hang_after = hang_after
        self.delivered = 0  # samples handed to the callback
        self.done = threading.Event()  # set when the fake has nothing more to deliver
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.closed = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self.finished_callback()  # PortAudio calls it however the stream ends

    def close(self) -> None:
        self.closed = True

    def _run(self) -> None:
        for index, start in enumerate(range(0, len(self.samples), self.blocksize)):
            if self._stop.is_set():
                return
            if index == self.lose_after:
                self.done.set()
                self._thread = None
                self.finished_callback()
                return
            if index == self.hang_after:
                break
            block = self.samples[start : start + self.blocksize].reshape(-1, 1)
            self.callback(block, len(block), None, sounddevice.CallbackFlags())
            self.delivered += len(block)
            if self.block_interval:
                time.sleep(self.block_interval)
        self.done.set()


class PulledOutputStream:
    """An OutputStream the test drives: `pull(frames)` is one PortAudio request for audio."""

    def __init__(
        self,
        *,
        samplerate: float,
        channels: int,
        dtype: str,
        device: Any,
        callback: Callable[[np.ndarray, int, Any, Any], None],
        finished_callback: Callable[[], None],
    ) -> None:
        self.opened_with = {"samplerate": samplerate, "channels": channels, "dtype": dtype}
        self.callback = callback
        self.finished_callback = finished_callback
        self.active = False
        self.closed = False
        self.starts = 0

    def start(self) -> None:
        assert not self.active, "PortAudio refuses to start a stream that is not stopped"
        self.active = True
        self.starts += 1

    def stop(self) -> None:
        if self.active:
            self.active = False
            self.finished_callback()

    def close(self) -> None:
        self.closed = True

    def pull(self, frames: int) -> np.ndarray:
        assert self.active, "PortAudio only calls the callback of a started stream"
        outdata = np.full((frames, 1), np.nan, dtype=np.float32)
        try:
            self.callback(outdata, frames, None, sounddevice.CallbackFlags())
        except sounddevice.CallbackStop:
            self.active = False
            self.finished_callback()
        return outdata[:, 0]


def factory(cls: type, *args: Any, **options: Any) -> Callable[..., Any]:
    """A stream factory that also remembers the streams it opened (`made`)."""
    made: list[Any] = []

    def open_stream(**kwargs: Any) -> Any:
        stream = cls(*args, **kwargs, **options)
        made.append(stream)
        return stream

    open_stream.made = made  # type: ignore[attr-defined]
    return open_stream
