"""The PostgreSQL sink as a user runs it: the `syncd` command against the emulator over HTTP and
a real PostgreSQL server (tests/pg_server.py), read back with psycopg as `psql` would. The real
command in a subprocess where a process matters (the first pass and status, a kill, the
environment and the import path it starts with, a lock held by another process); the command
line run in this process (tests/in_process.py) for the other errors and the passes around a
kill."""

from __future__ import annotations

import os
import random
import socket
import subprocess
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from syncd.settings import SinkSettings
from syncd.emulator import Emulator
from syncd.sinks.postgres.sink import PostgresSink
from tests import pg_server
from tests.sync_rig import sink_settings
from tests.in_process import cli
from tests.test_cli import SYNCD, environment, one_error_line, syncd, wait_for
from tests.test_cli import odoo  # noqa: F401  (the fixture)


def config(directory: Path, dsn: str | None, *, page_size: int = 1000, extra: str = "") -> Path:
    """The default models into the PostgreSQL sink at ``dsn`` (none: the key is left out)."""
    sink = '[sink]\nkind = "postgres"\n' + (f"dsn = {orjson.dumps(dsn).decode()}\n"
                                            if dsn is not None else "") + extra
    cfg = directory / "syncd.toml"
    cfg.write_text(f"[sync]\npage_size = {page_size}\n[log]\nfile = false\n{sink}",
                   encoding="utf-8")
    return cfg


