"""`python -m syncd.service.supervise [SYNCD ARGS]`: what the Windows scheduled task runs.

Task Scheduler's restart-on-failure acts on a task that fails to *start*, not on a non-zero
exit, and ending a task may leave its child process running (holding the data directory's
lock). So the task runs this supervisor, which owns both:

* it runs ``syncd [ARGS] run`` and decides on its exit code (``decide``): 0, the daemon stopped
  cleanly, ends the supervisor with 0; 2, a configuration error, is never restarted (restarting
  cannot fix it): it ends with 2's message logged; anything else (1: the pass machinery failed,
  another syncd held the directory, a crash) restarts it after a pause that grows with each
  failure in a row (1 min, 2, 4, ... at most 15 min) and starts over after a run that lasted
  ``SETTLED`` seconds;
* the child is tied to the supervisor: on Windows it is put in a job object that kills it when
  the supervisor's last handle closes (the task ended, the supervisor killed); elsewhere
  SIGINT/SIGTERM are passed on to it. A stop request also ends the pause at once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

CONFIG_ERROR = 2
FIRST_PAUSE = 60.0  # seconds before the first restart
MAX_PAUSE = 900.0
SETTLED = 600.0  # a run this long was healthy: the next failure starts the pauses over


@dataclass(frozen=True)
class Decision:
    """What to do after ``syncd run`` exited: ``restart`` after ``pause`` seconds, or end with
    ``exit_code``. ``reason`` is one line for the task's log."""

    restart: bool
    pause: float
    exit_code: int
    reason: str


def decide(code: int, failures: int) -> Decision:
    """The policy for exit ``code`` after ``failures`` failed runs in a row before this one."""
    if code == 0:
        return Decision(False, 0.0, 0, "syncd stopped cleanly")
    if code == CONFIG_ERROR:
        return Decision(False, 0.0, CONFIG_ERROR, "configuration error (exit 2): not restarted; "
                        "fix it, then start the task again")
    pause = min(FIRST_PAUSE * 2.0 ** min(failures, 10), MAX_PAUSE)
    return Decision(True, pause, code, f"syncd exited {code}: restarting in {pause:g} s")


def supervise(command: Sequence[str], *, stop: threading.Event | None = None,
              log: Callable[[str], None] = print,
              clock: Callable[[], float] = time.monotonic,
              pause: Callable[[float], bool] | None = None,
              start: Callable[[Sequence[str]], Any] | None = None) -> int:
    """Run ``command`` until ``decide`` says stop (or ``stop`` is set); returns the exit code.
    ``start`` starts the child (default: ``subprocess.Popen`` tied to us); ``clock`` and
    ``pause`` (default: wait on ``stop``, True when it was set) are injectable for tests."""
    stop = stop if stop is not None else threading.Event()
    pause = pause if pause is not None else stop.wait
    start = start if start is not None else _start_tied
    failures = 0
    while True:
        began = clock()
        child = start(command)
        code = _wait(child, stop)
        if stop.is_set():
            log("stopped: syncd was asked to stop")
            return 0
        if clock() - began >= SETTLED:
            failures = 0
        decision = decide(code, failures)
        log(decision.reason)
        if not decision.restart:
            return decision.exit_code
        failures += 1
        if pause(decision.pause):
            return 0


def _wait(child: Any, stop: threading.Event) -> int:
    """The child's exit code; a stop request is passed on to it (it exits within seconds)."""
    while True:
        try:
            return int(child.wait(timeout=0.5))
        except subprocess.TimeoutExpired:
            if stop.is_set():
                _terminate(child)


def _terminate(child: Any) -> None:
    try:
        if sys.platform == "win32":
            child.send_signal(signal.CTRL_BREAK_EVENT)  # syncd stops on SIGBREAK
        else:
            child.terminate()
    except OSError:
        pass


def _start_tied(command: Sequence[str]) -> subprocess.Popen[bytes]:
    if sys.platform == "win32":
        child = subprocess.Popen(list(command),
                                 creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
        _kill_with_us(child)
        return child
    return subprocess.Popen(list(command))


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import ctypes
    from ctypes import wintypes

    _JOB: int | None = None

    def _kill_with_us(child: subprocess.Popen[bytes]) -> None:
        """Put ``child`` in a job object that kills it when our last handle to the job closes:
        when this process ends, however it ends (the task stopped, killed)."""
        global _JOB
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        if _JOB is None:
            job = kernel32.CreateJobObjectW(None, None)

            class Limits(ctypes.Structure):
                _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64),
                            ("PerJobUserTimeLimit", ctypes.c_int64),
                            ("LimitFlags", wintypes.DWORD),
                            ("MinimumWorkingSetSize", ctypes.c_size_t),
                            ("MaximumWorkingSetSize", ctypes.c_size_t),
                            ("ActiveProcessLimit", wintypes.DWORD),
                            ("Affinity", ctypes.c_size_t),
                            ("PriorityClass", wintypes.DWORD),
                            ("SchedulingClass", wintypes.DWORD)]

            class IoCounters(ctypes.Structure):
                _fields_ = [(name, ctypes.c_uint64) for name in (
                    "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
                    "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]

            class Extended(ctypes.Structure):
                _fields_ = [("BasicLimitInformation", Limits), ("IoInfo", IoCounters),
                            ("ProcessMemoryLimit", ctypes.c_size_t),
                            ("JobMemoryLimit", ctypes.c_size_t),
                            ("PeakProcessMemoryUsed", ctypes.c_size_t),
                            ("PeakJobMemoryUsed", ctypes.c_size_t)]

            info = Extended()
            info.BasicLimitInformation.LimitFlags = 0x2000  # JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
            kernel32.SetInformationJobObject(job, 9, ctypes.byref(info), ctypes.sizeof(info))
            _JOB = job
        kernel32.AssignProcessToJobObject(_JOB, int(child._handle))  # type: ignore[attr-defined]

else:

    def _kill_with_us(child: subprocess.Popen[bytes]) -> None:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
            number = getattr(signal, name, None)
            if number is not None:
                signal.signal(number, lambda *_: stop.set())
    command = [sys.executable, "-m", "syncd", *args, "run"]
    return supervise(command, stop=stop,
                     log=lambda line: print(f"syncd task: {line}", file=sys.stderr, flush=True))


if __name__ == "__main__":
    raise SystemExit(main())
