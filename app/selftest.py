"""`coachdesk --self-test`: proves, headless, that this installation works on this machine.

IT runs it after deploying (and CI runs it inside the frozen bundle): it reads the settings, starts
Qt on the offscreen platform, creates the SQLite cache in a temporary folder, loads PortAudio and
libsndfile, and transcribes the bundled sample clip with the configured model in a worker process,
the way the app does; it has the persona's voice say a (silent) phrase, and asks the configured
server for an answer. Every check runs even when an earlier one fails; the report names what
failed and why, and the exit status is 1 if anything did.

A warning ("warn") is a part the app works without, in a reduced way: no microphone (practice
cannot record), no speech engine (the persona's lines are shown as text only), no server
configured yet. Warnings do not change the exit status: a build machine has no microphone.
"""

from __future__ import annotations

import multiprocessing
import re
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from app.version import __version__

if TYPE_CHECKING:
    from app.client.views import ServerConfig
    from app.config import LoadedSettings
    from audio.transcribe import TranscriberSettings

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
# Made by build/make_selftest_clip.sh (espeak-ng); the words below are what it says.
SAMPLE_CLIP = RESOURCES / "sample" / "selftest.flac"
SAMPLE_TEXT = "Testing the microphone. The speech model is working on this computer."
# Whisper tiny.en hears espeak-ng's voice word for word; a share this high still allows one slip.
MIN_WORDS_HEARD = 0.8
# A safety stop for a hung worker, far above the seconds a healthy one needs.
TRANSCRIPTION_TIMEOUT_S = 300.0
# How long an engine may take to start speaking, and to answer a request: generous stops, not
# expectations (speech-dispatcher starts its daemon on first use).
SPEECH_TIMEOUT_S = 15.0
SERVER_TIMEOUT_S = 10.0
SPEECH_TEST_PHRASE = "Coachdesk speech test."
# Qt's test engine speaks nothing; speech-dispatcher may say it is ready and never speak, so
# the voice tries it last (as ui/voice.py).
NOT_VOICES = frozenset({"mock"})
LAST_RESORT = frozenset({"speechd"})

# The platform plugins a bundle must carry: the desktop's own, and offscreen for headless runs.
REQUIRED_PLATFORM_PLUGINS = {
    "linux": {"offscreen", "xcb"},
    "win32": {"offscreen", "windows"},
    "darwin": {"offscreen", "cocoa"},
}


class SelfTestError(Exception):
    """A check found a problem; the message says what, and where to look."""


