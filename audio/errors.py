"""Audio errors with messages a user can act on; the UI shows `str(error)` as it is.

Every message says what happened in plain words and, where a recording exists, that it is kept.
"""

from __future__ import annotations

from pathlib import Path


class AudioError(Exception):
    """Base of every error raised by `audio/`."""


class AudioFileError(AudioError):
    """A file that cannot be read as audio: missing, empty, corrupt or not audio at all."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"Cannot read the audio file {path}: {reason}.")
        self.path = path
        self.reason = reason


class NoInputDeviceError(AudioError):
    """No microphone to record from (none connected, or the chosen one is gone)."""


class NoOutputDeviceError(AudioError):
    """No speaker or headphones to play a recording on."""


class DevicePermissionError(AudioError):
    """The operating system refused access to the microphone."""


class RecordingStoppedError(AudioError):
    """A recording that stopped before the rep ended it; what was captured is kept.

    `path` is the recording of everything captured up to then, when it could be saved (else its
    journal stays, offered for recovery at the next start).
    """

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class DeviceLostError(RecordingStoppedError):
    """The microphone stopped delivering audio mid-recording (unplugged, driver error)."""


class DiskFullError(RecordingStoppedError):
    """The disk filled up while recording: recording stopped, the audio written so far kept."""


class ModelLoadError(AudioError):
    """The speech-to-text model could not be loaded; recordings stay, to transcribe later."""

    def __init__(self, model_path: Path, reason: str) -> None:
        super().__init__(
            f"The speech-to-text model at {model_path} could not be loaded ({reason}). "
            "Your recording is kept and can be transcribed later, once a working model is set "
            "in the settings."
        )
        self.model_path = model_path
        self.reason = reason


class TranscriptionCancelled(AudioError):
    """Transcription stopped because the caller asked it to; nothing is lost."""

    def __init__(self) -> None:
        super().__init__("Transcription was cancelled. The recording is kept.")
