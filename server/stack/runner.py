"""Start and stop the local stack: in-process (tests, `coachdesk run`) or as a background process
(`coachdesk stack start|stop|status|reset`).

The background process owns everything it started: the private Postgres cluster (the same one
`coachdesk db` manages) and uvicorn. `stack.json` in the stack's data directory records its URL,
keys and pid while it runs; `stop` signals that pid and waits for it to shut both down.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import platformdirs
import psycopg
import structlog
import uvicorn

from server.db.cluster import free_port
from server.db.local import LocalDatabase
from server.db.migrate import SUPABASE_DIR
from server.stack.app import create_app
from server.stack.config import HOST, StackConfig

log = structlog.get_logger(__name__)

LOCAL_STACK_SQL = SUPABASE_DIR / "compat" / "local_stack.sql"
# The Supabase CLI's API port, so URLs look familiar; another is chosen when it is taken (and
# then kept: see choose_port).
DEFAULT_PORT = 54321
STATE_FILE = "stack.json"
# The port of the last start, kept after a stop (stack.json is not), so a restart reuses it.
PORT_FILE = "port"
START_TIMEOUT_S = 120.0
GRACEFUL_SHUTDOWN_S = 5.0  # then open requests are cut: a stop never hangs


class StackError(RuntimeError):
    """The stack could not be started or stopped."""


def default_data_dir() -> Path:
    override = os.environ.get("COACHDESK_STACK_DIR")
    if override:
        return Path(override)
    if os.geteuid() == 0:
        return Path("/var/lib/coachdesk/stack")
    return Path(platformdirs.user_data_dir("coachdesk")) / "stack"


def apply_local_stack_sql(dsn: str) -> None:
    """The local GoTrue's own tables, applied after the bootstrap and migrations (idempotent)."""
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute(LOCAL_STACK_SQL.read_text())


def port_is_free(port: int) -> bool:
    """Whether a server could listen on `port` now. With SO_REUSEADDR, as uvicorn binds: the
    TIME_WAIT connections a stopped stack leaves behind (the app's, closed by the server) do not
    keep its port, so a restart gets the same one back."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def choose_port(data_dir: Path, requested: int | None = None) -> int:
    """The port to serve on: the one asked for, else the one this stack last used (apps keep
    its URL), else the Supabase CLI's, else any free one. Remembered for the next start."""
    remembered = data_dir / PORT_FILE
    last = int(remembered.read_text()) if remembered.exists() else None
    if requested:
        chosen = requested
    else:
        candidates = [p for p in (last, DEFAULT_PORT) if p is not None]
        chosen = next((p for p in candidates if port_is_free(p)), None) or free_port()
    if chosen != last:
        if last is not None:
            log.warning("stack.port_changed", previous=last, port=chosen)
        remembered.write_text(str(chosen))
    return chosen


def last_url(data_dir: Path) -> str | None:
    """The URL the stack of `data_dir` served on at its last start (None: never started)."""
    remembered = data_dir / PORT_FILE
    return f"http://{HOST}:{int(remembered.read_text())}" if remembered.exists() else None


def set_up(data_dir: Path) -> bool:
    """Whether a stack was started here before (it made its JWT secret, so apps hold its keys)."""
    return (data_dir / "jwt_secret").exists()


# -- in-process ------------------------------------------------------------------------------------


