"""Worker threads and the process around them ([sync] workers > 1): `syncd once` stopped by
SIGTERM while its workers wait for Odoo is out within seconds, nothing committed, no traceback
(the pass's own thread is abandoned by the signal, the workers' requests are cut by the client's
abort before they are joined); a daemon's passes leave no worker thread behind."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from syncd.emulator import Emulator
from tests.test_cli import SYNCD, environment, wait_for


@pytest.mark.parametrize("where", ["slow-answers", "retry-after"])
def test_once_stops_on_sigterm_with_every_worker_waiting(tmp_path: Path, where: str) -> None:
    odoo = Emulator(version=17)
    odoo.start()
    try:
        odoo.db.import_records("res.partner", [{"name": f"C{n}", "is_company": True}
                                               for n in range(300)])
        odoo.db.import_records("product.product", [{"name": f"P{n}"} for n in range(40)])
        (tmp_path / "syncd.toml").write_text("[sync]\npage_size = 10\nworkers = 4\n")
        # Pages come slowly (0.05 s each); once the first has come, every request after it
        # takes 120 s, or is answered 429 with a pause of 100 s before a retry.
        odoo.faults.add("latency", times=1000, seconds=0.05, method="search_read")
        slow = (dict(kind="latency", times=1000, seconds=120, method="search_read")
                if where == "slow-answers" else
                dict(kind="http_429", times=1000, retry_after=100, method="search_read"))
        proc = subprocess.Popen([SYNCD, "once"], cwd=tmp_path, env=environment(tmp_path, odoo),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: odoo.stats.calls("res.partner", "search_read") >= 1,
                     what="the first page")
            odoo.faults.add(**slow)  # type: ignore[arg-type]
            # a worker waits for a page; the others, for room after the pages they read
            wait_for(lambda: odoo.faults.pending()[-1].times < 1000,
                     what="a worker waiting for Odoo")
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=15)
            assert time.monotonic() - started < 10
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert "Traceback" not in err
        assert "nothing of the pass was committed" in err
        assert not list((tmp_path / "data").glob("odoo_*.json"))
        assert not (tmp_path / "data" / "last_sync.json").exists()
    finally:
        odoo.stop()


def test_a_daemon_leaves_no_worker_thread_behind_its_passes(tmp_path: Path) -> None:
    import threading

    from syncd.service.runner import run_daemon
    from syncd.sinks.datadir import DataDir
    from syncd.sinks.factory import opened
    from syncd.sync.report import PassReport
    from tests.sync_rig import CUSTOMERS, PRODUCTS, make_rig, partner, with_settings

    rig = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS), page_size=20, workers=4)
    with_settings(rig, interval=0.05)
    rig.db.import_records("res.partner", [partner(None, n) for n in range(300)])
    rig.db.import_records("product.product", [{"name": f"P{n}"} for n in range(90)])
    stop = threading.Event()
    reports: list[PassReport] = []
    alive: list[list[str]] = []

    def on_pass(report: PassReport) -> None:  # after the pass returned, before the next one
        reports.append(report)
        alive.append([t.name for t in threading.enumerate() if t.name.startswith("syncd-")])
        with opened(rig.settings) as sink:  # the next pass rebuilds both, in slices
            DataDir(rig.data_dir).request_resync(sink, [], ["customers", "products"])
        if len(reports) == 4:
            stop.set()

    try:
        assert run_daemon(rig.settings, stop=stop, on_pass=on_pass) == 0
    finally:
        rig.close()
    # the stop may cut one more pass short (nothing of it committed)
    assert all(r.ok for r in reports[:4]) and all(r.interrupted for r in reports[4:])
    assert all(m.full for r in reports[:4] for m in r.models)
    assert alive == [[]] * len(reports)
    assert not [t for t in threading.enumerate() if t.name.startswith("syncd-")]
