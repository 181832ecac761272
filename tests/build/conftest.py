"""Fixtures for the release tooling in build/: the dist script, GPG keys, a Windows executable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pip
import pytest
from build_support import GpgKey, load_dist, make_gpg_key, run


@pytest.fixture(scope="session")
def dist() -> ModuleType:
    return load_dist()


@pytest.fixture(scope="session")
def gpg_homes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("gpg")
    yield root
    # Each home's gpg-agent would otherwise outlive the deleted folder.
    for home in root.iterdir():
        run(["gpgconf", "--kill", "all"], {"GNUPGHOME": str(home)})


@pytest.fixture(scope="session")
def release_key(gpg_homes: Path) -> GpgKey:
    """Stands in for the release key CI keeps as a secret (with a passphrase, as it should)."""
    return make_gpg_key(gpg_homes / "release", "Coachdesk Release", "correct horse battery")


@pytest.fixture(scope="session")
def attacker_key(gpg_homes: Path) -> GpgKey:
    return make_gpg_key(gpg_homes / "attacker", "Mallory", "mallory")


@pytest.fixture
def pe_file(tmp_path: Path) -> Path:
    """A real Windows executable to sign: a launcher pip vendors from distlib."""
    launchers = sorted((Path(pip.__file__).parent / "_vendor" / "distlib").glob("*64.exe"))
    assert launchers, "pip's distlib launchers (t64.exe/w64.exe) are missing"
    target = tmp_path / "coachdesk.exe"
    target.write_bytes(launchers[0].read_bytes())
    return target
