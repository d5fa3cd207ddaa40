"""The change set's upserts (syncd.sync.upserts): canonical lines by id, spilled to sorted scratch
files past a byte budget, read back as one sorted stream in which the latest value of an id wins
and a discarded id stays discarded. Real files: the data directory's scratch files, or named
ones a test can watch."""

from __future__ import annotations

import gc
import os
import random
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson
import pytest

from syncd.sinks.datadir import DataDir
from syncd.sync.record import Layout
from syncd.sync.upserts import PER_RECORD, Upserts, _Memory

FIELDS = ("name", "email", "phone")
LAYOUT = Layout(FIELDS)


def record(n: int, tag: str = "") -> dict[str, Any]:
    return {"id": n, "name": f"Partner {n}{tag}", "email": f"p{n}@example.com",
            "phone": f"+32 2 {n:07d}"}


class NamedScratch:
    """Scratch files with names in ``directory``, so a test sees them come and go."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files: list[IO[bytes]] = []

    def __call__(self) -> IO[bytes]:
        path = self.directory / f"run-{len(self.files)}"
        file = _RemovedOnClose(path)
        self.files.append(file)  # type: ignore[arg-type]
        return file  # type: ignore[return-value]

    def names(self) -> list[str]:
        return sorted(p.name for p in self.directory.iterdir())


class _RemovedOnClose:
    """A scratch file that is removed from its directory when closed (as on Windows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "w+b")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)

    def close(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


def tiny(scratch: Any, budget: int = 2000) -> Upserts:
    """Upserts that spill every dozen records or so."""
    return Upserts(FIELDS, budget=budget, scratch=scratch)


# -- what it holds ------------------------------------------------------------------------------
def test_items_are_ascending_canonical_lines_whatever_the_order_added(tmp_path: Path) -> None:
    ids = list(range(1, 400))
    random.Random(1).shuffle(ids)
    with tiny(NamedScratch(tmp_path)) as upserts:
        for n in ids:
            upserts[n] = dict(reversed(record(n).items()))  # keys in another order
        assert upserts.spilled > 3
        assert list(upserts.items()) == [(n, LAYOUT.line(record(n))) for n in range(1, 400)]
        assert list(upserts) == list(range(1, 400)) == list(upserts.ids())
        assert len(upserts) == 399 and upserts


def test_the_latest_value_of_an_id_wins_across_runs(tmp_path: Path) -> None:
    with tiny(NamedScratch(tmp_path)) as upserts:
        for n in range(1, 100):
            upserts[n] = record(n, " first")
        spilled = upserts.spilled
        for n in range(1, 100, 3):
            upserts[n] = record(n, " second")  # some of these land in later runs, some stay
        upserts[50] = record(50, " third")
        assert upserts.spilled > spilled
        want = {n: record(n, " second" if n % 3 == 1 else " first") for n in range(1, 100)}
        want[50] = record(50, " third")
        assert dict(upserts.items()) == {n: LAYOUT.line(r) for n, r in want.items()}
        assert len(upserts) == 99


def test_a_discarded_id_stays_gone_even_when_a_run_holds_it(tmp_path: Path) -> None:
    with tiny(NamedScratch(tmp_path)) as upserts:
        for n in range(1, 60):
            upserts[n] = record(n)
        assert upserts.spilled and 5 in upserts
        upserts.discard(5)       # spilled: a run still holds it
        upserts.discard(59)      # maybe still in memory
        upserts.discard(1000)    # never there
        assert 5 not in upserts and 59 not in upserts and 1000 not in upserts
        assert [n for n, _ in upserts.items()] == [n for n in range(1, 59) if n != 5]
        assert len(upserts) == 57
        upserts[5] = record(5, " back")  # added again after the discard: this value
        for n in range(100, 160):
            upserts[n] = record(n)       # and spilled again
        upserts.discard(5)               # gone again, though two runs hold it now
        assert 5 not in upserts
        upserts[5] = record(5, " last")
        assert dict(upserts.items())[5] == LAYOUT.line(record(5, " last"))
        assert len(upserts) == 58 + 60


def test_contains_len_and_truth(tmp_path: Path) -> None:
    with tiny(NamedScratch(tmp_path)) as upserts:
        assert not upserts and len(upserts) == 0 and 1 not in upserts
        just_spilled = 0
        for n in range(1, 40):
            upserts[n] = record(n)
            if not upserts._memory:  # just spilled: true from the runs alone
                just_spilled += 1
                assert upserts and len(upserts) == n
        assert just_spilled
        assert all(n in upserts for n in range(1, 40))
        assert 0 not in upserts and 40 not in upserts and "1" not in upserts
        for n in range(1, 40):
            upserts.discard(n)
        assert upserts.spilled and not upserts and len(upserts) == 0
        assert list(upserts.items()) == []


def test_membership_in_runs_of_many_index_blocks(tmp_path: Path) -> None:
    """A run indexes every 128th id: ``in`` reads one block, in any order of questions."""
    present = list(range(1, 9000, 3))  # gaps between them
    rng = random.Random(7)
    rng.shuffle(present)
    with tiny(NamedScratch(tmp_path), budget=300_000) as upserts:
        for n in present:
            upserts[n] = record(n)
        assert upserts.spilled >= 2
        asked = list(range(0, 9002))
        assert [n for n in asked if n in upserts] == sorted(present)  # ascending questions
        rng.shuffle(asked)
        assert sorted(n for n in asked if n in upserts) == sorted(present)  # and shuffled
        for n in present[:500]:
            upserts.discard(n)
        assert len(upserts) == len(present) - 500
        assert [n for n in sorted(present) if n in upserts] == sorted(present[500:])


def test_it_can_be_read_twice_and_by_two_readers_taking_turns(tmp_path: Path) -> None:
    with tiny(NamedScratch(tmp_path), budget=50_000) as upserts:
        for n in range(3000, 0, -1):
            upserts[n] = record(n, "x" * (n % 700))  # lines longer than a read, some of them
        assert upserts.spilled >= 3
        first = list(upserts.items())
        assert list(upserts.items()) == first
        one, two = upserts.items(), upserts.items()
        assert [pair for pair in _alternate(one, two)] == [p for p in first for _ in (0, 1)]


def _alternate(one: Any, two: Any) -> Any:
    for a, b in zip(one, two):
        yield a
        yield b


def replay(upserts: Upserts, truth: dict[int, dict[str, Any]], rng: random.Random, *,
           steps: int, ids: int, puts: float) -> Iterator[tuple[int, int]]:
    """A random history of puts and discards, applied to ``upserts`` and to the dict ``truth``
    alike; yields (step, id) after each."""
    for step in range(steps):
        n = rng.randrange(1, ids)
        if rng.random() < puts:
            truth[n] = record(n, f" {step}")
            upserts[n] = truth[n]
        else:
            truth.pop(n, None)
            upserts.discard(n)
        yield step, n


def test_a_random_history_matches_a_dict(tmp_path: Path) -> None:
    rng = random.Random(18)
    with tiny(NamedScratch(tmp_path), budget=3000) as upserts:
        truth: dict[int, dict[str, Any]] = {}
        for step, n in replay(upserts, truth, rng, steps=3000, ids=300, puts=0.7):
            if step % 250 == 0:
                probe = rng.randrange(1, 300)
                assert (probe in upserts) == (probe in truth)
                assert len(upserts) == len(truth)
        assert upserts.spilled > 10
        assert list(upserts.items()) == [(n, LAYOUT.line(truth[n])) for n in sorted(truth)]


def test_memory_in_several_shards_behaves_as_one(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    """Memory is dicts of at most SHARD ids (no big table doubling at the budget's edge)."""
    monkeypatch.setattr(_Memory, "SHARD", 7)
    rng = random.Random(87)
    for budget in (None, 4000):
        scratch = NamedScratch(tmp_path / str(budget))
        scratch.directory.mkdir()
        with Upserts(FIELDS, budget=budget, scratch=scratch) as upserts:
            truth: dict[int, dict[str, Any]] = {}
            for _, n in replay(upserts, truth, rng, steps=1500, ids=200, puts=0.75):
                assert (n in upserts) == (n in truth)
            assert len(upserts._memory.shards) > 1 or budget is not None
            assert len(upserts) == len(truth)
            assert list(upserts.items()) == [(n, LAYOUT.line(truth[n])) for n in sorted(truth)]
            lines = sum(len(line) for _, line in upserts._memory.items())
            assert upserts.held == lines + PER_RECORD * len(upserts._memory)


def test_without_scratch_or_budget_it_never_spills(tmp_path: Path) -> None:
    with Upserts(FIELDS, budget=10) as upserts:
        for n in range(100):
            upserts[n] = record(n)
        assert upserts.spilled == 0 and len(upserts) == 100
    with Upserts(FIELDS, scratch=NamedScratch(tmp_path)) as upserts:
        for n in range(100):
            upserts[n] = record(n)
        assert upserts.spilled == 0 and not list(tmp_path.iterdir())


# -- its files --------------------------------------------------------------------------------
def test_close_removes_the_scratch_files_and_ends_its_use(tmp_path: Path) -> None:
    scratch = NamedScratch(tmp_path)
    upserts = tiny(scratch)
    for n in range(100):
        upserts[n] = record(n)
    assert len(scratch.names()) == upserts.spilled > 1
    upserts.close()
    assert scratch.names() == [] and all(f.closed for f in scratch.files)
    upserts.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        upserts[1] = record(1)
    with pytest.raises(ValueError, match="closed"):
        list(upserts.items())


def test_a_failing_spill_closes_its_file_and_close_the_rest(tmp_path: Path) -> None:
    scratch = NamedScratch(tmp_path)
    full = {"after": 2}

    def failing() -> IO[bytes]:
        file = scratch()
        if len(scratch.files) > full["after"]:
            def write(data: Any) -> int:
                raise OSError(28, "No space left on device")
            file.write = write  # type: ignore[method-assign]
        return file
    upserts = tiny(failing)
    with pytest.raises(OSError, match="No space"):
        for n in range(1000):
            upserts[n] = record(n)
    assert scratch.files[-1].closed and len(scratch.names()) == 2
    upserts.close()
    assert scratch.names() == []


def test_the_data_directorys_scratch_files_have_no_name_and_go_with_close(
        tmp_path: Path) -> None:
    data = DataDir(tmp_path / "data")
    upserts = tiny(data.scratch_file)
    for n in range(200):
        upserts[n] = record(n)
    assert upserts.spilled > 3
    # Removed from the directory at once (Linux: never named), yet open in this process.
    assert [p.name for p in data.path.iterdir()] == []
    if sys.platform == "linux":
        assert len(open_in(data.path)) == upserts.spilled
    upserts.close()
    if sys.platform == "linux":
        assert open_in(data.path) == []


def open_in(directory: Path, pid: int | str = "self") -> list[str]:
    """A process's open files in ``directory`` (Linux; this one's by default), deleted ones
    included."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory) + "/"):
            found.append(target)
    return found


# -- its memory ---------------------------------------------------------------------------------
@pytest.mark.parametrize("count", [30_000, 44_000, 87_000])
def test_what_it_counts_as_held_is_what_it_holds(count: int) -> None:
    """The budget counts each record's line and PER_RECORD; tracemalloc sees no more than that
    (and not far less: a budget that over-counts spills sooner than it needs)."""
    gc.collect()
    tracemalloc.start()
    try:
        upserts = Upserts(FIELDS)
        for n in range(10_000, 10_000 + count):
            upserts[n] = record(n)
        traced = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert 0.8 * upserts.held < traced <= upserts.held
    lines = sum(len(line) for _, line in upserts.items())
    assert upserts.held == lines + PER_RECORD * count
    upserts.close()


def test_a_spill_empties_memory(tmp_path: Path) -> None:
    with tiny(NamedScratch(tmp_path), budget=10_000) as upserts:
        for n in range(1000):
            upserts[n] = record(n)
            assert upserts.held <= 10_000 + 200  # never more than one record past the budget


# -- the canonical line -------------------------------------------------------------------------
def test_a_record_already_in_canonical_order_is_encoded_as_the_general_way_would() -> None:
    layout = Layout(("name", "list", "price", "id"))
    canonical = {"id": 7, "name": "Ünïcødé \"q\"", "list": [1, "a"], "price": 1.5}
    assert tuple(canonical) == ("id", *layout.fields)  # the fast path's case
    shuffled = dict(reversed(list(canonical.items())))  # the general way
    assert layout.line(canonical) == layout.line(shuffled)
    assert layout.line(canonical) == orjson.dumps(canonical)
    with pytest.raises(ValueError):
        layout.line({"id": True, "name": "x", "list": [], "price": 0})
