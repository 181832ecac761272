"""Release artifacts: SHA256SUMS signed with GPG, verified by build/verify.sh; tampering fails.

Signing runs build/dist.py exactly as `make dist` does, with the key handed over in the
environment as CI's secret would be; verification runs the script IT runs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest
from build_support import BUILD, GpgKey, flip_byte, run

DIST = BUILD / "dist.py"
VERIFY = BUILD / "verify.sh"


def sign(directory: Path, key: GpgKey | None, *extra: str) -> subprocess.CompletedProcess:
    env = {"COACHDESK_GPG_PRIVATE_KEY": "", "COACHDESK_GPG_PASSPHRASE": ""}
    if key is not None:
        env = {"COACHDESK_GPG_PRIVATE_KEY": key.armored_secret,
               "COACHDESK_GPG_PASSPHRASE": key.passphrase}  # fmt: skip
    return run([sys.executable, DIST, "sign", directory, *extra], env)


def verify(key_file: Path, directory: Path) -> subprocess.CompletedProcess:
    return run(["bash", VERIFY, key_file, directory])


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A small release folder: a real tar.gz and a stand-in .deb."""
    folder = tmp_path / "release"
    folder.mkdir()
    payload = tmp_path / "coachdesk"
    payload.write_text("#!/bin/sh\necho coachdesk\n")
    with tarfile.open(folder / "coachdesk-1.2.3-linux-x86_64.tar.gz", "w:gz") as tar:
        tar.add(payload, arcname="coachdesk-1.2.3/coachdesk")
    (folder / "coachdesk_1.2.3_amd64.deb").write_bytes(os.urandom(4096))
    (folder / "notes.txt").write_text("not an artifact: not in SHA256SUMS")
    return folder


@pytest.fixture
def public_key(tmp_path: Path, release_key: GpgKey) -> Path:
    """The key IT got from a trusted channel (not the copy beside the artifacts)."""
    path = tmp_path / "coachdesk-release-key.asc"
    path.write_text(release_key.armored_public)
    return path


def test_signed_release_verifies(release, release_key, public_key):
    signed = sign(release, release_key)
    assert signed.returncode == 0, signed.stderr
    assert release_key.fingerprint in signed.stdout

    sums = (release / "SHA256SUMS").read_text().splitlines()
    assert [line.split("  ")[1] for line in sums] == [
        "coachdesk-1.2.3-linux-x86_64.tar.gz",
        "coachdesk_1.2.3_amd64.deb",
    ]
    assert (release / "SHA256SUMS.asc").read_text().startswith("-----BEGIN PGP SIGNATURE-----")
    assert (release / "coachdesk-signing-key.asc").read_text() == release_key.armored_public

    result = verify(public_key, release)
    assert result.returncode == 0, result.stderr
    assert f"key: {release_key.fingerprint}" in result.stdout
    assert "coachdesk-1.2.3-linux-x86_64.tar.gz: OK" in result.stdout
    assert result.stdout.rstrip().endswith("verify: OK")


def test_one_flipped_byte_in_an_artifact_fails(release, release_key, public_key):
    assert sign(release, release_key).returncode == 0
    flip_byte(release / "coachdesk-1.2.3-linux-x86_64.tar.gz", 100)

    result = verify(public_key, release)
    assert result.returncode == 1
    assert "coachdesk-1.2.3-linux-x86_64.tar.gz: FAILED" in result.stdout
    assert "does not match SHA256SUMS" in result.stderr


def test_a_manifest_rewritten_to_match_a_tampered_artifact_fails(release, release_key, public_key):
    assert sign(release, release_key).returncode == 0
    artifact = release / "coachdesk_1.2.3_amd64.deb"
    flip_byte(artifact, 10)
    # The attacker also fixes the checksum line; the signature no longer covers the manifest.
    sums = release / "SHA256SUMS"
    lines = sums.read_text().splitlines()
    lines[1] = f"{hashlib.sha256(artifact.read_bytes()).hexdigest()}  {artifact.name}"
    sums.write_text("\n".join(lines) + "\n")

    result = verify(public_key, release)
    assert result.returncode == 1
    assert "not signed by this key (or was changed after signing)" in result.stderr


