"""Coachdesk's version, from the git tag (setuptools-scm), for `coachdesk --version` and About.

A release build bakes the version it was built from into the bundle (build/dist.py writes
`app/VERSION` there), because a frozen app has neither git nor trustworthy package metadata.
From source, the installed package's metadata holds what setuptools-scm computed at
`pip install` time; a checkout that was never installed reports the fallback.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "coachdesk"
# Same as [tool.setuptools_scm] fallback_version in pyproject.toml, marked as unknown.
FALLBACK_VERSION = "0.1.0+unknown"
BAKED_VERSION_FILE = Path(__file__).resolve().with_name("VERSION")


def baked_version(path: Path = BAKED_VERSION_FILE) -> str | None:
    """The version a release build wrote into the bundle; None outside a frozen bundle."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def get_version() -> str:
    # Only a frozen bundle may carry a baked file; a stray one in a checkout must not win.
    if getattr(sys, "frozen", False) and (baked := baked_version(BAKED_VERSION_FILE)):
        return baked
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return FALLBACK_VERSION


__version__ = get_version()
