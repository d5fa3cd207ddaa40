"""The real `syncd` command in a subprocess, as a user runs it, against the emulator over HTTP."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from syncd.cli import COMMANDS, build_parser
from syncd.emulator import Emulator
from syncd.sinks.lock import DataDirLock

SYNCD = str(Path(sys.executable).with_name("syncd"))
SECRET = "S3cr3t-Pa55-zq9"


@pytest.fixture
def odoo() -> Iterator[Emulator]:
    em = Emulator(version=17)
    em.start()
    for n in range(12):
        em.db.create("res.partner", {"name": f"Customer {n}", "email": f"c{n}@example.com",
                                     "is_company": True})
    for n in range(7):
        em.db.create("product.product", {"name": f"Product {n}", "default_code": f"P-{n:03d}",
                                         "list_price": 10.0 + n})
    yield em
    em.stop()


def environment(tmp_path: Path, em: Emulator | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ODOO_", "SYNCD_", "NOTIFY_SOCKET", "WATCHDOG_"))}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"),
               SYNCD_DATA_DIR=str(tmp_path / "data"))
    if em is not None:
        env.update(ODOO_URL=em.url, ODOO_DB=em.db.name, ODOO_USERNAME=em.login,
                   ODOO_PASSWORD=em.password)
    env.update(extra)
    return env


def syncd(tmp_path: Path, env: dict[str, str], *args: str,
          timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SYNCD, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("syncd: error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def wait_for(condition: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling a condition with a deadline, not waiting for time to pass


def test_help_lists_every_command(tmp_path: Path) -> None:
    """Every command the parser has (read from it: commands are added over time), each on a
    line of its own with its one-line description."""
    action = next(a for a in build_parser()._actions
                  if isinstance(a, argparse._SubParsersAction))
    commands = set(action.choices)
    assert commands == set(COMMANDS) and commands
    result = syncd(tmp_path, environment(tmp_path), "--help")
    assert result.returncode == 0
    listed = set(re.findall(r"^    ([a-z]+) +\S", result.stdout, re.MULTILINE))
    assert listed == commands


def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    result = syncd(tmp_path, environment(tmp_path), "frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in one_error_line(result)
    result = syncd(tmp_path, environment(tmp_path), "-v", "-q", "once")
    assert result.returncode == 2


def test_configuration_errors_exit_2_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "syncd.toml").write_text('[sync]\nintervall = 5\n')
    result = syncd(tmp_path, environment(tmp_path), "once")
    assert result.returncode == 2
    assert "intervall" in one_error_line(result)


def test_once_then_status(tmp_path: Path, odoo: Emulator) -> None:
    env = environment(tmp_path, odoo)
    result = syncd(tmp_path, env, "once")
    assert result.returncode == 0, result.stderr
    customers = orjson.loads((tmp_path / "data" / "odoo_customers.json").read_bytes())
    assert len(customers) == 12 and customers == sorted(customers, key=lambda r: r["id"])
    assert "model=customers" in result.stderr and "fetched=12" in result.stderr
    status = syncd(tmp_path, env, "status", "--json")
    assert status.returncode == 0
    data = orjson.loads(status.stdout)
    assert data["last_sync"] and [m["records"] for m in data["models"]] == [12, 7]
    assert all(m["watermark"] for m in data["models"])
    text = syncd(tmp_path, env, "status")
    assert "customers" in text.stdout and "res.partner" in text.stdout and "12" in text.stdout


def test_refused_credentials_exit_1_and_never_print_the_secret(tmp_path: Path,
                                                               odoo: Emulator) -> None:
    env = environment(tmp_path, odoo, ODOO_PASSWORD=SECRET)
    for args in (["once"], ["-v", "once"], ["check"]):
        result = syncd(tmp_path, env, *args)
        assert result.returncode == 1, result.stderr
        assert SECRET not in result.stdout + result.stderr
        if "-v" not in args:
            assert "credentials" in one_error_line(result).lower() or \
                "access denied" in one_error_line(result).lower()
    status = syncd(tmp_path, env, "status", "--json")
    assert SECRET not in status.stdout and status.returncode == 1
    logs = "".join(p.read_text() for p in (tmp_path / "state").rglob("*.log"))
    assert SECRET not in logs


def test_an_empty_password_is_a_usage_error_before_connecting(tmp_path: Path) -> None:
    with Emulator(18) as em:
        env = environment(tmp_path, em, ODOO_PASSWORD="")
        for args in (["once"], ["check"]):
            result = syncd(tmp_path, env, *args)
            assert result.returncode == 2, result.stderr
            line = one_error_line(result)
            assert "ODOO_PASSWORD" in line and "ODOO_API_KEY" in line
            assert "AssertionError" not in result.stderr
        assert em.stats.logins == 0


def test_unreachable_odoo_exits_1(tmp_path: Path) -> None:
    env = environment(tmp_path, None, ODOO_URL="http://127.0.0.1:9", ODOO_DB="x",
                      ODOO_USERNAME="u", ODOO_PASSWORD="p")
    result = syncd(tmp_path, env, "once", timeout=120)
    assert result.returncode == 1
    one_error_line(result)


def test_a_second_writer_is_refused(tmp_path: Path, odoo: Emulator) -> None:
    env = environment(tmp_path, odoo)
    with DataDirLock(tmp_path / "data"):
        result = syncd(tmp_path, env, "once")
    assert result.returncode == 1
    assert "another syncd" in one_error_line(result)
    assert syncd(tmp_path, env, "once").returncode == 0  # released: works again


def test_check_compares_counts_and_writes_nothing(tmp_path: Path, odoo: Emulator) -> None:
    env = environment(tmp_path, odoo)
    result = syncd(tmp_path, env, "check")
    assert result.returncode == 0, result.stderr
    assert "17.0" in result.stdout and "jsonrpc" in result.stdout
    assert "odoo 12" in result.stdout and "no snapshot yet" in result.stdout
    assert not list((tmp_path / "data").glob("*.json")) if (tmp_path / "data").exists() else True
    syncd(tmp_path, env, "once")
    assert "in sync" in syncd(tmp_path, env, "check").stdout


def test_resync_rebuilds_the_named_model(tmp_path: Path, odoo: Emulator) -> None:
    env = environment(tmp_path, odoo)
    assert syncd(tmp_path, env, "once").returncode == 0
    assert syncd(tmp_path, env, "resync", "nope").returncode == 2
    result = syncd(tmp_path, env, "resync", "customers")
    assert result.returncode == 0 and "customers" in result.stdout
    result = syncd(tmp_path, env, "once")
    assert result.returncode == 0
    lines = {line.split("model=")[1].split()[0]: line for line in result.stderr.splitlines()
             if "fetched=" in line}
    assert "full=yes" in lines["customers"] and "full=yes" not in lines["products"]


# Where a pass is when the stop comes: between pages of a slow stream, waiting for an answer
# slower than the stop allows (120 s), or pausing before a retry as a 429's Retry-After asks
# (100 s: within the 120 s retry budget, so syncd does wait; a longer one fails at once).
STOP_POINTS = {
    "between-pages": dict(kind="latency", times=1000, seconds=0.3),
    "slow-answer": dict(kind="latency", times=1000, seconds=120),
    "retry-after": dict(kind="http_429", times=1000, retry_after=100),
}


@pytest.mark.parametrize("where", STOP_POINTS)
def test_run_stops_on_sigterm_during_a_pass_with_whole_files(tmp_path: Path, odoo: Emulator,
                                                            where: str) -> None:
    env = environment(tmp_path, odoo)
    (tmp_path / "syncd.toml").write_text('[sync]\ninterval = 1\npage_size = 2\n')
    proc = subprocess.Popen([SYNCD, "run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        state = tmp_path / "data" / "last_sync.json"
        wait_for(state.exists, what="the first pass")
        odoo.faults.add(**STOP_POINTS[where])  # type: ignore[arg-type]
        seen = odoo.stats.requests
        wait_for(lambda: odoo.stats.requests > seen, what="a pass under way")
        # Read only now: passes never overlap, so the one before this slowed one has committed.
        before = {p.name: p.read_bytes() for p in (tmp_path / "data").glob("*.json")}
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert time.monotonic() - started < 10
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        # The interrupted pass committed nothing: every file is whole and as it was.
        assert {p.name: p.read_bytes() for p in (tmp_path / "data").glob("*.json")} == before
    finally:
        if proc.poll() is None:
            proc.kill()
        odoo.faults.clear()


def test_a_pass_failing_for_the_same_reason_is_logged_once(tmp_path: Path,
                                                           odoo: Emulator) -> None:
    env = environment(tmp_path, odoo, ODOO_PASSWORD="wrong")
    (tmp_path / "syncd.toml").write_text('[sync]\ninterval = 0.2\n')
    proc = subprocess.Popen([SYNCD, "run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: odoo.stats.logins >= 4, what="four refused passes")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        refused = [line for line in err.splitlines()
                   if "refused the credentials" in line and " INFO " not in line]
        assert len(refused) == 1 and " ERROR " in refused[0], err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_once_that_fails_says_so_in_exactly_one_line(tmp_path: Path, odoo: Emulator) -> None:
    result = syncd(tmp_path, environment(tmp_path, odoo, ODOO_PASSWORD="wrong"), "once")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [one_error_line(result)]


def test_demo_produces_snapshots_that_change(tmp_path: Path) -> None:
    env = environment(tmp_path)
    proc = subprocess.Popen([SYNCD, "--data-dir", str(tmp_path / "demo"), "demo",
                             "--interval", "1"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    path = tmp_path / "demo" / "odoo_customers.json"
    try:
        wait_for(path.exists, timeout=60, what="the first snapshot")
        first = orjson.loads(path.read_bytes())
        assert len(first) > 100
        wait_for(lambda: orjson.loads(path.read_bytes()) != first, timeout=60,
                 what="a change to land")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert "emulator" in out and "pass done" in out and "odoo:" in out
        assert "fetched=" not in out + err  # its own line per pass, not the INFO log lines
    finally:
        if proc.poll() is None:
            proc.kill()


def test_watch_prints_one_line_per_committed_snapshot_change(tmp_path: Path) -> None:
    import queue
    import threading

    from syncd.sinks.atomic import write_atomic
    from syncd.sinks.datadir import DataDir
    from syncd.sinks.json.snapshot import encode
    from syncd.sinks.record import Layout
    from syncd.sync.state import ModelState, State

    def commit(records: list[dict[str, object]]) -> None:
        """What a pass does: the snapshot in place, then the state that commits it."""
        write_atomic(data / "odoo_customers.json", encode(map(Layout(["name"]).line, records)))
        DataDir(data).stage_state(State(models={"customers": ModelState()})).commit()

    data = tmp_path / "data"
    data.mkdir()
    proc = subprocess.Popen([SYNCD, "--data-dir", str(data), "watch"], cwd=tmp_path,
                            env=environment(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    try:
        assert "watching" in lines.get(timeout=20)
        commit([{"id": 1, "name": "A"}, {"id": 2, "name": "B"}])
        assert "customers: 2 records (+2 added, ~0 updated, -0 removed)" in lines.get(timeout=20)
        commit([{"id": 2, "name": "B2"}, {"id": 3, "name": "C"}])
        assert "customers: 2 records (+1 added, ~1 updated, -1 removed)" in lines.get(timeout=20)
        write_atomic(data / "odoo_customers.json", b"[]\n")  # no state commits it: no line
        write_atomic(data / "last_sync.json", b"{}")  # a state without the model: no line
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert lines.empty()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_an_unusable_data_directory_is_one_line_exit_1(tmp_path: Path) -> None:
    """A file where the data directory (or a directory above it) must be: one line naming the
    file in the way, not the OS's bare "File exists" or "Not a directory"."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    env = environment(tmp_path, None, ODOO_URL="http://127.0.0.1:9", ODOO_DB="x",
                      ODOO_USERNAME="u", ODOO_PASSWORD="p")
    inside = blocker / "data"
    for data_dir, said in ((blocker, ""), (inside, f" (in the way of {inside})")):
        result = syncd(tmp_path, env, "--data-dir", str(data_dir), "once")
        assert result.returncode == 1
        assert one_error_line(result) == \
            f"syncd: error: {blocker} is a file where syncd needs a directory{said}"
    assert blocker.read_text() == "not a directory"
