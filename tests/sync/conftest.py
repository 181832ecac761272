"""Fixtures for the sync tests: sessions, caches and engines against the session's local stack."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from stack_fixtures import DEMO_PASSWORD, EMAILS, RunningStack
from sync_support import FaultyTransport, MemoryKeyring, TcpProxy

from sync.cache import Cache
from sync.client import ServerConfig
from sync.engine import Backoff, SyncEngine
from sync.owner import Owner
from sync.session import Session


@pytest.fixture
def server(stack: RunningStack) -> ServerConfig:
    return ServerConfig(stack.url, stack.anon_key)


@pytest.fixture
def proxy(stack: RunningStack) -> Iterator[TcpProxy]:
    """The stack behind a port the test can close (network down) and open again."""
    proxy = TcpProxy(int(stack.url.rsplit(":", 1)[1]))
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def proxied(stack: RunningStack, proxy: TcpProxy) -> ServerConfig:
    return ServerConfig(proxy.url, stack.anon_key)


@pytest.fixture
def keyring_backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def faults() -> FaultyTransport:
    return FaultyTransport()


@pytest.fixture
def make_session(server: ServerConfig, keyring_backend: MemoryKeyring) -> Callable[..., Session]:
    def make(
        *,
        config: ServerConfig | None = None,
        transport: httpx.BaseTransport | None = None,
        backend: MemoryKeyring | None = None,
    ) -> Session:
        return Session(
            config or server,
            keyring_backend=backend or keyring_backend,
            transport=transport,
        )

    return make


@pytest.fixture
def sign_in(make_session: Callable[..., Session]) -> Callable[..., Session]:
    """`sign_in("trainee")` → a Session signed in as that seed user (password sign-in).

    Each call gets its own keyring unless `backend` is given: one keyring holds one session
    per server, as on a real computer, so two users at once need two "computers"."""

    def sign(key: str, **kwargs: object) -> Session:
        kwargs.setdefault("backend", MemoryKeyring())
        session = make_session(**kwargs)
        session.sign_in(EMAILS[key], DEMO_PASSWORD)
        return session

    return sign


@pytest.fixture
def open_cache(tmp_path: Path) -> Iterator[Callable[..., Cache]]:
    caches: list[Cache] = []

    def open_(user_id: str, data_dir: Path | None = None) -> Cache:
        cache = Cache.open(data_dir or tmp_path / "data", user_id)
        caches.append(cache)
        return cache

    yield open_
    for cache in caches:
        cache.close()


@pytest.fixture
def engine_for(open_cache: Callable[..., Cache]) -> Callable[..., SyncEngine]:
    """An engine over a signed-in session and a cache of its user (no worker thread)."""

    def make(session: Session, data_dir: Path | None = None, **kwargs: object) -> SyncEngine:
        identity = session.require_identity()
        kwargs.setdefault("backoff", Backoff(base_s=0.05, cap_s=0.2))
        return SyncEngine(session, open_cache(identity.user_id, data_dir), **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def owned_engine_for(tmp_path: Path) -> Iterator[Callable[..., SyncEngine]]:
    """An engine as the app has it: its cache opened on its owner thread (sync/owner.py), so
    `start()` syncs there; the test hands cache work to `engine.owner` too."""
    engines: list[SyncEngine] = []

    def make(session: Session, data_dir: Path | None = None, **kwargs: object) -> SyncEngine:
        owner = Owner("coachdesk-owner")
        user_id = session.require_identity().user_id
        cache = owner.call(lambda: Cache.open(data_dir or tmp_path / "data", user_id))
        kwargs.setdefault("backoff", Backoff(base_s=0.05, cap_s=0.2))
        engine = owner.call(
            lambda: SyncEngine(session, cache, owner=owner, **kwargs)  # type: ignore[arg-type]
        )
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.stop()
        engine.owner.call(engine.cache.close)
        engine.owner.stop()


@pytest.fixture(scope="session")
def flac(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One second of a real FLAC recording (sox), copied for each attempt that needs one."""
    sox = shutil.which("sox")
    assert sox, "sox is needed to make test recordings"
    path = tmp_path_factory.mktemp("audio") / "tone.flac"
    subprocess.run(
        [sox, "-n", "-r", "16000", "-c", "1", str(path), "synth", "1", "sine", "440"], check=True
    )
    return path


@pytest.fixture
def recording(tmp_path: Path, flac: Path) -> Callable[[], Path]:
    counter = iter(range(1_000_000))

    def make() -> Path:
        target = tmp_path / "recordings" / f"call-{next(counter)}.flac"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(flac, target)
        return target

    return make
