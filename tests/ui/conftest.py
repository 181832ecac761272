"""UI tests: pytest-qt on the offscreen platform, against the real local stack.

The Makefile sets QT_QPA_PLATFORM too; setting it here (before Qt starts) lets
`pytest tests/ui` run the same way on its own.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator

import pytest

from ui.backend_supabase import SupabaseBackend
from ui.services import ServerConfig


@pytest.fixture
def server(stack) -> ServerConfig:
    return ServerConfig(stack.url, stack.anon_key)


@pytest.fixture
def backend(server, tmp_path) -> Iterator[SupabaseBackend]:
    """A signed-out backend pointed at the test stack."""
    backend = SupabaseBackend(server, cache_dir=tmp_path / "playback")
    yield backend
    backend.sign_out()
