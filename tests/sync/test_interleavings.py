"""Guarantee 1 over every interleaving of a small scope (tests/sync/interleavings.py): two
transactions and three passes, each request a step, the clock moving between steps."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from syncd.sync import window
from tests.sync.interleavings import Scope, explore


def test_every_interleaving_of_the_small_scope_keeps_guarantee_1(tmp_path: Path) -> None:
    outcome = explore(Scope(), tmp_path)
    print(f"interleavings explored: {outcome.explored} "
          f"({outcome.excluded} with a transaction longer than lookback)")
    assert outcome.violations == []
    assert outcome.explored > 500  # the whole scope, not a lucky prefix
    assert outcome.excluded > 0  # durations on both sides of lookback were tried


def test_the_checker_catches_a_window_without_lookback(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # A window starting at the previous pass's clock misses a transaction that began before it
    # and committed after that pass read: the checker must find such a schedule.
    def no_lookback(clock: datetime, lookback: float) -> str:
        return clock.strftime("%Y-%m-%d %H:%M:%S")

    monkeypatch.setattr(window, "_before", no_lookback)
    outcome = explore(Scope(), tmp_path, enough=1)  # the search stops at the first such schedule
    assert outcome.violations
    assert "committed before the pass began" in outcome.violations[0]


@pytest.mark.slow
@pytest.mark.parametrize("scope", [
    Scope(full_sync_in_scope=True),
    Scope(writes=(("r1", "r2"), ("r2", "r1")), full_sync_in_scope=True),
    Scope(advances=(0.0, 0.6, 1.0)),
    Scope(margin=None, advances=(0.0, 1.0, 61.0)),
], ids=["full-sync", "full-sync-two-writes", "fractional-clock", "shipped-margin"])
def test_every_interleaving_of_a_larger_scope_keeps_guarantee_1(tmp_path: Path,
                                                                scope: Scope) -> None:
    outcome = explore(scope, tmp_path)
    print(f"interleavings explored: {outcome.explored}")
    assert outcome.violations == []
