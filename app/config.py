"""Coachdesk's settings: one typed object, defaults in one place, managed (locked) keys honoured.

Layers, lowest first: the defaults below < the managed file an administrator installs system-wide
< the user's file < `COACHDESK_*` environment variables. The managed file may list keys in
`locked`; a locked key keeps the managed value (or the default) whatever the user's file or the
environment say, and the UI shows it read-only. Both files are TOML with the same keys:

    # ~/.config/Coachdesk/config.toml (user)     /etc/coachdesk/config.toml (managed)
    upload = "manual"                              locked = ["upload", "supabase"]
    [transcription]                                upload = "auto"
    beam_size = 3                                  [supabase]
                                                   url = "https://acme.supabase.co"

A nested key's variable joins its parts with "__": `COACHDESK_TRANSCRIPTION__BEAM_SIZE=3`; an
empty value means "not set" (null). A bad value is refused with the key and where it came from.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

if TYPE_CHECKING:  # importing faster-whisper takes a while; reading settings should not
    from audio.transcribe import TranscriberSettings
    from audio.turns import TurnSettings

APP_NAME = "Coachdesk"
ENV_PREFIX = "COACHDESK_"
# Points at another user settings file (tests, a second profile); the managed file has no such
# variable, since a user could otherwise point it at a file without locks.
USER_FILE_ENV = "COACHDESK_CONFIG"
LOCKED_KEY = "locked"
DEFAULT_SOURCE = "the defaults"

# CTranslate2's compute types (faster-whisper passes the name through).
ComputeType = Literal[
    "default",
    "auto",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
]


class ConfigError(ValueError):
    """A settings file or variable that cannot be used; says which key, which file, and why."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.source = source


class UploadPolicy(StrEnum):
    AUTO = "auto"  # upload each finished attempt as soon as there is a connection
    MANUAL = "manual"  # keep attempts on this computer until the user uploads them


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TranscriptionSettings(_Section):
    model: str = "tiny.en"  # a name in audio.models.MODELS (docs/benchmarks.md compares them)
    model_path: Path | None = None  # None: the named `model`; a folder: a model of one's own
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: ComputeType = "int8"
    beam_size: int = Field(5, ge=1, le=10)
    language: str | None = "en"
    keep_disfluencies: bool = True
    vad: bool = True

    @field_validator("model_path")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        from audio.models import MODELS

        if value not in MODELS:
            raise ValueError(f"must be one of {', '.join(MODELS)}")
        return value

    def transcriber_settings(self) -> TranscriberSettings:
        from audio.transcribe import TranscriberSettings

        return TranscriberSettings(
            model=self.model,
            model_path=self.model_path,
            device=self.device,
            compute_type=self.compute_type,
            beam_size=self.beam_size,
            language=self.language,
            keep_disfluencies=self.keep_disfluencies,
            vad=self.vad,
        )


class SupabaseSettings(_Section):
    url: str | None = None  # None: the local stack (`coachdesk stack start`)
    anon_key: str | None = Field(None, repr=False)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL such as https://abcd.supabase.co")
        return value.rstrip("/")

    @property
    def local(self) -> bool:
        return self.url is None


class PracticeSettings(_Section):
    # A pause ends the rep's turn (as on a real call); the end-turn key works either way.
    end_turn_on_silence: bool = True
    # audio.turns.TurnSettings' default: shorter cuts reps off mid-thought, longer feels laggy.
    silence_seconds: float = Field(1.2, ge=0.5, le=10.0)

    def turn_settings(self) -> TurnSettings | None:
        """The end-of-turn detector's settings; None when only the key ends a turn."""
        if not self.end_turn_on_silence:
            return None
        from audio.turns import TurnSettings

        return TurnSettings(silence_seconds=self.silence_seconds)


class BillingSettings(_Section):
    # Where an admin manages the subscription (Stripe's customer portal login link, or the
    # vendor's billing page); None: the Organisation tab offers no link.
    portal_url: str | None = None

    @field_validator("portal_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.netloc:
            raise ValueError("must be an https URL such as https://billing.stripe.com/p/login/…")
        return value


def default_data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


class Settings(_Section):
    data_dir: Path = Field(default_factory=default_data_dir)
    recordings_dir: Path | None = None  # None: <data_dir>/recordings; relative: under data_dir
    input_device: str | None = None  # None: the system's default microphone
    upload: UploadPolicy = UploadPolicy.AUTO
    transcription: TranscriptionSettings = TranscriptionSettings()
    practice: PracticeSettings = PracticeSettings()
    supabase: SupabaseSettings = SupabaseSettings()
    billing: BillingSettings = BillingSettings()

    @field_validator("data_dir", "recordings_dir")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @property
    def recordings_path(self) -> Path:
        return self.data_dir / (self.recordings_dir or "recordings")


def user_config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    override = environ.get(USER_FILE_ENV)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "config.toml"


def managed_config_path() -> Path:
    """The system-wide file IT manages (/etc/coachdesk/config.toml, %ProgramData%, /Library)."""
    from app.managed import managed_config_file

    return managed_config_file()


def env_name(key: str) -> str:
    """The variable that sets a dotted key: "supabase.url" -> COACHDESK_SUPABASE__URL."""
    return ENV_PREFIX + key.upper().replace(".", "__")


# --- keys ----------------------------------------------------------------------------------------


def _keys(model: type[BaseModel], prefix: str = "") -> tuple[dict[str, Any], set[str]]:
    """Every leaf key (dotted) with its field, and every section (table) name."""
    leaves: dict[str, Any] = {}
    sections: set[str] = set()
    for name, info in model.model_fields.items():
        key = prefix + name
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sections.add(key)
            sub_leaves, sub_sections = _keys(annotation, key + ".")
            leaves.update(sub_leaves)
            sections.update(sub_sections)
        else:
            leaves[key] = info
    return leaves, sections


LEAF_KEYS, SECTIONS = _keys(Settings)


def _leaves_under(key: str) -> list[str]:
    """The leaf keys a key names: itself, or every key of the section it names."""
    if key in LEAF_KEYS:
        return [key]
    return [leaf for leaf in LEAF_KEYS if leaf.startswith(key + ".")]


# --- layers --------------------------------------------------------------------------------------


@dataclass
class _Layer:
    source: str  # where the values came from, as messages name it
    values: dict[str, Any] = field(default_factory=dict)  # dotted leaf key -> raw value


def _read_toml(path: Path) -> dict[str, Any] | None:
    """The file's TOML table; None if there is no such file."""
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}", source=str(path)) from error
    except OSError as error:
        raise ConfigError(
            f"cannot read the settings file {path}: {error}", source=str(path)
        ) from error


