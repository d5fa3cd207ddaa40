"""The change journal of the JSON sink, written by real passes (the emulator over HTTP) and read
back as a consumer does: replay, seq continuity, rotation, a killed writer, a torn line."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import opened
from syncd.sinks.json.journal import JournalReader
from syncd.sync.seam import JournalGap
from syncd.sync.state import State
from tests.sync_rig import Rig, partner, seeded_rig, with_settings
from tests.sync_rig import churn as rig_churn

CHILD = Path(__file__).with_name("journal_child.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = seeded_rig(tmp_path, journal=True, partners=30, seed=11)
    yield rig
    rig.close()


def churn(rig: Rig, rng: random.Random, step: int) -> None:
    rig_churn(rig, rng, step, first_id=500, writes=2, field="email")


def committed(rig: Rig) -> int:
    seq = State.load(rig.data_dir / "last_sync.json").models["customers"].journal_seq
    assert seq is not None
    return seq


def lines(rig: Rig) -> list[dict[str, Any]]:
    """Every line of every journal file of customers, rotated ones first."""
    data = DataDir(rig.data_dir)
    paths = [p for _, p in data.rotated_journals("customers")] + [data.journal("customers")]
    return [orjson.loads(line) for p in paths if p.exists()
            for line in p.read_bytes().splitlines()]


def replay(records: dict[int, Any], entries: list[Any]) -> dict[int, Any]:
    copy = dict(records)
    for entry in entries:
        assert entry.op != "reset"
        if entry.op == "remove":
            copy.pop(entry.id, None)
        else:
            copy[entry.id] = orjson.loads(entry.line)
    return copy


def test_replaying_from_any_pass_onto_its_snapshot_gives_the_current_one(rig: Rig) -> None:
    rng = random.Random(1)
    passes = [(committed(rig), {r["id"]: r for r in rig.snapshot("customers")})]
    for step in range(6):
        churn(rig, rng, step)
        assert rig.sync().ok
        passes.append((committed(rig), {r["id"]: r for r in rig.snapshot("customers")}))
    final, reader = passes[-1][1], JournalReader(DataDir(rig.data_dir), "customers")
    for seq, snapshot in passes:
        assert replay(snapshot, list(reader.entries(seq, passes[-1][0]))) == final
    seqs = [line["seq"] for line in lines(rig)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert lines(rig)[0]["op"] == "reset"  # the first sync
    snapshot_lines = (rig.data_dir / "odoo_customers.json").read_bytes().splitlines()
    last = {line["id"]: line for line in lines(rig) if line["op"] == "upsert"}
    for raw in snapshot_lines[1:-1]:  # `record` is exactly the snapshot's object
        record = orjson.loads(raw.rstrip(b","))
        if record["id"] in last:
            assert orjson.dumps(last[record["id"]]["record"]) == raw.rstrip(b",")


def test_a_forced_resync_that_changes_nothing_writes_no_line(rig: Rig) -> None:
    before = lines(rig)
    snapshot = (rig.data_dir / "odoo_customers.json").stat()
    with opened(rig.settings) as sink:
        DataDir(rig.data_dir).request_resync(sink, [], ["customers"])
    assert rig.sync().ok and rig.sync().ok
    assert lines(rig) == before  # the same bytes: nothing for a reader to reload
    after = (rig.data_dir / "odoo_customers.json").stat()
    assert (after.st_ino, after.st_mtime_ns) == (snapshot.st_ino, snapshot.st_mtime_ns)


def test_a_deleted_state_says_reset_once_and_seq_survives_it(rig: Rig) -> None:
    before = lines(rig)
    (rig.data_dir / "last_sync.json").unlink()  # the next pass rebuilds from scratch
    assert rig.sync().ok
    # The state is the journal's commit record: without it nothing says the journal is whole,
    # so a reader resuming from an older seq must reload (one reset, seq continuing).
    assert lines(rig)[:-1] == before and lines(rig)[-1]["op"] == "reset"
    assert lines(rig)[-1]["seq"] == before[-1]["seq"] + 1
    assert rig.sync().ok and len(lines(rig)) == len(before) + 1  # once
    rig.db.create("res.partner", partner(random.Random(2), 900))
    assert rig.sync().ok
    after = lines(rig)
    assert [line["seq"] for line in after] == list(range(1, len(after) + 1))
    assert after[-1]["op"] == "upsert" and committed(rig) == after[-1]["seq"]


def test_rotation_keeps_seq_continuous_and_keeps_journal_keep_files(rig: Rig) -> None:
    with_settings(rig, journal_max_bytes=1024, journal_keep=3)
    rng = random.Random(3)
    for step in range(12):
        churn(rig, rng, step)
        assert rig.sync().ok
    data = DataDir(rig.data_dir)
    rotated = data.rotated_journals("customers")
    assert len(rotated) == 3
    for first, path in rotated:  # each named after its first line
        assert orjson.loads(path.read_bytes().splitlines()[0])["seq"] == first
    seqs = [line["seq"] for line in lines(rig)]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and seqs[0] > 1
    assert seqs[-1] == committed(rig)
    with pytest.raises(JournalGap):  # seq 1 was rotated away
        list(JournalReader(data, "customers").entries(1, committed(rig)))


def test_sigkill_mid_append_leaves_nothing_for_readers_and_the_next_pass_cuts_it(
        rig: Rig) -> None:
    journal = rig.data_dir / "odoo_customers.changes.jsonl"
    size, seq = journal.stat().st_size, committed(rig)
    child = subprocess.Popen([sys.executable, str(CHILD), str(rig.data_dir), "300000"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while journal.stat().st_size <= size + (1 << 20):  # polling a file with a deadline
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the child never appended"
    child.send_signal(signal.SIGKILL)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL and b"written" not in out
    assert journal.stat().st_size > size and committed(rig) == seq  # appended, not committed
    with journal.open("ab") as handle:  # and a torn half line, as a kill mid-write leaves
        handle.write(b'{"seq":999999,"at":"2030-01-01 00:00:00","op":"upsert","id":1,"rec')
    reader = JournalReader(DataDir(rig.data_dir), "customers")
    assert [e.seq for e in reader.entries(0, seq)] == list(range(1, seq + 1))
    churn(rig, random.Random(4), 0)
    assert rig.sync().ok
    after = lines(rig)  # every line parses: the torn one and the unfinished pass are cut
    assert [line["seq"] for line in after] == list(range(1, len(after) + 1))
    assert after[-1]["seq"] == committed(rig) > seq
    assert all(line["at"] != "2030-01-01 00:00:00" for line in after)


@pytest.mark.parametrize("tail", [
    b"not json at all\n",
    b'{"hello": "a line some other program appended"}\n',
    b'{"seq":1,"at":"2030-01-01 00:00:00","op":"upsert","id":1,"record":{"id":1}}\n',
    b"\x00\x00\x00\x00",
], ids=["garbage", "foreign object", "seq going back", "zeros"])
def test_a_foreign_tail_is_skipped_by_readers_and_cut_by_the_next_pass(rig: Rig,
                                                                      tail: bytes) -> None:
    journal = rig.data_dir / "odoo_customers.changes.jsonl"
    before, seq = journal.read_bytes(), committed(rig)
    with journal.open("ab") as handle:
        handle.write(tail)
    reader = JournalReader(DataDir(rig.data_dir), "customers")
    assert [e.seq for e in reader.entries(0, seq)] == list(range(1, seq + 1))
    churn(rig, random.Random(5), 0)
    report = rig.sync()
    assert report.ok, report.error
    data = DataDir(rig.data_dir)
    after = b"".join(p.read_bytes() for p in [
        *(p for _, p in data.rotated_journals("customers")), journal])  # it may have rotated
    assert after.startswith(before) and tail not in after
    parsed = lines(rig)
    assert [line["seq"] for line in parsed] == list(range(1, len(parsed) + 1))
    assert parsed[-1]["seq"] == committed(rig) > seq


def test_a_full_disk_while_appending_fails_the_pass_with_its_own_error(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from syncd.sinks.json import journal as journal_module

    journal = rig.data_dir / "odoo_customers.changes.jsonl"
    before = journal.read_bytes()
    churn(rig, random.Random(6), 0)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell the journal's writes from the others")
    write = os.write

    def full(fd: int, data: bytes) -> int:  # the disk fills up as the journal is appended
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".changes.jsonl"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(fd, data)

    monkeypatch.setattr(journal_module.os, "write", full)
    report = rig.sync()
    monkeypatch.undo()
    assert report.error is not None and "No space left on device" in report.error
    assert "BufferError" not in report.error
    assert journal.read_bytes() == before
    assert rig.sync().ok
