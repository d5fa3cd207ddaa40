"""The retry budget and retry logging of OdooClient, over real HTTP; time is virtual.

A request may spend at most ``[odoo].retry_budget`` seconds in retries (from its first attempt's
start); `check` uses a small budget and a short connect timeout so a silent server fails it fast.
A retry is an INFO line: a retry that fixed the problem shows nothing under ``-q``. The
commands run in this process (tests/in_process.py).
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from syncd.settings import OdooSettings
from syncd.emulator import Emulator
from syncd.errors import TransientError
from syncd.odoo.client import OdooClient
from syncd.service import status
from tests.in_process import cli
from tests.test_cli import environment, odoo, one_error_line  # noqa: F401

SECRET = "Quartz-91d2-S3CR3T"


class VirtualTime:
    """An injected sleep that waits for nothing and a clock it advances. With ``real``, the
    clock also counts real time, so attempts that really wait (socket timeouts) count too."""

    def __init__(self, real: bool = False) -> None:
        self.real = real
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def clock(self) -> float:
        return (time.monotonic() if self.real else 0.0) + sum(self.sleeps)


def settings_for(em: Emulator, **changes: Any) -> OdooSettings:
    values: dict[str, Any] = dict(url=em.url, database=em.db.name, username=em.login,
                                  password=em.password, protocol="jsonrpc", timeout=10)
    values.update(changes)
    return OdooSettings(**values)


@pytest.fixture
def odoo17(emulator: Callable[..., Emulator]) -> Emulator:
    em = emulator(17)
    em.db.create("res.partner", {"name": "Partner"})
    return em


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that accepts connections (the kernel's backlog does) and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_fast_failures_are_retried_until_the_budget_not_beyond(odoo17: Emulator) -> None:
    vt = VirtualTime()
    with OdooClient(settings_for(odoo17, retry_budget=20), sleep=vt.sleep, clock=vt.clock,
                    attempts=100, backoff_base=1.0, backoff_cap=4.0,
                    rng=random.Random(7)) as c:
        c.connect()
        odoo17.faults.add("http_503", times=1000, model="res.partner")
        before = c.requests
        with pytest.raises(TransientError) as caught:
            c.search_count("res.partner", [])
        attempts = c.requests - before
    replay, expected = random.Random(7), list[float]()
    while True:  # the pauses the same jitter gives while they still fit in the budget
        delay = replay.uniform(0.0, min(4.0, 2.0 ** len(expected)))
        if sum(expected) + delay > 20:
            break
        expected.append(delay)
    assert vt.sleeps == expected and sum(vt.sleeps) <= 20
    assert attempts == len(expected) + 1 < 100  # the budget stopped it, not the cap
    message = str(caught.value)
    assert "HTTP 503" in message and "\n" not in message
    assert f"retries took {sum(expected):.1f} s of the 20 s retry budget" in message


def test_a_silent_server_fails_within_the_budget(silent_url: str) -> None:
    vt = VirtualTime(real=True)
    settings = OdooSettings(url=silent_url, database="odoo", username="admin", password=SECRET,
                            timeout=0.3, retry_budget=1.5)
    with OdooClient(settings, sleep=vt.sleep, clock=vt.clock, attempts=100,
                    rng=random.Random(7)) as c:
        started = vt.clock()
        with pytest.raises(TransientError, match="no answer within 0.3 s") as caught:
            c.connect()
        spent = vt.clock() - started
    assert 2 <= c.requests < 100  # retried, and then stopped by the budget
    assert spent <= 1.5 + 0.3  # the documented bound: the budget plus one attempt at most
    assert "of the 1.5 s retry budget" in str(caught.value) and SECRET not in str(caught.value)


def test_a_retry_after_longer_than_the_budget_left_is_not_waited_for(odoo17: Emulator) -> None:
    vt = VirtualTime()
    with OdooClient(settings_for(odoo17, retry_budget=10), sleep=vt.sleep, clock=vt.clock,
                    attempts=100) as c:
        c.connect()
        odoo17.faults.add("http_429", times=3, model="res.partner", retry_after=7)
        before = c.requests
        with pytest.raises(TransientError, match=r"HTTP 429 .*the server asked to wait 7 s more"):
            c.search_count("res.partner", [])
        assert vt.sleeps == [7.0] and c.requests - before == 2  # 7 fits in 10; 7 + 7 does not
        odoo17.faults.clear()
        odoo17.faults.add("http_429", model="res.partner", retry_after=30)
        vt.sleeps.clear()
        with pytest.raises(TransientError, match="retries took 0.0 s of the 10 s retry budget"):
            c.search_count("res.partner", [])
        assert vt.sleeps == []
        odoo17.faults.add("http_429", model="res.partner", retry_after=3)
        assert c.search_count("res.partner", []) == 1 and vt.sleeps == [3.0]


def test_a_zero_budget_means_no_retries(odoo17: Emulator) -> None:
    vt = VirtualTime()
    with OdooClient(settings_for(odoo17, retry_budget=0), sleep=vt.sleep, clock=vt.clock) as c:
        c.connect()
        odoo17.faults.add("http_502", model="res.partner")
        before = c.requests
        with pytest.raises(TransientError, match="gave up after 1 attempt:"):
            c.search_count("res.partner", [])
    assert vt.sleeps == [] and c.requests - before == 1


# -- logging --------------------------------------------------------------------------------
def test_a_retry_that_worked_logs_nothing_at_warning_or_above(odoo17: Emulator) -> None:
    vt = VirtualTime()
    records: list[tuple[str, str]] = []
    sink = logger.add(lambda m: records.append((m.record["level"].name, m.record["message"])),
                      level="DEBUG")
    try:
        with OdooClient(settings_for(odoo17, password=odoo17.password), sleep=vt.sleep,
                        clock=vt.clock, rng=random.Random(3)) as c:
            c.connect()
            odoo17.faults.add("http_503", model="res.partner")
            assert c.search_count("res.partner", []) == 1
    finally:
        logger.remove(sink)
    assert [level for level, _ in records if level not in ("DEBUG", "INFO")] == []
    retries = [message for level, message in records if "transient" in message]
    assert len(retries) == 1 and records[[m for _, m in records].index(retries[0])][0] == "INFO"
    assert "call=res.partner.search_count attempt=1/5" in retries[0]
    assert f"retry_in={vt.sleeps[0]:.1f}s" in retries[0] and "HTTP 503" in retries[0]
    assert odoo17.password not in retries[0]


def test_quiet_once_stays_silent_when_a_retry_fixed_it(tmp_path: Path, odoo: Emulator) -> None:
    odoo.faults.add("http_503", model="res.partner")
    result = cli(tmp_path, environment(tmp_path, odoo), "-q", "once")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert odoo.faults.pending() == []  # the fault did fire: a retry really happened


# -- check fails fast ------------------------------------------------------------------------
@pytest.mark.parametrize("timeout", ["timeout = 1\n", ""], ids=["timeout-1", "default-timeout"])
def test_check_against_a_silent_server_fails_fast(tmp_path: Path, silent_url: str,
                                                  timeout: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if timeout:
        # Retries of one-second attempts within the check's own budget, 3 s here instead of
        # the shipped 10 (the default-timeout case runs the shipped values: a 5 s attempt the
        # 10 s budget has no room to retry).
        monkeypatch.setattr(status, "CHECK_RETRY_BUDGET", 3.0)
    (tmp_path / "syncd.toml").write_text(f'[odoo]\nurl = "{silent_url}"\n{timeout}')
    env = environment(tmp_path, None, ODOO_DB="odoo", ODOO_USERNAME="admin",
                      ODOO_PASSWORD=SECRET)
    # A generous deadline, not a timing assertion: before, this took 5 x 60 s plus backoff.
    result = cli(tmp_path, env, "check", timeout=45)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "no answer within" in line and "retry budget" in line and SECRET not in line


def test_a_connect_timeout_bounds_connecting_only(odoo17: Emulator) -> None:
    vt = VirtualTime()
    settings = settings_for(odoo17, timeout=10, retry_budget=0)
    odoo17.faults.add("latency", seconds=1.5, path="/jsonrpc")  # the version call
    with OdooClient(settings, sleep=vt.sleep, clock=vt.clock, connect_timeout=0.3) as c:
        with pytest.raises(TransientError, match="no answer within 0.3 s"):
            c.connect()
        c.connect()
        odoo17.faults.add("latency", seconds=1.5, model="res.partner")
        assert c.search_count("res.partner", []) == 1  # connected: the full timeout again
    assert vt.sleeps == []
