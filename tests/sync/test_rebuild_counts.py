"""`changed` and `removed` are relative to the previous stored copy, rebuilds included: a resync
to the same content changed nothing, records deleted in Odoo meanwhile count as removed, and the
first pass over a snapshot syncd did not write counts what it dropped from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import opened
from syncd.sync.report import ModelReport
from tests.sync_rig import CUSTOMERS, SINKS, Rig, make_rig, partner


@pytest.fixture(params=SINKS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    rig = make_rig(tmp_path, models=(CUSTOMERS,), sink=request.param)
    for n in range(40):
        rig.db.create("res.partner", partner(None, n))
    yield rig
    rig.close()


def resync(rig: Rig) -> ModelReport:
    with opened(rig.settings) as sink:
        DataDir(rig.data_dir).request_resync(sink, [], ["customers"])
    report = rig.sync()
    assert report.ok, report.error
    [model] = report.models
    assert model.full
    return model


def test_a_resync_counts_against_the_previous_copy(rig: Rig) -> None:
    first = rig.sync()
    assert first.ok and first.models[0].changed == 40 and first.models[0].removed == 0
    same = resync(rig)
    assert (same.changed, same.removed, same.records) == (0, 0, 40)
    gone = sorted(r["id"] for r in rig.expected("customers"))[:17]
    rig.db.unlink("res.partner", gone)
    rig.db.write("res.partner", [gone[-1] + 1], {"name": "Renamed"})
    dropped = resync(rig)
    assert (dropped.changed, dropped.removed, dropped.records) == (1, 17, 23)
    rig.assert_in_sync()


def test_the_first_pass_over_the_old_scripts_snapshot_counts_what_it_drops(
        tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS,))
    try:
        ids = [rig.db.create("res.partner", partner(None, n)) for n in range(5)]
        rig.data_dir.mkdir()
        old = [{"id": i, "name": f"Partner {n}"} for n, i in enumerate(ids)] + \
            [{"id": 999, "name": "Deleted since"}]
        import orjson

        (rig.data_dir / "odoo_customers.json").write_bytes(orjson.dumps(old))
        (rig.data_dir / "last_sync.json").write_text('{"last_sync": "2025-10-15 08:00:00"}')
        report = rig.sync()
        assert report.ok, report.error
        [model] = report.models
        assert (model.removed, model.changed, model.records) == (1, 5, 5)
        rig.assert_in_sync()
    finally:
        rig.close()
