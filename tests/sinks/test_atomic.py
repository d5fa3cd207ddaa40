"""Atomic replacement, temp sweeping and setting corrupt files aside: a reader sees a whole file,
and a corrupt one is kept, not lost."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from syncd.sinks import atomic
from syncd.sinks.atomic import TEMP_MARK, set_aside, sweep_temp_files, write_atomic

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from writer_child import contents  # noqa: E402


def temps(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if TEMP_MARK in p.name]


def test_write_replaces_content_whole(tmp_path: Path) -> None:
    target = tmp_path / "odoo_customers.json"
    write_atomic(target, b"a much longer first version\n" * 100)
    write_atomic(target, b"short\n")
    assert target.read_bytes() == b"short\n"
    assert temps(tmp_path) == []


def test_write_creates_missing_parent(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "file.json"
    write_atomic(target, b"[]\n")
    assert target.read_bytes() == b"[]\n"


def test_write_replaces_rather_than_rewrites_in_place(tmp_path: Path) -> None:
    # A reader holding the old file keeps reading the old bytes: proof of a rename, not a rewrite.
    target = tmp_path / "f.json"
    write_atomic(target, b"old")
    with target.open("rb") as reader:
        write_atomic(target, b"new")
        assert reader.read() == b"old"
    assert target.read_bytes() == b"new"


def test_temp_is_in_same_directory_and_removed_on_fsync_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.json"
    write_atomic(target, b"previous")
    seen: list[Path] = []

    def failing_fsync(fd: int) -> None:
        seen.extend(temps(tmp_path))
        raise OSError(5, "simulated I/O error")

    monkeypatch.setattr(atomic.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="simulated"):
        write_atomic(target, b"next")
    # The temp existed next to the target while writing, and is gone after the failure.
    assert len(seen) == 1
    assert seen[0].parent == tmp_path
    assert seen[0].name.startswith(".f.json.") and seen[0].name.endswith(TEMP_MARK)
    assert temps(tmp_path) == []
    assert target.read_bytes() == b"previous"


def test_write_fails_cleanly_when_replace_fails(tmp_path: Path) -> None:
    # The target is a non-empty directory: the temp is written, then the rename fails.
    target = tmp_path / "taken"
    target.mkdir()
    (target / "inside").write_bytes(b"x")
    with pytest.raises(OSError):
        write_atomic(target, b"data")
    assert temps(tmp_path) == []
    assert (target / "inside").read_bytes() == b"x"


def test_write_fails_when_parent_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"i am a file")
    with pytest.raises(OSError):
        write_atomic(blocker / "f.json", b"data")
    assert blocker.read_bytes() == b"i am a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_sweep_removes_only_our_temps(tmp_path: Path) -> None:
    ours = [tmp_path / f".odoo_customers.json.abc123{TEMP_MARK}", tmp_path / f".x.1{TEMP_MARK}"]
    theirs = [
        tmp_path / "odoo_customers.json",
        tmp_path / ".odoo_customers.json.swp",
        tmp_path / "notes.tmp",
        tmp_path / "last_sync.json.corrupt-20240101T000000",
    ]
    for p in ours + theirs:
        p.write_bytes(b"x")
    (tmp_path / f"dir{TEMP_MARK}").mkdir()  # a directory is never ours to delete

    removed = sweep_temp_files(tmp_path)

    assert sorted(removed) == sorted(ours)
    assert all(p.exists() for p in theirs)
    assert not any(p.exists() for p in ours)
    assert (tmp_path / f"dir{TEMP_MARK}").is_dir()
    assert sweep_temp_files(tmp_path) == []


def test_sweep_of_missing_directory_is_empty(tmp_path: Path) -> None:
    assert sweep_temp_files(tmp_path / "nope") == []


def test_set_aside_names_with_timestamp_and_never_overwrites(tmp_path: Path) -> None:
    now = datetime(2024, 3, 5, 7, 8, 9)
    first = tmp_path / "last_sync.json"
    first.write_bytes(b"garbage 1")
    moved = set_aside(first, now=now)
    assert moved == tmp_path / "last_sync.json.corrupt-20240305T070809"
    assert moved.read_bytes() == b"garbage 1"
    assert not first.exists()

    first.write_bytes(b"garbage 2")
    again = set_aside(first, now=now)
    assert again == tmp_path / "last_sync.json.corrupt-20240305T070809-1"
    assert again.read_bytes() == b"garbage 2"
    assert moved.read_bytes() == b"garbage 1"


def test_set_aside_default_clock_uses_name_pattern(tmp_path: Path) -> None:
    target = tmp_path / "odoo_products.json"
    target.write_bytes(b"{")
    moved = set_aside(target)
    stamp = moved.name.removeprefix("odoo_products.json.corrupt-")
    datetime.strptime(stamp, "%Y%m%dT%H%M%S")


def test_sigkill_mid_write_never_exposes_partial_file(tmp_path: Path) -> None:
    """A real writer process is killed while rewriting a 1 MB file in a loop; every read and the
    final file are one of the two complete versions, and the leftover temp is swept."""
    size = 1 << 20
    versions = set(contents(size))
    target = tmp_path / "odoo_big.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("writer_child.py")), str(target), str(size)],
        stdout=subprocess.PIPE,
        env=env,
    )
    writes = 0
    progress = threading.Condition()

    def follow() -> None:
        nonlocal writes
        assert child.stdout is not None
        for _line in child.stdout:
            with progress:
                writes += 1
                progress.notify_all()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    reads = 0
    try:
        deadline = time.monotonic() + 30
        with progress:
            assert progress.wait_for(lambda: writes >= 1, timeout=30), "child never wrote"
        # Read while the child keeps rewriting, then kill it wherever it happens to be.
        while True:
            with progress:
                done = writes >= 20
            if done or time.monotonic() > deadline:
                break
            data = target.read_bytes()
            reads += 1
            assert data in versions, f"partial read: {len(data)} bytes"
    finally:
        child.kill()
        child.wait(timeout=30)
        follower.join(timeout=30)
    assert writes >= 20, f"child wrote only {writes} times before the deadline"
    assert reads > 0
    assert target.read_bytes() in versions
    sweep_temp_files(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_sigkill_mid_streaming_rebuild_or_merge_leaves_a_whole_snapshot(tmp_path: Path) -> None:
    """A real process alternates a streaming rebuild and a streaming merge of a 20,000-record
    snapshot and is killed wherever it is: every read and the final file are one of the two
    complete versions, and the leftover temp is swept."""
    from merge_child import LAYOUT, versions

    from syncd.sinks.json.snapshot import encode

    base, changes = versions(20_000)
    first = encode(LAYOUT.line(r) for r in base)
    second = encode(LAYOUT.line(changes.get(r["id"], r)) for r in base)
    target = tmp_path / "odoo_big.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("merge_child.py")), str(target), "20000"],
        stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    try:
        for _ in range(int.from_bytes(os.urandom(1), "big") % 6 + 3):
            assert child.stdout.readline(), "the child stopped writing"
            data = target.read_bytes()
            assert data in (first, second), f"partial read: {len(data)} bytes"
    finally:
        child.kill()
        child.wait(timeout=30)
    assert target.read_bytes() in (first, second)
    sweep_temp_files(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_staged_files_change_nothing_until_commit(tmp_path: Path) -> None:
    from syncd.sinks.atomic import stage

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_bytes(b"old a")
    b.write_bytes(b"old b")
    first, second = stage(a, b"new a"), stage(b, b"new b")
    assert (a.read_bytes(), b.read_bytes()) == (b"old a", b"old b")
    assert len(list(tmp_path.glob("*" + TEMP_MARK))) == 2
    first.commit()
    second.discard()
    assert (a.read_bytes(), b.read_bytes()) == (b"new a", b"old b")
    assert not list(tmp_path.glob("*" + TEMP_MARK))


@pytest.mark.parametrize("links", [True, False], ids=["hard-links", "no-hard-links"])
def test_replacing_puts_every_replaced_file_back_when_a_later_replace_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, links: bool) -> None:
    from syncd.sinks.atomic import Replacing, stage

    if not links:  # a filesystem that refuses hard links: the old version is copied
        def refuse(*args: object, **kwargs: object) -> None:
            raise OSError(1, "Operation not permitted")
        monkeypatch.setattr(os, "link", refuse)
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    a.write_bytes(b"old a")
    c.write_bytes(b"old c")
    os.utime(a, ns=(1_000_000_000, 1_234_567_891_000))
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (a, c)}
    replacing = Replacing()
    replacing.replace(stage(a, b"new a"))
    replacing.replace(stage(b, b"new b"))  # a new file: put back means removed
    failing = stage(c, b"new c")
    real = atomic._replace

    def full_at_c(temp: Path, path: Path) -> None:
        if path == c:
            raise OSError(28, "No space left on device")
        real(temp, path)
    monkeypatch.setattr(atomic, "_replace", full_at_c)
    with pytest.raises(OSError, match="No space"):
        replacing.replace(failing)
    assert (a.read_bytes(), b.read_bytes()) == (b"new a", b"new b")
    replacing.restore()
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (a, c)}
    assert after == before  # same bytes and mtime: the state's signature still matches
    assert not b.exists()
    assert temps(tmp_path) == []


def test_replacing_drops_the_old_versions_once_committed(tmp_path: Path) -> None:
    from syncd.sinks.atomic import Replacing, stage

    a = tmp_path / "a.json"
    a.write_bytes(b"old a")
    replacing = Replacing()
    replacing.replace(stage(a, b"new a"))
    assert len(temps(tmp_path)) == 1  # the old version, kept under a temp name
    replacing.drop()
    assert a.read_bytes() == b"new a"
    assert temps(tmp_path) == []
    replacing.restore()  # nothing left to put back
    assert a.read_bytes() == b"new a"