class StackServer:
    """uvicorn in a daemon thread, for tests and for `coachdesk run`."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_app(config),
                host=config.host,
                port=config.port,
                log_level="warning",
                lifespan="on",
                access_log=False,
            )
        )
        self._thread = threading.Thread(
            target=self._server.run, name="coachdesk-stack", daemon=True
        )

    def start(self, timeout: float = 60.0) -> StackServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise StackError("the local stack failed to start (see the log above)")
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(f"the local stack did not start within {timeout:.0f} s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> StackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- background process ---------------------------------------------------------------------


@dataclass
class RunningStack:
    url: str
    anon_key: str
    service_key: str
    pid: int
    data_dir: str

    @classmethod
    def read(cls, data_dir: Path) -> RunningStack | None:
        path = data_dir / STATE_FILE
        if not path.exists():
            return None
        raw: dict[str, Any] = json.loads(path.read_text())
        return cls(**raw)

    def write(self) -> None:
        path = Path(self.data_dir) / STATE_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.__dict__, handle, indent=2)

    def alive(self) -> bool:
        # When we started it (`coachdesk run`), an exited stack is our zombie until reaped, and
        # signal 0 still reaches a zombie.
        with contextlib.suppress(ChildProcessError):
            reaped, _ = os.waitpid(self.pid, os.WNOHANG)
            if reaped:
                return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def serve(data_dir: Path, port: int | None = None) -> int:
    """Foreground: database up, local auth tables, HTTP until SIGTERM/SIGINT; then all down."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db = LocalDatabase.default()
    db.start()
    try:
        dsn = db.dsn()
        apply_local_stack_sql(dsn)
        config = StackConfig.for_data_dir(dsn, data_dir, port=choose_port(data_dir, port))
        state = RunningStack(
            config.url, config.anon_key, config.service_key, os.getpid(), str(data_dir)
        )
        state.write()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(config),
                host=config.host,
                port=config.port,
                log_level="warning",
                access_log=False,
                # A request still open at SIGTERM (a client's long pull) must not hold the
                # stop past stop_background's wait: once seen taking 34 s by hand.
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            )
        )
        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with the handler
        # it found; the default one would kill us before the database is stopped below.
        signal.signal(signal.SIGTERM, _ignore_signal)
        with _integrations(dsn, config):
            server.run()
    finally:
        with contextlib.suppress(FileNotFoundError):
            (data_dir / STATE_FILE).unlink()
        db.stop()
    return 0


@contextlib.contextmanager
def _integrations(dsn: str, config: StackConfig) -> Any:
    """The webhook worker (with exports and storage expiry) and the Stripe/Clerk receiver run
    beside the stack, as they would beside hosted Supabase. Locally, webhooks may target this
    machine, so a developer can point an endpoint at a receiver on localhost."""
    from server.exports.job import StorageTarget
    from server.integrations import INBOUND_PORT, start_inbound, start_worker

    worker = start_worker(
        dsn, allow_private_targets=True, storage=StorageTarget(config.url, config.service_key)
    )
    inbound_port = INBOUND_PORT if port_is_free(INBOUND_PORT) else free_port()
    inbound = start_inbound(dsn, port=inbound_port)
    log.info("stack.integrations", inbound=f"http://{HOST}:{inbound_port}")
    try:
        yield
    finally:
        inbound.stop()
        worker.stop()


def _ignore_signal(signum: int, frame: object) -> None:
    del signum, frame


def start_background(data_dir: Path, port: int | None = None) -> RunningStack:
    existing = RunningStack.read(data_dir)
    if existing and existing.alive() and existing.healthy():
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (data_dir / STATE_FILE).unlink()
    command = [sys.executable, "-m", "server.stack.runner", "serve", "--data-dir", str(data_dir)]
    if port:
        command += ["--port", str(port)]
    log_path = data_dir / "stack.log"
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise StackError(f"the local stack exited with status {process.returncode}:\n{tail}")
        state = RunningStack.read(data_dir)
        if state and state.pid == process.pid and state.healthy():
            return state
        time.sleep(0.2)
    process.terminate()
    raise StackError(f"the local stack did not become healthy within {START_TIMEOUT_S:.0f} s")


def stop_background(data_dir: Path, timeout: float = 30.0) -> bool:
    """Stop a running stack; False when none was running."""
    state = RunningStack.read(data_dir)
    if state is None or not state.alive():
        with contextlib.suppress(FileNotFoundError):
            (data_dir / STATE_FILE).unlink()
        return False
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while state.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    if state.alive():
        raise StackError(f"the local stack (pid {state.pid}) did not stop within {timeout:.0f} s")
    return True


def reset(data_dir: Path) -> None:
    """Stop, then delete the database and stored files; the JWT secret (and so the keys) stays."""
    stop_background(data_dir)
    LocalDatabase.default().reset()
    storage = data_dir / "storage"
    if storage.exists():
        import shutil

        shutil.rmtree(storage)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.stack.runner")
    parser.add_argument("action", choices=["serve"])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    return serve(args.data_dir, args.port)


if __name__ == "__main__":
    sys.exit(main())