def test_a_release_signed_with_another_key_fails(release, attacker_key, public_key):
    assert sign(release, attacker_key).returncode == 0

    result = verify(public_key, release)
    assert result.returncode == 1
    assert "not signed by this key" in result.stderr


def test_partial_download_verifies_but_nothing_downloaded_fails(release, release_key, public_key):
    assert sign(release, release_key).returncode == 0
    (release / "coachdesk_1.2.3_amd64.deb").unlink()
    assert verify(public_key, release).returncode == 0

    (release / "coachdesk-1.2.3-linux-x86_64.tar.gz").unlink()
    result = verify(public_key, release)
    assert result.returncode == 1


def test_missing_signature_fails(release, release_key, public_key):
    assert sign(release, release_key).returncode == 0
    (release / "SHA256SUMS.asc").unlink()

    result = verify(public_key, release)
    assert result.returncode == 1
    assert "SHA256SUMS.asc is missing" in result.stderr


def test_release_build_refuses_the_test_key(release):
    result = sign(release, None, "--release")
    assert result.returncode == 1
    assert "COACHDESK_GPG_PRIVATE_KEY" in result.stderr
    assert not (release / "SHA256SUMS.asc").exists()


def test_without_a_key_a_test_key_signs_and_says_so(release, tmp_path):
    result = sign(release, None)
    assert result.returncode == 0, result.stderr
    assert "throwaway TEST key" in result.stderr
    # The exported test key verifies its own signature: CI exercises the whole path.
    exported = release / "coachdesk-signing-key.asc"
    assert verify(exported, release).returncode == 0


def test_wrong_passphrase_is_refused(release, release_key):
    env = {"COACHDESK_GPG_PRIVATE_KEY": release_key.armored_secret,
           "COACHDESK_GPG_PASSPHRASE": "wrong"}  # fmt: skip
    result = run([sys.executable, DIST, "sign", release], env)
    assert result.returncode == 1
    assert not (release / "SHA256SUMS.asc").exists()


def test_signing_an_empty_folder_is_refused(tmp_path, release_key):
    result = sign(tmp_path, release_key)
    assert result.returncode == 1
    assert "no artifacts" in result.stderr


