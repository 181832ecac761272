"""Client-core tests that need the server: a real backend against the session's local stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.client.backend import SyncedBackend
from app.client.views import ServerConfig


@pytest.fixture
def backend(stack, tmp_path) -> Iterator[SyncedBackend]:
    """A signed-out backend on its own cache folder, the sign-in kept in memory only; the
    engine's own timer is an hour (the tests sync when they mean to)."""
    backend = SyncedBackend(
        ServerConfig(stack.url, stack.anon_key),
        data_dir=tmp_path / "data",
        remember=False,
        interval_s=3600,
    )
    yield backend
    if backend.account is not None:
        backend.sign_out(discard_unsynced=True)
    backend.close()
