"""Where an administrator's managed settings file lives on each operating system.

IT installs one TOML file per machine (docs/deployment.md); app/config.py reads it below the
user's settings and honours its `locked` list. The paths are fixed, not taken from platformdirs'
XDG search list, so that a deployment guide can name one file per OS and a user cannot move it
with XDG_CONFIG_DIRS:

    Linux    /etc/coachdesk/config.toml
    Windows  %ProgramData%\\Coachdesk\\config.toml
    macOS    /Library/Application Support/Coachdesk/config.toml
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

FILE_NAME = "config.toml"
# Windows' own default when %ProgramData% is missing (a service started with an empty block).
WINDOWS_PROGRAM_DATA = r"C:\ProgramData"


def managed_config_location(platform: str, environ: Mapping[str, str]) -> PurePath:
    """The managed file for a `sys.platform` value ("linux", "win32", "darwin", ...)."""
    if platform == "win32":
        program_data = environ.get("PROGRAMDATA") or WINDOWS_PROGRAM_DATA
        return PureWindowsPath(program_data, "Coachdesk", FILE_NAME)
    if platform == "darwin":
        return PurePosixPath("/Library/Application Support/Coachdesk", FILE_NAME)
    # Linux and the other Unixes keep system-wide configuration under /etc.
    return PurePosixPath("/etc/coachdesk", FILE_NAME)


def managed_config_file() -> Path:
    """The managed file on this machine (it need not exist)."""
    return Path(managed_config_location(sys.platform, os.environ))
