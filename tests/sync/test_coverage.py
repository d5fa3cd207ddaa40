"""The snapshot covers what the server has, even after someone edits the file by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync_rig import CUSTOMERS, Rig, fixed, make_rig, partner


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, models=(CUSTOMERS,), reconcile_interval=3600)
    r.now = lambda: fixed("2024-05-01 10:00:00")  # the reconcile stays an hour away
    yield r
    r.close()


def test_a_record_removed_by_hand_is_back_in_the_same_pass(rig: Rig) -> None:
    ids = [rig.db.create("res.partner", partner(None, n)) for n in range(5)]
    assert rig.sync().ok
    path = rig.data_dir / "odoo_customers.json"
    canonical = path.read_bytes()
    edited = [r for r in json.loads(canonical) if r["id"] != ids[2]]
    edited.append({"id": 999_999, "name": "Not in Odoo"})  # an extra one, too
    path.write_text(json.dumps(edited, indent=4))  # valid JSON, another layout

    report = rig.sync()

    assert report.ok
    assert report.models[0].reconciled and not report.models[0].full
    assert path.read_bytes() == canonical
    rig.assert_in_sync("after the hand edit")


def test_an_untouched_file_does_not_trigger_the_membership_check(rig: Rig) -> None:
    rig.db.create("res.partner", partner(None, 1))
    assert rig.sync().ok
    report = rig.sync()
    assert report.ok and not report.models[0].reconciled
