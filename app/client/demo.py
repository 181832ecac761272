"""Harness for the screenshot script and the UI benchmark (never used by the app itself):
the embedded backend in a folder of its own, espeak-ng answers, and a "microphone" that plays
WAV files.

Only the hardware is stood in for: the Recorder, transcription and the server are the real ones,
and the screenshots' backend is started exactly as `coachdesk run` starts it (pg_cron refreshes
reporting, the stack's worker scores uploads: nothing here does their work by hand).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from app.client.views import ServerConfig
from audio.capture import Level, Recorder
from audio.decode import SAMPLE_RATE, load_audio

DEMO_PASSWORD = "coachdesk-demo"
# Three answers that walk the demo cold call to its best ending (open -> why -> interest -> close).
COLD_CALL_ANSWERS = (
    "Hi Dana, my name is Sam and I am calling from Coachdesk.",
    "We help teams like yours reduce costs and save time. How do you handle onboarding today?",
    "Could we book a short demo meeting on Thursday?",
)


@dataclass(frozen=True)
class DemoStack:
    server: ServerConfig
    service_key: str
    dsn: str


@contextmanager
def throwaway_stack() -> Iterator[DemoStack]:
    """A freshly migrated, seeded database behind an in-process local stack; removed after."""
    from server.db.cluster import free_port
    from server.db.scratch import migrated_database
    from server.stack.config import StackConfig
    from server.stack.runner import StackServer, apply_local_stack_sql

    with migrated_database(seed=True) as dsn, tempfile.TemporaryDirectory() as data_dir:
        apply_local_stack_sql(dsn)
        config = StackConfig.for_data_dir(dsn, Path(data_dir), port=free_port())
        with StackServer(config):
            yield DemoStack(ServerConfig(config.url, config.anon_key), config.service_key, dsn)


# Where the embedded backend keeps its cluster and its stack (server/db/local.py, runner.py).
_EMBEDDED_ENV = ("COACHDESK_PGDATA_ROOT", "COACHDESK_STACK_DIR")


@contextmanager
def embedded_backend() -> Iterator[DemoStack]:
    """The embedded backend as `coachdesk run` starts it (private cluster, migrations, demo
    seed, the stack and its workers in a process of their own), in a throwaway folder."""
    from server.db.local import LocalDatabase
    from server.stack import runner

    # Not a private temporary folder: as root the cluster runs as `postgres`, who must enter it.
    root = Path(tempfile.mkdtemp(prefix="coachdesk-embedded-"))
    os.chmod(root, 0o755)
    saved = {name: os.environ.get(name) for name in _EMBEDDED_ENV}
    os.environ["COACHDESK_PGDATA_ROOT"] = str(root / "pg")
    os.environ["COACHDESK_STACK_DIR"] = str(root / "stack")
    data_dir = runner.default_data_dir()
    try:
        running = runner.start_background(data_dir)
        yield DemoStack(
            ServerConfig(running.url, running.anon_key),
            running.service_key,
            LocalDatabase.default().dsn(),
        )
    finally:
        runner.stop_background(data_dir)
        LocalDatabase.default().reset()
        shutil.rmtree(root, ignore_errors=True)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def refresh_reports(stack: DemoStack) -> None:
    """Load the reporting views (pg_cron does it every few minutes where it runs)."""
    from supabase import create_client

    create_client(stack.server.url, stack.service_key).rpc("refresh_reporting", {}).execute()


def espeak(texts: Iterable[str], folder: Path, speed: int = 150) -> list[Path]:
    paths = []
    for i, text in enumerate(texts):
        path = folder / f"answer-{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(path), "-s", str(speed), text], check=True)
        paths.append(path)
    return paths


class NetworkSwitch(httpx.HTTPTransport):
    """An HTTP transport with an off switch: while `offline`, every request fails to connect,
    exactly as when the network is down (the sync engine sees httpx.ConnectError)."""

    def __init__(self) -> None:
        super().__init__()
        self.offline = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.offline:
            raise httpx.ConnectError("network is down (NetworkSwitch)", request=request)
        return super().handle_request(request)


class _PlayingInput:
    """An InputStream that plays int16 samples at `pace` times real time, then silence."""

    def __init__(
        self,
        samples: np.ndarray,
        pace: float,
        *,
        blocksize: int,
        callback: Callable[..., None],
        finished_callback: Callable[[], None],
        **_options: Any,
    ) -> None:
        self.samples, self.pace, self.blocksize = samples, pace, blocksize
        self.callback, self.finished_callback = callback, finished_callback
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self.finished_callback()

    def close(self) -> None:
        pass

    def _run(self) -> None:
        import sounddevice

        interval = self.blocksize / SAMPLE_RATE
        silence = np.zeros(self.blocksize, dtype=np.int16)
        position = 0
        while True:
            block = self.samples[position : position + self.blocksize]
            position += self.blocksize
            if len(block) == 0:
                block = silence
            self.callback(block.reshape(-1, 1), len(block), None, sounddevice.CallbackFlags())
            wait = interval if block is silence else interval / self.pace if self.pace else 0
            if self._stop.wait(wait):
                return


class FileMicrophone:
    """A RecorderFactory whose recordings "hear" the given WAV files in turn (then repeat).

    `pace` 1 plays them in real time, 0 as fast as the Recorder takes them; either way silence
    follows in real time, like an open microphone in a quiet room, until the turn ends.
    """

    def __init__(
        self, answers: Iterable[Path] = (), *, pace: float = 1.0, repeat: bool = False
    ) -> None:
        self._all: list[np.ndarray] = []
        self._queue: deque[np.ndarray] = deque()
        self.pace = pace
        self.repeat = repeat
        self.recorders: list[Recorder] = []
        self.add(answers)

    def add(self, answers: Iterable[Path]) -> None:
        """More answers, heard after those already given."""
        for answer in answers:
            samples = load_audio(Path(answer))
            self._all.append(samples)
            self._queue.append(samples)

    def __call__(self, root: Path, name: str, on_level: Callable[[Level], None]) -> Recorder:
        if not self._queue and self.repeat:
            self._queue.extend(self._all)
        samples = self._queue.popleft() if self._queue else np.zeros(SAMPLE_RATE, np.float32)
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        recorder = Recorder(
            root,
            name,
            on_level=on_level,
            stream_factory=lambda **kwargs: _PlayingInput(pcm, self.pace, **kwargs),
        )
        self.recorders.append(recorder)
        return recorder

    def heard(self, recorder: Recorder, after: float = 0.3) -> bool:
        """The recorder has received its whole answer (plus `after` seconds of silence)."""
        index = self.recorders.index(recorder) % len(self._all)
        return recorder.seconds >= len(self._all[index]) / SAMPLE_RATE + after


def serve(argv: list[str] | None = None) -> int:
    """`python -m app.client.demo`: run a throwaway stack in this process until stdin closes.

    Prints one JSON line (url, anon_key, service_key, dsn) when ready. Benchmarks run the stack
    in its own process so that its work does not compete with the GUI's for one interpreter.
    """
    import json
    import sys

    from app.logs import configure_logging

    configure_logging("WARNING")  # logs on stderr: stdout carries only the JSON line
    with throwaway_stack() as stack:
        refresh_reports(stack)
        print(
            json.dumps(
                {
                    "url": stack.server.url,
                    "anon_key": stack.server.anon_key,
                    "service_key": stack.service_key,
                    "dsn": stack.dsn,
                }
            ),
            flush=True,
        )
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(serve())
