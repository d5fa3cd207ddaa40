"""Guarantee 8 through the command: distinctive credentials (a password, an API key, a
PostgreSQL DSN's password) in succeeding and failing passes, at -v too, appear in no output, no
log, no status, no state, no journal, no file of the data directory and no stored row.

JSON-RPC runs the real command in a subprocess; the other protocols and the DSN run the command
line in this process (tests/in_process.py), whose output is captured at fds 1 and 2 as a
subprocess's is (what C code writes there included)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from syncd.emulator import Emulator
from tests.in_process import cli
from tests.test_cli import environment, syncd

PASSWORD = "Pw-Zq7-distinctive-9x"
API_KEY = "Ak-Kx3-distinctive-4w"
WRONG = "Pw-Wr0ng-distinctive-2v"
Runner = Callable[..., subprocess.CompletedProcess[str]]
MODELS = ('[models.customers]\nmodel = "res.partner"\nfields = ["name", "email"]\n'
          "[sync]\njournal = true\nreconcile_interval = 0\n")


def emulated(version: int) -> Emulator:
    em = Emulator(version=version)
    em.db.add_user("sync@example.com", PASSWORD, api_key=API_KEY)
    for n in range(5):
        em.db.create("res.partner", {"name": f"Customer {n}", "email": f"c{n}@example.com"})
    em.start()
    return em


def commands(tmp_path: Path, env: dict[str, str], fail: bool,
             run: Runner = cli) -> list[subprocess.CompletedProcess[str]]:
    """A pass at -v (failing when `fail`), then every local command that shows what it did."""
    results = [run(tmp_path, env, "-v", "once"), run(tmp_path, env, "once"),
               run(tmp_path, env, "status"), run(tmp_path, env, "status", "--json")]
    assert (results[0].returncode != 0) == fail, results[0].stderr
    return results


def leaks(tmp_path: Path, results: list[subprocess.CompletedProcess[str]],
          *secrets: str) -> list[str]:
    """Where any of `secrets` shows: command outputs and every file under `tmp_path` (data
    directory, state and log directories, set-aside files) but the config file itself."""
    found = [f"output of {r.args[1:]}" for r in results for s in secrets
             if s in r.stdout + r.stderr]
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "syncd.toml":
            data = path.read_bytes()
            found += [str(path.relative_to(tmp_path)) for s in secrets if s.encode() in data]
    return found


def write_config(tmp_path: Path, em: Emulator, odoo: str, sink: str = "") -> dict[str, str]:
    text = (f'[odoo]\nurl = "{em.url}"\ndatabase = "{em.db.name}"\n'
            f'username = "sync@example.com"\nretry_budget = 1\n{odoo}' + sink
            + MODELS)
    (tmp_path / "syncd.toml").write_text(text)
    return environment(tmp_path)


@pytest.mark.parametrize("protocol, version, secret", [
    ("jsonrpc", 17, f'password = "{PASSWORD}"\n'),
    ("xmlrpc", 17, f'password = "{PASSWORD}"\n'),
    ("json2", 19, f'api_key = "{API_KEY}"\n'),
])
def test_credentials_leak_nowhere_in_good_and_failing_passes(tmp_path: Path, protocol: str,
                                                             version: int, secret: str) -> None:
    run = syncd if protocol == "jsonrpc" else cli  # one through the real command
    em = emulated(version)
    try:
        env = write_config(tmp_path, em, f'protocol = "{protocol}"\n{secret}')
        results = commands(tmp_path, env, fail=False, run=run)
        em.faults.add("http_500", times=1000, model="res.partner")  # a pass failing mid-way
        em.db.create("res.partner", {"name": "Arrived"})
        results += commands(tmp_path, env, fail=True, run=run)
        em.faults.clear()
        wrong = secret.replace(PASSWORD, WRONG).replace(API_KEY, WRONG)
        env = write_config(tmp_path, em, f'protocol = "{protocol}"\n{wrong}')
        results += commands(tmp_path, env, fail=True, run=run)  # refused credentials
    finally:
        em.stop()
    assert any((tmp_path / "data").glob("*.changes.jsonl"))  # the journal was written
    assert any(tmp_path.rglob("*.log")), "no log file was written: nothing was checked there"
    assert leaks(tmp_path, results, PASSWORD, API_KEY, WRONG) == []


def test_a_dsn_password_leaks_nowhere_nor_into_the_database(tmp_path: Path) -> None:
    import psycopg

    from tests import pg_server

    server = pg_server.server()
    dsn = server.database_for(str(tmp_path))
    dbname = dsn.rsplit("dbname=", 1)[1].split()[0]
    em = emulated(17)
    try:
        good = server.uri(dbname, pg_server.PASSWORD_ROLE, pg_server.PASSWORD)
        env = write_config(tmp_path, em, f'password = "{PASSWORD}"\n',
                           f'[sink]\nkind = "postgres"\ndsn = "{good}"\n')
        results = commands(tmp_path, env, fail=False)
        bad = server.uri(dbname, pg_server.PASSWORD_ROLE, WRONG)
        env = write_config(tmp_path, em, f'password = "{PASSWORD}"\n',
                           f'[sink]\nkind = "postgres"\ndsn = "{bad}"\n')
        results += commands(tmp_path, env, fail=True)
    finally:
        em.stop()
    assert leaks(tmp_path, results, PASSWORD, pg_server.PASSWORD, WRONG) == []
    with psycopg.connect(server.dsn(dbname)) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) "
            "FROM information_schema.tables WHERE table_schema NOT IN "
            "('pg_catalog', 'information_schema')")]
        assert any("odoo_customers" in t for t in tables), tables
        for table in tables:
            rows = conn.execute(f"SELECT CAST(t AS text) FROM {table} t").fetchall()  # type: ignore[arg-type]
            text = "".join(row[0] for row in rows)
            assert pg_server.PASSWORD not in text and PASSWORD not in text, table
