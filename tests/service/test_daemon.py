"""The daemon loop with an injected clock and wait: no real time passes, nothing sleeps."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from loguru import logger

from syncd.service.daemon import Daemon, credentials_from_systemd, install_signal_handlers
from syncd.errors import ConfigError, TransientError
from syncd.service.notify import Notifier

T0 = datetime(2026, 11, 23, 7, 40, 0)


@dataclass
class Outcome:
    ok: bool = True
    error: str | None = None
    summary: str = "customers 3, products 2"


class FakeTime:
    """The clock the daemon reads; only wait() (and passes that 'take' time) move it."""

    def __init__(self) -> None:
        self.now = T0
        self.waits: list[float] = []
        self.daemon: Daemon | None = None

    def clock(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def wait(self, seconds: float) -> bool:
        assert seconds > 0, "the daemon must not spin on zero-length waits"
        self.waits.append(seconds)
        self.advance(seconds)
        assert self.daemon is not None
        return self.daemon.stopping.is_set()

    def offset(self) -> float:
        return (self.now - T0).total_seconds()


class Script:
    """A pass that plays a list of steps: each an Outcome, an exception, or a duration + outcome."""

    def __init__(self, fake: FakeTime, steps: list[Outcome | BaseException | tuple[float, Outcome]]):
        self.fake = fake
        self.steps = steps
        self.starts: list[float] = []
        self.events: list[str] = []
        self.threads: set[int] = set()

    def __call__(self) -> Outcome:
        assert self.fake.daemon is not None
        self.events.append("enter")
        self.threads.add(threading.get_ident())
        self.starts.append(self.fake.offset())
        step = self.steps[len(self.starts) - 1]
        if len(self.starts) == len(self.steps):
            self.fake.daemon.stop()
        try:
            if isinstance(step, BaseException):
                raise step
            if isinstance(step, tuple):
                self.fake.advance(step[0])
                return step[1]
            return step
        finally:
            self.events.append("exit")


def make(steps: list[Outcome | BaseException | tuple[float, Outcome]], interval: float = 60,
         notifier: Notifier | None = None, **kwargs: float) -> tuple[Daemon, Script, FakeTime]:
    fake = FakeTime()
    script = Script(fake, steps)
    daemon = Daemon(script, interval, notifier=notifier, clock=fake.clock, wait=fake.wait, **kwargs)
    fake.daemon = daemon
    return daemon, script, fake


def fail(reason: str = "Odoo unreachable: connection refused") -> Outcome:
    return Outcome(ok=False, error=reason, summary="")


@pytest.fixture
def log_lines() -> Iterator[list[tuple[str, str]]]:
    lines: list[tuple[str, str]] = []
    sink = logger.add(lambda m: lines.append((m.record["level"].name, m.record["message"])),
                      level="DEBUG")
    yield lines
    logger.remove(sink)


def test_first_pass_runs_at_start_and_run_returns_zero() -> None:
    daemon, script, fake = make([Outcome()])
    assert daemon.run() == 0
    assert script.starts == [0.0]
    assert (daemon.passes, daemon.failures) == (1, 0)
    assert fake.waits == []  # stopped during the first pass: no wait afterwards


def test_cadence_of_fast_passes() -> None:
    daemon, script, fake = make([Outcome()] * 4, interval=60)
    daemon.run()
    assert script.starts == [0, 60, 120, 180]


def test_cadence_is_anchored_to_the_start_of_a_pass() -> None:
    daemon, script, _ = make([(2, Outcome())] * 3, interval=60)
    daemon.run()
    assert script.starts == [0, 60, 120]  # not 62, 124


def test_a_pass_longer_than_the_interval_is_followed_at_once_and_only_once() -> None:
    daemon, script, _ = make([Outcome(), (150, Outcome()), Outcome(), Outcome()], interval=60)
    daemon.run()
    # The pass at 60 ends at 210: the next starts then; the missed 120/180 are not replayed.
    assert script.starts == [0, 60, 210, 270]


def test_passes_never_overlap_and_run_on_the_loop_thread() -> None:
    daemon, script, _ = make([Outcome(), fail(), (100, Outcome()), Outcome()], interval=10)
    daemon.run()
    assert script.events == ["enter", "exit"] * 4
    assert script.threads == {threading.get_ident()}


def test_backoff_doubles_up_to_the_cap_then_recovers_the_cadence(log_lines: list[tuple[str, str]]) -> None:
    steps: list[Outcome | BaseException | tuple[float, Outcome]] = [fail()] * 8 + [Outcome()] * 3
    daemon, script, _ = make(steps, interval=600, backoff_start=5, backoff_cap=300)
    daemon.run()
    gaps = [b - a for a, b in zip(script.starts, script.starts[1:])]
    assert gaps == [5, 10, 20, 40, 80, 160, 300, 300, 600, 600]
    assert (daemon.passes, daemon.failures) == (11, 8)
    assert any(level == "INFO" and "recovered after failures=8" in text for level, text in log_lines)


def test_backoff_never_exceeds_the_interval() -> None:
    daemon, script, _ = make([fail()] * 5 + [Outcome()] * 2, interval=30)
    daemon.run()
    gaps = [b - a for a, b in zip(script.starts, script.starts[1:])]
    assert gaps == [5, 10, 20, 30, 30, 30]


def test_a_raised_syncd_error_is_a_failed_pass_and_the_daemon_stays_up() -> None:
    daemon, script, _ = make([TransientError("HTTP 503 from Odoo"), Outcome(), Outcome()])
    assert daemon.run() == 0
    assert (daemon.passes, daemon.failures) == (3, 1)
    assert script.starts == [0, 5, 65]


def test_an_unexpected_exception_is_logged_with_its_traceback_once(log_lines: list[tuple[str, str]]) -> None:
    daemon, _, _ = make([KeyError("oops"), KeyError("oops"), Outcome()])
    daemon.run()
    assert daemon.failures == 2
    crashed = [text for level, text in log_lines if level == "ERROR"]
    assert crashed == ["pass crashed: unexpected KeyError: 'oops'"]


def test_config_error_propagates() -> None:
    daemon, _, _ = make([Outcome(), ConfigError("[sync].interval must be > 0"), Outcome()])
    with pytest.raises(ConfigError):
        daemon.run()
    assert daemon.passes == 1


def test_a_failure_is_logged_once_per_distinct_reason(log_lines: list[tuple[str, str]]) -> None:
    steps: list[Outcome | BaseException | tuple[float, Outcome]] = [
        fail("boom"), fail("boom"), fail("boom"), fail("other"), fail("other"), Outcome()]
    daemon, _, _ = make(steps)
    daemon.run()
    errors = [text for level, text in log_lines if level == "ERROR"]
    assert errors == ["pass failed: boom; retrying in 5s (repeats are logged at DEBUG)",
                      "pass failed: other; retrying in 40s (repeats are logged at DEBUG)"]
    repeats = [text for level, text in log_lines if level == "DEBUG" and "failed again" in text]
    assert len(repeats) == 3


def test_stop_from_another_thread_during_a_wait_returns_promptly() -> None:
    first_pass = threading.Event()

    def one_pass() -> Outcome:
        first_pass.set()
        return Outcome()

    daemon = Daemon(one_pass, interval=3600)  # the real clock and the real wait
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(daemon.run()))
    runner.start()
    assert first_pass.wait(10)
    started = time.monotonic()
    daemon.stop()
    runner.join(10)
    assert not runner.is_alive()
    assert time.monotonic() - started < 2
    assert result == [0] and daemon.passes == 1


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name == "nt", reason="POSIX signals")
def test_sigterm_stops_the_daemon_and_a_second_signal_aborts() -> None:
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        def term_once() -> Outcome:
            os.kill(os.getpid(), signal.SIGTERM)
            return Outcome()

        daemon = Daemon(term_once, interval=3600)
        install_signal_handlers(daemon)
        assert daemon.run() == 0 and daemon.passes == 1

        def term_twice() -> Outcome:
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
            return Outcome()

        daemon = Daemon(term_twice, interval=3600)
        install_signal_handlers(daemon)
        with pytest.raises(KeyboardInterrupt):
            daemon.run()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


# -- systemd notifications -------------------------------------------------------------------------
@pytest.fixture
def notify_socket() -> Iterator[tuple[str, socket.socket]]:
    directory = tempfile.mkdtemp(prefix="sdd")  # short: AF_UNIX paths are limited to 108 bytes
    path = os.path.join(directory, "notify")
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listening.bind(path)
    listening.setblocking(False)
    yield path, listening
    listening.close()
    shutil.rmtree(directory, ignore_errors=True)


def received(listening: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(listening.recv(4096).decode())
        except BlockingIOError:
            return messages


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs AF_UNIX")
def test_ready_status_watchdog_stopping_in_order(notify_socket: tuple[str, socket.socket]) -> None:
    path, listening = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000000",
                         "WATCHDOG_PID": str(os.getpid())})
    daemon, _, fake = make([Outcome(summary="one"), fail("boom"), Outcome(summary="three")],
                           interval=60, notifier=notifier)
    daemon.run()
    messages = received(listening)
    pings_60s = ["WATCHDOG=1"] * 6  # 60 s of waiting, a ping at least every 20 s / 2
    assert messages == (["READY=1\nSTATUS=one"] + pings_60s
                        + ["STATUS=last pass failed: boom; retrying in 5s", "WATCHDOG=1"]
                        + ["STATUS=three", "STOPPING=1"])
    assert max(fake.waits) <= 10


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs AF_UNIX")
def test_ready_comes_after_a_failed_first_pass_too(notify_socket: tuple[str, socket.socket]) -> None:
    path, listening = notify_socket
    daemon, _, _ = make([fail("auth refused"), Outcome(summary="ok")],
                        notifier=Notifier({"NOTIFY_SOCKET": path}))
    daemon.run()
    assert received(listening) == ["READY=1\nSTATUS=last pass failed: auth refused; retrying in 5s",
                                   "STATUS=ok", "STOPPING=1"]


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs AF_UNIX")
def test_heartbeat_extends_start_up_then_pings(notify_socket: tuple[str, socket.socket]) -> None:
    path, listening = notify_socket
    daemon: Daemon | None = None

    def long_pass() -> Outcome:
        assert daemon is not None
        daemon.heartbeat()
        if daemon.passes == 1:
            daemon.stop()
        return Outcome(summary=f"pass {daemon.passes + 1}")

    fake = FakeTime()
    daemon = Daemon(long_pass, 60, notifier=Notifier({"NOTIFY_SOCKET": path}), clock=fake.clock,
                    wait=fake.wait)
    fake.daemon = daemon
    daemon.run()
    assert received(listening) == ["EXTEND_TIMEOUT_USEC=300000000", "READY=1\nSTATUS=pass 1",
                                   "WATCHDOG=1", "STATUS=pass 2", "STOPPING=1"]


# -- LoadCredential --------------------------------------------------------------------------------
def test_credentials_from_systemd(tmp_path: Path) -> None:
    assert credentials_from_systemd({}) == {}
    (tmp_path / "odoo_api_key").write_text("k3y-value\n", encoding="utf-8")
    (tmp_path / "odoo_password").write_text("", encoding="utf-8")  # empty: ignored
    found = credentials_from_systemd({"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert found == {"ODOO_API_KEY": "k3y-value"}
    (tmp_path / "odoo_password").write_text("pa ss\r\n", encoding="utf-8")
    found = credentials_from_systemd({"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert found == {"ODOO_API_KEY": "k3y-value", "ODOO_PASSWORD": "pa ss"}


def test_an_unreadable_credential_is_a_config_error_without_its_content(tmp_path: Path) -> None:
    (tmp_path / "odoo_password").mkdir()  # exists but cannot be read as a file
    with pytest.raises(ConfigError, match="odoo_password"):
        credentials_from_systemd({"CREDENTIALS_DIRECTORY": str(tmp_path)})


DAEMON_CHILD = """
import sys
from dataclasses import dataclass
from syncd.service.daemon import Daemon, install_signal_handlers
from syncd.service.notify import Notifier

