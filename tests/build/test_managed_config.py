"""Managed configuration as IT deploys it: where the file lives per OS, and what locking does.

The layering itself is tested in tests/app/test_config.py; here the files IT is handed (the
example shipped in the .deb, the snippets in docs/deployment.md) go through app.config exactly
as a user's laptop would read them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from build_support import BUILD, ROOT

from app import managed
from app.config import ConfigError, load_settings

EXAMPLE = BUILD / "managed-config.example.toml"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", {}, PurePosixPath("/etc/coachdesk/config.toml")),
        ("freebsd14", {}, PurePosixPath("/etc/coachdesk/config.toml")),
        ("darwin", {}, PurePosixPath("/Library/Application Support/Coachdesk/config.toml")),
        (
            "win32",
            {"PROGRAMDATA": r"D:\ProgramData"},
            PureWindowsPath(r"D:\ProgramData\Coachdesk\config.toml"),
        ),
        ("win32", {}, PureWindowsPath(r"C:\ProgramData\Coachdesk\config.toml")),
    ],
)
def test_managed_file_location_per_platform(platform, environ, expected):
    assert managed.managed_config_location(platform, environ) == expected


def test_user_variables_cannot_move_the_managed_file_on_linux(monkeypatch):
    """XDG_CONFIG_DIRS is the user's to set; a managed file it could move would lock nothing."""
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_DIRS", "/home/user/fake-etc")
    assert managed.managed_config_file() == Path("/etc/coachdesk/config.toml")


@pytest.fixture
def laptop(tmp_path: Path):
    """load(user_text, **env): the settings with the example as the managed file."""
    user = tmp_path / "user.toml"

    def load(user_text: str = "", **env: str):
        user.write_text(user_text)
        return load_settings(managed_file=EXAMPLE, user_file=user, environ=env)

    return load


def test_example_managed_file_sets_the_server_and_locks_it(laptop):
    loaded = laptop()
    assert loaded.settings.supabase.url == "https://your-project.supabase.co"
    assert loaded.settings.supabase.anon_key == "your-anon-key"
    assert loaded.settings.upload == "auto"
    assert loaded.is_locked("supabase") and loaded.is_locked("upload")
    assert loaded.is_locked("transcription.model_path")
    assert not loaded.is_locked("transcription.beam_size")
    assert loaded.source("supabase.url") == str(EXAMPLE)


def test_users_cannot_override_locked_keys_by_file_or_variable(laptop):
    loaded = laptop(
        'upload = "manual"\n[supabase]\nurl = "https://evil.example.com"\n'
        '[transcription]\nmodel_path = "/tmp/other-model"\nbeam_size = 2\n',
        COACHDESK_SUPABASE__ANON_KEY="stolen",
        COACHDESK_UPLOAD="manual",
    )
    settings = loaded.settings
    assert settings.supabase.url == "https://your-project.supabase.co"
    assert settings.supabase.anon_key == "your-anon-key"
    assert settings.upload == "auto"
    assert settings.transcription.model_path is None  # locked at the bundled default
    assert settings.transcription.beam_size == 2  # not locked: the user's choice stands
    overruled = " ".join(loaded.overruled)
    for key in ("upload", "supabase.url", "supabase.anon_key", "transcription.model_path"):
        assert key in overruled


def test_unlocked_managed_values_are_defaults_users_may_change(laptop):
    loaded = laptop(COACHDESK_TRANSCRIPTION__BEAM_SIZE="3")
    assert loaded.settings.transcription.beam_size == 3
    assert laptop().settings.transcription.beam_size == 5  # the managed file's default


def test_a_managed_file_locking_an_unknown_key_is_refused(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text('locked = ["supabase.password"]\n')
    with pytest.raises(ConfigError, match=r"supabase\.password.*no setting") as error:
        load_settings(managed_file=bad, user_file=tmp_path / "none.toml", environ={})
    assert error.value.source == str(bad)


def toml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", markdown, flags=re.DOTALL)


def test_every_toml_example_in_the_deployment_guide_is_a_valid_managed_file(tmp_path):
    blocks = toml_blocks(DEPLOYMENT_DOC.read_text())
    assert len(blocks) >= 2
    for number, block in enumerate(blocks):
        path = tmp_path / f"example{number}.toml"
        path.write_text(block)
        load_settings(managed_file=path, user_file=tmp_path / "none.toml", environ={})


def test_the_deployment_guide_names_each_managed_path():
    text = DEPLOYMENT_DOC.read_text()
    for platform, environ in (("linux", {}), ("darwin", {}), ("win32", {})):
        location = str(managed.managed_config_location(platform, environ))
        assert location.replace(r"C:\ProgramData", r"%ProgramData%") in text