# --- packages ------------------------------------------------------------------------------------


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A stand-in for build/dist/coachdesk: a real ELF executable and a data file."""
    folder = tmp_path / "bundle"
    (folder / "_internal" / "resources").mkdir(parents=True)
    (folder / "coachdesk").write_bytes(Path("/bin/true").read_bytes())
    (folder / "coachdesk").chmod(0o755)
    (folder / "_internal" / "resources" / "clip.txt").write_text("sample")
    (folder / "_internal" / "resources" / "THIRD-PARTY-LICENSES.txt").write_text("Qt: LGPL-3.0")
    return folder


def test_tarball_is_reproducible_and_owned_by_root(dist: ModuleType, bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    one = dist.make_tarball(bundle, "1.2.3", first)
    (bundle / "coachdesk").touch()  # a later mtime must not change the archive
    two = dist.make_tarball(bundle, "1.2.3", second)
    assert one.read_bytes() == two.read_bytes()

    with tarfile.open(one) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [
        "coachdesk-1.2.3",
        "coachdesk-1.2.3/_internal",
        "coachdesk-1.2.3/_internal/resources",
        "coachdesk-1.2.3/_internal/resources/THIRD-PARTY-LICENSES.txt",
        "coachdesk-1.2.3/_internal/resources/clip.txt",
        "coachdesk-1.2.3/coachdesk",
    ]
    assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, 1700000000)}
    assert members[-1].mode & 0o111  # still executable


def test_deb_installs_the_bundle_under_opt_with_the_command_on_path(dist, bundle, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    deb = dist.make_deb(bundle, "1.2.4.dev3+g1a2b3c", out, work=tmp_path / "work")
    assert deb.name == f"coachdesk_1.2.4~dev3+g1a2b3c_{dist._deb_architecture()}.deb"

    info = run(["dpkg-deb", "--field", deb, "Package", "Version", "Depends"]).stdout
    assert "Package: coachdesk" in info
    assert "Version: 1.2.4~dev3+g1a2b3c" in info
    # /bin/true's newest glibc symbol version, read from the file itself.
    assert "Depends: libc6 (>= 2." in info

    contents = run(["dpkg-deb", "--contents", deb]).stdout
    assert "./opt/coachdesk/coachdesk" in contents
    assert "./opt/coachdesk/_internal/resources/clip.txt" in contents
    assert "./usr/bin/coachdesk -> /opt/coachdesk/coachdesk" in contents
    assert "./usr/share/doc/coachdesk/examples/config.toml" in contents
    assert all(" root/root " in line for line in contents.splitlines())


@pytest.mark.parametrize(
    ("pep440", "debian"),
    [
        ("1.2.3", "1.2.3"),
        ("1.2.3rc1", "1.2.3~rc1"),
        ("1.2.4.dev3+g1a2b3c", "1.2.4~dev3+g1a2b3c"),
        # "b" in the commit hash is no beta marker.
        ("0.1.1.dev89+gb61ec5026.d20261125", "0.1.1~dev89+gb61ec5026.d20261125"),
    ],
)
def test_debian_versions(dist, pep440, debian):
    assert dist.debian_version(pep440) == debian


@pytest.mark.parametrize(
    ("earlier", "later"),
    [("1.2.3rc1", "1.2.3"), ("1.2.4.dev3+g1a2b3c", "1.2.4"), ("1.2.3", "1.2.4")],
)
def test_dpkg_upgrades_in_the_order_pep440_releases(dist, earlier, later):
    """A release candidate or development build is replaced by its release, never the reverse."""
    compare = ["dpkg", "--compare-versions", dist.debian_version(earlier), "lt"]
    assert run([*compare, dist.debian_version(later)]).returncode == 0


# --- Windows Authenticode (osslsigncode runs here, on Linux) -------------------------------------


@pytest.fixture
def code_signing_cert(tmp_path: Path) -> dict[str, str]:
    """A self-signed code-signing certificate, handed over as the CI secrets would be."""
    key, cert, p12 = tmp_path / "key.pem", tmp_path / "cert.pem", tmp_path / "cert.p12"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", key, "-out", cert, "-subj", "/CN=Coachdesk Test Code Signing",
         "-addext", "extendedKeyUsage=codeSigning", "-addext", "keyUsage=digitalSignature"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "pkcs12", "-export", "-inkey", key, "-in", cert, "-out", p12,
         "-passout", "pass:pfx password"],
        check=True, capture_output=True,
    )  # fmt: skip
    return {
        "COACHDESK_AUTHENTICODE_PFX_BASE64": base64.b64encode(p12.read_bytes()).decode(),
        "COACHDESK_AUTHENTICODE_PASSWORD": "pfx password",
        "COACHDESK_AUTHENTICODE_CA": str(cert),
        "COACHDESK_TIMESTAMP_URL": "",  # no network here
    }


def osslsigncode_verify(path: Path, ca: str) -> subprocess.CompletedProcess:
    return run(["osslsigncode", "verify", "-CAfile", ca, "-in", path])


def test_windows_executable_is_signed_and_tampering_breaks_it(pe_file, code_signing_cert):
    original = pe_file.read_bytes()
    result = run(["bash", BUILD / "windows" / "sign.sh", pe_file], code_signing_cert)
    assert result.returncode == 0, result.stderr
    assert pe_file.read_bytes() != original
    ca = code_signing_cert["COACHDESK_AUTHENTICODE_CA"]
    check = osslsigncode_verify(pe_file, ca)
    assert check.returncode == 0, check.stdout
    assert "Signature verification: ok" in check.stdout

    flip_byte(pe_file, 1000)  # inside the code, covered by the Authenticode digest
    assert osslsigncode_verify(pe_file, ca).returncode != 0


def test_windows_signing_without_the_certificate_says_which_variable(pe_file):
    env = {"COACHDESK_AUTHENTICODE_PFX_BASE64": "", "COACHDESK_AUTHENTICODE_PASSWORD": ""}
    result = run(["bash", BUILD / "windows" / "sign.sh", pe_file], env)
    assert result.returncode != 0
    assert "COACHDESK_AUTHENTICODE_PFX_BASE64" in result.stderr
