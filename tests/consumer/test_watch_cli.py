"""`syncd watch [NAME ...] [--json]` as a user runs it: the real console script following the
journal while `syncd once` writes it from another process (the test's: the command line run in
this process, tests/in_process.py; the emulator over HTTP)."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
from pathlib import Path

import orjson
import pytest

from syncd.emulator import Emulator
from tests.sync_rig import SINKS, sink_settings
from tests.in_process import cli
from tests.test_cli import SYNCD, environment, odoo, one_error_line, wait_for  # noqa: F401

CONFIG = '[sync]\njournal = true\n\n[models.customers]\nmodel = "res.partner"\n' \
         'fields = ["name", "email"]\n'


def sink_table(kind: str, tmp_path: Path) -> str:
    """The `[sink]` table of a configuration writing to a sink of ``kind``."""
    settings = sink_settings(kind, tmp_path)
    if kind == "json":
        return ""
    where = f'path = "{settings.path}"' if kind == "sqlite" else f'dsn = "{settings.dsn}"'
    return f'\n[sink]\nkind = "{kind}"\n{where}\n'


@pytest.mark.parametrize("kind", SINKS)
def test_watch_json_prints_one_object_per_change(tmp_path: Path, odoo: Emulator,  # noqa: F811
                                                 kind: str) -> None:
    (tmp_path / "syncd.toml").write_text(CONFIG + sink_table(kind, tmp_path), encoding="utf-8")
    env = environment(tmp_path, odoo)
    assert cli(tmp_path, env, "once").returncode == 0
    proc = subprocess.Popen([SYNCD, "watch", "customers", "--json"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    try:
        assert "watching" in proc.stderr.readline()  # the baseline is taken: stdout is JSON only
        odoo.db.create("res.partner", {"name": "New", "email": "new@example.com",
                                       "is_company": True})
        odoo.db.write("res.partner", [1, 2], {"name": "Renamed"})
        assert cli(tmp_path, env, "once").returncode == 0
        change = orjson.loads(lines.get(timeout=20))
        assert change["model"] == "customers" and change["records"] == 13
        assert (change["added"], change["updated"], change["removed"]) == (1, 2, 0)
        assert change["ids"] == {"added": [13], "updated": [1, 2], "removed": []}
        assert change["reset"] is False and change["seq"] == 4  # reset, then 3 upserts
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert lines.empty()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_watch_of_an_unknown_model_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    result = cli(tmp_path, environment(tmp_path), "watch", "nosuch")
    assert result.returncode == 2
    assert "unknown model nosuch" in one_error_line(result)


def handled(pid: int, sig: signal.Signals) -> bool:
    """The process ``pid`` has a handler for ``sig``. Python handles SIGINT from early in its
    start-up, but nobody handles SIGTERM until syncd's launcher does: from then on a signal is
    syncd's to handle (before, the interpreter is still starting, which no program controls)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (sig - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_watch_on_sqlite_exits_0_on_a_signal_at_any_moment(tmp_path: Path, odoo: Emulator,  # noqa: F811
                                                           sig: signal.Signals) -> None:
    """From the moment syncd's launcher runs (while the command line still loads, while the
    database opens, while it waits), SIGINT and SIGTERM end `watch --json` with exit 0 and no
    traceback."""
    (tmp_path / "syncd.toml").write_text('[sink]\nkind = "sqlite"\n' + CONFIG, encoding="utf-8")
    env = environment(tmp_path, odoo)
    assert cli(tmp_path, env, "once").returncode == 0
    for moment in ("loading", "greeted"):
        proc = subprocess.Popen([SYNCD, "watch", "--json"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            if moment == "loading":
                wait_for(lambda: handled(proc.pid, signal.SIGTERM), what="syncd's launcher")
            else:
                assert proc.stderr is not None and "watching" in proc.stderr.readline()
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, (moment, err)
            assert "Traceback" not in err and out == ""
        finally:
            if proc.poll() is None:
                proc.kill()
