"""The reader contract on every sink: load and load_at, resuming from a saved seq with exactly the
netted changes, every way a saved seq stops being enough (reset, never a silent gap), a rebuild
never seen half-built, and the idle cost of a follower (a stamp, nothing read).

The oracle is the stored copy itself (``rig.snapshot``) and what Odoo holds (``rig.expected``).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.consumer import Change, Follow, follow, load, load_at
from syncd.consumer.inbox import LiveIndex
from syncd.consumer.matcher import data_version, load_index
from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import opened
from tests.consumer.reading import delete_state
from tests.sync_rig import (CUSTOMERS, PRODUCTS, SINKS, Rig, churn, make_rig, partner,
                             seeded_rig, with_settings)


@pytest.fixture(params=SINKS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    rig = seeded_rig(tmp_path, sink=request.param, journal=True, partners=30, seed=7)
    yield rig
    rig.close()


def by_id(records: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in records}


def first_change(follower: Follow) -> Change:
    """The first change set a resuming follower hands out (its first look)."""
    with follower:
        changes = follower.check(force=True)
    assert len(changes) == 1, changes
    return changes[0]


def test_load_and_load_at_give_the_stored_records_and_the_committed_seq(rig: Rig) -> None:
    assert load(rig.settings, "customers") == by_id(rig.expected("customers"))
    records, seq = load_at(rig.settings, "customers")  # unpacks as a pair
    assert records == by_id(rig.expected("customers"))
    assert seq is not None and seq >= 1
    churn(rig, random.Random(1), 0)
    assert rig.sync().ok
    assert load_at(rig.settings, "customers").seq == seq + 5  # 1 created, 3 written, 1 removed
    with_settings(rig, journal=False)
    assert rig.sync().ok
    assert load_at(rig.settings, "customers").seq is None  # no journal kept: nothing to resume


def test_a_consumer_down_while_passes_land_resumes_with_exactly_the_netted_changes(
        rig: Rig) -> None:
    saved = load_at(rig.settings, "customers")
    assert saved.seq is not None
    rng = random.Random(2)
    for step in range(4):  # the consumer is not running
        churn(rig, rng, step)
        assert rig.sync().ok
    after = by_id(rig.snapshot("customers"))
    change = first_change(follow(rig.settings, ["customers"], seq={"customers": saved.seq}))
    assert change.resumed and not change.reset
    assert change.seq == load_at(rig.settings, "customers").seq
    # Exactly the net: every record that differs is an upsert with its last content, every id
    # that went is a removal; nothing else (a record created and deleted meanwhile is absent).
    differ = {i: r for i, r in after.items() if saved.records.get(i) != r}
    assert change.updated == differ and not change.added
    assert sorted(change.removed) == sorted(saved.records.keys() - after.keys())
    copy = dict(saved.records)
    for record_id in change.removed:
        copy.pop(record_id, None)
    copy.update(change.updated)
    assert copy == after


def test_resuming_at_the_committed_seq_is_no_change_and_later_changes_are_exact(
        rig: Rig) -> None:
    saved = load_at(rig.settings, "customers")
    assert saved.seq is not None
    follower = follow(rig.settings, ["customers"], seq={"customers": saved.seq})
    with follower:
        assert follower.check(force=True) == []
        before = by_id(rig.snapshot("customers"))
        churn(rig, random.Random(3), 0)
        assert rig.sync().ok
        [change] = follower.check()
    after = by_id(rig.snapshot("customers"))
    assert change.added == {i: after[i] for i in after.keys() - before.keys()}
    assert change.updated == {i: after[i] for i in after.keys() & before.keys()
                              if after[i] != before[i]}
    assert not change.resumed and not change.reset


def resumed_after(rig: Rig, saved_seq: int) -> Change:
    change = first_change(follow(rig.settings, ["customers"], seq={"customers": saved_seq}))
    assert change.reset, "a saved seq the journal no longer covers must say reset"
    assert change.seq == load_at(rig.settings, "customers").seq
    return change


def test_a_journal_turned_off_and_on_again_says_reset(rig: Rig) -> None:
    saved = load_at(rig.settings, "customers")
    assert saved.seq is not None
    with_settings(rig, journal=False)
    churn(rig, random.Random(4), 0)  # changes no journal entry records
    assert rig.sync().ok
    with_settings(rig, journal=True)
    assert rig.sync().ok  # nothing changed in this pass, yet the journal says reset
    resumed_after(rig, saved.seq)


def test_a_forced_resync_that_drops_deleted_records_says_reset(rig: Rig) -> None:
    saved = load_at(rig.settings, "customers")
    assert saved.seq is not None
    victim = sorted(saved.records)[3]
    rig.db.unlink("res.partner", [victim])
    with_settings(rig, reconcile_interval=3600)
    with opened(rig.settings) as sink:
        DataDir(rig.data_dir).request_resync(sink, [], ["customers"])
    assert rig.sync().ok
    assert victim not in load(rig.settings, "customers")
    resumed_after(rig, saved.seq)


def test_a_deleted_state_says_reset(rig: Rig) -> None:
    saved = load_at(rig.settings, "customers")
    assert saved.seq is not None
    delete_state(rig)
    assert rig.sync().ok  # a full resync; the journal cannot vouch for itself without a state
    resumed_after(rig, saved.seq)
    assert load_at(rig.settings, "customers").seq > saved.seq  # seq goes on, never back


def test_a_live_follower_sees_the_first_pass_after_a_deleted_state(rig: Rig) -> None:
    follower = follow(rig.settings, ["customers"], observer="none")
    with follower:
        delete_state(rig)
        assert rig.sync().ok  # the state (and a database's pass record) starts again
        changes = follower.check()
    assert [c.reset for c in changes] == [True]
    assert changes[0].seq == load_at(rig.settings, "customers").seq


def test_a_follower_never_sees_a_rebuild_half_built(rig: Rig) -> None:
    rng = random.Random(5)
    for n in range(30, 90):
        rig.db.create("res.partner", partner(rng, n))
    with_settings(rig, page_size=10)  # a rebuild of many pages
    before = by_id(rig.snapshot("customers"))
    follower = follow(rig.settings, ["customers"])
    seen: list[dict[int, dict[str, Any]]] = []
    looks: list[list[Change]] = []
    with follower, opened(rig.settings) as sink:
        DataDir(rig.data_dir).request_resync(sink, [], ["customers"])

        def meanwhile() -> None:  # before each page request of the rebuild
            seen.append(load(rig.settings, "customers"))
            looks.append(follower.check())

        assert rig.sync(meanwhile).ok
        assert len(seen) >= 6
        assert all(copy == before for copy in seen)  # the old copy, whole, every time
        assert all(look == [] for look in looks)  # nothing committed yet: nothing handed out
        [change] = follower.check()
    assert change.count == len(rig.expected("customers"))


def test_an_idle_follower_looks_at_a_stamp_and_reads_nothing(rig: Rig) -> None:
    follower = follow(rig.settings, ["customers"], observer="none")
    with follower:
        reads = follower.reads
        for _ in range(5):
            assert follower.check() == []
        assert follower.reads == reads
        assert rig.sync().ok  # a pass that changes nothing moves the stamp, not the model
        assert follower.check() == [] and follower.reads == reads
        churn(rig, random.Random(6), 0)
        assert rig.sync().ok
        [change] = follower.check()
        assert follower.reads == reads  # the journal's entries, not the table
        assert change.added and change.updated and change.removed


@pytest.mark.parametrize("kind", SINKS)
def test_the_matcher_index_reloads_when_a_pass_changes_its_models(tmp_path: Path,
                                                                 kind: str) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS), reconcile_interval=0, sink=kind)
    try:
        rig.db.create("res.partner", partner(random.Random(1), 1, email="ann@acme.example"))
        rig.db.create("product.product", {"name": "Oak Desk", "default_code": "OAK-1"})
        assert rig.sync().ok
        with opened(rig.settings) as sink:
            live = LiveIndex(lambda: load_index(sink, "customers", "products"),
                             lambda: data_version(sink, ["customers", "products"]))
            assert "Oak Desk" in live.index.product_names.values()
            assert rig.sync().ok
            assert not live.refresh()  # a pass that changed nothing: the index is kept
            rig.db.create("product.product", {"name": "Steel Chair", "default_code": "ST-2"})
            assert rig.sync().ok
            assert live.refresh()
            assert "Steel Chair" in live.index.product_names.values()
    finally:
        rig.close()


def test_a_pass_that_lands_between_two_waits_wakes_the_next_one_at_once(rig: Rig) -> None:
    """A follower looks between two waits; a pass committing then must not wait out the
    periodic look (a poll that compared with 'now' would miss it until the timeout)."""
    wake = threading.Event()
    with opened(rig.settings) as sink:
        assert not sink.wait(0.0, wake)  # listening from here on
        churn(rig, random.Random(8), 0)
        assert rig.sync().ok  # lands while nobody waits
        assert sink.wait(20.0, wake)  # True only when woken by the pass, not by the timeout
