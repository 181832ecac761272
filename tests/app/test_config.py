"""Settings layers: defaults < managed < user < environment, locked managed keys winning."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from app.config import (
    LEAF_KEYS,
    ConfigError,
    Settings,
    UploadPolicy,
    env_name,
    load_settings,
    user_config_path,
)
from audio.transcribe import TranscriberSettings


@pytest.fixture
def files(tmp_path: Path):
    """write(managed=..., user=...) -> load_settings(**paths, environ=env) for these files."""
    managed = tmp_path / "managed.toml"
    user = tmp_path / "config.toml"

    def load(*, managed_text: str | None = None, user_text: str | None = None, **env: str):
        if managed_text is not None:
            managed.write_text(managed_text, encoding="utf-8")
        if user_text is not None:
            user.write_text(user_text, encoding="utf-8")
        return load_settings(user_file=user, managed_file=managed, environ=env)

    load.managed = managed
    load.user = user
    return load


def test_defaults_without_any_file_or_variable(files):
    loaded = files()
    settings = loaded.settings
    assert settings == Settings()
    assert settings.data_dir == platformdirs.user_data_path("Coachdesk", appauthor=False)
    assert settings.recordings_path == settings.data_dir / "recordings"
    assert settings.upload is UploadPolicy.AUTO
    assert settings.supabase.local
    assert settings.transcription.transcriber_settings() == TranscriberSettings()
    assert (loaded.locked, loaded.sources, loaded.overruled) == (frozenset(), {}, ())
    assert loaded.source("upload") == "the defaults"


def test_user_file_and_environment_values(files, tmp_path):
    loaded = files(
        user_text=f"""
data_dir = "{tmp_path / "data"}"
recordings_dir = "calls"
input_device = "USB Mic"
upload = "manual"
[transcription]
model_path = "~/models/small"
compute_type = "float32"
beam_size = 2
keep_disfluencies = false
[supabase]
url = "https://acme.supabase.co/"
anon_key = "anon"
""",
        COACHDESK_TRANSCRIPTION__BEAM_SIZE="3",
        COACHDESK_INPUT_DEVICE="",  # empty: back to "not set"
        COACHDESK_LOG_LEVEL="DEBUG",  # not a setting: ignored, not refused
    )
    settings = loaded.settings
    assert settings.recordings_path == tmp_path / "data" / "calls"
    assert settings.input_device is None
    assert settings.upload is UploadPolicy.MANUAL
    assert settings.supabase.url == "https://acme.supabase.co"
    assert not settings.supabase.local
    assert settings.transcription.transcriber_settings() == TranscriberSettings(
        model_path=Path.home() / "models" / "small",
        compute_type="float32",
        beam_size=3,
        keep_disfluencies=False,
    )
    assert loaded.source("transcription.beam_size") == (
        "environment variable COACHDESK_TRANSCRIPTION__BEAM_SIZE"
    )
    assert loaded.source("upload") == str(files.user)


def test_an_absolute_recordings_dir_is_used_as_it_is(files, tmp_path):
    settings = files(user_text=f'recordings_dir = "{tmp_path / "rec"}"').settings
    assert settings.recordings_path == tmp_path / "rec"


def test_precedence_defaults_managed_user_environment(files):
    managed = '[transcription]\nbeam_size = 2\ncompute_type = "int16"\nlanguage = "de"\n'
    user = '[transcription]\nbeam_size = 3\ncompute_type = "float32"\n'
    loaded = files(managed_text=managed, user_text=user, COACHDESK_TRANSCRIPTION__BEAM_SIZE="4")
    transcription = loaded.settings.transcription
    assert (transcription.beam_size, transcription.compute_type, transcription.language) == (
        4,
        "float32",
        "de",
    )
    assert transcription.vad is True  # nobody set it: the default
    assert loaded.source("transcription.language") == str(files.managed)


def test_locked_managed_keys_win_over_user_and_environment(files):
    loaded = files(
        managed_text="""
