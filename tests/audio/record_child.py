"""Child process of the SIGKILL test: records a 16 kHz int16 WAV through the real Recorder (the
microphone replaced by audio_fakes.FileInputStream) and prints the synced sample count each time
it grows, until it is killed.

Usage: python tests/audio/record_child.py ROOT NAME SOURCE.wav
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

import soundfile
from audio_fakes import FileInputStream

from app.logs import configure_logging
from audio.capture import Recorder


def main(root: str, name: str, source: str) -> None:
    configure_logging()  # on stderr: stdout carries only the synced counts
    samples, _ = soundfile.read(source, dtype="int16")
    # 50 ms blocks every 10 ms: five times real time, so the test waits about a second.
    stream = partial(FileInputStream, samples, block_interval=0.01)
    recorder = Recorder(Path(root), name, attempt_id="attempt-1", stream_factory=stream)
    recorder.start()
    reported = -1
    while True:
        if recorder.synced_frames != reported:
            reported = recorder.synced_frames
            print(reported, flush=True)
        time.sleep(0.005)


if __name__ == "__main__":
    main(*sys.argv[1:])
