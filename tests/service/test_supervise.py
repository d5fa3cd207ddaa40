"""The Windows task's supervisor (syncd.service.supervise): its decisions, run here on real
child processes; the pause and the clock are injected."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from syncd.service.supervise import MAX_PAUSE, SETTLED, decide, supervise


def test_the_exit_code_policy() -> None:
    assert decide(0, 0).restart is False and decide(0, 3).exit_code == 0
    config = decide(2, 0)
    assert (config.restart, config.exit_code) == (False, 2) and "not restarted" in config.reason
    assert [decide(1, n).pause for n in range(6)] == [60, 120, 240, 480, MAX_PAUSE, MAX_PAUSE]
    assert all(decide(1, n).restart for n in range(20))
    assert decide(-9, 0).restart  # killed, crashed: restarted like a failure


def scripted(tmp_path: Path, codes: list[int]) -> list[str]:
    """A child that exits with the next code of ``codes`` each time it is started."""
    counter = tmp_path / "runs"
    counter.write_text("0")
    script = (f"import pathlib, sys; p = pathlib.Path({str(counter)!r}); n = int(p.read_text()); "
              f"p.write_text(str(n + 1)); sys.exit({codes!r}[n])")
    return [sys.executable, "-c", script]


def test_restarts_after_exit_1_with_growing_pauses_and_never_after_exit_2(tmp_path: Path) -> None:
    pauses: list[float] = []
    log: list[str] = []
    code = supervise(scripted(tmp_path, [1, 1, 1, 2]), log=log.append,
                     pause=lambda seconds: pauses.append(seconds) or False)
    assert code == 2
    assert pauses == [60, 120, 240]
    assert log[-1].startswith("configuration error (exit 2): not restarted")
    assert (tmp_path / "runs").read_text() == "4"


def test_a_clean_stop_ends_it_and_a_long_healthy_run_resets_the_pauses(tmp_path: Path) -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += SETTLED  # each run looks like it lasted SETTLED
        return now[0]

    pauses: list[float] = []
    code = supervise(scripted(tmp_path, [1, 1, 0]), log=lambda _: None, clock=clock,
                     pause=lambda seconds: pauses.append(seconds) or False)
    assert code == 0 and pauses == [60, 60]


def test_a_stop_request_ends_the_child_and_the_supervisor(tmp_path: Path) -> None:
    stop = threading.Event()
    started = tmp_path / "started"
    child = [sys.executable, "-c", f"import pathlib, signal, sys, threading; "
             f"signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
             f"pathlib.Path({str(started)!r}).touch(); threading.Event().wait()"]
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(
        supervise(child, stop=stop, log=lambda _: None)))
    runner.start()
    from tests.test_cli import wait_for

    wait_for(started.exists, what="the child")
    stop.set()
    runner.join(timeout=30)
    assert not runner.is_alive() and result == [0]
