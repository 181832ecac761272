"""Playing a recording back in the review screen: play, pause, seek, and where playback is.

The file is decoded once (16 kHz mono, like everything the app records) and PortAudio pulls
blocks from it on its own thread; position and seek share one lock with that callback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from audio.decode import SAMPLE_RATE, load_audio
from audio.devices import DEVICE_ERRORS, DeviceSpec, device_error, portaudio


class OutputStreamLike(Protocol):
    """What the Player uses of sounddevice.OutputStream."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


class OutputStreamFactory(Protocol):
    """Opens an output stream; sounddevice.OutputStream by default, a fake in tests."""

    def __call__(
        self,
        *,
        samplerate: float,
        channels: int,
        dtype: str,
        device: DeviceSpec,
        callback: Callable[[np.ndarray, int, Any, Any], None],
        finished_callback: Callable[[], None],
    ) -> OutputStreamLike: ...


def sounddevice_output_stream(**kwargs: Any) -> OutputStreamLike:
    return portaudio("output").OutputStream(**kwargs)


class Player:
    """Plays one audio file. `on_finished` runs on PortAudio's thread when the end is reached."""

    def __init__(
        self,
        path: Path,
        *,
        device: DeviceSpec = None,
        stream_factory: OutputStreamFactory | None = None,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.device = device
        self._samples = load_audio(self.path)
        self._stream_factory = stream_factory or sounddevice_output_stream
        self._on_finished = on_finished
        self._stream: OutputStreamLike | None = None
        self._lock = threading.Lock()
        self._frame = 0
        self._playing = False

    @property
    def duration(self) -> float:
        return len(self._samples) / SAMPLE_RATE

    @property
    def position(self) -> float:
        """Seconds from the start of what has been handed to the device."""
        with self._lock:
            return self._frame / SAMPLE_RATE

    @property
    def playing(self) -> bool:
        return self._playing

    def play(self) -> None:
        """Start or resume; from the beginning again once the end was reached.

        NoOutputDeviceError when there is nothing to play on.
        """
        if self._playing:
            return
        with self._lock:
            if self._frame >= len(self._samples):
                self._frame = 0
        stream = self._open()
        # A stream that ended by itself must be stopped before it can start again.
        stream.stop()
        self._playing = True
        try:
            stream.start()
        except DEVICE_ERRORS as error:
            self._playing = False
            raise device_error(error, "output", self.device) from error

    def pause(self) -> None:
        if self._stream is not None and self._playing:
            self._playing = False
            self._stream.stop()

    def seek(self, seconds: float) -> None:
        """Jump to `seconds` (clamped to the recording), playing or not."""
        frame = round(min(max(seconds, 0.0), self.duration) * SAMPLE_RATE)
        with self._lock:
            self._frame = frame

    def close(self) -> None:
        if self._stream is not None:
            self._playing = False
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> OutputStreamLike:
        if self._stream is None:
            try:
                self._stream = self._stream_factory(
                    samplerate=SAMPLE_RATE,
                    channels=1,
                    dtype="float32",
                    device=self.device,
                    callback=self._callback,
                    finished_callback=self._stream_finished,
                )
            except DEVICE_ERRORS as error:
                raise device_error(error, "output", self.device) from error
        return self._stream

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        with self._lock:
            chunk = self._samples[self._frame : self._frame + frames]
            self._frame += len(chunk)
        outdata[: len(chunk), 0] = chunk
        outdata[len(chunk) :] = 0
        if len(chunk) < frames:
            # PortAudio plays what is buffered, then ends the stream and calls _stream_finished.
            raise portaudio("output").CallbackStop

    def _stream_finished(self) -> None:
        at_end = self._frame >= len(self._samples)
        self._playing = False
        if at_end and self._on_finished is not None:
            self._on_finished()
