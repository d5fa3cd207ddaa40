"""Progress on a terminal (redrawn line) and elsewhere (periodic log lines), on an injected clock."""

from __future__ import annotations

import io
import pathlib
from collections.abc import Iterator

import pytest
from loguru import logger

from syncd.service.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="INFO")
    yield lines
    logger.remove(sink)


def test_terminal_line_has_count_rate_and_eta(log_lines: list[str]) -> None:
    clock, stream = Clock(), io.StringIO()
    with Progress("customers: full sync", 1000, stream=stream, clock=clock, tty=True) as bar:
        clock.now += 2
        bar.advance(200)  # 100/s, 800 left: ETA 8s
    frames = stream.getvalue().split("\r")
    assert frames[1] == "customers: full sync 200/1000 20% 100/s ETA 8s"
    assert stream.getvalue().endswith("\r" + " " * len(frames[1]) + "\r")  # cleared on close
    assert log_lines == []  # the terminal shows it; no log noise


def test_terminal_redraws_at_most_five_times_a_second() -> None:
    clock, stream = Clock(), io.StringIO()
    bar = Progress("products", 100_000, stream=stream, clock=clock, tty=True)
    for _ in range(50):  # 50 advances within 0.5 s
        clock.now += 0.01
        bar.advance(10)
    draws = stream.getvalue().count("\r")
    assert 1 <= draws <= 3
    clock.now += 0.25
    bar.advance(10)
    assert stream.getvalue().count("\r") == draws + 1
    assert stream.getvalue().split("\r")[-1].startswith("products 510/100000 0% ")


def test_eta_grows_into_minutes_and_hours() -> None:
    clock = Clock()
    bar = Progress("big", 1_000_000, stream=io.StringIO(), clock=clock, tty=True)
    clock.now += 10
    bar.advance(1000)  # 100/s, 999000 left
    assert bar.line().endswith("100/s ETA 2h46m")
    bar.advance(990_000)
    assert bar.line().endswith("ETA 0s")
    unknown = Progress("stream", None, stream=io.StringIO(), clock=clock, tty=True)
    clock.now += 4
    unknown.advance(2)
    assert unknown.line() == "stream 2 0.5/s ETA ?"


def test_a_shorter_line_overwrites_the_longer_one() -> None:
    clock, stream = Clock(), io.StringIO()
    bar = Progress("m", 10_000, stream=stream, clock=clock, tty=True)
    clock.now += 1
    bar.advance(1)  # slow start: a long ETA text
    long_frame = stream.getvalue().split("\r")[-1]
    clock.now += 1
    bar.advance(9_998)
    short_frame = stream.getvalue().split("\r")[-1]
    assert len(short_frame) >= len(long_frame)


def test_not_a_terminal_logs_at_most_every_log_every_seconds(log_lines: list[str]) -> None:
    clock, stream = Clock(), io.StringIO()
    with Progress("customers: full sync", 3000, stream=stream, clock=clock, tty=False,
                  log_every=10) as bar:
        for _ in range(25):  # 25 s, 100 records a second
            clock.now += 1
            bar.advance(100)
    assert stream.getvalue() == ""  # no redraws, no \r
    assert log_lines == [
        "customers: full sync done=1000 total=3000 rate=100/s eta=20s",
        "customers: full sync done=2000 total=3000 rate=100/s eta=10s",
    ]


def test_stream_isatty_decides_by_default() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    clock = Clock()
    bar = Progress("x", 10, stream=terminal, clock=clock)
    clock.now += 1
    bar.advance(1)
    assert "\r" in terminal.getvalue()
    plain = io.StringIO()
    bar = Progress("x", 10, stream=plain, clock=clock)
    bar.advance(1)
    assert plain.getvalue() == ""


def test_a_full_sync_off_a_terminal_asks_no_count(tmp_path: pathlib.Path) -> None:
    """The progress total is a search_count, a full scan of the table on the server: asked
    only where a terminal shows the ETA (pytest's stderr is not one)."""
    from syncd.service.runner import progress_factory
    from syncd.sinks.datadir import DataDir
    from syncd.sinks.factory import opened
    from syncd.sync.engine import run_pass
    from tests.sync_rig import CUSTOMERS, make_rig

    rig = make_rig(tmp_path, models=(CUSTOMERS,))
    try:
        rig.db.import_records("res.partner", [{"name": f"P{n}"} for n in range(5)])
        with opened(rig.settings) as sink:
            report = run_pass(rig.settings, rig.client, sink, DataDir(rig.data_dir),
                              progress=progress_factory)
        assert report.ok and report.models[0].full and report.models[0].records == 5
        assert rig.emulator.stats.calls("res.partner", "search_count") == 0
    finally:
        rig.close()
