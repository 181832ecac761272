"""Sound devices through PortAudio (sounddevice): which microphones exist, and device errors in
plain words.

PortAudio reports problems as codes and host-API text ("Unanticipated host error", "Access is
denied"); `device_error` turns them into the few cases a user can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import structlog

from audio.errors import AudioError, DevicePermissionError, NoInputDeviceError, NoOutputDeviceError

log = structlog.get_logger(__name__)

try:
    import sounddevice
except OSError as _import_error:  # the PortAudio library itself is missing
    sounddevice = None
    _PORTAUDIO_MISSING = str(_import_error)

# What opening or starting a stream raises for device trouble (ValueError: no device by that name).
DEVICE_ERRORS: tuple[type[Exception], ...] = (ValueError,) + (
    (sounddevice.PortAudioError,) if sounddevice is not None else ()
)

Direction = Literal["input", "output"]
DeviceSpec = int | str | None  # PortAudio index, a name substring, or None for the default

# PortAudio error codes (portaudio.h, PaErrorCode).
PA_INVALID_SAMPLE_RATE = -9997
PA_INVALID_DEVICE = -9996
PA_DEVICE_UNAVAILABLE = -9985
# What host APIs say when the OS privacy settings refuse the microphone: ALSA's -EACCES,
# WASAPI's E_ACCESSDENIED (as unsigned and signed 32-bit), and their texts.
_PERMISSION_HOST_CODES = frozenset({-13, 0x80070005, -2147024891})
# sounddevice's own words when a device index or name does not exist (no code attached).
_MISSING_DEVICE_WORDS = ("error querying device", "no input device matching", "no output device")
_PERMISSION_WORDS = ("permission", "access is denied", "access denied", "not permitted")


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    host_api: str
    channels: int
    default_samplerate: float
    is_default: bool


def portaudio(direction: Direction) -> ModuleType:
    """The sounddevice module; a no-device error if PortAudio is not installed."""
    if sounddevice is None:
        raise _no_device(direction, f"no audio system is available ({_PORTAUDIO_MISSING})")
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    """Every device that can record, the system default marked; [] when there is none."""
    if sounddevice is None:
        log.warning("portaudio missing", reason=_PORTAUDIO_MISSING)
        return []
    try:
        devices = sounddevice.query_devices()
        default_input = sounddevice.default.device[0]
    except sounddevice.PortAudioError as error:
        log.warning("cannot list audio devices", error=str(error))
        return []
    return [
        InputDevice(
            index=device["index"],
            name=device["name"],
            host_api=sounddevice.query_hostapis(device["hostapi"])["name"],
            channels=device["max_input_channels"],
            default_samplerate=float(device["default_samplerate"]),
            is_default=device["index"] == default_input,
        )
        for device in devices
        if device["max_input_channels"] > 0
    ]


def check_input(
    device: DeviceSpec = None, *, check_settings: Callable[..., Any] | None = None
) -> None:
    """Raise the AudioError a Recorder on `device` would (None: the default microphone), or
    return if it can record as the Recorder does: 16 kHz mono 16-bit. Opens no stream.

    `check_settings`: PortAudio's settings check (sounddevice.check_input_settings), which a test
    replaces as it replaces the stream, at the hardware boundary.
    """
    from audio.decode import SAMPLE_RATE  # the Recorder's; lazily: decode loads faster_whisper

    check = check_settings or portaudio("input").check_input_settings
    try:
        check(device=device, samplerate=SAMPLE_RATE, channels=1, dtype="int16")
    except DEVICE_ERRORS as error:
        raise device_error(error, "input", device) from error


def device_error(error: Exception, direction: Direction, device: DeviceSpec) -> AudioError:
    """The AudioError to show for a PortAudio failure to open or start a stream."""
    message, code, host_code, host_text = _error_parts(error)
    words = f"{message} {host_text}".lower()
    if host_code in _PERMISSION_HOST_CODES or any(w in words for w in _PERMISSION_WORDS):
        if direction == "input":
            return DevicePermissionError(
                "Coachdesk is not allowed to use the microphone. Allow microphone access for "
                "Coachdesk in your system's privacy settings, then try again."
            )
        return NoOutputDeviceError(f"The system refused access to the speakers ({message}).")
    what = "microphone" if direction == "input" else "speaker or headphones"
    named = f" {device!r}" if device is not None else ""
    if code == PA_INVALID_SAMPLE_RATE:
        reason = f"the {what}{named} cannot run at 16 kHz; choose another one"
    elif code == PA_INVALID_DEVICE or any(w in words for w in _MISSING_DEVICE_WORDS):
        reason = f"no {what}{named} is connected"
    elif code == PA_DEVICE_UNAVAILABLE:
        reason = f"the {what}{named} is busy or was disconnected"
    else:
        reason = f"no {what}{named} could be opened ({message})"
    return _no_device(direction, reason)


def _no_device(direction: Direction, reason: str) -> AudioError:
    if direction == "input":
        return NoInputDeviceError(
            f"Cannot record: {reason}. Connect a microphone or choose one in the settings."
        )
    return NoOutputDeviceError(
        f"Cannot play audio: {reason}. Connect speakers or headphones and try again."
    )


def _error_parts(error: Exception) -> tuple[str, int | None, int | None, str]:
    """(message, PortAudio code, host error code, host error text) from a PortAudioError.

    sounddevice raises PortAudioError(message[, code[, (host_api, host_code, host_text)]]), and
    ValueError("No input device matching ...") for a name that matches nothing.
    """
    args = error.args
    message = str(args[0]) if args else type(error).__name__
    code = args[1] if len(args) > 1 and isinstance(args[1], int) else None
    host = args[2] if len(args) > 2 and isinstance(args[2], tuple) else ()
    host_code = host[1] if len(host) > 1 and isinstance(host[1], int) else None
    host_text = str(host[2]) if len(host) > 2 else ""
    return message, code, host_code, host_text
