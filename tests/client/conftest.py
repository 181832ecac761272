"""Client-core tests that need the server: a real backend against the session's local stack."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from stack_fixtures import FRESH_PASSWORD

from app.client.backend import SyncedBackend
from app.client.views import ServerConfig


def _new_backend(stack, data_dir: Path) -> SyncedBackend:
    """On its own cache folder, the sign-in kept in memory only; the engine's own timer is an
    hour (the tests sync when they mean to)."""
    return SyncedBackend(
        ServerConfig(stack.url, stack.anon_key), data_dir=data_dir, remember=False, interval_s=3600
    )


def _finish(backend: SyncedBackend) -> None:
    if backend.account is not None:
        backend.sign_out(discard_unsynced=True)
    backend.close()


@pytest.fixture
def backend(stack, tmp_path) -> Iterator[SyncedBackend]:
    """A signed-out backend."""
    backend = _new_backend(stack, tmp_path / "data")
    yield backend
    _finish(backend)


@pytest.fixture
def backend_for(stack, tmp_path: Path) -> Iterator[Callable[..., SyncedBackend]]:
    """backend_for(email, password=FRESH_PASSWORD): a backend signed in as that user (a fresh
    org's people have FRESH_PASSWORD; the demo's, DEMO_PASSWORD)."""
    made: list[SyncedBackend] = []

    def sign_in(email: str, password: str = FRESH_PASSWORD) -> SyncedBackend:
        backend = _new_backend(stack, tmp_path / f"data-{len(made)}")
        made.append(backend)
        backend.sign_in(email, password)
        return backend

    yield sign_in
    for backend in made:
        _finish(backend)
