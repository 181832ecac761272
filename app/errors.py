"""The root of the errors a user reads: raised anywhere below the UI, shown word for word."""

from __future__ import annotations


class CoachdeskError(Exception):
    """An error whose message a user can read and act on; shown word for word."""
