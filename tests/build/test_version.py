"""The version `coachdesk --version` and About show: the git tag's, baked into a frozen bundle."""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from build_support import ROOT, load_dist, run

from app import version


def test_from_source_the_installed_metadata_gives_the_version():
    assert version.__version__ == metadata.version("coachdesk")


def git(repo: Path, *args: str) -> str:
    result = run(["git", "-C", repo, "-c", "user.name=CI", "-c", "user.email=ci@invalid", *args])
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def tagged_repo(tmp_path: Path) -> Path:
    """A repository with this project's setuptools-scm settings and a release tag."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["dynamic"] == ["version"]
    scm = pyproject["tool"]["setuptools_scm"]
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "coachdesk"\ndynamic = ["version"]\n\n[tool.setuptools_scm]\n'
        + "".join(f"{key} = {value!r}\n" for key, value in scm.items()).replace("'", '"')
    )
    git(repo, "init", "-q")
    git(repo, "add", "pyproject.toml")
    git(repo, "commit", "-q", "-m", "release")
    git(repo, "tag", "v2.5.0")
    return repo


def test_a_tagged_commit_gets_the_tag_version(tagged_repo):
    assert load_dist().project_version(tagged_repo) == "2.5.0"


def test_a_commit_after_the_tag_is_a_dev_build_of_the_next_version(tagged_repo):
    (tagged_repo / "change.txt").write_text("work after the release")
    git(tagged_repo, "add", "change.txt")
    git(tagged_repo, "commit", "-q", "-m", "more work")
    commit = git(tagged_repo, "rev-parse", "--short=7", "HEAD")

    derived = load_dist().project_version(tagged_repo)
    assert derived.startswith("2.5.1.dev1+g" + commit)


def test_without_git_the_fallback_version_is_used(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "coachdesk"\ndynamic = ["version"]\n\n'
        '[tool.setuptools_scm]\nfallback_version = "0.1.0"\n'
    )
    assert load_dist().project_version(tmp_path) == "0.1.0"


def test_a_frozen_bundle_reports_the_baked_version(tmp_path, monkeypatch):
    baked = tmp_path / "VERSION"
    baked.write_text("2.3.4\n")
    monkeypatch.setattr(version, "BAKED_VERSION_FILE", baked)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert version.get_version() == "2.3.4"


def test_a_stray_baked_file_in_a_checkout_is_ignored(tmp_path, monkeypatch):
    baked = tmp_path / "VERSION"
    baked.write_text("9.9.9\n")
    monkeypatch.setattr(version, "BAKED_VERSION_FILE", baked)
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert version.get_version() == metadata.version("coachdesk")


def test_frozen_without_a_baked_file_falls_back_to_metadata(tmp_path, monkeypatch):
    monkeypatch.setattr(version, "BAKED_VERSION_FILE", tmp_path / "missing")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert version.get_version() == metadata.version("coachdesk")


def test_unknown_distribution_reports_the_fallback(monkeypatch):
    monkeypatch.setattr(version, "DISTRIBUTION", "coachdesk-not-installed")
    assert version.get_version() == version.FALLBACK_VERSION
