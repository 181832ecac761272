"""UI tests: pytest-qt on the offscreen platform, against the real local stack.

The Makefile sets QT_QPA_PLATFORM too; setting it here, before Qt starts, lets
`pytest tests/ui` run the same way on its own. Only the hardware is replaced (ui_fakes.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from ui_fakes import MemoryKeyring, SilentOutputStream

from app.client.backend import SyncedBackend
from app.client.demo import FileMicrophone, NetworkSwitch
from app.client.transcriber_process import ProcessTranscriber
from app.client.views import ServerConfig
from audio.playback import Player
from audio.transcribe import TranscriberSettings
from ui.context import AppContext
from ui.main_window import Devices, MainWindow
from ui.preferences import Preferences
from ui.theme import Theme, ThemeChoice
from ui.workers import Workers

DEMO_PASSWORD = "coachdesk-demo"


@pytest.fixture
def server(stack) -> ServerConfig:
    return ServerConfig(stack.url, stack.anon_key)


@pytest.fixture
def keyring_backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def network() -> NetworkSwitch:
    """The HTTP boundary between this "computer" and the server, with an off switch."""
    return NetworkSwitch()


@pytest.fixture
def backend(server, tmp_path, keyring_backend, network) -> Iterator[SyncedBackend]:
    """A signed-out backend on its own cache folder and keyring, pointed at the test stack.

    The engine's own timer is slow (an hour): tests sync when they mean to, or after a save.
    """
    backend = SyncedBackend(
        server,
        data_dir=tmp_path / "data",
        keyring_backend=keyring_backend,
        interval_s=3600,
        transport=network,
        playback_dir=tmp_path / "playback",
    )
    yield backend
    network.offline = False
    if backend.account is not None:
        backend.sign_out(discard_unsynced=True)
    backend.close()


@pytest.fixture
def preferences(tmp_path) -> Preferences:
    store = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    prefs = Preferences.load(store, tmp_path / "config.toml", tmp_path / "managed.toml")
    prefs.speak_persona = False
    return prefs


@pytest.fixture
def key_ends_turns(preferences) -> Preferences:
    """Only the key ends a turn: for tests that time their key presses against open silence."""
    preferences.save({"practice.end_turn_on_silence": False})
    return preferences


@pytest.fixture
def ctx(qapp, backend, preferences) -> Iterator[AppContext]:
    theme = Theme(qapp, ThemeChoice.LIGHT)
    workers = Workers.create()
    context = AppContext(backend=backend, workers=workers, theme=theme, preferences=preferences)
    yield context
    workers.shutdown()
    context.close()  # collection goes back to Python once nothing is in flight
    theme.deleteLater()  # stop following the system's scheme once the test is over


@pytest.fixture(scope="session")
def transcriber() -> Iterator[ProcessTranscriber]:
    """What the app uses: the default model in its own process, loaded once per session."""
    transcriber = ProcessTranscriber(TranscriberSettings())
    transcriber.load()
    yield transcriber
    transcriber.close()


@pytest.fixture(scope="session")
def speech(tmp_path_factory) -> Callable[[str], Path]:
    """speech(text) -> a WAV of espeak-ng saying it (made once per text)."""
    folder = tmp_path_factory.mktemp("ui-speech")
    made: dict[str, Path] = {}

    def say(text: str) -> Path:
        if text not in made:
            path = folder / f"answer-{len(made)}.wav"
            subprocess.run(["espeak-ng", "-w", str(path), "-s", "150", text], check=True)
            made[text] = path
        return made[text]

    return say


def silent_player(path: Path) -> Player:
    return Player(path, stream_factory=SilentOutputStream)


@pytest.fixture
def devices(transcriber, tmp_path) -> Devices:
    return Devices(
        recorder_factory=FileMicrophone(pace=0),
        player_factory=silent_player,
        transcriber=transcriber,
        use_voice=False,
        recordings_root=tmp_path / "recordings",
    )


@pytest.fixture
def window(qtbot, ctx, devices) -> MainWindow:
    window = MainWindow(ctx, devices)
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture
def sign_in(qtbot, accounts) -> Callable[[MainWindow, str], None]:
    """sign_in(window, "trainee"): type the demo credentials and wait for the workspace."""

    def do(window: MainWindow, key: str) -> None:
        window.signin.email.setText(accounts[key])
        window.signin.password.setText(DEMO_PASSWORD)
        window.signin.sign_in_button.click()
        qtbot.waitUntil(
            lambda: window.workspace is not None and window.workspace.isVisible(), timeout=30_000
        )
        qtbot.waitUntil(
            lambda: window.home is not None and window.home.data is not None, timeout=30_000
        )

    return do