def _flatten(table: Mapping[str, Any], source: str, prefix: str = "") -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in table.items():
        key = prefix + name
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{key} in {source} must be a table ([{key}]), not {value!r}",
                    key=key,
                    source=source,
                )
            values.update(_flatten(value, source, key + "."))
        elif key in LEAF_KEYS:
            values[key] = value
        else:
            raise ConfigError(
                f'unknown setting "{key}" in {source}; known settings: {", ".join(LEAF_KEYS)}',
                key=key,
                source=source,
            )
    return values


def _file_layer(path: Path, *, managed: bool) -> tuple[_Layer, frozenset[str]]:
    """A settings file's values and, for the managed file, the leaf keys it locks."""
    source = str(path)
    table = dict(_read_toml(path) or {})
    locked: set[str] = set()
    if managed and LOCKED_KEY in table:
        names = table.pop(LOCKED_KEY)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(
                f"{LOCKED_KEY} in {source} must be a list of setting names",
                key=LOCKED_KEY,
                source=source,
            )
        for name in names:
            leaves = _leaves_under(name)
            if not leaves:
                raise ConfigError(
                    f'{LOCKED_KEY} in {source} names "{name}", which is no setting',
                    key=LOCKED_KEY,
                    source=source,
                )
            locked.update(leaves)
    return _Layer(source, _flatten(table, source)), frozenset(locked)


def _env_layer(environ: Mapping[str, str]) -> _Layer:
    layer = _Layer("the environment")
    for key in LEAF_KEYS:
        name = env_name(key)
        if name in environ:
            # An empty variable is how a shell says "unset": the key becomes null.
            layer.values[key] = environ[name] or None
    return layer


def _source_of(layer: _Layer, key: str) -> str:
    return (
        f"environment variable {env_name(key)}"
        if layer.source == "the environment"
        else layer.source
    )


# --- loading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedSettings:
    """The settings in effect, plus what the UI needs to show them honestly."""

    settings: Settings
    locked: frozenset[str]  # dotted leaf keys the managed file locks
    sources: Mapping[str, str]  # dotted leaf key -> where its value came from (absent: default)
    overruled: tuple[str, ...] = ()  # user/environment values ignored because the key is locked

    def is_locked(self, key: str) -> bool:
        """True if the key, or every key of the section it names, is locked."""
        leaves = _leaves_under(key)
        return bool(leaves) and all(leaf in self.locked for leaf in leaves)

    def source(self, key: str) -> str:
        return self.sources.get(key, DEFAULT_SOURCE)


def load_settings(
    *,
    user_file: Path | None = None,
    managed_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Defaults < managed file < user file < environment, locked managed keys winning.

    Missing files are empty layers. Raises ConfigError naming the key and its file or variable.
    """
    environ = os.environ if environ is None else environ
    managed, locked = _file_layer(managed_file or managed_config_path(), managed=True)
    user, _ = _file_layer(user_file or user_config_path(environ), managed=False)

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    overruled: list[str] = []
    for layer in (managed, user, _env_layer(environ)):
        for key, value in layer.values.items():
            if layer is not managed and key in locked:
                overruled.append(
                    f"{key} from {_source_of(layer, key)} (locked by {managed.source})"
                )
                continue
            values[key] = value
            sources[key] = _source_of(layer, key)
    return LoadedSettings(_validate(values, sources), locked, sources, tuple(overruled))


def _nest(values: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in values.items():
        *sections, name = key.split(".")
        table = nested
        for section in sections:
            table = table.setdefault(section, {})
        table[name] = value
    return nested


def _validate(values: Mapping[str, Any], sources: Mapping[str, str]) -> Settings:
    try:
        return Settings.model_validate(_nest(values))
    except ValidationError as error:
        problems = []
        first_key: str | None = None
        for item in error.errors():
            # The location may go deeper than the key (a union member); the key is its prefix.
            parts = [str(part) for part in item["loc"]]
            key = next(
                (
                    ".".join(parts[:n])
                    for n in range(len(parts), 0, -1)
                    if ".".join(parts[:n]) in LEAF_KEYS
                ),
                ".".join(parts),
            )
            first_key = first_key or key
            where = sources.get(key, DEFAULT_SOURCE)
            problems.append(f"{key} = {values.get(key)!r} in {where}: {item['msg']}")
        raise ConfigError(
            "invalid setting" + ("s" if len(problems) > 1 else "") + ": " + "; ".join(problems),
            key=first_key,
            source=sources.get(first_key or "", DEFAULT_SOURCE),
        ) from error
