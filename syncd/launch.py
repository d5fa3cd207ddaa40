"""The `syncd` console script's entry point: the command line, loaded inside a guard.

Loading the command line's modules takes a tenth of a second; a Ctrl+C (or, but for ``once``,
a SIGTERM) in that moment used to end `syncd watch` with a Python traceback and exit 130.
Here it ends as it would a moment later: ``once`` says it was interrupted and exits 130,
every other command exits 0. (A signal in the interpreter's own first milliseconds, before
Python handles any, still ends the process the operating system's way.)
"""

from __future__ import annotations

import signal
import sys
from types import FrameType


def main() -> int:
    once = "once" in sys.argv[1:]
    previous = None
    if not once:  # `once` keeps SIGTERM's default until its own handler: 143, as documented
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        from syncd.cli import main as cli_main
    except KeyboardInterrupt:
        if once:
            sys.stderr.write("syncd: interrupted (SIGINT): nothing of the pass was committed\n")
            return 128 + signal.SIGINT
        return 0
    if previous is not None:
        # Until a command installs its own: SIGTERM ends it as Ctrl+C does (exit 0).
        signal.signal(signal.SIGTERM, _interrupt)
    return cli_main()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
