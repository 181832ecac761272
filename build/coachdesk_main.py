"""Entry point of the frozen bundle: the `coachdesk` command, as the installed script runs it."""

import multiprocessing
import sys

from app.cli import main

if __name__ == "__main__":
    # Transcription runs in spawned worker processes (app/client/transcriber_process.py, the
    # self-test);
    # a frozen executable must recognise being started as one of them.
    multiprocessing.freeze_support()
    sys.exit(main())
