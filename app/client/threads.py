"""Thread priority for background work: the GUI thread should win when the machine is busy."""

from __future__ import annotations

import os
import sys
import threading

import structlog

log = structlog.get_logger(__name__)

# Background threads run this much "nicer" than the GUI thread: when the machine is busy, the
# scheduler then runs the event loop first (Linux has per-thread niceness; elsewhere a no-op).
BACKGROUND_NICENESS = 10


def lower_this_thread_priority() -> None:
    """Make the calling thread yield the CPU to the GUI thread; safe to call repeatedly.

    A no-op on the main (GUI) thread itself: a listener that usually runs on a worker may be
    called there too (the sync engine reports a stop on the caller's thread), and an unprivileged
    process can never raise its priority back.
    """
    if threading.current_thread() is threading.main_thread():
        return
    if not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < BACKGROUND_NICENESS:
            os.setpriority(os.PRIO_PROCESS, tid, BACKGROUND_NICENESS)
    except OSError as error:  # a sandbox may refuse; the thread then runs at normal priority
        log.info("thread priority unchanged", reason=str(error))
