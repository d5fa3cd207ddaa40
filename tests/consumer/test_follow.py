"""The reader contract, on every sink with the journal on and off: a real `follow` while the
real sync writes (the emulator over HTTP, `make_rig`'s passes).

The oracle is the snapshot itself: after each pass, the change set the follower hands out must
be exactly the difference between the snapshot before and after it; a consumer applying change
sets to its own copy (reloading on `reset`) must end equal to the final snapshot.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.consumer import Change, Follow, follow, load, load_at
from tests.consumer.reading import cut_journal
from tests.sync_rig import SINKS, Rig, churn, seeded_rig, with_settings

DEADLINE = 20.0  # seconds; events arrive in milliseconds, this only bounds a failure


@pytest.fixture(params=[(sink, journal) for sink in SINKS for journal in (True, False)],
                ids=[f"{sink}-{'journal' if journal else 'diff'}" for sink in SINKS
                     for journal in (True, False)])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    sink, journal = request.param
    rig = seeded_rig(tmp_path, sink=sink, journal=journal, partners=40, seed=7)
    yield rig
    rig.close()


class Collected:
    """A follower iterated in its own thread; the changes it hands out, in order."""

    def __init__(self, follower: Follow) -> None:
        self.follower = follower.start()  # the baseline, before the test changes anything
        self.changes: queue.Queue[Change] = queue.Queue()
        self.thread = threading.Thread(target=follower.run, args=(self.changes.put,), daemon=True)
        self.thread.start()

    def next(self) -> Change:
        try:
            return self.changes.get(timeout=DEADLINE)
        except queue.Empty:
            raise AssertionError(f"no change within {DEADLINE}s") from None

    def close(self) -> None:
        self.follower.stop()
        self.thread.join(timeout=DEADLINE)
        assert not self.thread.is_alive()


def by_id(records: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in records}


class Consumer:
    """A copy kept current by applying change sets, as a downstream program would."""

    def __init__(self, rig: Rig, records: dict[int, dict[str, Any]] | None = None) -> None:
        self.rig = rig
        self.records = records if records is not None else load(rig.settings, "customers")

    def apply(self, change: Change) -> None:
        if change.reset:
            self.records = load(self.rig.settings, "customers")
            return
        for record_id in change.removed:
            self.records.pop(record_id, None)
        self.records.update(change.added)
        self.records.update(change.updated)


def test_every_change_set_is_the_diff_of_consecutive_snapshots(rig: Rig) -> None:
    rng = random.Random(1)
    seen = Collected(follow(rig.settings, ["customers"]))
    try:
        before = by_id(rig.snapshot("customers"))
        for step in range(5):
            churn(rig, rng, step)
            assert rig.sync().ok
            after = by_id(rig.snapshot("customers"))
            change = seen.next()
            assert change.name == "customers" and not change.reset
            assert change.added == {i: after[i] for i in after.keys() - before.keys()}
            assert sorted(change.removed) == sorted(before.keys() - after.keys())
            assert change.updated == {i: after[i] for i in after.keys() & before.keys()
                                      if after[i] != before[i]}
            assert change.added and change.updated and change.removed
            assert change.count == len(after)
            if rig.settings.sync.journal:
                assert change.seq == load_at(rig.settings, "customers").seq
            before = after
        assert rig.sync().ok  # a pass that changes nothing hands out nothing
        assert seen.changes.empty()
    finally:
        seen.close()


def wait_until_equal(consumer: Consumer, seen: Collected) -> None:
    want = by_id(consumer.rig.snapshot("customers"))
    deadline = time.monotonic() + DEADLINE
    while consumer.records != want:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "the consumer's copy never reached the final snapshot"
        try:
            consumer.apply(seen.changes.get(timeout=remaining))
        except queue.Empty:
            pass


@pytest.mark.parametrize("observer", ["native", "polling"])
def test_a_burst_of_passes_ends_at_the_final_content(rig: Rig, observer: str) -> None:
    rng = random.Random(2)
    consumer = Consumer(rig)
    seen = Collected(follow(rig.settings, ["customers"], observer=observer, debounce=0.05))
    try:
        for step in range(8):  # no waiting between passes: events pile up and coalesce
            churn(rig, rng, step)
            assert rig.sync().ok
        wait_until_equal(consumer, seen)
    finally:
        seen.close()


def test_a_removed_then_recreated_snapshot_is_followed(rig: Rig) -> None:
    if rig.settings.sink.kind != "json":
        pytest.skip("a file removed by hand")
    rng = random.Random(3)
    consumer = Consumer(rig)
    seen = Collected(follow(rig.settings, ["customers"]))
    try:
        (rig.data_dir / "odoo_customers.json").unlink()
        churn(rig, rng, 0)
        assert rig.sync().ok  # rebuilds the missing file
        change = seen.next()
        consumer.apply(change)
        assert consumer.records == by_id(rig.snapshot("customers"))
        assert change.reset == rig.settings.sync.journal  # the journal says reset
        churn(rig, rng, 1)
        assert rig.sync().ok
        wait_until_equal(consumer, seen)
    finally:
        seen.close()


def test_the_periodic_check_recovers_a_change_whose_event_was_lost(rig: Rig) -> None:
    rng = random.Random(4)
    consumer = Consumer(rig)
    # No observer at all: every event is lost; only the periodic check can see the pass.
    follower = follow(rig.settings, ["customers"], observer="none", check_every=0.2)
    seen = Collected(follower)
    try:
        checks = follower.checks
        churn(rig, rng, 0)
        assert rig.sync().ok
        consumer.apply(seen.next())
        assert consumer.records == by_id(rig.snapshot("customers"))
        assert follower.checks > checks
    finally:
        seen.close()


def test_a_consumer_resuming_from_a_saved_seq_converges(rig: Rig) -> None:
    if not rig.settings.sync.journal:
        pytest.skip("a saved seq is a journal position")
    rng = random.Random(5)
    saved = load_at(rig.settings, "customers")
    assert saved.seq is not None and saved.seq >= 1
    consumer = Consumer(rig, saved.records)
    for step in range(3):  # passes while the consumer is not running
        churn(rig, rng, step)
        assert rig.sync().ok
    seen = Collected(follow(rig.settings, ["customers"], seq={"customers": saved.seq}))
    try:
        first = seen.next()
        assert first.resumed and not first.reset
        consumer.apply(first)
        assert consumer.records == by_id(rig.snapshot("customers"))
        churn(rig, rng, 9)  # and after the catch-up, exact change sets again
        assert rig.sync().ok
        nxt = seen.next()
        assert not nxt.resumed and nxt.added and nxt.removed
        consumer.apply(nxt)
        assert consumer.records == by_id(rig.snapshot("customers"))
    finally:
        seen.close()


def test_a_seq_the_journal_no_longer_covers_is_told_to_reload(rig: Rig) -> None:
    if not rig.settings.sync.journal:
        pytest.skip("a seq is a journal position")
    with_settings(rig, journal_max_bytes=1024, journal_keep=1)  # the JSON journal rotates
    rng = random.Random(6)
    saved = load_at(rig.settings, "customers")
    for step in range(6):
        churn(rig, rng, step)
        assert rig.sync().ok
    assert saved.seq is not None
    cut_journal(rig, saved.seq + 1)  # a database's journal pruned by its owner
    seen = Collected(follow(rig.settings, ["customers"], seq={"customers": saved.seq}))
    try:
        change = seen.next()
        assert change.reset
        consumer = Consumer(rig, saved.records)
        consumer.apply(change)
        assert consumer.records == by_id(rig.snapshot("customers"))
    finally:
        seen.close()
