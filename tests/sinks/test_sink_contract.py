"""The Sink contract: every sink passes these, with real storage (files in a temp dir; a real
database for the database sinks). A new sink adds its kind to `SINKS` in tests/sync_rig.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.consumer.load import records as stored_records
from syncd.settings import Settings, SyncSettings
from syncd.errors import LockedError
from syncd.sync.seam import Sink
from syncd.sinks.factory import make_sink
from syncd.sinks.record import Layout
from syncd.sync.changes import ChangeSet, RebuildReason
from syncd.sync.upserts import Upserts
from syncd.sync.digests import Digests
from syncd.sync.report import ModelReport
from syncd.sync.state import ModelState, State
from tests.sync_rig import SINKS, sink_settings

FIELDS = ("name", "email", "qty", "parent_id", "tag_ids", "write_date")


def settings_for(kind: str, tmp_path: Path) -> Settings:
    return Settings(sync=SyncSettings(data_dir=tmp_path / "data"),
                    sink=sink_settings(kind, tmp_path))


@pytest.fixture(params=SINKS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sink(kind: str, tmp_path: Path) -> Iterator[Sink]:
    settings = settings_for(kind, tmp_path)
    settings.sync.data_dir.mkdir()
    opened = make_sink(settings)
    yield opened
    opened.close()


def record(n: int, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"id": n, "name": f"Ünïcødé {n}", "email": False, "qty": 0.0,
                              "parent_id": [1, "Parent, Inc."] if n % 2 else False,
                              "tag_ids": [3, 5], "write_date": "2026-01-01 10:00:00"}
    values.update(extra)
    return values


def change(name: str, state: ModelState, *, rebuild: list[dict[str, Any]] | None = None,
           upserts: list[dict[str, Any]] = (), removals: set[int] = frozenset()) -> ChangeSet:
    return ChangeSet(name=name, fields=FIELDS, state=state,
                     report=ModelReport(name=name, model="res.partner"),
                     upserts=Upserts.of(FIELDS, upserts), removals=set(removals),
                     rebuild=iter([(r, Layout(FIELDS).line(r)) for r in rebuild])
                     if rebuild is not None else None,
                     reasons=[RebuildReason.FIRST_SYNC] if rebuild is not None else [])


def commit_rebuild(sink: Sink, name: str, records: list[dict[str, Any]]) -> State:
    state = sink.load_state()
    model = state.model(name)
    model.model = "res.partner"
    writer = sink.begin()
    applied = writer.write(change(name, model, rebuild=sorted(records, key=lambda r: r["id"])))
    model.records = applied.records
    writer.commit(state)
    return state


def test_an_empty_sink_holds_nothing(sink: Sink) -> None:
    assert sink.load_state() == State()
    assert not sink.exists("customers")
    assert sink.count("customers", State()) is None
    assert list(stored_records(sink, "customers")) == []


def test_a_rebuild_is_stored_exactly_in_id_order(sink: Sink) -> None:
    records = [record(3), record(1, qty=0), record(2, email="b@x", qty=False)]
    state = commit_rebuild(sink, "customers", records)
    assert sink.exists("customers")
    # Values exactly as given: 0, 0.0 and false stay different; many2one and x2many lists kept.
    assert list(stored_records(sink, "customers")) == sorted(records, key=lambda r: r["id"])
    assert sink.count("customers", state) == 3
    assert list(sink.stored_ids("customers", state.models["customers"])) == [1, 2, 3]
    assert sink.load_state() == state
    assert not sink.changed_outside("customers", sink.load_state().models["customers"])


def test_changes_in_place(sink: Sink) -> None:
    commit_rebuild(sink, "customers", [record(n) for n in (1, 2, 3, 4)])
    state = sink.load_state()
    model = state.models["customers"]
    writer = sink.begin()
    applied = writer.write(change("customers", model,
                                  upserts=[record(2, name="renamed"), record(3), record(9)],
                                  removals={4, 77}))
    assert (applied.changed, applied.removed, applied.records) == (2, 1, 4)
    model.records = applied.records
    writer.commit(state)
    got = {r["id"]: r for r in stored_records(sink, "customers")}
    assert sorted(got) == [1, 2, 3, 9] and got[2]["name"] == "renamed" and got[3] == record(3)
    assert sink.count("customers", state) == 4


def test_an_id_both_upserted_and_removed_is_kept_upserted(sink: Sink) -> None:
    """The change set's rule on every sink: an upsert wins over a removal of the same id (the
    row was read after the scan that missed it). The PostgreSQL writer deleted it after the
    upsert."""
    commit_rebuild(sink, "customers", [record(1), record(2)])
    state = sink.load_state()
    model = state.models["customers"]
    writer = sink.begin()
    applied = writer.write(change("customers", model, upserts=[record(2, name="back")],
                                  removals={1, 2}))
    assert (applied.changed, applied.removed, applied.records) == (1, 1, 1)
    model.records = applied.records
    writer.commit(state)
    assert list(stored_records(sink, "customers")) == [record(2, name="back")]


def test_an_aborted_pass_leaves_everything_as_it_was(sink: Sink) -> None:
    before = commit_rebuild(sink, "customers", [record(1), record(2)])
    state = sink.load_state()
    writer = sink.begin()
    writer.write(change("customers", state.models["customers"], upserts=[record(5)],
                        removals={1}))
    writer.write(change("products", state.model("products"), rebuild=[record(7)]))
    state.last_sync = "2030-01-01 00:00:00"
    writer.abort()
    assert list(stored_records(sink, "customers")) == [record(1), record(2)]
    assert not sink.exists("products")
    assert sink.load_state() == before


def test_a_failing_rebuild_stream_stages_nothing_and_the_writer_goes_on(sink: Sink) -> None:
    commit_rebuild(sink, "customers", [record(1)])
    state = sink.load_state()

    def broken() -> Iterator[tuple[dict[str, Any], bytes]]:
        half = record(1, name="half")
        yield half, Layout(FIELDS).line(half)
        raise OSError("the server went away")

    writer = sink.begin()
    failing = change("customers", state.models["customers"], rebuild=[])
    failing.rebuild = broken()
    with pytest.raises(OSError):
        writer.write(failing)
    applied = writer.write(change("customers", state.models["customers"],
                                  rebuild=[record(1, name="whole"), record(2)]))
    assert applied.records == 2
    writer.commit(state)
    assert [r["name"] for r in stored_records(sink, "customers")] == ["whole", "Ünïcødé 2"]


def test_several_models_commit_together_with_the_state(sink: Sink) -> None:
    state = sink.load_state()
    writer = sink.begin()
    for name, ids in (("customers", (1, 2)), ("products", (10,))):
        model = state.model(name)
        model.watermark = "2026-01-01 10:00:00"
        model.recent = Digests()
        model.recent.add(ids[0], 42)
        model.records = writer.write(change(name, model, rebuild=[record(i) for i in ids])).records
    state.last_sync = "2026-01-01 10:00:05"
    writer.commit(state)
    again = sink.load_state()
    assert again == state and again.models["customers"].recent.get(1) == 42
    assert [r["id"] for r in stored_records(sink, "products")] == [10]


def test_forget_removes_the_copy_with_the_state_entry(sink: Sink) -> None:
    commit_rebuild(sink, "old", [record(1)])
    state = sink.load_state()
    writer = sink.begin()
    writer.forget("old")
    state.models.pop("old")
    writer.commit(state)
    assert not sink.exists("old") and "old" not in sink.load_state().models


def test_a_second_writer_is_refused(kind: str, sink: Sink, tmp_path: Path) -> None:
    if kind == "json":
        pytest.skip("the JSON sink's target is the data directory: its lock covers it")
    other = make_sink(settings_for(kind, tmp_path))
    try:
        with sink.lock():
            with pytest.raises(LockedError):
                with other.lock():
                    pass
        with other.lock():
            pass  # free again once released
    finally:
        other.close()
