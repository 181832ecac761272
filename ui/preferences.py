"""The settings the desktop shows and changes: app/config.py's typed settings, plus UI-only ones.

App settings (microphone, transcription model, server) live in app/config.py's layered TOML
files, so the CLI and the UI agree and an administrator's locked keys are honoured; the
settings dialog writes changed keys to the user's file. Purely visual preferences (theme, the
persona's voice) stay in QSettings.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from app.config import LoadedSettings, load_settings, user_config_path
from app.errors import CoachdeskError
from ui.theme import ThemeChoice


@dataclass
class Preferences:
    loaded: LoadedSettings
    store: QSettings
    user_file: Path
    managed_file: Path | None = None

    @classmethod
    def load(
        cls,
        store: QSettings | None = None,
        user_file: Path | None = None,
        managed_file: Path | None = None,
    ) -> Preferences:
        path = user_file or user_config_path()
        try:
            loaded = load_settings(user_file=path, managed_file=managed_file)
        except ValueError as error:  # ConfigError: names the key and the file
            raise CoachdeskError(f"Coachdesk's settings cannot be used: {error}") from error
        return cls(loaded, store or QSettings("Coachdesk", "Coachdesk"), path, managed_file)

    @property
    def theme(self) -> ThemeChoice:
        value = str(self.store.value("ui/theme", ThemeChoice.SYSTEM.value))
        return ThemeChoice(value) if value in ThemeChoice._value2member_map_ else ThemeChoice.SYSTEM

    @theme.setter
    def theme(self, choice: ThemeChoice) -> None:
        self.store.setValue("ui/theme", choice.value)

    @property
    def speak_persona(self) -> bool:
        return str(self.store.value("ui/speak_persona", "true")).lower() == "true"

    @speak_persona.setter
    def speak_persona(self, enabled: bool) -> None:
        self.store.setValue("ui/speak_persona", "true" if enabled else "false")

    def last_email(self) -> str:
        return str(self.store.value("signin/email", ""))

    def remember_email(self, email: str) -> None:
        self.store.setValue("signin/email", email)

    def save(self, changes: Mapping[str, Any]) -> None:
        """Write dotted keys ("transcription.model_path") to the user's file, then reload.

        Locked keys are refused (the dialog shows them read-only anyway); None removes a key.
        """
        locked = [key for key in changes if self.loaded.is_locked(key)]
        if locked:
            raise CoachdeskError(
                f"Your administrator has locked {', '.join(locked)}; it cannot be changed here."
            )
        table = _read(self.user_file)
        for key, value in changes.items():
            *sections, name = key.split(".")
            node = table
            for section in sections:
                node = node.setdefault(section, {})
            if value is None:
                node.pop(name, None)
            else:
                node[name] = str(value) if isinstance(value, Path) else value
        self.user_file.parent.mkdir(parents=True, exist_ok=True)
        temp = self.user_file.with_suffix(".toml.tmp")
        temp.write_text(dumps(table), encoding="utf-8")
        temp.replace(self.user_file)
        try:
            self.loaded = load_settings(user_file=self.user_file, managed_file=self.managed_file)
        except ValueError as error:
            raise CoachdeskError(f"That setting cannot be used: {error}") from error


def bundled_model() -> str:
    """Where the bundled speech model is, for display; says so when it is not installed."""
    try:
        from audio.models import default_model_path

        return str(default_model_path())
    except Exception:  # the package missing or broken: a dialog must still open
        return "not installed"


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as error:
        raise CoachdeskError(f"{path} is not a valid settings file: {error}") from error


def dumps(table: Mapping[str, Any], prefix: str = "") -> str:
    """TOML for the flat shapes settings use: scalars, then one level of [section] tables."""
    lines = [
        f"{key} = {_value(value)}" for key, value in table.items() if not isinstance(value, dict)
    ]
    for key, value in table.items():
        if isinstance(value, dict):
            name = f"{prefix}{key}"
            lines += ["", f"[{name}]", dumps(value, name + ".").rstrip("\n")]
    return "\n".join(line for line in lines if line is not None).lstrip("\n") + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string (same escapes, \uXXXX included).
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to a settings file")