locked = ["upload", "supabase", "transcription.model_path"]
upload = "manual"
[supabase]
url = "https://corp.example.com"
""",
        user_text=(
            'upload = "auto"\n[supabase]\nanon_key = "mine"\n[transcription]\nbeam_size = 1\n'
        ),
        COACHDESK_UPLOAD="auto",
        COACHDESK_SUPABASE__URL="http://localhost:1",
        COACHDESK_TRANSCRIPTION__MODEL_PATH="/tmp/other-model",
    )
    settings = loaded.settings
    assert settings.upload is UploadPolicy.MANUAL
    assert settings.supabase.url == "https://corp.example.com"
    assert settings.supabase.anon_key is None  # locked with the section, at the default
    assert settings.transcription.model_path is None
    assert settings.transcription.beam_size == 1  # not locked: the user's value
    assert loaded.locked == {
        "upload",
        "supabase.url",
        "supabase.anon_key",
        "transcription.model_path",
    }
    assert loaded.is_locked("supabase") and loaded.is_locked("upload")
    assert not loaded.is_locked("transcription")  # only one of its keys is
    assert not loaded.is_locked("no.such.key")
    assert loaded.overruled == (
        f"upload from {files.user} (locked by {files.managed})",
        f"supabase.anon_key from {files.user} (locked by {files.managed})",
        f"upload from environment variable COACHDESK_UPLOAD (locked by {files.managed})",
        "transcription.model_path from environment variable "
        f"COACHDESK_TRANSCRIPTION__MODEL_PATH (locked by {files.managed})",
        "supabase.url from environment variable "
        f"COACHDESK_SUPABASE__URL (locked by {files.managed})",
    )


def test_locked_is_only_a_key_of_the_managed_file(files):
    with pytest.raises(ConfigError, match='unknown setting "locked"') as error:
        files(user_text='locked = ["upload"]')
    assert error.value.source == str(files.user)


@pytest.mark.parametrize(
    ("managed_text", "message"),
    [
        ('locked = "upload"', "locked in {managed} must be a list of setting names"),
        ("locked = [1]", "locked in {managed} must be a list of setting names"),
        ('locked = ["uploads"]', 'locked in {managed} names "uploads", which is no setting'),
    ],
)
def test_a_bad_lock_list_is_refused(files, managed_text, message):
    with pytest.raises(ConfigError) as error:
        files(managed_text=managed_text)
    assert str(error.value) == message.format(managed=files.managed)
    assert (error.value.key, error.value.source) == ("locked", str(files.managed))


@pytest.mark.parametrize(
    ("user_text", "key", "message"),
    [
        (
            "[transcription]\nbeam_size = 0\n",
            "transcription.beam_size",
            "transcription.beam_size = 0 in {user}: Input should be greater than or equal to 1",
        ),
        (
            'upload = "wifi-any"\n',
            "upload",
            "upload = 'wifi-any' in {user}: Input should be 'auto' or 'manual'",
        ),
        (
            '[supabase]\nurl = "acme.supabase.co"\n',
            "supabase.url",
            "supabase.url = 'acme.supabase.co' in {user}: Value error, must be an http(s) URL",
        ),
        (
            "[upload]\nmode = 1\n",
            "upload",
            "upload = {{'mode': 1}} in {user}: Input should be 'auto' or 'manual'",
        ),
        (
            '[transcription]\nmodel = "large"\n',
            "transcription.model",
            "transcription.model = 'large' in {user}: Value error, must be one of tiny.en, base",
        ),
        (
            '[transcription]\ncompute_type = "int4"\n',
            "transcription.compute_type",
            "transcription.compute_type = 'int4' in {user}: Input should be 'default', 'auto'",
        ),
    ],
)
def test_a_bad_value_names_the_key_and_the_file(files, user_text, key, message):
    with pytest.raises(ConfigError) as error:
        files(user_text=user_text)
    assert str(error.value).startswith("invalid setting: " + message.format(user=files.user))
    assert (error.value.key, error.value.source) == (key, str(files.user))


def test_several_bad_values_are_all_reported(files):
    with pytest.raises(ConfigError, match=r"^invalid settings: upload = .*; transcription.vad"):
        files(user_text='upload = "x"\n[transcription]\nvad = "perhaps"\n')


def test_a_bad_environment_value_names_the_variable(files):
    with pytest.raises(ConfigError) as error:
        files(COACHDESK_TRANSCRIPTION__KEEP_DISFLUENCIES="maybe")
    assert str(error.value) == (
        "invalid setting: transcription.keep_disfluencies = 'maybe' in environment variable "
        "COACHDESK_TRANSCRIPTION__KEEP_DISFLUENCIES: Input should be a valid boolean, unable to "
        "interpret input"
    )


@pytest.mark.parametrize(
    ("user_text", "message"),
    [
        ('uplaod = "auto"', 'unknown setting "uplaod" in {user}; known settings: data_dir, '),
        ("[transcription]\nbeem_size = 2\n", 'unknown setting "transcription.beem_size" in {user}'),
        ('transcription = "fast"', "transcription in {user} must be a table ([transcription])"),
    ],
)
def test_unknown_keys_and_misplaced_tables_are_refused(files, user_text, message):
    with pytest.raises(ConfigError) as error:
        files(user_text=user_text)
    assert str(error.value).startswith(message.format(user=files.user))
    assert error.value.source == str(files.user)


def test_a_file_that_is_not_toml_is_refused_with_its_name(files):
    with pytest.raises(ConfigError, match=r"managed.toml is not valid TOML: .*line 1"):
        files(managed_text="upload = \n")


def test_the_user_file_can_be_moved_by_a_variable(tmp_path):
    other = tmp_path / "profile.toml"
    assert user_config_path({"COACHDESK_CONFIG": str(other)}) == other
    assert user_config_path({}) == platformdirs.user_config_path("Coachdesk", appauthor=False) / (
        "config.toml"
    )
    other.write_text('upload = "manual"', encoding="utf-8")
    loaded = load_settings(
        managed_file=tmp_path / "absent.toml", environ={"COACHDESK_CONFIG": str(other)}
    )
    assert loaded.settings.upload is UploadPolicy.MANUAL


def test_every_setting_has_its_variable():
    assert env_name("data_dir") == "COACHDESK_DATA_DIR"
    assert env_name("supabase.anon_key") == "COACHDESK_SUPABASE__ANON_KEY"
    assert len({env_name(key) for key in LEAF_KEYS}) == len(LEAF_KEYS)


def test_the_anon_key_is_not_in_the_settings_repr(files):
    settings = files(user_text='[supabase]\nanon_key = "eyJ-secret-ish"\n').settings
    assert settings.supabase.anon_key == "eyJ-secret-ish"
    assert "eyJ" not in repr(settings)


def test_it_picks_the_speech_model_for_everyone(files):
    """transcription.model managed and locked: the user's own choice is overruled."""
    loaded = files(
        managed_text='locked = ["transcription.model"]\n[transcription]\nmodel = "base"\n',
        user_text='[transcription]\nmodel = "tiny.en"\n',
    )
    assert loaded.settings.transcription.model == "base"
    assert loaded.settings.transcription.transcriber_settings().model == "base"
    assert loaded.is_locked("transcription.model")