def rows(dsn: str, text: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(text, params).fetchall()  # type: ignore[arg-type]


def printed(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def test_once_status_and_the_tables(tmp_path: Path, odoo: Emulator) -> None:  # noqa: F811
    dsn = sink_settings("postgres", tmp_path).dsn
    env = environment(tmp_path, odoo)
    cfg = config(tmp_path, dsn)
    result = syncd(tmp_path, env, "--config", str(cfg), "once")
    assert result.returncode == 0, result.stderr
    assert rows(dsn, "SELECT count(*), count(DISTINCT record->>'email') FROM odoo_customers") \
        == [(12, 12)]
    assert rows(dsn, "SELECT name, record->>'name' FROM odoo_products ORDER BY id LIMIT 1") == [
        ("Product 0", "Product 0")]
    states = dict(rows(dsn, "SELECT name, (state->>'records')::int FROM syncd_state"))
    assert states == {"": None, "customers": 12, "products": 7}
    assert not list((tmp_path / "data").glob("*.json"))  # no snapshot or state file
    status = syncd(tmp_path, env, "--config", str(cfg), "status", "--json")
    assert status.returncode == 0, status.stderr
    data = orjson.loads(status.stdout)
    assert data["last_sync"] and [m["records"] for m in data["models"]] == [12, 7]


# -- a killed pass -----------------------------------------------------------------------------
def committed(dsn: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The emails in odoo_customers and the state rows, as a new reader sees them."""
    emails = [r[0] for r in rows(dsn, "SELECT email FROM odoo_customers ORDER BY id")]
    state = rows(dsn, "SELECT name, state::text, last_sync FROM syncd_state ORDER BY name")
    assert dict((r[0], orjson.loads(r[1]).get("records")) for r in state)["customers"] == \
        len(emails)  # the state moved with the rows
    return emails, state


def test_sigkill_during_a_rebuild_leaves_the_previous_pass_whole(tmp_path: Path,
                                                                odoo: Emulator) -> None:  # noqa: F811
    """A `syncd once` killed in the middle of the COPY of a rebuild of 4,000 records (at a
    random page), four times: the database still holds the previous pass, whole, and the next
    pass converges."""
    ids = odoo.db.import_records("res.partner", [{"name": f"Customer #{n}", "is_company": True,
                                                  "email": f"round-0-{n}@example.com"}
                                                 for n in range(4000)])
    dsn = sink_settings("postgres", tmp_path).dsn
    env = environment(tmp_path, odoo)
    cfg = config(tmp_path, dsn, page_size=100)  # 41 pages of customers
    assert cli(tmp_path, env, "--config", str(cfg), "once").returncode == 0
    rng = random.Random(11)
    for round_ in range(1, 5):
        previous = committed(dsn)
        assert cli(tmp_path, env, "--config", str(cfg), "resync", "customers").returncode == 0
        # Every record changes (the email: a rename would also make the emulator recompute
        # its contacts' names, a scan of every partner per write).
        for n, record_id in enumerate(ids):
            odoo.db.write("res.partner", record_id, {"email": f"round-{round_}-{n}@example.com"})
        resynced = committed(dsn)
        pages = odoo.stats.calls("res.partner", "search_read") + rng.randint(2, 30)
        # Slow answers keep the pass inside its rebuild long enough to be killed there.
        odoo.faults.add(kind="latency", times=10_000, seconds=0.05)
        proc = subprocess.Popen([SYNCD, "--config", str(cfg), "-q", "once"], cwd=tmp_path,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: odoo.stats.calls("res.partner", "search_read") >= pages,
                     what="the rebuild's pages")
            copying = rows(dsn, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                "'COPY %%odoo_customers.new%%' AND state = 'active'")
        finally:
            proc.kill()
            proc.wait()
            odoo.faults.clear()
        assert proc.returncode == -9, "the pass ended before it was killed: make it longer"
        assert copying == [(1,)]  # killed inside the rebuild's COPY
        assert committed(dsn) == resynced, f"round {round_}: not the previous pass"
        assert resynced[0] == previous[0]
        assert rows(dsn, "SELECT count(*) FROM pg_class WHERE relname LIKE '%%.new'") == [(0,)]
        # The killed syncd's sessions end with it (their lock too): then the next pass runs.
        wait_for(lambda: rows(dsn, "SELECT count(*) FROM pg_locks WHERE locktype = "
                                   "'advisory'") == [(0,)], what="the killed session's end")
        result = cli(tmp_path, env, "--config", str(cfg), "once")
        assert result.returncode == 0, result.stderr
        emails, _ = committed(dsn)
        assert emails[-4000:] == [f"round-{round_}-{n}@example.com"
                                  for n in range(4000)]  # converged


# -- bad input -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("where", ["socket", "tcp"])
def test_an_unreachable_database_is_one_line_exit_1(tmp_path: Path, odoo: Emulator,  # noqa: F811
                                                    where: str) -> None:
    dsn = (f"host={tmp_path / 'no-server'} dbname=odoo" if where == "socket"
           else f"host=127.0.0.1 port={free_port()} dbname=odoo")
    env = environment(tmp_path, odoo)
    result = cli(tmp_path, env, "--config", str(config(tmp_path, dsn)), "once")
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith("syncd: error: PostgreSQL (connecting): connection")
    assert ("No such file or directory" if where == "socket" else "Connection refused") in line


def test_a_refused_password_is_exit_1_and_never_printed(tmp_path: Path,
                                                        odoo: Emulator) -> None:  # noqa: F811
    server = pg_server.server()
    sink_settings("postgres", tmp_path)  # the database, which the password role may use
    database = server.databases[str(tmp_path)]
    wrong = "Wr0ng-pw-Zq81"
    env = environment(tmp_path, odoo)
    for dsn in (server.uri(database, pg_server.PASSWORD_ROLE, wrong),
                f"{server.dsn(database, pg_server.PASSWORD_ROLE)} password='{wrong}'"):
        cfg = config(tmp_path, dsn)
        for args in (["once"], ["-v", "once"], ["status"]):
            result = cli(tmp_path, env, "--config", str(cfg), *args)
            assert result.returncode == 1, (args, result.stderr)
            assert wrong not in printed(result)
            assert "password authentication failed" in result.stderr
            if "-v" not in args:
                one_error_line(result)
    right = server.uri(database, pg_server.PASSWORD_ROLE, pg_server.PASSWORD)
    result = cli(tmp_path, env, "--config", str(config(tmp_path, right)), "-v", "once")
    assert result.returncode == 0, result.stderr
    assert pg_server.PASSWORD not in printed(result)  # -v logs the settings, never the secret
    assert rows(server.dsn(database), "SELECT tableowner FROM pg_tables WHERE tablename = "
                                      "'odoo_customers'") == [(pg_server.PASSWORD_ROLE,)]


def test_without_psycopg_the_error_names_the_extra(tmp_path: Path) -> None:
    fake = tmp_path / "no-psycopg"
    fake.mkdir()
    (fake / "psycopg.py").write_text('raise ImportError("no module named psycopg")\n')
    env = environment(tmp_path, PYTHONPATH=str(fake), ODOO_DB="odoo", ODOO_USERNAME="admin",
                      ODOO_PASSWORD="p")
    cfg = config(tmp_path, "dbname=odoo")
    for command in ("once", "status"):
        result = syncd(tmp_path, env, "--config", str(cfg), command)
        assert result.returncode == 2
        line = one_error_line(result)
        assert line.startswith("syncd: error: [sink].kind = \"postgres\" needs psycopg, not "
                               "installed: in the clone, .venv/bin/pip install -e '.[postgres]'")
        assert "syncd[postgres]" not in line  # no package of that name on any index


@pytest.mark.parametrize(("dsn", "extra", "key"), [
    ("dbname=odoo", 'schema = "my-schema"\n', "[sink].schema"),
    ("host", "", "[sink].dsn"),
    ("postgresql://u:Pw-in-a-bad-uri@h/db?nosuch=1", "", "[sink].dsn"),
])
def test_bad_values_are_exit_2_naming_the_key(tmp_path: Path, dsn: str, extra: str,
                                              key: str) -> None:
    result = cli(tmp_path, environment(tmp_path), "--config",
                   str(config(tmp_path, dsn, extra=extra)), "status")
    assert result.returncode == 2
    line = one_error_line(result)
    assert key in line and "Pw-in-a-bad-uri" not in line


def test_another_writer_of_the_same_schema_is_refused(tmp_path: Path,
                                                      odoo: Emulator) -> None:  # noqa: F811
    dsn = sink_settings("postgres", tmp_path).dsn
    holder = PostgresSink(SinkSettings(kind="postgres", dsn=dsn))
    try:
        with holder.lock():
            result = syncd(tmp_path, environment(tmp_path, odoo), "--config",
                           str(config(tmp_path, dsn)), "once")
        assert result.returncode == 1
        line = one_error_line(result)
        assert "another syncd is writing to PostgreSQL database" in line
        assert f"syncd pid={os.getpid()}" in line
    finally:
        holder.close()


def test_the_environment_gives_the_connection(tmp_path: Path, odoo: Emulator) -> None:  # noqa: F811
    """SYNCD_PG_DSN overrides the file's dsn; libpq's PG* variables and ~/.pgpass fill what
    the DSN leaves out."""
    server = pg_server.server()
    dsn = sink_settings("postgres", tmp_path).dsn
    database = server.databases[str(tmp_path)]
    broken = config(tmp_path, f"host={tmp_path / 'nowhere'}")
    env = environment(tmp_path, odoo, SYNCD_PG_DSN=dsn)
    assert syncd(tmp_path, env, "--config", str(broken), "once").returncode == 0
    home = tmp_path / "home"
    home.mkdir()
    pgpass = home / ".pgpass"
    pgpass.write_text(f"*:*:*:{pg_server.PASSWORD_ROLE}:{pg_server.PASSWORD}\n")
    pgpass.chmod(0o600)
    env = environment(tmp_path, odoo, HOME=str(home), PGHOST=str(server.socket_dir),
                      PGPORT=str(pg_server.PORT), PGDATABASE=database,
                      PGUSER=pg_server.PASSWORD_ROLE)
    cfg = config(tmp_path, None, extra='schema = "from_env"\n')
    result = syncd(tmp_path, env, "--config", str(cfg), "once")
    assert result.returncode == 0, result.stderr
    assert rows(dsn, "SELECT count(*) FROM from_env.odoo_customers") == [(12,)]
