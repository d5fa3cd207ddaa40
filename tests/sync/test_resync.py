"""`syncd resync`: forgets watermarks at once when the data directory is free, and leaves a
request for the running daemon otherwise (the daemon owns the state file)."""

from __future__ import annotations

from pathlib import Path

import orjson

from syncd.sinks.lock import DataDirLock
from syncd.sinks.datadir import RESYNC_FILE, STATE_FILE, DataDir
from syncd.sinks.json.sink import JsonSink
from tests.sync_rig import CUSTOMERS, PRODUCTS, make_rig, partner


def watermarks(data_dir: Path) -> dict[str, str | None]:
    state = orjson.loads((data_dir / STATE_FILE).read_bytes())
    return {name: model["watermark"] for name, model in state["models"].items()}


def test_resync_forgets_watermarks_at_once_when_free(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS), reconcile_interval=86400)
    try:
        ids = [rig.db.create("res.partner", partner(None, n)) for n in range(3)]
        rig.db.create("product.product", {"name": "Lamp"})
        assert rig.sync().ok
        assert DataDir(rig.data_dir).request_resync(JsonSink(DataDir(rig.data_dir)), ["customers"], ["customers", "products"]) is True
        marks = watermarks(rig.data_dir)
        assert marks["customers"] is None and marks["products"] is not None
        rig.db.unlink("res.partner", ids[0])  # invisible to an incremental pass before reconcile
        report = rig.sync()
        assert report.ok and [m.full for m in report.models] == [True, False]
        rig.assert_in_sync("after resync")
    finally:
        rig.close()


def test_resync_while_a_daemon_holds_the_directory_leaves_a_request(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS), reconcile_interval=86400)
    try:
        rig.db.create("res.partner", partner(None, 1))
        rig.db.create("product.product", {"name": "Lamp"})
        assert rig.sync().ok
        before = (rig.data_dir / STATE_FILE).read_bytes()
        with DataDirLock(rig.data_dir):
            assert DataDir(rig.data_dir).request_resync(JsonSink(DataDir(rig.data_dir)), [], ["customers", "products"]) is False
        assert (rig.data_dir / STATE_FILE).read_bytes() == before  # the daemon's file
        assert orjson.loads((rig.data_dir / RESYNC_FILE).read_bytes()) == []
        report = rig.sync()  # the daemon's next pass applies the request, then removes it
        assert report.ok and all(m.full for m in report.models)
        assert not (rig.data_dir / RESYNC_FILE).exists()
        assert not any(m.full for m in rig.sync().models)
    finally:
        rig.close()


def test_a_rebuild_to_the_same_content_leaves_the_snapshot_alone(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS,))
    try:
        for n in range(5):
            rig.db.create("res.partner", partner(None, n))
        assert rig.sync().ok
        path = rig.data_dir / "odoo_customers.json"
        before = path.stat()
        assert DataDir(rig.data_dir).request_resync(JsonSink(DataDir(rig.data_dir)), [],
                                                    ["customers"])
        report = rig.sync()
        assert report.ok and report.models[0].full
        assert not report.models[0].written  # nothing changed: watchers are not woken
        after = path.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    finally:
        rig.close()
