"""The handshake kept in the committed state: a later pass (a new process) starts from it, so an
idle `once` is one request per model; a stale one is probed again; a failed pass keeps the old."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from syncd.emulator import Emulator
from syncd.odoo.client import OdooClient
from syncd.odoo.handshake import MAX_AGE
from syncd.sinks.factory import opened
from syncd.sync.state import State
from tests.sync_rig import CUSTOMERS, PRODUCTS, make_rig

SYNCD = str(Path(sys.executable).with_name("syncd"))
SECRET = "S3cr3t-Pa55-zq9"


def state_of(data_dir: Path) -> State:
    return State.load(data_dir / "last_sync.json")


@pytest.mark.parametrize("sink", ["json", "sqlite", "postgres"])
def test_a_new_client_resumes_from_the_committed_state(tmp_path: Path, sink: str) -> None:
    rig = make_rig(tmp_path, sink=sink)
    try:
        rig.db.create("res.partner", {"name": "Azure Interior", "is_company": True})
        assert rig.sync().ok
        with opened(rig.settings) as store:
            kept = store.load_state().handshake
        assert kept is not None and kept["uid"] == rig.client.info.uid  # type: ignore[union-attr]
        rig.client.close()
        rig.client = OdooClient(rig.settings.odoo, sleep=lambda s: None)
        rig.emulator.stats.reset()
        assert rig.sync().ok
        assert rig.emulator.stats.requests == 2  # one window query per model
        assert rig.emulator.stats.logins == 0
        rig.assert_in_sync()
    finally:
        rig.close()


def test_an_old_handshake_is_probed_again_and_kept_anew(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS,))
    try:
        assert rig.sync().ok
        first = state_of(rig.data_dir).handshake
        assert first is not None
        later = time.time() + MAX_AGE + 60
        for wall, logins in ((time.time() + MAX_AGE - 60, 0), (later, 1), (later, 0)):
            rig.client.close()
            rig.client = OdooClient(rig.settings.odoo, sleep=lambda s: None,
                                    wall=lambda at=wall: at)  # type: ignore[misc]
            rig.emulator.stats.reset()
            assert rig.sync().ok
            assert rig.emulator.stats.logins == logins
        renewed = state_of(rig.data_dir).handshake
        assert renewed is not None and renewed["probed"] > first["probed"]
    finally:
        rig.close()


def test_a_failed_pass_keeps_the_old_handshake(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS,))
    try:
        assert rig.sync().ok
        before = (rig.data_dir / "last_sync.json").read_bytes()
        uid = rig.client.info.uid  # type: ignore[union-attr]
        rig.client.close()
        rig.db.set_password(uid, "n3w-pa55")  # the settings still have the old one
        rig.client = OdooClient(rig.settings.odoo, sleep=lambda s: None)
        rig.emulator.stats.reset()
        report = rig.sync()
        assert not report.ok and "Odoo refused the credentials" in str(report.error)
        assert rig.emulator.stats.logins == 1 and rig.emulator.stats.requests == 3
        assert (rig.data_dir / "last_sync.json").read_bytes() == before
    finally:
        rig.close()


def environment(tmp_path: Path, em: Emulator, password: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ODOO_", "SYNCD_", "NOTIFY_SOCKET", "WATCHDOG_"))}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"),
               SYNCD_DATA_DIR=str(tmp_path / "data"), ODOO_URL=em.url, ODOO_DB=em.db.name,
               ODOO_USERNAME="sync", ODOO_PASSWORD=password)
    return env


def once(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SYNCD, "once"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)


def test_an_idle_once_is_one_request_per_model(tmp_path: Path) -> None:
    em = Emulator(version=17)
    em.start()
    try:
        uid = em.db.add_user("sync", SECRET)
        em.db.create("res.partner", {"name": "Azure Interior", "is_company": True})
        em.db.create("product.product", {"name": "Desk", "list_price": 10.0})
        env = environment(tmp_path, em, SECRET)
        first = once(tmp_path, env)
        assert first.returncode == 0, first.stderr
        state_file = tmp_path / "data" / "last_sync.json"
        models = len(orjson.loads(state_file.read_bytes())["models"])
        assert models >= 2

        em.stats.reset()
        idle = once(tmp_path, env)
        assert idle.returncode == 0, idle.stderr
        assert em.stats.requests == models
        assert em.stats.logins == 0
        assert set(em.stats.by_call) == {(m, "search_read") for m, _ in em.stats.by_call}
        assert SECRET.encode() not in state_file.read_bytes()

        # The password changed on the server, not yet in the settings: one login, a clean error.
        em.db.set_password(uid, "n3w-Pa55-x")
        em.stats.reset()
        refused = once(tmp_path, env)
        assert refused.returncode == 1
        assert [line for line in refused.stderr.splitlines() if "error" in line] == [
            f"syncd: error: Odoo refused the credentials for user 'sync' on database "
            f"{em.db.name!r} at {em.url}"]
        assert em.stats.logins == 1

        # ... then in the settings too: the kept uid works with it, no login.
        em.stats.reset()
        env = environment(tmp_path, em, "n3w-Pa55-x")
        assert once(tmp_path, env).returncode == 0
        assert (em.stats.requests, em.stats.logins) == (models, 0)
        assert b"n3w-Pa55-x" not in state_file.read_bytes()

        # The user deleted and made again (a new uid): probed once, then one request per model.
        em.db.unlink("res.users", [uid])
        new_uid = em.db.add_user("sync", "n3w-Pa55-x")
        em.stats.reset()
        assert once(tmp_path, env).returncode == 0
        assert em.stats.logins == 1
        assert orjson.loads(state_file.read_bytes())["handshake"]["uid"] == new_uid
        em.stats.reset()
        assert once(tmp_path, env).returncode == 0
        assert (em.stats.requests, em.stats.logins) == (models, 0)
    finally:
        em.stop()


def test_the_daemon_resumes_from_the_state_at_start(tmp_path: Path) -> None:
    from syncd.service.runner import run_daemon
    from syncd.sync.report import PassReport

    rig = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS))
    try:
        assert rig.sync().ok
        rig.emulator.stats.reset()
        stop = threading.Event()
        reports: list[PassReport] = []

        def on_pass(report: PassReport) -> None:
            reports.append(report)
            stop.set()

        thread = threading.Thread(target=run_daemon, args=(rig.settings,),
                                  kwargs={"stop": stop, "on_pass": on_pass}, daemon=True)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert reports and reports[0].ok
        # no handshake at all: neither login nor version nor context_get
        assert rig.emulator.stats.logins == 0
        assert rig.emulator.stats.calls("res.users") == 0
        stats = rig.emulator.stats
        assert stats.requests == sum(stats.by_call.values())  # every request a model's call
    finally:
        rig.close()
