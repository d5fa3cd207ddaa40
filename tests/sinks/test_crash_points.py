"""Guarantee 4 and 9 at every step of the write path (tests/sinks/crash_points.py): a pass
killed there leaves every file (every table) old or new, and one more pass converges."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sinks.crash_points import STEPS, sweep


@pytest.mark.parametrize("limit", [3, pytest.param(None, marks=pytest.mark.slow)],
                         ids=["first-3-of-each-step", "every-occurrence"])
@pytest.mark.parametrize("sink", ["json", "sqlite", "postgres"])
def test_a_pass_killed_at_any_step_of_the_write_path_leaves_old_or_new_files(
        tmp_path: Path, sink: str, limit: int | None) -> None:
    result = sweep(tmp_path, sink, limit=limit)
    print(f"{sink}: {result.kills} kills at {result.steps}")
    assert result.failures == []
    assert set(result.steps) >= set(STEPS[sink]) - {"fsynced", "written"}  # each step reached
    if sink == "json":
        assert set(result.steps) == set(STEPS["json"])


def test_the_sweep_catches_a_file_rewritten_in_place(tmp_path: Path) -> None:
    result = sweep(tmp_path, "json", steps=["fsynced"], limit=8, in_place=True)
    assert any("neither the old nor the new version" in f for f in result.failures)


def test_the_sweep_catches_a_pass_committed_in_parts_on_postgresql(tmp_path: Path) -> None:
    result = sweep(tmp_path, "postgres", steps=["before COMMIT"], limit=1, split_commit=True)
    assert result.kills == 1
    assert any("table odoo_customers.new: neither the old nor the new version" in f
               for f in result.failures), result.failures
    assert any("rows of customers past the committed state's journal_seq" in f
               for f in result.failures), result.failures
