"""Linux release build: the PyInstaller bundle, a tar.gz and a .deb, SHA256SUMS and its signature.

    python build/dist.py bundle            build/dist/coachdesk/ (make selftest-bundle)
    python build/dist.py package           tar.gz + .deb of that bundle into build/dist/release/
    python build/dist.py sign [DIR]        SHA256SUMS of DIR's artifacts + SHA256SUMS.asc
    python build/dist.py all [--release]   all three (make dist)

The version comes from the git tag through setuptools-scm and is baked into the bundle.
Signing uses GPG: the armored secret key comes from COACHDESK_GPG_PRIVATE_KEY (passphrase, if
any, from COACHDESK_GPG_PASSPHRASE). Without it a throwaway test key signs, so CI exercises the
same path; --release refuses to do that. Each run exports the public key beside the signature.
docs/deployment.md says how IT verifies (build/verify.sh).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
WORK = BUILD / "work"
DIST = BUILD / "dist"
BUNDLE = DIST / "coachdesk"
RELEASE = DIST / "release"
SPEC = BUILD / "coachdesk.spec"

# The bundle's third-party licences (the spec puts the file in resources/; packages copy it).
LICENCES_ENV = "COACHDESK_LICENSES_FILE"
BUNDLED_LICENCES = Path("_internal/resources/THIRD-PARTY-LICENSES.txt")

SUMS = "SHA256SUMS"
SIGNATURE = SUMS + ".asc"
PUBLIC_KEY = "coachdesk-signing-key.asc"
ARTIFACT_SUFFIXES = (".tar.gz", ".deb", ".exe", ".dmg", ".zip")

KEY_ENV = "COACHDESK_GPG_PRIVATE_KEY"
PASSPHRASE_ENV = "COACHDESK_GPG_PASSPHRASE"
TEST_KEY_UID = "Coachdesk TEST signing key (not for release) <test-signing@coachdesk.invalid>"

# Where the .deb puts things: the bundle under /opt, the command on PATH, a menu entry.
DEB_PREFIX = Path("opt/coachdesk")
# What the bundle loads from the system rather than carrying (PyInstaller leaves glibc and the
# GL/EGL/DRM/xcb stack to the host); found with ldd on every ELF file of the bundle. glibc's
# minimum version is read from the bundle itself (glibc_requirement).
DEB_DEPENDS = ("libgl1", "libegl1", "libxcb1", "libdrm2")
DEB_RECOMMENDS = (
    "espeak-ng",  # the persona's voice (ui/voice.py); without it lines are text only
    "libwayland-client0",  # Qt's wayland platform plugin; X11 (xcb) works without these
    "libwayland-cursor0",
    "libwayland-egl1",
    "fonts-dejavu-core",
)


class DistError(Exception):
    """A release step cannot be done; the message says which and why."""


# --- version -----------------------------------------------------------------------------------


def project_version(root: Path = ROOT) -> str:
    """The version setuptools-scm derives from the git tag (pyproject's fallback without git)."""
    result = _run([sys.executable, "-m", "setuptools_scm"], capture=True, cwd=root)
    return result.stdout.strip().splitlines()[-1]


def debian_version(version: str) -> str:
    """PEP 440 -> Debian: pre-releases sort before the release with "~" (1.2.0rc1 -> 1.2.0~rc1)."""
    public, plus, local = version.partition("+")
    public = re.sub(r"\.?(dev|a|b|rc)(\d+)", r"~\1\2", public)
    return public + plus + local


# --- bundle ------------------------------------------------------------------------------------


def bundle_inputs(version: str, work: Path = WORK) -> dict[str, str]:
    """The files the spec bakes into the bundle, written now, as the variables naming them:
    the version from the git tag, and the third-party licences (app/licences.py) collected
    from this build environment's packages, which a frozen app cannot read."""
    work.mkdir(parents=True, exist_ok=True)
    version_file = work / "VERSION"
    version_file.write_text(version + "\n", encoding="utf-8")
    licences_file = work / BUNDLED_LICENCES.name
    # In the build's Python, from the source tree (as PyInstaller analyses it).
    _run([sys.executable, "-m", "app.licences", str(licences_file)], cwd=ROOT)
    return {"COACHDESK_VERSION_FILE": str(version_file), LICENCES_ENV: str(licences_file)}


def build_bundle(version: str) -> Path:
    inputs = bundle_inputs(version)
    _run(
        [
            *(sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--log-level=WARN"),
            *("--distpath", str(DIST), "--workpath", str(WORK / "pyinstaller")),
        ],
        env={**os.environ, **inputs},
    )
    print(f"bundle: {BUNDLE} ({_tree_size(BUNDLE) / 2**20:.0f} MiB)")
    return BUNDLE


# --- packages ----------------------------------------------------------------------------------


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH, else the last commit's time: the same input gives the same archive."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        return int(os.environ["SOURCE_DATE_EPOCH"])
    result = _run(["git", "log", "-1", "--format=%ct"], capture=True, cwd=ROOT, check=False)
    return int(result.stdout.strip() or 0)


def make_tarball(bundle: Path, version: str, out_dir: Path) -> Path:
    """coachdesk-<version>-linux-<arch>.tar.gz holding coachdesk-<version>/ (the bundle)."""
    name = f"coachdesk-{version}-linux-{os.uname().machine}"
    path = out_dir / f"{name}.tar.gz"
    mtime = source_date_epoch()

    def normalized(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = mtime
        return info

    with (
        path.open("wb") as raw,
        # Level 6: within 1 % of 9 on this content, at a fraction of the time.
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime, compresslevel=6) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        top = f"coachdesk-{version}"
        tar.add(bundle, arcname=top, recursive=False, filter=normalized)
        for source in sorted(bundle.rglob("*")):
            arcname = f"{top}/{source.relative_to(bundle)}"
            tar.add(source, arcname=arcname, recursive=False, filter=normalized)
    return path


def make_deb(bundle: Path, version: str, out_dir: Path, work: Path = WORK) -> Path:
    """A .deb installing the bundle in /opt/coachdesk, built with dpkg-deb (no debhelper)."""
    deb_version = debian_version(version)
    root = work / "deb"
    shutil.rmtree(root, ignore_errors=True)
    # Hard links: staging ~700 MB costs no copy; dpkg-deb reads the same bytes.
    shutil.copytree(bundle, root / DEB_PREFIX, symlinks=True, copy_function=os.link)
    _write(root / "usr/bin/coachdesk", None, link=Path("/", DEB_PREFIX, "coachdesk"))
    _write(root / "usr/share/applications/coachdesk.desktop", DESKTOP_ENTRY)
    docs = root / "usr/share/doc/coachdesk"
    _write(docs / "copyright", COPYRIGHT)
    _write(docs / BUNDLED_LICENCES.name, bundled_licences(bundle))
    _write(docs / "examples/config.toml", (BUILD / "managed-config.example.toml").read_text())
    installed_kib = (_tree_size(root) + 1023) // 1024
    _write(
        root / "DEBIAN/control",
        textwrap.dedent(f"""\
            Package: coachdesk
            Version: {deb_version}
            Architecture: {_deb_architecture()}
            Maintainer: Coachdesk IT support <it@coachdesk.invalid>
            Installed-Size: {installed_kib}
            Depends: {", ".join((glibc_requirement(bundle), *DEB_DEPENDS))}
            Recommends: {", ".join(DEB_RECOMMENDS)}
            Section: misc
            Priority: optional
            Homepage: https://coachdesk.invalid
            Description: Sales-call practice on the desktop
             Role-play a customer persona, record and transcribe your side on this computer,
             score the call and sync it to your organisation. Settings an administrator
             puts in /etc/coachdesk/config.toml apply to every user and may be locked.
            """),
    )
    _write(root / "DEBIAN/md5sums", _md5sums(root))
    path = out_dir / f"coachdesk_{deb_version}_{_deb_architecture()}.deb"
    # zstd: as small as gzip's, built in seconds instead of xz's minutes on two cores; dpkg reads
    # it since 1.21.18 (Debian 12, Ubuntu 21.10), older than the glibc the bundle needs anyway.
    _run(
        ["dpkg-deb", "--root-owner-group", "-Zzstd", "--build", str(root), str(path)],
        env={**os.environ, "SOURCE_DATE_EPOCH": str(source_date_epoch())},  # clamps mtimes
    )
    return path


COPYRIGHT = """\
Copyright Coachdesk. All rights reserved. Proprietary.

Coachdesk includes third-party software under its own licences (Qt and PySide6 under the
GNU LGPL version 3); THIRD-PARTY-LICENSES.txt in this folder lists each with its licence text.
"""


def bundled_licences(bundle: Path) -> str:
    """The bundle's THIRD-PARTY-LICENSES text; a package without it must not be made."""
    path = bundle / BUNDLED_LICENCES
    if not path.is_file():
        raise DistError(
            f"{path} is missing: the bundle must ship its third-party licences "
            "(build it with `python build/dist.py bundle`)"
        )
    return path.read_text(encoding="utf-8")


DESKTOP_ENTRY = """\
[Desktop Entry]
Type=Application
Name=Coachdesk
Comment=Sales-call practice
Exec=/opt/coachdesk/coachdesk
Terminal=false
Categories=Office;Education;
"""


def glibc_requirement(bundle: Path) -> str:
    """libc6 (>= X): the newest GLIBC_ symbol version any ELF file in the bundle needs.

    A bundle runs only where glibc is at least as new as on the machine that built it; this
    makes dpkg say so instead of the app failing at start.
    """
    needed = [(2, 17)]
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink() and _is_elf(path):
            symbols = _run(["objdump", "-T", str(path)], capture=True, check=False).stdout
            needed += [
                tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+\.\d+)", symbols)
            ]
    return f"libc6 (>= {'.'.join(map(str, max(needed)))})"


def _is_elf(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4) == b"\x7fELF"


def _deb_architecture() -> str:
    return _run(["dpkg", "--print-architecture"], capture=True).stdout.strip()


def _md5sums(root: Path) -> str:
    """dpkg's list of the package's regular files (dpkg --verify reads it)."""
    lines = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not path.is_symlink() and relative.parts[0] != "DEBIAN":
            lines.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {relative}\n")
    return "".join(lines)


# --- checksums and signature -------------------------------------------------------------------


def artifacts(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.iterdir() if p.is_file() and p.name.endswith(ARTIFACT_SUFFIXES)
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_checksums(directory: Path) -> Path:
    """SHA256SUMS in `sha256sum --check` format, for every artifact in the folder."""
    files = artifacts(directory)
    if not files:
        raise DistError(f"no artifacts ({', '.join(ARTIFACT_SUFFIXES)}) in {directory} to sign")
    sums = directory / SUMS
    sums.write_text("".join(f"{sha256(path)}  {path.name}\n" for path in files), encoding="utf-8")
    return sums


@dataclass(frozen=True)
class SigningKey:
    armored_secret: str | None  # None: a throwaway test key
    passphrase: str | None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], *, release: bool) -> SigningKey:
        secret = environ.get(KEY_ENV) or None
        if secret is None and release:
            raise DistError(
                f"a release must be signed with the release key: set {KEY_ENV} to its "
                f"ASCII-armored secret key (and {PASSPHRASE_ENV} if it has a passphrase)"
            )
        return cls(secret, environ.get(PASSPHRASE_ENV) or None)


def sign(sums: Path, key: SigningKey) -> tuple[Path, str]:
    """SHA256SUMS.asc (armored detached signature) and the public key; the key's fingerprint."""
    with _gnupg_home() as env:
        if key.armored_secret is None:
            print(f"warning: no {KEY_ENV}; signing with a throwaway TEST key", file=sys.stderr)
            _gpg(
                env,
                *("--pinentry-mode", "loopback", "--passphrase", ""),
                *("--quick-gen-key", TEST_KEY_UID, "ed25519", "sign", "1d"),
            )
        else:
            _gpg(env, "--import", stdin=key.armored_secret)
        fingerprint = _secret_fingerprint(env)
        signature = sums.with_name(SIGNATURE)
        _gpg(
            env,
            *("--pinentry-mode", "loopback", "--passphrase-fd", "0", "--local-user", fingerprint),
            *("--armor", "--detach-sign", "--output", str(signature), str(sums)),
            stdin=key.passphrase or "",
        )
        public = _gpg(env, "--armor", "--export", fingerprint).stdout
        sums.with_name(PUBLIC_KEY).write_text(public, encoding="utf-8")
    return signature, fingerprint


@contextmanager
def _gnupg_home() -> Iterator[dict[str, str]]:
    """A private, temporary GNUPGHOME: the builder's own keyrings are never read or changed."""
    # Short path: gpg-agent's socket lives in it, and socket paths are limited to ~100 bytes.
    with tempfile.TemporaryDirectory(prefix="cdgpg-", dir="/tmp") as home:
        os.chmod(home, 0o700)
        env = {**os.environ, "GNUPGHOME": home}
        try:
            yield env
        finally:
            # The agent the commands started would otherwise outlive its deleted home.
            _run(["gpgconf", "--kill", "all"], env=env, check=False, capture=True)


def _gpg(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return _run(["gpg", "--batch", "--yes", *args], env=env, capture=True, stdin=stdin)


def _secret_fingerprint(env: dict[str, str]) -> str:
    listing = _gpg(env, "--with-colons", "--list-secret-keys").stdout
    fingerprints = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
    if not fingerprints:
        raise DistError(f"{KEY_ENV} holds no secret key")
    return fingerprints[0]  # the primary key's; subkeys follow it


# --- helpers -----------------------------------------------------------------------------------


def _run(
    command: list[str],
    *,
    capture: bool = False,
    check: bool = True,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(
            command, cwd=cwd, env=env, input=stdin, text=True, capture_output=capture
        )
    except FileNotFoundError as error:
        raise DistError(f"{command[0]} is not installed (make dist installs it)") from error
    if check and result.returncode != 0:
        detail = (result.stderr or "").strip() if capture else ""
        raise DistError(f"{' '.join(command[:3])} … failed (exit {result.returncode}) {detail}")
    return result


def _write(path: Path, text: str | None, *, link: Path | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if link is not None:
        path.symlink_to(link)
    else:
        path.write_text(text or "", encoding="utf-8")


def _tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


# --- command line ------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build/dist.py", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["bundle", "package", "sign", "all"])
    parser.add_argument("directory", nargs="?", type=Path, default=RELEASE, help="for sign")
    parser.add_argument("--release", action="store_true", help="refuse to sign with a test key")
    args = parser.parse_args(argv)
    try:
        key = SigningKey.from_environment(os.environ, release=args.release)
        version = project_version() if args.step != "sign" else None
        if args.step in ("bundle", "all"):
            build_bundle(version)
        if args.step in ("package", "all"):
            if not (BUNDLE / "coachdesk").is_file():
                raise DistError(f"no bundle in {BUNDLE}: run `build/dist.py bundle` first")
            shutil.rmtree(RELEASE, ignore_errors=True)
            RELEASE.mkdir(parents=True)
            for path in (
                make_tarball(BUNDLE, version, RELEASE),
                make_deb(BUNDLE, version, RELEASE),
            ):
                print(f"package: {path} ({path.stat().st_size / 2**20:.0f} MiB)")
        if args.step in ("sign", "all"):
            directory = args.directory if args.step == "sign" else RELEASE
            signature, fingerprint = sign(write_checksums(directory), key)
            print(f"signed: {signature} (key {fingerprint})")
    except DistError as error:
        print(f"build/dist.py {args.step}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
