"""Item 3 of the reliability issue: ENOSPC and EIO injected at a pass's writes, fsyncs and
replaces (tests/sinks/crash_points.py `write_errors`): one clear line and exit 1, no file
but the error file changed beyond old-or-new, the state not moved, no temp left, and the next
pass converges."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tests.sinks.crash_points import WRITE_ERROR_STEPS, write_errors


@pytest.mark.parametrize("errors, limit", [
    ((errno.ENOSPC,), 3),
    pytest.param((errno.ENOSPC, errno.EIO), None, marks=pytest.mark.slow),
], ids=["enospc-first-3-of-each-step", "enospc-and-eio-everywhere"])
def test_write_errors_fail_the_pass_cleanly_and_the_next_one_converges(
        tmp_path: Path, errors: tuple[int, ...], limit: int | None) -> None:
    result = write_errors(tmp_path, errors, limit=limit)
    print(f"{result.kills} errors injected at {result.steps}; tolerated {result.tolerated}; "
          f"left an earlier snapshot replaced {result.partial}")
    assert result.failures == []
    assert set(result.steps) == set(WRITE_ERROR_STEPS)
