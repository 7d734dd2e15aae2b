"""A Ctrl-C while the `accelsim` command starts up (imports, argument parsing) ends in one line
and exit status 130, not a KeyboardInterrupt traceback from whichever import it landed in.

The package's `__init__` calls `install` first; for the command itself (not a library user who
imports the CLI) SIGINT then ends the process at once with that line. `main` hands SIGINT back
to Python's own handler (KeyboardInterrupt) when the command starts its work, so that the
handlers' clean-up (workers stopped, temporaries removed) runs as before."""

from __future__ import annotations

import os
import signal
import sys

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
MESSAGE = "accelsim: interrupted\n"
# the console script, and `python -m accelsim.cli` (whose argv[0] is "-m" while the package
# loads, then the path of cli.py)
_COMMAND_NAMES = ("accelsim", "-m", "cli.py")


def _during_startup(signum, frame):
    try:
        os.write(2, MESSAGE.encode())
    finally:
        os._exit(EXIT_INTERRUPTED)


def install() -> None:
    """Take SIGINT while the command starts (only where Python's default handler has it: an
    ignored SIGINT, as in a background job, stays ignored)."""
    if os.path.basename(sys.argv[0] if sys.argv else "") not in _COMMAND_NAMES:
        return
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _during_startup)
    except ValueError:  # not the main thread: leave signals alone
        pass


def restore() -> None:
    """Give SIGINT back to Python (KeyboardInterrupt) once the command runs."""
    try:
        if signal.getsignal(signal.SIGINT) is _during_startup:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:
        pass

