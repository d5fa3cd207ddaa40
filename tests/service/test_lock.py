"""One writer per data directory, including a holder killed with SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.errors import LockedError
from syncd.sinks.lock import LOCK_NAME, DataDirLock

ROOT = Path(__file__).resolve().parents[2]

# Takes the lock, says so, then holds it until stdin closes or the process is killed.
HOLDER = """
import sys
from pathlib import Path
from syncd.sinks.lock import DataDirLock
lock = DataDirLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
sys.stdin.read()
lock.release()
print("released", flush=True)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "data")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    # readline blocks until the child has the lock; pytest-timeout bounds it.
    assert proc.stdout.readline() == "locked\n"
    yield proc
    proc.kill()
    proc.wait(timeout=30)


def test_second_process_is_refused_with_holder_pid(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    data = tmp_path / "data"
    lock = DataDirLock(data)
    with pytest.raises(LockedError) as info:
        lock.acquire()
    assert str(info.value) == f"another syncd (pid {holder.pid}) is already syncing into {data}"
    assert lock.holder_pid() == holder.pid
    assert not lock.held


def test_lock_of_killed_holder_is_taken_over(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    data = tmp_path / "data"
    with pytest.raises(LockedError):
        DataDirLock(data).acquire()
    holder.kill()  # SIGKILL on POSIX: no cleanup code runs in the holder
    holder.wait(timeout=30)
    assert DataDirLock(data).holder_pid() == holder.pid  # the stale pid is still in the file
    with DataDirLock(data) as lock:
        assert lock.held
        assert lock.holder_pid() == os.getpid()


def test_clean_release_by_other_process_allows_acquire(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.close()
    assert holder.stdout.readline() == "released\n"
    lock = DataDirLock(tmp_path / "data")
    lock.acquire()
    lock.release()


def test_release_allows_reacquire_and_second_lock_in_same_process_is_refused(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    first, second = DataDirLock(data), DataDirLock(data)
    first.acquire()
    first.acquire()  # idempotent for the holder
    with pytest.raises(LockedError, match=f"pid {os.getpid()}"):
        second.acquire()
    first.release()
    assert first.holder_pid() is None
    second.acquire()
    assert second.held and second.holder_pid() == os.getpid()
    second.release()
    second.release()  # releasing twice is harmless
    with first:
        assert first.held
    assert not first.held


def test_acquire_creates_data_dir_and_overwrites_stale_pid(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    with DataDirLock(data):
        assert (data / LOCK_NAME).is_file()
    (data / LOCK_NAME).write_text("999999999999\nleftover text\n")
    assert DataDirLock(data).holder_pid() == 999999999999
    with DataDirLock(data) as lock:
        assert lock.holder_pid() == os.getpid()
        assert (data / LOCK_NAME).read_text() == f"{os.getpid()}\n"


def test_holder_pid_of_missing_or_garbage_file(tmp_path: Path) -> None:
    lock = DataDirLock(tmp_path)
    assert lock.holder_pid() is None
    (tmp_path / LOCK_NAME).write_text("not a pid")
    assert lock.holder_pid() is None
