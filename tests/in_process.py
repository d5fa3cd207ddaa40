"""`cli(cwd, env, *args)`: the `syncd` command line run in this process, for tests where a
subprocess adds nothing; it answers as `tests/test_cli.py`'s `syncd(cwd, env, *args)` does (a
`subprocess.CompletedProcess` with returncode, stdout, stderr), without the interpreter's start-up
and imports that a subprocess pays on every call (about 0.3-0.5 s).

What the command sees is what a subprocess would be given: exactly `env` as its environment
(nothing of the test process's), `cwd` as its working directory, its own stdout and stderr
(files, not terminals) at the file-descriptor level too, so what C code or any thread writes to
fd 1 or 2 meanwhile is in its output as it would be in a subprocess's, an empty stdin, `syncd` as
its program name; an exit through SystemExit (argparse's usage errors, --help) gives that code,
an exception escaping `main` a traceback on stderr and exit 1, as the interpreter would.
Everything is put back afterwards: the environment, the directory, the streams and fds 0-2, the
signal handlers and a stop a signal requested. Loguru starts as in a new process (its default
sink, on the command's stderr, until `syncd.cli.main` sets up its own); afterwards the command's
sinks are removed (which closes a log file) and loguru's default sink is back: a sink a test
added before the call is gone, as the command's logging setup would remove it anyway.

Not for tests of what only a process has: real signals (a SIGINT, a SIGTERM, a SIGKILL from
outside), exit by a signal, two processes holding the lock, another user, the installed console
script and its start-up (`syncd.launch`), stdin/stdout pipes of a running command. Those run the
real command (`tests/test_cli.py`'s `syncd` and `SYNCD`); so does at least one test of each
command and each exit code.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from loguru import logger

from syncd.cli import main
from syncd.odoo.interrupt import clear_stop

SIGNALS = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")
           if hasattr(signal, name)]


def cli(cwd: Path, env: Mapping[str, str], *args: str,
        timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run `syncd *args` in this process with `env` and `cwd`. A run longer than `timeout`
    seconds raises subprocess.TimeoutExpired, as the subprocess helper's would (once the
    command has returned: it is not interrupted; pytest-timeout bounds a command that hangs)."""
    assert threading.current_thread() is threading.main_thread()  # the commands' signal handlers
    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    saved_handlers = {number: signal.getsignal(number) for number in SIGNALS}
    code: int
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            open(os.devnull, "rb") as nothing:
        for stream in saved_streams[1:]:
            stream.flush()
        saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
        try:
            os.environ.clear()
            os.environ.update(env)
            os.chdir(cwd)
            sys.argv = ["syncd", *args]
            for target, fd in ((nothing, 0), (out, 1), (err, 2)):
                os.dup2(target.fileno(), fd)
            sys.stdin = open(0, "r", closefd=False)
            sys.stdout, sys.stderr = _text_stream(1), _text_stream(2)
            logger.remove()  # as in a new process: loguru's default sink, on this stderr, until
            logger.add(sys.stderr)  # main sets up its own
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help (0), a usage error (2)
                code = _exit_code(exc.code)
            except Exception:  # as the interpreter does with an exception main lets through
                sys.stderr.write(traceback.format_exc())
                code = 1
        finally:
            logger.remove()  # the command's sinks; closes its log file
            logger.configure(extra={})  # and forgets the data_dir setup_logging bound
            ours = sys.stdin, sys.stdout, sys.stderr
            sys.stdin, sys.stdout, sys.stderr = saved_streams
            for stream in ours:
                if stream not in saved_streams:
                    stream.close()  # flushes; the fds are not closed (closefd=False)
            for fd, saved in enumerate(saved_fds):
                os.dup2(saved, fd)
                os.close(saved)
            logger.add(sys.stderr)  # loguru's own default, for whatever runs next
            sys.argv = saved_argv
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
            for number, handler in saved_handlers.items():
                if handler is not None:
                    signal.signal(number, handler)
            clear_stop()
        if timeout is not None and time.monotonic() - started > timeout:
            raise subprocess.TimeoutExpired(["syncd", *args], timeout, _read(out), _read(err))
        return subprocess.CompletedProcess(["syncd", *args], code, _read(out), _read(err))


def _text_stream(fd: int) -> io.TextIOWrapper:
    """UTF-8 text over the fd, unbuffered as far as the fd goes: Python's writes and C's land in
    the order they were made (one open file, one offset)."""
    return io.TextIOWrapper(open(fd, "wb", buffering=0, closefd=False), encoding="utf-8",
                            errors="backslashreplace", write_through=True)


def _read(file: IO[bytes]) -> str:
    """Decoded as subprocess.run(text=True) does: universal newlines."""
    file.seek(0)
    text = file.read().decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")  # sys.exit("message"): printed, exit 1
    return 1
