"""PyInstaller runtime hook: sounddevice loads the bundle's PortAudio, not whatever the system has.

sounddevice asks `ctypes.util.find_library("portaudio")`, which on Linux only searches the
system's linker cache, so a frozen app would use the system libportaudio2 when there is one and
fail when there is none. The bundle carries its own copy (collected by the sounddevice hook);
this hook makes find_library return it first.
"""

import ctypes.util
import os
import sys

_BUNDLED_PREFIXES = {"portaudio": "libportaudio.so"}
_system_find_library = ctypes.util.find_library


def _find_bundled_first(name: str) -> str | None:
    prefix = _BUNDLED_PREFIXES.get(name)
    if prefix is not None:
        for entry in sorted(os.listdir(sys._MEIPASS)):
            if entry.startswith(prefix):
                return os.path.join(sys._MEIPASS, entry)
    return _system_find_library(name)


if sys.platform.startswith("linux"):
    ctypes.util.find_library = _find_bundled_first
