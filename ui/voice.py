"""The persona's voice: QTextToSpeech when the system has a working engine, silence otherwise.

Not every machine has speech (no speech-dispatcher on Linux, the "mock" engine in CI); then the
practice screen shows the persona's line as text only and the call still works, with each line
timed by an estimate of how long a voice would take (app/transcript.py).
"""

from __future__ import annotations

import structlog
from PySide6.QtCore import QObject, Signal

log = structlog.get_logger(__name__)

# Qt's test engine speaks nothing; it must never stand in for a real voice.
_NOT_VOICES = frozenset({"mock"})


class PersonaVoice(QObject):
    """Says a line and emits `finished` when done; only use from the GUI thread."""

    finished = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._speech = _open_engine(self)
        self._speaking = False
        if self._speech is not None:
            self._speech.stateChanged.connect(self._state_changed)

    @property
    def available(self) -> bool:
        return self._speech is not None

    def say(self, text: str, voice_hint: str | None = None) -> bool:
        """Start saying `text`; False (and no `finished`) when there is no voice."""
        if self._speech is None:
            return False
        if voice_hint:
            from PySide6.QtCore import QLocale

            # "en-gb" -> en_GB; an unknown locale leaves the engine's default voice.
            self._speech.setLocale(QLocale(voice_hint.replace("-", "_")))
        self._speaking = True
        self._speech.say(text)
        return True

    def stop(self) -> None:
        if self._speech is not None and self._speaking:
            self._speech.stop()

    def _state_changed(self, state: object) -> None:
        from PySide6.QtTextToSpeech import QTextToSpeech

        if state == QTextToSpeech.State.Error:
            error = self._speech.errorString() if self._speech is not None else ""
            log.warning("text to speech failed", error=error)
        if self._speaking and state in (QTextToSpeech.State.Ready, QTextToSpeech.State.Error):
            self._speaking = False
            self.finished.emit()


def _open_engine(parent: QObject) -> object | None:
    try:
        from PySide6.QtTextToSpeech import QTextToSpeech
    except ImportError:  # PySide6-Addons without the module
        return None
    engines = [e for e in QTextToSpeech.availableEngines() if e not in _NOT_VOICES]
    for engine in engines:
        speech = QTextToSpeech(engine, parent)
        if speech.state() != QTextToSpeech.State.Error:
            log.info("persona voice", engine=engine)
            return speech
        log.info("text to speech engine unusable", engine=engine, error=speech.errorString())
        speech.deleteLater()
    return None
