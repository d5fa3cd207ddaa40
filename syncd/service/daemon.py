"""The daemon: a thin loop around one pass; signals; systemd credentials.

The loop is ours, not ``schedule``'s: what the daemon needs is a cadence anchored to the *start*
of a pass, a capped backoff after a failed one, an injected (monotonic) clock and a wait that a
signal can cut short. ``schedule`` measures its interval from the end of a run, reads the wall
clock inside, and has no backoff, so using it meant overriding its private
``_schedule_next_run``; the plan below is a dozen lines instead.

The default clock is monotonic (a naive local datetime fixed at import, advanced by
``time.monotonic()``), so a wall-clock jump (NTP, DST fall-back) never stretches a wait by an hour.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Protocol

from loguru import logger

from syncd.errors import ConfigError, SyncdError, one_line
from syncd.odoo.interrupt import request_stop
from syncd.service.notify import Notifier

_EPOCH = datetime.now()
_EPOCH_MONO = time.monotonic()
# Before READY=1, a heartbeat asks systemd for this much more start-up time (a first full sync).
_START_EXTENSION = 300.0
# Windows runs a Ctrl+C handler only when the main thread returns from a blocking call, and
# select() there is not interrupted by it: wake at least once a second so stop comes promptly.
_MAX_BLOCK = 1.0 if os.name == "nt" else None
_CREDENTIALS = {"odoo_password": "ODOO_PASSWORD", "odoo_api_key": "ODOO_API_KEY"}


class PassOutcome(Protocol):
    """What a pass returns (the lead's PassReport satisfies it)."""

    @property
    def ok(self) -> bool: ...
    @property
    def error(self) -> str | None: ...  # one line, already secret-free
    @property
    def summary(self) -> str: ...  # one line for STATUS=


def monotonic_now() -> datetime:
    """A naive local datetime that only ever moves forward at the monotonic clock's pace."""
    return _EPOCH + timedelta(seconds=time.monotonic() - _EPOCH_MONO)


class Daemon:
    """Runs `run_pass` now, then every `interval` seconds, until stop().

    Passes never overlap: the thread that calls run() runs them all. The cadence is anchored to the
    start of a pass, so a 2 s pass with interval 300 starts every 300 s, not every 302 s. Missed runs
    are not replayed: after a pass longer than the interval the next one starts at once, and only once.

    A pass that fails (returns ok=False, or raises any exception other than ConfigError) is logged
    at ERROR once with its reason; later failures with the same reason go to DEBUG. It is retried
    after a capped backoff measured from the end of the failed pass (backoff_start doubling up to
    min(interval, backoff_cap)); the first success after failures logs a recovery line and restores
    the cadence. ConfigError propagates (the CLI exits 2). An exception that is not a SyncdError is
    a bug: it is also a failed pass (the daemon stays up), logged with its traceback the first time.
    A pass that ends unsuccessfully because stop() was called is not counted (neither as a
    pass nor as a failure).

    systemd: READY=1 after the first pass completes (success or failure) with its STATUS=; STATUS=
    after every later pass; WATCHDOG=1 while waiting, at least every watchdog interval / 2; and
    STOPPING=1 when run() exits. Between READY and the end, a long pass should call heartbeat().
    """

    def __init__(self, run_pass: Callable[[], PassOutcome], interval: float, *,
                 notifier: Notifier | None = None, clock: Callable[[], datetime] | None = None,
                 wait: Callable[[float], bool] | None = None, backoff_start: float = 5.0,
                 backoff_cap: float = 300.0) -> None:
        if interval <= 0:
            raise ValueError("interval must be > 0")
        self.run_pass = run_pass
        self.interval = float(interval)
        self.stopping = threading.Event()
        self.passes = 0
        self.failures = 0
        self._notifier = notifier if notifier is not None else Notifier(environ={})
        self._clock = clock or monotonic_now
        self._wait = wait or self._wait_for_stop
        self._backoff_start = backoff_start
        self._backoff_cap = max(min(self.interval, backoff_cap), 0.0)
        self._streak = 0  # consecutive failed passes
        self._last_reason: str | None = None
        self._started: datetime | None = None
        self._ready = False
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._next_run: datetime | None = None  # when the next pass is due (self._plan)

    # -- the loop ----------------------------------------------------------------------------------
    def run(self) -> int:
        """Block until stop(); return 0. Must be called once, from one thread."""
        logger.info("daemon started interval={interval:g}s", interval=self.interval)
        self._wake = socket.socketpair()
        self._wake[1].setblocking(False)
        try:
            self._next_run = self._plan()
            while not self.stopping.is_set():
                if self._clock() >= self._next_run:
                    self._tick()
                    self._next_run = self._plan()
                if not self.stopping.is_set():
                    self._idle()
        finally:
            self._notifier.stopping()
            for end in self._wake:
                end.close()
            logger.info("daemon stopped passes={passes} failures={failures}", passes=self.passes,
                        failures=self.failures)
        return 0

    def stop(self) -> None:
        """Ask run() to return: at once when idle; after the pass in progress otherwise (the pass
        sees `stopping` and ends early). Safe from other threads and from a signal handler: it sets
        an Event nobody holds in the main thread and writes one byte to a non-blocking socket."""
        self.stopping.set()
        wake = self._wake
        if wake is not None:
            try:
                wake[1].send(b"\0")
            except OSError:
                pass  # closed (run() ended) or full (already woken)

    def heartbeat(self) -> None:
        """Call from inside a long pass (per page or per model): pings systemd's watchdog, or before
        READY=1 asks for more start-up time, so a long first full sync is not killed."""
        if self._ready:
            self._notifier.watchdog()
        else:
            self._notifier.extend_timeout(_START_EXTENSION)

    def _idle(self) -> None:
        ping = self._notifier.watchdog_interval
        while not self.stopping.is_set():
            if self._next_run is None:
                return
            idle = (self._next_run - self._clock()).total_seconds()
            if idle <= 0:
                return
            if ping is not None:
                self._notifier.watchdog()
                idle = min(idle, ping / 2)
            if self._wait(idle):
                return

    def _wait_for_stop(self, seconds: float) -> bool:
        if not self.stopping.is_set() and self._wake is not None:
            # select, not Event.wait: a signal handler calling stop() must never need a lock that
            # the interrupted main thread might be holding.
            timeout = max(seconds, 0.0)
            select.select([self._wake[0]], [], [], min(timeout, _MAX_BLOCK or timeout))
        return self.stopping.is_set()

    # -- one scheduled run -------------------------------------------------------------------------
    def _plan(self) -> datetime:
        now = self._clock()
        if self._started is None:
            return now
        if self._streak:
            return now + timedelta(seconds=self._backoff())
        return max(self._started + timedelta(seconds=self.interval), now)

    def _backoff(self) -> float:
        return min(self._backoff_start * 2.0 ** min(self._streak - 1, 60), self._backoff_cap)

    def _tick(self) -> None:
        self._started = self._clock()
        reason = self._attempt()
        if reason is not None and self.stopping.is_set():
            # Cut short by stop(): not a pass, nor a failure worth a retry or an ERROR line;
            # said once, here (the engine leaves it to its caller).
            logger.info("pass ended early: stop requested ({})", reason)
            self._announce("stopping")
            return
        self.passes += 1
        if reason is None:
            if self._streak:
                logger.info("pass recovered after failures={failures}; back to every "
                            "{interval:g}s", failures=self._streak, interval=self.interval)
            self._streak, self._last_reason = 0, None
            return
        self.failures += 1
        self._streak += 1
        delay = self._backoff()
        if reason != self._last_reason:
            logger.error("pass failed: {}; retrying in {:g}s (repeats are logged at DEBUG)",
                         reason, delay)
        else:
            logger.debug("pass failed again failures={failures}: {error}; retrying in "
                         "{retry_in:g}s", failures=self._streak, error=reason, retry_in=delay)
        self._last_reason = reason
        self._announce(f"last pass failed: {reason}; retrying in {delay:g}s")

    def _attempt(self) -> str | None:
        """Run the pass; None on success, else the one-line reason."""
        try:
            outcome = self.run_pass()
        except ConfigError:
            raise
        except SyncdError as exc:
            return one_line(str(exc)) or type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - a bug in one pass must not end a months-long run
            reason = f"unexpected {type(exc).__name__}: {one_line(str(exc))}"
            if reason != self._last_reason:
                logger.opt(exception=exc).error("pass crashed: {}", reason)
                self._last_reason = reason
            return reason
        if outcome.ok:
            self._announce(outcome.summary)
            return None
        return one_line(outcome.error or "") or "pass failed"

    def _announce(self, status: str) -> None:
        if self._ready:
            self._notifier.status(status)
        else:
            self._notifier.ready(status)
            self._ready = True


def install_signal_handlers(daemon: Daemon) -> None:
    """SIGINT, SIGTERM (and SIGBREAK, Ctrl+Break, on Windows) call daemon.stop(): the pass in
    progress ends early — at once if it is waiting for Odoo (a slow answer, a retry's pause; see
    syncd.odoo.interrupt), else at the next page — files stay whole, run() returns 0. A second signal
    while stopping raises KeyboardInterrupt in the main thread: abort now (atomic writes still
    keep every file whole; the CLI maps KeyboardInterrupt to exit 0). Call from the main thread
    only (Python's rule)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if daemon.stopping.is_set():
            raise KeyboardInterrupt
        daemon.stop()
        request_stop()

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, handle)


def credentials_from_systemd(environ: Mapping[str, str]) -> dict[str, str]:
    """Secrets handed over by systemd's LoadCredential=: ``$CREDENTIALS_DIRECTORY/odoo_password``
    and ``odoo_api_key`` as {"ODOO_PASSWORD": ..., "ODOO_API_KEY": ...}. Missing or empty files
    are skipped; one trailing newline is dropped; an unreadable file is a ConfigError."""
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return {}
    found: dict[str, str] = {}
    for name, key in _CREDENTIALS.items():
        path = Path(directory) / name
        try:
            value = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read systemd credential {path}: {type(exc).__name__}") from None
        value = value.removesuffix("\n").removesuffix("\r")
        if value:
            found[key] = value
    return found