@dataclass
class Outcome:
    ok: bool = True
    error: None = None
    summary: str = "child pass"

daemon = Daemon(Outcome, interval=3600, notifier=Notifier())
install_signal_handlers(daemon)
sys.exit(daemon.run())
"""


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX") or os.name == "nt", reason="POSIX")
def test_a_real_process_stops_on_sigterm_while_idle(notify_socket: tuple[str, socket.socket]) -> None:
    import subprocess
    import sys

    path, listening = notify_socket
    listening.settimeout(30)
    child = subprocess.Popen([sys.executable, "-c", DAEMON_CHILD],
                             env={**os.environ, "NOTIFY_SOCKET": path},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert listening.recv(4096) == b"READY=1\nSTATUS=child pass"  # now waiting an hour
        started = time.monotonic()
        child.send_signal(signal.SIGTERM)
        assert child.wait(10) == 0
        assert time.monotonic() - started < 5
        assert listening.recv(4096) == b"STOPPING=1"
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()


def test_a_pass_cut_short_by_stop_is_not_a_failure(log_lines: list[tuple[str, str]]) -> None:
    daemon, _, _ = make([Outcome(), fail("interrupted")])  # the script stops during pass 2
    assert daemon.run() == 0
    assert (daemon.passes, daemon.failures) == (1, 0)  # the stopped pass is not a pass
    assert not [text for level, text in log_lines if level == "ERROR"]
    said = [text for level, text in log_lines if text.startswith("pass") and level != "DEBUG"]
    assert said == ["pass ended early: stop requested (interrupted)"]  # once


def test_a_stopped_pass_leaves_saying_so_to_its_caller(tmp_path: Path,
                                                      log_lines: list[tuple[str, str]]) -> None:
    """The engine reports a stopped pass in its report only: `once` and the daemon each say it
    once, so it is not logged twice."""
    from syncd.sinks.datadir import DataDir
    from syncd.sinks.factory import opened
    from syncd.sync.engine import run_pass
    from tests.sync_rig import make_rig

    rig = make_rig(tmp_path)
    try:
        with opened(rig.settings) as sink:
            report = run_pass(rig.settings, rig.client, sink, DataDir(rig.data_dir),
                              should_stop=lambda: True)
        assert report.interrupted and not report.ok
        assert not [text for level, text in log_lines
                    if level != "DEBUG" and "stop" in text.lower()]
    finally:
        rig.close()
