"""The persona's voice: a system speech engine (QTextToSpeech), else espeak-ng, else none.

QTextToSpeech speaks through the platform's engine (SAPI/WinRT on Windows, AVSpeech on macOS);
on Linux its only engine is speech-dispatcher, which many desktops do not run (then the persona
was silent). There, and wherever the system engines fail, espeak-ng (a Debian package that
`make run` installs) writes each line to a WAV file in its own process (QProcess: the GUI
thread never waits for it) and the app plays it through the same audio output as the review's
playback (audio.playback.Player). Without either, `problem` says why in words the practice
screen shows; the call still works, every line shown as text and timed by an estimate of how
long a voice would take (app/transcript.py).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import structlog
from PySide6.QtCore import QObject, QProcess, Signal, Slot

from audio.voices import ESPEAK_LIST_ARGS, Voice, find_voice, parse_espeak_voices

log = structlog.get_logger(__name__)

# Qt's test engine speaks nothing; it must never stand in for a real voice. speech-dispatcher
# comes after espeak-ng: it reports itself ready on desktops where no daemon will speak.
_NOT_VOICES = frozenset({"mock"})
_LAST_RESORT = frozenset({"speechd"})
ESPEAK = "espeak-ng"
ESPEAK_RATE_WPM = 165
NO_ENGINE = (
    "No voice for the persona on this computer: its lines are shown as text only. "
    "Install espeak-ng (Debian/Ubuntu: sudo apt-get install espeak-ng) for a voice."
)


class LinePlayer(Protocol):
    """What the voice uses of audio.playback.Player."""

    def play(self) -> None: ...
    def close(self) -> None: ...


LinePlayerFactory = Callable[[Path, Callable[[], None]], LinePlayer]


def default_line_player(path: Path, on_finished: Callable[[], None]) -> LinePlayer:
    from audio.playback import Player

    return Player(path, on_finished=on_finished)


def espeak_command() -> str | None:
    return shutil.which(ESPEAK)


class PersonaVoice(QObject):
    """Says a line and emits `finished` when done; only use from the GUI thread.

    `failed(text)` reports a voice that stopped working mid-call (no speakers, the engine
    crashed); `finished` still follows, so the call goes on with text only."""

    finished = Signal()
    failed = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        engines: tuple[str, ...] | None = None,
        espeak: str | None = "",
        line_player: LinePlayerFactory = default_line_player,
    ) -> None:
        """`engines`: QTextToSpeech engines to try (None: the system's); `espeak`: the
        espeak-ng program ("" finds it on PATH, None: do not use it)."""
        super().__init__(parent)
        self._speech: object | None = None
        self._espeak: _Espeak | None = None
        self._speaking = False
        self.engine = ""
        self.problem: str | None = None
        program = espeak_command() if espeak == "" else espeak
        qt_engines = _qt_engines() if engines is None else list(engines)
        for engine in sorted(qt_engines, key=lambda e: e in _LAST_RESORT):
            if engine in _LAST_RESORT and program:
                break  # espeak-ng speaks for sure; speech-dispatcher may only say it would
            if self._open_qt(engine):
                return
        if program:
            self._espeak = _Espeak(self, program, line_player)
            self._espeak.done.connect(self._espeak_done)
            self.engine = ESPEAK
            log.info("persona voice", engine=ESPEAK, program=program)
            return
        self.problem = NO_ENGINE
        log.warning("no persona voice", engines=qt_engines)

    @property
    def available(self) -> bool:
        return self._speech is not None or self._espeak is not None

    def say(self, text: str, voice_hint: str | None = None) -> bool:
        """Start saying `text` in the voice the persona's `voice` field names (audio.voices:
        a voice's name or a language tag; one this computer lacks: the default voice); False
        (and no `finished`) when there is no voice."""
        if self._espeak is not None:
            self._speaking = True
            self._espeak.say(text, voice_hint)
            return True
        if self._speech is None:
            return False
        if voice_hint:
            self._choose_qt_voice(voice_hint)
        self._speaking = True
        self._speech.say(text)
        return True

    def list_voices(self, on_listed: Callable[[list[Voice]], None]) -> None:
        """The voices this engine has, to `on_listed` on the GUI thread: the system engine's
        at once, espeak-ng's once `espeak-ng --voices` answers (its own process: the GUI
        never waits); [] without a voice."""
        if self._speech is not None:
            on_listed(self._qt_voices())
        elif self._espeak is not None:
            self._espeak.list_voices(on_listed)
        else:
            on_listed([])

    def stop(self) -> None:
        if not self._speaking:
            return
        if self._espeak is not None:
            self._espeak.stop()
        elif self._speech is not None:
            self._speech.stop()

    # Engines ------------------------------------------------------------------------------
    def _open_qt(self, engine: str) -> bool:
        from PySide6.QtTextToSpeech import QTextToSpeech

        speech = QTextToSpeech(engine, self)
        if speech.state() == QTextToSpeech.State.Error:
            log.info("text to speech engine unusable", engine=engine, error=speech.errorString())
            speech.deleteLater()
            return False
        self._speech = speech
        self.engine = engine
        speech.stateChanged.connect(self._state_changed)
        log.info("persona voice", engine=engine)
        return True

    def _qt_voices(self) -> list[Voice]:
        speech = self._speech
        voices = speech.availableVoices() if speech is not None else []
        found = [Voice(v.name(), v.name(), v.locale().bcp47Name().lower()) for v in voices]
        return sorted(found, key=lambda v: (v.name.casefold(), v.id))

    def _choose_qt_voice(self, hint: str) -> None:
        from PySide6.QtCore import QLocale

        speech = self._speech
        chosen = find_voice(self._qt_voices(), hint)
        wanted = next(
            (v for v in speech.availableVoices() if chosen and v.name() == chosen.id), None
        )
        if wanted is not None:
            speech.setVoice(wanted)
        else:
            # "en-gb" -> en_GB; an unknown locale leaves the engine's default voice.
            speech.setLocale(QLocale(hint.replace("-", "_")))

    def _state_changed(self, state: object) -> None:
        from PySide6.QtTextToSpeech import QTextToSpeech

        if state == QTextToSpeech.State.Error:
            error = self._speech.errorString() if self._speech is not None else ""
            log.warning("text to speech failed", error=error)
            self.failed.emit(f"The persona's voice failed ({error}); lines are shown as text.")
        if self._speaking and state in (QTextToSpeech.State.Ready, QTextToSpeech.State.Error):
            self._speaking = False
            self.finished.emit()

    def _espeak_done(self, error: str) -> None:
        if error:
            self.failed.emit(f"The persona's voice failed: {error}. Lines are shown as text.")
        if self._speaking:
            self._speaking = False
            self.finished.emit()


def _qt_engines() -> list[str]:
    try:
        from PySide6.QtTextToSpeech import QTextToSpeech
    except ImportError:  # PySide6-Addons without the module
        return []
    return [e for e in QTextToSpeech.availableEngines() if e not in _NOT_VOICES]


class _Espeak(QObject):
    """One line at a time: espeak-ng writes it to a WAV, a Player plays it; `done(error)`."""

    done = Signal(str)  # "" when the line was said (or stopped)
    _played = Signal(int)  # the line whose audio ended, from PortAudio's thread (queued)

    def __init__(self, parent: QObject, program: str, line_player: LinePlayerFactory) -> None:
        super().__init__(parent)
        self._program = program
        self._line_player = line_player
        self._folder = tempfile.TemporaryDirectory(prefix="coachdesk-voice-")
        # One process object, restarted per line, whose signals go to this object's own slots.
        self._process = QProcess(self)
        self._process.finished.connect(self._synthesized)
        self._process.errorOccurred.connect(self._process_error)
        self._request: tuple[str, str | None, Path] | None = None  # the line being made
        self._player: LinePlayer | None = None
        self._line = 0
        self._played.connect(self._finish)

    def list_voices(self, on_listed: Callable[[list[Voice]], None]) -> None:
        lister = QProcess(self)

        def listed(code: int, _status: QProcess.ExitStatus) -> None:
            output = bytes(lister.readAllStandardOutput().data()).decode(errors="replace")
            lister.deleteLater()
            on_listed(parse_espeak_voices(output) if code == 0 else [])

        def failed(error: QProcess.ProcessError) -> None:
            if error == QProcess.ProcessError.FailedToStart:  # never finishes
                lister.deleteLater()
                on_listed([])

        lister.finished.connect(listed)
        lister.errorOccurred.connect(failed)
        lister.start(self._program, list(ESPEAK_LIST_ARGS))

    def say(self, text: str, voice_hint: str | None) -> None:
        self._halt()  # a new line replaces the one being said, as QTextToSpeech.say does
        self._line += 1
        self._synthesize(text, voice_hint, Path(self._folder.name) / f"line-{self._line}.wav")

    def stop(self) -> None:
        if self._halt():
            self.done.emit("")

    def _halt(self) -> bool:
        """Stop what is being made or played; True if there was something."""
        request, self._request = self._request, None
        if self._process.state() != QProcess.ProcessState.NotRunning:
            self._process.kill()  # its finished signal now finds no request: ignored
            self._process.waitForFinished(1000)
        player, self._player = self._player, None
        if player is not None:
            player.close()  # stopped before the end: no on_finished
        return request is not None or player is not None

    def _synthesize(self, text: str, voice_hint: str | None, target: Path) -> None:
        self._request = (text, voice_hint, target)
        args = ["-w", str(target), "-s", str(ESPEAK_RATE_WPM)]
        if voice_hint:
            args += ["-v", voice_hint]
        self._process.start(self._program, [*args, "--", text])

    @Slot(QProcess.ProcessError)
    def _process_error(self, error: QProcess.ProcessError) -> None:
        # A program that cannot start never finishes; other errors are followed by finished.
        if error == QProcess.ProcessError.FailedToStart and self._request is not None:
            self._request = None
            self.done.emit(f"{self._program} could not start ({self._process.errorString()})")

    @Slot(int, QProcess.ExitStatus)
    def _synthesized(self, code: int, _status: QProcess.ExitStatus) -> None:
        request, self._request = self._request, None
        if request is None:
            return  # stopped meanwhile
        text, voice_hint, target = request
        error = bytes(self._process.readAllStandardError().data()).decode(errors="replace")
        if code != 0 and voice_hint:
            # A voice espeak-ng does not have ("en-xx"): its default voice rather than none.
            log.info("espeak-ng voice not available", voice=voice_hint, error=error.strip())
            self._synthesize(text, None, target)
            return
        if code != 0:
            self.done.emit(f"espeak-ng could not say the line ({error.strip() or f'exit {code}'})")
            return
        line = self._line
        try:
            player = self._line_player(target, lambda: self._played.emit(line))
            player.play()
        except Exception as failure:  # no speakers (NoOutputDeviceError), an unreadable file
            log.warning("persona voice cannot play", reason=str(failure))
            self.done.emit(str(failure))
            return
        self._player = player

    @Slot(int)
    def _finish(self, line: int) -> None:
        if line != self._line:
            return  # a line since replaced
        player, self._player = self._player, None
        if player is not None:
            player.close()
            self.done.emit("")
