"""Test doubles at the OS and network boundaries for the sync tests, and small builders.

- MemoryKeyring: the OS keyring, in memory (tests only; the app uses the system keyring).
- FaultyTransport: wraps httpx's transport; scripted faults answer 500/503, time out, or let the
  request reach the server and then lose the answer (the nasty case for idempotency).
- TcpProxy: a real TCP port that can be closed (connection refused) and opened again.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from app.transcript import load_sample_transcript
from server.db.cluster import free_port

SCENARIO_COLD_CALL = "f0000000-0000-4000-8000-000000000001"
SCENARIO_CFO = "f0000000-0000-4000-8000-000000000002"
DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
GLOBEX_ORG = "d0000000-0000-4000-8000-000000000002"
USER_IDS = {
    "trainee": "a0000000-0000-4000-8000-000000000001",
    "trainee2": "a0000000-0000-4000-8000-000000000002",
    "manager": "a0000000-0000-4000-8000-000000000003",
    "admin": "a0000000-0000-4000-8000-000000000004",
    "globex_trainee": "a0000000-0000-4000-8000-000000000011",
    "consultant": "a0000000-0000-4000-8000-000000000021",
}

TRANSCRIPT = load_sample_transcript()


class MemoryKeyring(KeyringBackend):
    """An OS keyring stand-in: a dict. Only tests use it."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("not stored")


# Faults at the HTTP boundary ---------------------------------------------------------------------
@dataclass
class Fault:
    """What to do to requests matching `matches` (method, URL path), `times` times."""

    kind: str  # "status", "timeout" (request never arrives), "lost" (arrives, answer lost),
    # "token" (Authorization replaced by `token`)
    matches: Callable[[httpx.Request], bool]
    times: int = 1
    status: int = 500
    token: str = ""


@dataclass
class FaultyTransport(httpx.BaseTransport):
    inner: httpx.BaseTransport = field(default_factory=httpx.HTTPTransport)
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    injected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append((request.method, request.url.path))
            fault = next((f for f in self.faults if f.times > 0 and f.matches(request)), None)
            if fault is not None:
                fault.times -= 1
                self.injected.append(f"{fault.kind} {request.method} {request.url.path}")
        if fault is None:
            return self.inner.handle_request(request)
        if fault.kind == "status":
            body = json.dumps({"message": f"injected {fault.status}"}).encode()
            return httpx.Response(fault.status, content=body, request=request)
        if fault.kind == "timeout":
            raise httpx.ReadTimeout("injected timeout", request=request)
        if fault.kind == "lost":
            response = self.inner.handle_request(request)
            response.read()
            response.close()
            raise httpx.ReadTimeout("injected: the answer was lost", request=request)
        if fault.kind == "token":
            request.headers["Authorization"] = f"Bearer {fault.token}"
            return self.inner.handle_request(request)
        raise AssertionError(f"unknown fault {fault.kind}")


def rest(table: str, method: str | None = None) -> Callable[[httpx.Request], bool]:
    return lambda r: r.url.path.startswith(f"/rest/v1/{table}") and method in (None, r.method)


def rpc(function: str) -> Callable[[httpx.Request], bool]:
    return lambda r: r.url.path == f"/rest/v1/rpc/{function}"


def auth_token(request: httpx.Request) -> bool:
    return request.url.path == "/auth/v1/token"


def storage(method: str | None = None) -> Callable[[httpx.Request], bool]:
    return lambda r: r.url.path.startswith("/storage/v1/object") and method in (None, r.method)


def any_request(request: httpx.Request) -> bool:
    return True


# A port that can be closed ---------------------------------------------------------------------
class TcpProxy:
    """Forwards 127.0.0.1:<port> to the stack; while stopped, the port refuses connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self) -> None:
        """Close the port and cut every open connection (the network goes away)."""
        server, self._server = self._server, None
        if server is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone leaves it listening.
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


# Builders ----------------------------------------------------------------------------------------
def new_attempt_args(
    user_key: str = "trainee",
    *,
    org_id: str = DEMO_ORG,
    scenario_id: str = SCENARIO_COLD_CALL,
    recording: Path | None = None,
    minutes_ago: int = 30,
) -> dict[str, Any]:
    started = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {
        "org_id": org_id,
        "user_id": USER_IDS[user_key],
        "scenario_id": scenario_id,
        "started_at": started,
        "ended_at": started + timedelta(seconds=24),
        "transcript": TRANSCRIPT,
        "recording": recording,
        "id": str(uuid.uuid4()),
    }


def write_recording(directory: Path, name: str = "call.flac", size: int = 4096) -> Path:
    """Bytes standing in for audio (Storage checks the declared type, not the content)."""
    path = directory / name
    path.write_bytes(b"fLaC" + bytes(range(256)) * (size // 256))
    return path
