"""Item 6 of the reliability issue: one writer per sink, with real `syncd run` processes. On
every sink, a second `syncd once` while `run` holds the sink (idle between passes, or in the
middle of one) exits 1 with one line naming the other syncd; with a database sink, so does one
from another data directory writing to the same database; and a lock left behind by a `run`
killed with SIGKILL never blocks: the next `once` takes it over and converges."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.consumer.load import load
from syncd.emulator import Emulator
from syncd.errors import SinkError
from syncd.sinks.lock import LOCK_NAME
from tests.service.kills import SYNCD, config, spawn, truth
from tests.sync_rig import SINKS
from tests.test_cli import one_error_line, wait_for


@pytest.fixture
def em() -> Iterator[Emulator]:
    emulator = Emulator()
    for n in range(30):
        emulator.db.create("res.partner", {"name": f"Customer {n}", "email": f"c{n}@example.com"})
    emulator.db.create("product.product", {"name": "Chair", "list_price": 5})
    emulator.start()
    yield emulator
    emulator.stop()


def setup(tmp: Path, em: Emulator, sink: str, data: str) -> tuple[Path, dict[str, str]]:
    dsn = ""
    if sink == "postgres":
        from tests import pg_server

        dsn = pg_server.server().database_for(str(tmp))
    conf = tmp / f"{data}.toml"
    text = config(em, tmp, sink, dsn, journal=True).replace("interval = 0.05", "interval = 3600")
    conf.write_text(text.replace(f'data_dir = "{tmp / "data"}"', f'data_dir = "{tmp / data}"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ODOO_", "SYNCD_"))}
    env.update(SYNCD_CONFIG=str(conf), PYTHONPATH=str(Path(__file__).resolve().parents[2]),
               XDG_STATE_HOME=str(tmp / "state"))
    return conf, env


def once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SYNCD, "once"], env=env, capture_output=True, text=True, timeout=60)


def refused(result: subprocess.CompletedProcess[str], sink: str, holder: int) -> None:
    assert result.returncode == 1, result.stderr
    line = one_error_line(result)
    assert "another syncd" in line
    if sink != "postgres":  # PostgreSQL names the holder's session (server pid, application)
        assert f"pid {holder}" in line


def stored_matches_odoo(conf: Path, em: Emulator) -> bool:
    try:
        return all(load(conf, name) == truth(em, name) for name in ("customers", "products"))
    except SinkError:  # nothing stored yet
        return False


@pytest.mark.parametrize("sink", SINKS)
def test_one_writer_per_sink_and_a_killed_writers_lock_never_blocks(
        tmp_path: Path, em: Emulator, sink: str) -> None:
    conf, env = setup(tmp_path, em, sink, "data")
    other_conf, other_env = setup(tmp_path, em, sink, "other") if sink != "json" else (conf, env)
    lock_file = {"json": tmp_path / "data" / LOCK_NAME, "sqlite": tmp_path / "odoo.sqlite.lock",
                 "postgres": None}[sink]

    # `run` idle between passes holds the sink.
    daemon = spawn(SYNCD, "-q", "run", env=env)
    try:
        wait_for(lambda: daemon.poll() is not None or stored_matches_odoo(conf, em),
                 what="the daemon's first pass")
        assert daemon.poll() is None, daemon.communicate()
        refused(once(env), sink, daemon.pid)
        if sink != "json":  # another data directory, the same database
            refused(once(other_env), sink, daemon.pid)
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
    if lock_file is not None:
        assert lock_file.exists()  # left behind by the killed process
    em.db.create("res.partner", {"name": "After the first kill", "email": False})
    assert once(env).returncode == 0
    assert stored_matches_odoo(conf, em)

    # `run` in the middle of a pass (its first request answered only when the emulator stops).
    em.db.create("res.partner", {"name": "During the second run", "email": False})
    em.faults.add("latency", seconds=600)
    daemon = spawn(SYNCD, "-q", "run", env=env)
    try:
        wait_for(lambda: daemon.poll() is not None or not em.faults.pending(),
                 what="the daemon's pass to reach Odoo")
        assert daemon.poll() is None, daemon.communicate()
        refused(once(env), sink, daemon.pid)
        if sink != "json":
            refused(once(other_env), sink, daemon.pid)
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
    result = once(env)
    assert result.returncode == 0, result.stderr
    assert stored_matches_odoo(conf, em)
    if sink != "json":
        assert once(other_env).returncode == 0


