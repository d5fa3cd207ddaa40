"""Item 3 of the reliability issue: ENOSPC and EIO injected at a pass's writes, fsyncs and
replaces (tests/sinks/crash_points.py `write_errors`): one clear line and exit 1, every file
but the error file exactly as before (a failed pass changes nothing: snapshots replaced before
the failure are put back), no temp left, and the next pass converges. And a real small
filesystem that fills up, where this machine can mount one."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from syncd.emulator import Emulator
from tests.sinks.crash_points import WRITE_ERROR_STEPS, write_errors
from tests.test_cli import environment, odoo, one_error_line, syncd  # noqa: F401 - a fixture


@pytest.mark.parametrize("errors, limit", [
    ((errno.ENOSPC,), 3),
    pytest.param((errno.ENOSPC, errno.EIO), None, marks=pytest.mark.slow),
], ids=["enospc-first-3-of-each-step", "enospc-and-eio-everywhere"])
def test_write_errors_fail_the_pass_cleanly_and_the_next_one_converges(
        tmp_path: Path, errors: tuple[int, ...], limit: int | None) -> None:
    result = write_errors(tmp_path, errors, limit=limit)
    print(f"{result.kills} errors injected at {result.steps}; tolerated {result.tolerated}")
    assert result.failures == []
    assert set(result.steps) == set(WRITE_ERROR_STEPS)


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A real 512 KiB tmpfs (skipped where this machine cannot mount one: not root, no
    CAP_SYS_ADMIN, not Linux)."""
    import shutil
    import subprocess

    mount = shutil.which("mount")
    point = tmp_path / "small"
    point.mkdir()
    if mount is None or subprocess.run([mount, "-t", "tmpfs", "-o", "size=512k", "tmpfs",
                                        str(point)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_a_real_full_filesystem_fails_the_pass_cleanly_and_space_lets_the_next_converge(
        tmp_path: Path, small_filesystem: Path, odoo: Emulator) -> None:  # noqa: F811
    import subprocess

    env = environment(tmp_path, odoo, SYNCD_DATA_DIR=str(small_filesystem / "data"))
    assert syncd(tmp_path, env, "once").returncode == 0
    data = small_filesystem / "data"
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    with odoo.db.transaction() as tx:  # far more than the filesystem holds
        for n in range(3000):
            tx.create("res.partner", {"name": f"Big {n} " + "x" * 200, "email": f"b{n}@x.com"})
    result = syncd(tmp_path, env, "once")
    assert result.returncode == 1
    assert "No space left on device" in one_error_line(result)
    after = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    after.pop(".syncd-error.json", None)
    assert after == before  # nothing changed, no temp left
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_filesystem)], check=True)
    assert syncd(tmp_path, env, "once").returncode == 0
    stored = orjson.loads((data / "odoo_customers.json").read_bytes())
    assert len(stored) == len(odoo.db.execute("res.partner", "search", [[]], {}))
