"""The error record in the data directory, the lock-holder probe, and unconfigured models, in
process against the emulator over real HTTP (the subprocess views are in test_status_cli.py)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from syncd.settings import Settings, SyncSettings
from syncd.consumer.watch import watch
from syncd.errors import FaultError, SyncdError
from syncd.sinks.lock import LOCK_NAME, DataDirLock, holder
from syncd.service.status import status_of
from syncd.sinks.datadir import ERROR_FILE, STATE_FILE
from syncd.sync.state import ModelState, State
from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import opened
from syncd.sync.engine import run_pass
from tests.service.test_lock import HOLDER, ROOT
from tests.sync_rig import CUSTOMERS, PRODUCTS, Rig, make_rig, partner
from tests.test_cli import wait_for


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS), reconcile_interval=0)
    r.db.create("res.partner", partner(None, 1))
    r.db.create("product.product", {"name": "Chair", "list_price": 5.0})
    yield r
    r.close()


def every_file(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def test_a_failed_pass_writes_only_the_error_record_and_a_good_pass_removes_it(rig: Rig) -> None:
    assert rig.sync().ok
    before = every_file(rig.data_dir)
    assert ERROR_FILE not in before
    rig.db.create("res.partner", partner(None, 2))
    rig.emulator.faults.add("http_500", times=1000, model="product.product")
    old_umask = os.umask(0o077)  # a restrictive umask must not hide the record from an admin
    try:
        report = rig.sync()
    finally:
        os.umask(old_umask)
    assert not report.ok
    after = every_file(rig.data_dir)
    record = orjson.loads(after.pop(ERROR_FILE))
    assert after == before  # every other file byte-identical (the lock file included)
    assert record["model"] == "products" and record["error"] == report.error
    assert record["at"]
    assert stat.S_IMODE((rig.data_dir / ERROR_FILE).stat().st_mode) == 0o644
    status = status_of(rig.settings)
    assert not status["ok"]
    assert [m["last_error"] for m in status["models"]] == [None, report.error]

    rig.emulator.faults.clear()
    assert rig.sync().ok
    assert not (rig.data_dir / ERROR_FILE).exists()
    assert status_of(rig.settings)["ok"]


class RefusingClient:
    """An Odoo whose login fault echoes what it was sent, as some Odoo faults do."""

    info = None

    def __init__(self, settings: Settings) -> None:
        self.password = settings.odoo.password

    def begin_pass(self) -> None:
        pass

    def resume(self, kept: object) -> bool:
        return False

    def connect(self) -> None:
        raise FaultError(f"AccessDenied: login admin with password {self.password} refused")


def test_the_error_record_never_holds_the_password(rig: Rig) -> None:
    settings = replace(rig.settings, odoo=replace(rig.settings.odoo, password="S3cr3t-Pa55-zq9"))
    with opened(settings) as sink:
        report = run_pass(settings, RefusingClient(settings), sink,  # type: ignore[arg-type]
                          DataDir(settings.sync.data_dir))
    raw = (rig.data_dir / ERROR_FILE).read_text()
    assert "refused" in raw and "***" in raw
    assert "S3cr3t-Pa55-zq9" not in raw and "S3cr3t-Pa55-zq9" not in (report.error or "")
    status = status_of(settings)
    assert status["error"] == orjson.loads(raw)["error"] and not status["ok"]


@pytest.fixture
def held(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "data")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    yield proc
    proc.kill()
    proc.wait(timeout=30)


def test_holder_names_the_pid_holding_the_lock_without_taking_it(
        tmp_path: Path, held: subprocess.Popen[str]) -> None:
    data = tmp_path / "data"
    assert holder(data) == held.pid
    assert holder(data) == held.pid  # asking twice changes nothing: the probe takes no lock
    assert held.stdin is not None
    held.stdin.close()
    assert held.stdout is not None and held.stdout.readline() == "released\n"
    held.wait(timeout=30)
    assert holder(data) is None
    with DataDirLock(data):  # this process: the probe tells it from the file's inode
        assert holder(data) == os.getpid()


def test_holder_without_proc_locks_trusts_a_live_pid_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    no_proc = tmp_path / "no-proc-locks"
    assert holder(data, proc_locks=no_proc) is None  # no lock file at all
    with DataDirLock(data):
        assert holder(data, proc_locks=no_proc) == os.getpid()
    assert holder(data, proc_locks=no_proc) is None  # release cleared the pid
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    (data / LOCK_NAME).write_text(f"{gone.pid}\n")  # left by a holder killed with SIGKILL
    assert holder(data, proc_locks=no_proc) is None


def test_a_model_removed_from_the_configuration_is_kept_and_listed(rig: Rig) -> None:
    assert rig.sync().ok
    products = (rig.data_dir / "odoo_products.json").read_bytes()
    entry = orjson.loads((rig.data_dir / STATE_FILE).read_bytes())["models"]["products"]
    rig.settings = replace(rig.settings, models=(CUSTOMERS,))
    rig.db.create("res.partner", partner(None, 3))
    assert rig.sync().ok
    assert (rig.data_dir / "odoo_products.json").read_bytes() == products
    assert orjson.loads((rig.data_dir / STATE_FILE).read_bytes())["models"]["products"] == entry
    status = status_of(rig.settings)
    assert status["ok"]
    listed = {m["name"]: m for m in status["models"]}
    assert listed["customers"]["configured"] and listed["customers"]["records"] == 2
    assert not listed["products"]["configured"] and listed["products"]["records"] == 1
    assert listed["products"]["model"] == "product.product"


def test_status_of_a_missing_data_directory_creates_nothing(rig: Rig, tmp_path: Path) -> None:
    settings = replace(rig.settings, sync=replace(rig.settings.sync, data_dir=tmp_path / "typo"))
    with pytest.raises(SyncdError, match="no data directory at .*typo"):
        status_of(settings)
    assert not (tmp_path / "typo").exists()


def test_watch_reacts_to_committed_passes_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    out = io.StringIO()
    stop = threading.Event()
    settings = Settings(sync=SyncSettings(data_dir=data))
    thread = threading.Thread(target=watch, args=(settings,), kwargs={"stop": stop, "out": out})
    thread.start()
    try:
        wait_for(lambda: "watching" in out.getvalue(), what="the watcher to start")
        for name in (ERROR_FILE, "odoo_customers.json.corrupt-20240101T000000"):
            (data / name).write_bytes(b'[{"id": 1}]\n')
        (data / "odoo_customers.json").write_bytes(b'[{"id": 1}, {"id": 2}]\n')
        # A snapshot is news once a state commits it (the state file is replaced last).
        state = State(last_sync="2026-01-01 00:00:00", models={"customers": ModelState()})
        DataDir(data).stage_state(state).commit()
        wait_for(lambda: "customers:" in out.getvalue(), what="the snapshot line")
    finally:
        stop.set()
        thread.join(timeout=10)
    lines = out.getvalue().splitlines()[1:]
    assert len(lines) == 1 and "customers: 2 records (+2 added" in lines[0], lines
