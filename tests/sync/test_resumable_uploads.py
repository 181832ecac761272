"""Large recordings through tus: 6 MB chunks, resumed at the server's offset after a failure.

Faults go in at the HTTP boundary (FaultyTransport, as in test_faults.py); under it, `Wire` sees
what reaches the server, so each test can say which bytes the server got and how often. Data is
random bytes (Storage checks the declared type, not the content).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from stack_fixtures import RunningStack, wait_for_scoring
from sync_support import DEMO_ORG, USER_IDS, Fault, FaultyTransport, new_attempt_args

from server.db.cluster import free_port
from server.stack import jwt as stack_jwt
from server.stack.config import StackConfig
from server.stack.runner import StackServer
from sync import uploads
from sync.cache import NewAttempt
from sync.client import ServerConfig
from sync.engine import Phase, SyncEngine

MB = 1024 * 1024
CHUNK = uploads.TUS_CHUNK_SIZE
SIZE = 15 * MB  # two whole chunks and a 3 MB tail
TUS_PATH = "/storage/v1/upload/resumable"


@dataclass
class Wire(httpx.BaseTransport):
    """Below the faults: the requests that reach the server, and a hook run before one."""

    inner: httpx.BaseTransport = field(default_factory=httpx.HTTPTransport)
    patches: list[tuple[int, int]] = field(default_factory=list)  # (Upload-Offset, bytes)
    creations: int = 0
    before: tuple[Callable[[httpx.Request], bool], Callable[[], None]] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.before is not None and self.before[0](request):
            _, hook = self.before
            self.before = None
            hook()
        if request.url.path == TUS_PATH and request.method == "POST":
            self.creations += 1
        if request.url.path.startswith(f"{TUS_PATH}/") and request.method == "PATCH":
            self.patches.append((int(request.headers["upload-offset"]), len(request.read())))
        return self.inner.handle_request(request)

    def received(self) -> int:
        return sum(length for _, length in self.patches)


def patch_at(offset: int) -> Callable[[httpx.Request], bool]:
    return lambda r: r.method == "PATCH" and r.headers.get("upload-offset") == str(offset)


@pytest.fixture(scope="module")
def big_bytes() -> bytes:
    return os.urandom(SIZE)


@pytest.fixture
def big_recording(tmp_path: Path, big_bytes: bytes) -> Path:
    path = tmp_path / "recordings" / "long-call.flac"
    path.parent.mkdir(parents=True)
    path.write_bytes(big_bytes)
    return path


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def faults(wire: Wire) -> FaultyTransport:
    return FaultyTransport(inner=wire)


@pytest.fixture
def trainee(sign_in, engine_for, faults: FaultyTransport) -> SyncEngine:
    return engine_for(sign_in("trainee", transport=faults))


def _record(engine: SyncEngine, recording: Path) -> tuple[NewAttempt, str]:
    new = NewAttempt(**new_attempt_args(recording=recording))
    engine.cache.record_attempt(new)
    return new, uploads.object_name(DEMO_ORG, USER_IDS["trainee"], new.id, ".flac")


def _row(engine: SyncEngine, attempt_id: str) -> dict:
    rows = engine.cache.db.execute_returning_dicts(
        "select state, last_error, resumable_url from uploads where attempt_id = ? "
        "and bucket = 'recordings'",
        [attempt_id],
    )
    return rows[0]


def _server_head(engine: SyncEngine, url: str) -> httpx.Response:
    client = engine.session.client
    return httpx.head(
        url,
        headers={
            "apikey": client.supabase_key,
            "Authorization": client.options.headers["Authorization"],
            "Tus-Resumable": "1.0.0",
        },
    )


def _download(engine: SyncEngine, name: str) -> bytes:
    return engine.session.client.storage.from_("recordings").download(name)


def test_a_large_recording_goes_in_6_mb_chunks_and_arrives_byte_identical(
    trainee, wire, big_recording, big_bytes, db
):
    new, name = _record(trainee, big_recording)
    status = trainee.run_once()
    assert status.phase is Phase.IDLE, status.last_error
    assert wire.creations == 1
    assert wire.patches == [(0, CHUNK), (CHUNK, CHUNK), (2 * CHUNK, SIZE - 2 * CHUNK)]
    assert _download(trainee, name) == big_bytes
    wait_for_scoring(db)
    row = db.execute(
        "select o.metadata->>'size', o.metadata->>'mimetype', a.recording_path, a.status"
        " from storage.objects o join scenario_attempts a on a.recording_path = o.name"
        " where o.bucket_id = 'recordings' and o.name = %s",
        (name,),
    ).fetchone()
    assert row == (str(SIZE), "audio/flac", name, "scored")
    assert _row(trainee, new.id) == {"state": "done", "last_error": None, "resumable_url": None}


def test_small_files_keep_the_one_request_path(trainee, wire, faults, recording):
    _record(trainee, recording())
    assert trainee.run_once().phase is Phase.IDLE
    assert wire.creations == 0 and wire.patches == []
    object_posts = [p for m, p in faults.requests if m == "POST" and "/storage/v1/object/" in p]
    assert len(object_posts) == 3  # the recording and both transcript files


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", patch_at(CHUNK), status=503),
        Fault("timeout", patch_at(CHUNK)),  # the second chunk never arrives
        Fault("lost", patch_at(0)),  # the first chunk arrives, its answer does not
    ],
    ids=["503", "timeout", "lost-answer"],
)
def test_an_upload_cut_after_the_first_chunk_resumes_at_6_mb(
    engine_for, tmp_path, trainee, faults, wire, big_recording, big_bytes, fault
):
    new, name = _record(trainee, big_recording)
    faults.add(fault)
    failed = trainee.run_once()
    assert failed.phase is Phase.OFFLINE, failed.last_error
    assert faults.injected, "the fault was hit"
    url = _row(trainee, new.id)["resumable_url"]
    assert url and url.startswith(f"{trainee.session.client.supabase_url}".rstrip("/"))
    assert _server_head(trainee, url).headers["Upload-Offset"] == str(CHUNK)
    before = list(wire.patches)

    # The next sync as after a crash: a new engine over the same cache file, nothing in memory.
    trainee.cache.close()
    again = engine_for(trainee.session, data_dir=tmp_path / "data")
    status = again.run_once()
    assert status.phase is Phase.IDLE, status.last_error
    assert wire.creations == 1, "resumed, not started over"
    assert wire.patches[len(before) :] == [(CHUNK, CHUNK), (2 * CHUNK, SIZE - 2 * CHUNK)]
    assert wire.received() == SIZE, "the server got every byte exactly once"
    assert _download(again, name) == big_bytes
    assert _row(again, new.id)["resumable_url"] is None


def test_a_chunk_the_server_already_has_is_skipped_after_a_409(trainee, wire, big_recording):
    """Someone (another try of this upload) got the first chunk in first: the server answers 409
    and the client continues from the server's offset instead of failing."""
    new, _ = _record(trainee, big_recording)

    def send_first_chunk_behind_its_back() -> None:
        url = _row(trainee, new.id)["resumable_url"]
        client = trainee.session.client
        response = httpx.patch(
            url,
            content=big_recording.read_bytes()[:CHUNK],
            headers={
                "apikey": client.supabase_key,
                "Authorization": client.options.headers["Authorization"],
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert response.status_code == 204, response.text

    wire.before = (patch_at(0), send_first_chunk_behind_its_back)
    status = trainee.run_once()
    assert status.phase is Phase.IDLE, status.last_error
    # The client's own first chunk got a 409; it went on at 6 MB.
    assert [offset for offset, _ in wire.patches] == [0, CHUNK, 2 * CHUNK]


def test_a_token_that_expires_mid_upload_is_refreshed_and_the_upload_resumes(
    trainee, faults, wire, stack, big_recording, big_bytes
):
    _, name = _record(trainee, big_recording)
    token = trainee.session.client.options.headers["Authorization"].split()[1]
    claims = stack_jwt.decode(token, stack.config.jwt_secret)
    expired = stack_jwt.encode({**claims, "exp": stack_jwt.now() - 60}, stack.config.jwt_secret)
    faults.add(Fault("token", patch_at(CHUNK), token=expired))

    def token_requests() -> int:
        return len([p for _, p in faults.requests if p == "/auth/v1/token"])

    signed_in_with = token_requests()
    status = trainee.run_once()  # one round: refreshed, then the push step again
    assert status.phase is Phase.IDLE, status.last_error
    assert token_requests() == signed_in_with + 1, "one refresh"
    assert [offset for offset, _ in wire.patches] == [0, CHUNK, CHUNK, 2 * CHUNK]
    assert wire.creations == 1
    assert _download(trainee, name) == big_bytes


def test_a_recording_over_the_size_limit_is_refused_with_the_servers_message(
    trainee, wire, tmp_path, db
):
    huge = tmp_path / "huge.flac"
    with huge.open("wb") as handle:  # sparse: no bytes written, none sent
        handle.truncate(51 * MB)
    new, _ = _record(trainee, huge)
    status = trainee.run_once()
    assert status.phase is Phase.IDLE, status.last_error
    assert wire.patches == []
    row = _row(trainee, new.id)
    assert row["state"] == "rejected"
    assert row["last_error"] == "The object exceeded the maximum allowed size (storage-413)"
    # The attempt itself goes, without a recording path.
    server = db.execute(
        "select recording_path from scenario_attempts where id = %s", (new.id,)
    ).fetchone()
    assert server == (None,)


# A stack of this test's own, stopped and started again on the same port and data directory.
@dataclass
class RestartableStack:
    config: StackConfig
    server: StackServer | None = None

    def start(self) -> None:
        self.server = StackServer(self.config).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.stop()
        self.server = None


@pytest.fixture
def own_stack(stack: RunningStack, tmp_path: Path) -> Iterator[RestartableStack]:
    """The session stack's database and JWT secret (so the same keys and tokens), its own files
    and port. It re-points the database's storage_url while it runs; that is put back."""
    config = StackConfig(
        stack.dsn, tmp_path / "own-stack", stack.config.jwt_secret, port=free_port()
    )
    own = RestartableStack(config)
    own.start()
    try:
        yield own
    finally:
        if own.server is not None:
            own.stop()
        with psycopg.connect(stack.dsn, autocommit=True) as conn:
            conn.execute(
                "update private.settings set value = %s where key = 'storage_url'",
                (f"{stack.url}/storage/v1",),
            )


def test_a_stack_restarted_mid_upload_still_resumes(
    own_stack, sign_in, engine_for, big_recording, big_bytes
):
    wire = Wire()
    faults = FaultyTransport(inner=wire)
    config = ServerConfig(own_stack.config.url, own_stack.config.anon_key)
    engine = engine_for(sign_in("trainee", config=config, transport=faults))
    new, name = _record(engine, big_recording)

    stopped = threading.Event()

    def restart_pending() -> None:
        own_stack.stop()
        stopped.set()

    # The stack goes down just before the second chunk leaves: that chunk finds no server.
    wire.before = (patch_at(CHUNK), restart_pending)
    failed = engine.run_once()
    assert stopped.is_set()
    assert failed.phase is Phase.OFFLINE, failed.last_error
    partials = list((own_stack.config.storage_dir / "resumable").iterdir())
    assert len(partials) == 1 and (partials[0] / "data").stat().st_size == CHUNK

    own_stack.start()
    status = engine.run_once()
    assert status.phase is Phase.IDLE, status.last_error
    assert wire.creations == 1
    assert [offset for offset, _ in wire.patches] == [0, CHUNK, CHUNK, 2 * CHUNK]
    assert _download(engine, name) == big_bytes
    assert _row(engine, new.id)["state"] == "done"