class SelfTestWarning(Exception):
    """A check found a part missing that the app works without; the message says what it
    means for a user and how to add it."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float
    warning: bool = False

    @property
    def status(self) -> str:
        return "FAIL" if not self.ok else "warn" if self.warning else "ok"


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def words_heard(expected: str, heard: str) -> tuple[int, list[str]]:
    """How many of the expected words were heard, and which were not."""
    heard_words = set(words(heard))
    missing = [word for word in words(expected) if word not in heard_words]
    return len(words(expected)) - len(missing), missing


def platform_plugin_name(file_name: str) -> str:
    """ "libqxcb.so" -> "xcb", "qwindows.dll" -> "windows", "libqcocoa.dylib" -> "cocoa"."""
    stem = file_name.split(".")[0]
    return re.sub(r"^(lib)?q", "", stem)


class SelfTest:
    """The checks, in the order the report shows them."""

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        clip: Path = SAMPLE_CLIP,
        audio_devices: Callable[[], Sequence[Mapping[str, object]]] | None = None,
        voice_engines: Sequence[str] | None = None,
        espeak: str | None = "",
    ) -> None:
        """`audio_devices`: PortAudio's device list (sounddevice.query_devices) unless given;
        `voice_engines`: the QTextToSpeech engines to try (None: the system's); `espeak`: the
        espeak-ng program ("": found on PATH, as the app does; None: none)."""
        self.model_path = model_path
        self.clip = clip
        self._audio_devices = audio_devices
        self._voice_engines = voice_engines
        self._espeak = espeak
        self._loaded: LoadedSettings | None = None

    def checks(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("settings", self.check_settings),
            ("Qt", self.check_qt),
            ("cache", self.check_cache),
            ("audio", self.check_audio),
            ("transcription", self.check_transcription),
            ("speech", self.check_speech),
            ("server", self.check_server),
        ]

    def run(self) -> Iterator[CheckResult]:
        for name, check in self.checks():
            started = time.perf_counter()
            warning = False
            try:
                detail, ok = check(), True
            except SelfTestWarning as caught:
                detail, ok, warning = str(caught), True, True
            # The report must go on to the next check whatever this one raised; the error is
            # not swallowed, it is the report's line and turns the exit status to 1.
            except Exception as error:
                detail, ok = _describe(error), False
            yield CheckResult(name, ok, detail, time.perf_counter() - started, warning)

    # --- checks ----------------------------------------------------------------------------------

    def check_settings(self) -> str:
        from app.config import load_settings, managed_config_path, user_config_path

        self._loaded = load_settings()
        managed, user = managed_config_path(), user_config_path()
        locked = ", ".join(sorted(self._loaded.locked)) or "none"
        return (
            f"managed file {managed} ({_presence(managed)}), locked keys: {locked}; "
            f"user file {user} ({_presence(user)})"
        )

    def check_qt(self) -> str:
        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import QLibraryInfo, qVersion
        from PySide6.QtTextToSpeech import QTextToSpeech
        from PySide6.QtWidgets import QApplication, QLabel

        existing = QApplication.instance()
        app = existing or QApplication(["coachdesk", "-platform", "offscreen"])
        label = QLabel("Coachdesk self-test")
        label.resize(240, 40)
        if label.grab().toImage().isNull():
            raise SelfTestError(f"Qt started on {app.platformName()} but could not draw a widget")
        plugins_dir = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
        plugins = sorted(
            platform_plugin_name(path.name) for path in plugins_dir.glob("*") if path.is_file()
        )
        missing = REQUIRED_PLATFORM_PLUGINS.get(sys.platform, set()) - set(plugins)
        if missing:
            raise SelfTestError(
                f"the Qt platform plugins {', '.join(sorted(missing))} are missing from "
                f"{plugins_dir}; the app cannot open a window on this system"
            )
        # Informational: without an engine the persona's lines are shown as text (ui/voice.py).
        engines = [name for name in QTextToSpeech.availableEngines() if name != "mock"]
        return (
            f"Qt {qVersion()} (PySide6 {pyside_version}) drew a widget on the "
            f"{app.platformName()} platform; platform plugins: {', '.join(plugins)}; "
            f"speech engines installed: {', '.join(engines) or 'none'} (see speech)"
        )

    def check_cache(self) -> str:
        from sync.cache import Cache

        with tempfile.TemporaryDirectory(prefix="coachdesk-selftest-") as folder:
            cache = Cache.open(Path(folder), str(uuid.uuid4()))
            try:
                cache.set_meta("self_test", __version__)
                if cache.meta("self_test") != __version__:
                    raise SelfTestError(f"the cache {cache.path} did not return what was written")
                schema = cache.db.execute("pragma user_version").fetchone()[0]
            finally:
                cache.close()
        return (
            f"SQLite {sqlite3.sqlite_version}: a cache was created, migrated to schema "
            f"{schema}, written and read back in a temporary folder"
        )

    def check_audio(self) -> str:
        import soundfile

        from audio.decode import SAMPLE_RATE, load_audio
        from audio.devices import portaudio

        sounddevice = portaudio("input")  # raises, in plain words, when PortAudio is missing
        portaudio_version = sounddevice.get_portaudio_version()[1]
        host_apis = ", ".join(api["name"] for api in sounddevice.query_hostapis()) or "none"
        devices = (self._audio_devices or sounddevice.query_devices)()
        inputs = sum(1 for device in devices if _number(device.get("max_input_channels")) > 0)
        samples = load_audio(self.clip)
        detail = (
            # _libname: which PortAudio was loaded (the bundle's own, or the system's).
            f"{portaudio_version} from {sounddevice._libname}; host APIs: {host_apis}; "
            f"{inputs} input device(s); {soundfile.__libsndfile_version__} decoded "
            f"{self.clip.name} ({len(samples) / SAMPLE_RATE:.1f} s)"
        )
        if inputs == 0:
            raise SelfTestWarning(
                f"no input device (microphone) found: practice calls cannot record until one is "
                f"connected (and allowed for apps in the system's privacy settings); {detail}"
            )
        return detail

    def check_transcription(self) -> str:
        from audio.transcribe import Transcriber

        settings = self._transcriber_settings()
        model = Transcriber(settings).model_path
        started = time.perf_counter()
        text = transcribe_in_worker(settings, self.clip)
        seconds = time.perf_counter() - started
        heard, missing = words_heard(SAMPLE_TEXT, text)
        expected = len(words(SAMPLE_TEXT))
        if heard < MIN_WORDS_HEARD * expected:
            raise SelfTestError(
                f'the sample clip came out as "{text}" ({heard}/{expected} words; missing: '
                f"{', '.join(missing)}); the model at {model} does not transcribe it"
            )
        return (
            f'heard "{text}" ({heard}/{expected} words) with the model at {model}, '
            f"in a worker process, {seconds:.1f} s"
        )

    def check_speech(self) -> str:
        """Whether the persona's voice really speaks, tried as ui/voice.py picks it: the system
        engines (QTextToSpeech, at volume 0), espeak-ng (into a WAV), speech-dispatcher last."""
        from PySide6.QtTextToSpeech import QTextToSpeech

        from ui.voice import espeak_command

        _qt_application()
        engines = (
            [e for e in QTextToSpeech.availableEngines() if e not in NOT_VOICES]
            if self._voice_engines is None
            else list(self._voice_engines)
        )
        program = espeak_command() if self._espeak == "" else self._espeak
        tries: list[tuple[str, Callable[[], str | None]]] = [
            (e, lambda e=e: engine_speaks(e)) for e in engines if e not in LAST_RESORT
        ]
        if program:
            tries.append(("espeak-ng", lambda: espeak_speaks(program)))
        tries += [(e, lambda e=e: engine_speaks(e)) for e in engines if e in LAST_RESORT]
        failures = []
        for name, attempt in tries:
            problem = attempt()
            if problem is None:
                tried = "".join(f"; {failure}" for failure in failures)
                return f"the persona's voice speaks: {name} said a test phrase{tried}"
            failures.append(f"{name}: {problem}")
        tried = "; ".join(failures) or "no speech engine and no espeak-ng"
        raise SelfTestWarning(
            f"no speech engine speaks ({tried}): the persona's lines are shown as text only. "
            + SPEECH_HINTS.get(sys.platform, "")
        )

    def check_server(self) -> str:
        """The server the app will use answers a request (with its anon key)."""
        config = self._server_config()
        if config is None:
            raise SelfTestWarning(
                "no server configured (supabase.url and supabase.anon_key, or SUPABASE_URL and "
                "SUPABASE_ANON_KEY); practice works offline, nothing syncs"
            )
        return server_answers(config.url, config.anon_key)

    def _server_config(self) -> ServerConfig | None:
        from app.client.views import ServerConfig

        supabase = self._loaded.settings.supabase if self._loaded is not None else None
        if supabase is not None and supabase.url and supabase.anon_key:
            return ServerConfig(str(supabase.url).rstrip("/"), supabase.anon_key)
        return ServerConfig.resolve()

    def _transcriber_settings(self) -> TranscriberSettings:
        from dataclasses import replace

        from audio.transcribe import TranscriberSettings

        # The model the app will use: the settings' (IT may set one), unless one is given here.
        settings = (
            self._loaded.settings.transcription.transcriber_settings()
            if self._loaded is not None
            else TranscriberSettings()
        )
        return (
            settings if self.model_path is None else replace(settings, model_path=self.model_path)
        )


# --- speech and server ---------------------------------------------------------------------------

SPEECH_HINTS = {
    "linux": "On Debian/Ubuntu: sudo apt-get install espeak-ng",
    "win32": "Windows ships its voices; check Settings > Time & language > Speech.",
    "darwin": "macOS ships its voices; check System Settings > Accessibility > Spoken Content.",
}


def _qt_application() -> object:
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(["coachdesk", "-platform", "offscreen"])


def engine_speaks(engine: str, timeout_s: float = SPEECH_TIMEOUT_S) -> str | None:
    """None if the engine starts saying a test phrase; else what went wrong. Silent: volume 0."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtTextToSpeech import QTextToSpeech

    speech = QTextToSpeech(engine)
    try:
        if speech.state() == QTextToSpeech.State.Error:
            return speech.errorString() or "the engine did not start"
        states: list[QTextToSpeech.State] = []
        loop = QEventLoop()

        def changed(state: QTextToSpeech.State) -> None:
            states.append(state)
            if state in (QTextToSpeech.State.Speaking, QTextToSpeech.State.Error):
                loop.quit()

        speech.stateChanged.connect(changed)
        speech.setVolume(0.0)
        QTimer.singleShot(round(timeout_s * 1000), loop.quit)
        speech.say(SPEECH_TEST_PHRASE)
        if speech.state() != QTextToSpeech.State.Speaking:
            loop.exec()
        if QTextToSpeech.State.Speaking in states or speech.state() == QTextToSpeech.State.Speaking:
            speech.stop()
            return None
        if speech.state() == QTextToSpeech.State.Error:
            return speech.errorString() or "the engine failed while speaking"
        return f"it did not start speaking within {timeout_s:.0f} s"
    finally:
        speech.deleteLater()


def espeak_speaks(program: str, timeout_s: float = SPEECH_TIMEOUT_S) -> str | None:
    """None if espeak-ng writes the test phrase as audio (as the voice has it do per line)."""
    import subprocess

    import soundfile

    with tempfile.TemporaryDirectory(prefix="coachdesk-selftest-voice-") as folder:
        target = Path(folder) / "phrase.wav"
        try:
            done = subprocess.run(
                [program, "-w", str(target), "--", SPEECH_TEST_PHRASE],
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"{program} could not run ({error})"
        if done.returncode != 0:
            return f"{program} failed (exit {done.returncode}: {done.stderr.strip()})"
        try:
            frames = soundfile.info(target).frames
        except (OSError, RuntimeError) as error:
            return f"{program} wrote no readable audio ({error})"
        return None if frames > 0 else f"{program} wrote an empty recording"


def server_answers(url: str, anon_key: str, timeout_s: float = SERVER_TIMEOUT_S) -> str:
    """Ask the server's REST API for one public row, as the app's client does; raise
    SelfTestError saying what failed (no answer, or an answer refusing the anon key)."""
    import httpx

    from sync.client import (
        OfflineError,
        RejectedError,
        SessionExpiredError,
        classify,
        make_client,
    )
    from sync.client import ServerConfig as ClientConfig

    client = make_client(
        ClientConfig(url, anon_key), timeout=httpx.Timeout(timeout_s, connect=timeout_s / 2)
    )
    started = time.perf_counter()
    try:
        client.table("orgs").select("id").limit(1).execute()
    except Exception as error:
        problem = classify(error)
        if isinstance(problem, OfflineError):
            raise SelfTestError(f"the server at {url} does not answer: {problem}") from error
        if isinstance(problem, SessionExpiredError):
            raise SelfTestError(
                f"the server at {url} answered but refused the anon key ({problem}): check "
                "supabase.anon_key"
            ) from error
        if not isinstance(problem, RejectedError):  # a permission refusal is still an answer
            raise SelfTestError(f"the server at {url} answered with an error: {problem}") from error
    return f"the server at {url} answered in {(time.perf_counter() - started) * 1000:.0f} ms"


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


# --- transcription in a worker process ------------------------------------------------------------


def transcribe_in_worker(settings: TranscriberSettings, clip: Path) -> str:
    """Transcribe the clip in a spawned child, as app/client/transcriber_process.py does.

    In a frozen bundle this also proves the executable can start its own worker processes
    (multiprocessing.freeze_support in the entry point).
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_transcribe_child, args=(settings, clip, sender), name="coachdesk-selftest"
    )
    process.start()
    sender.close()  # ours closed, so a child that dies leaves the pipe at EOF
    try:
        if not receiver.poll(TRANSCRIPTION_TIMEOUT_S):
            raise SelfTestError(
                f"the transcription worker did not answer within {TRANSCRIPTION_TIMEOUT_S:.0f} s"
            )
        try:
            outcome, message = receiver.recv()
        except EOFError:
            process.join()
            raise SelfTestError(
                f"the transcription worker process exited with code {process.exitcode} "
                "before answering (it could not start, or crashed)"
            ) from None
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()
    if outcome != "ok":
        raise SelfTestError(message)
    return message


def _transcribe_child(settings: TranscriberSettings, clip: Path, pipe: Connection) -> None:
    from app.logs import configure_logging

    configure_logging("WARNING")  # the report is the output; the model's info lines are noise
    try:
        from tqdm import tqdm

        from audio.transcribe import Transcriber

        # faster-whisper's (disabled) progress bar would make tqdm create a multiprocessing
        # semaphore this short-lived child never releases: a "leaked semaphore" warning at exit.
        tqdm.set_lock(threading.RLock())

        pipe.send(("ok", Transcriber(settings).transcribe(clip).text))
    # Sent back as text: AudioError subclasses take arguments that do not survive pickling.
    except Exception as error:
        pipe.send(("error", _describe(error)))
    finally:
        pipe.close()


# --- report ---------------------------------------------------------------------------------------


def _describe(error: BaseException) -> str:
    """Our own errors say it all; anything else gets its type, which is half the diagnosis."""
    from app.config import ConfigError
    from audio.errors import AudioError

    if isinstance(error, SelfTestError | ConfigError | AudioError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _presence(path: Path) -> str:
    return "present" if path.is_file() else "absent"


def _origin() -> str:
    if getattr(sys, "frozen", False):
        return f"installed bundle {Path(sys.executable).resolve().parent}"
    return f"source {Path(__file__).resolve().parents[1]}"


def report(results: Iterator[CheckResult], out: Callable[[str], None] = print) -> bool:
    """Print each result as it comes; True if all passed."""
    failed: list[str] = []
    warned: list[str] = []
    for result in results:
        failed += [] if result.ok else [result.name]
        warned += [result.name] if result.warning else []
        out(f"  {result.status:<4}  {result.name:<14} {result.detail}  [{result.seconds:.1f} s]")
    if failed:
        out(f"self-test FAILED: {', '.join(failed)}")
    else:
        out("self-test passed" + (f" with warnings: {', '.join(warned)}" if warned else ""))
    return not failed


def main() -> int:
    """Run every check and print the report; 0 if all passed, 1 otherwise.

    No options: the settings (files and COACHDESK_* variables) choose the model, as in the app.
    """
    print(f"Coachdesk {__version__} self-test ({_origin()})", flush=True)
    passed = report(SelfTest().run(), lambda line: print(line, flush=True))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
