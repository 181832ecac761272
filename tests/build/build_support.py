"""Helpers for the release-tooling tests (named module: a folder's conftest would shadow it)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"


def load_dist() -> ModuleType:
    """build/dist.py, loaded by path: `build` is no package (and PyPA's `build` would shadow it)."""
    spec = importlib.util.spec_from_file_location("coachdesk_release_dist", BUILD / "dist.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def run(
    command: list[str | Path], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """A command's result, output captured as text; env adds to (or blanks) this environment."""
    return subprocess.run(
        [str(part) for part in command],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )


@dataclass(frozen=True)
class GpgKey:
    fingerprint: str
    armored_secret: str
    armored_public: str
    passphrase: str


def _gpg(home: Path, *args: str) -> str:
    result = run(["gpg", "--batch", "--yes", "--pinentry-mode", "loopback", *args],
                 {"GNUPGHOME": str(home)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def make_gpg_key(home: Path, name: str, passphrase: str) -> GpgKey:
    """A fresh ed25519 signing key in its own GNUPGHOME, exported as a release secret would be."""
    home.mkdir(mode=0o700)
    uid = f"{name} <{name.lower().replace(' ', '-')}@coachdesk.invalid>"
    _gpg(home, "--passphrase", passphrase, "--quick-gen-key", uid, "ed25519", "sign", "1d")
    listing = _gpg(home, "--with-colons", "--list-secret-keys")
    fingerprint = next(
        line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")
    )
    secret = _gpg(home, "--passphrase", passphrase, "--armor", "--export-secret-keys", fingerprint)
    public = _gpg(home, "--armor", "--export", fingerprint)
    return GpgKey(fingerprint, secret, public, passphrase)


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
