"""The SQLite sink as a user runs it: the `syncd` command against the emulator over HTTP, the
database read back with Python's sqlite3 as `sqlite3` would. The real command in a subprocess
where a process matters (the first pass, status and check, a kill, another user, a lock held by
another process); the command line run in this process (tests/in_process.py) for the rest."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson
import pytest

from syncd.emulator import Emulator
from syncd.sinks.lock import FileLock
from tests.in_process import cli
from tests.test_cli import SYNCD, environment, one_error_line, syncd, wait_for
from tests.unprivileged import as_nobody, shared_directory
from tests.test_cli import odoo  # noqa: F401  (the fixture)



def config(directory: Path, *, path: Path | None = None, page_size: int = 1000,
           extra_models: str = "") -> Path:
    """A config with the default models into the SQLite sink (``path``, or the default)."""
    sink = '[sink]\nkind = "sqlite"\n' + (f'path = "{path}"\n' if path else "")
    cfg = directory / "syncd.toml"
    cfg.write_text(f"[sync]\npage_size = {page_size}\n[log]\nfile = false\n{sink}{extra_models}",
                   encoding="utf-8")
    return cfg


def rows(database: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(database)) as db:
        return db.execute(sql, args).fetchall()


def test_once_fills_typed_tables_that_say_what_the_record_says(tmp_path: Path,
                                                                odoo: Emulator) -> None:  # noqa: F811
    env = environment(tmp_path, odoo)
    cfg = config(tmp_path)
    result = syncd(tmp_path, env, "--config", str(cfg), "once")
    assert result.returncode == 0, result.stderr
    database = tmp_path / "data" / "odoo.sqlite"
    assert not list((tmp_path / "data").glob("odoo_*.json"))  # nothing but the database
    assert rows(database, "PRAGMA journal_mode") == [("wal",)]
    columns = [r[1] for r in rows(database, "PRAGMA table_info(odoo_customers)")]
    assert columns == ["id", "name", "email", "phone", "is_company", "parent_id", "country_id",
                       "vat", "write_date", "parent_id_name", "country_id_name", "record"]
    customers = rows(database, "SELECT * FROM odoo_customers ORDER BY id")
    assert len(customers) == 12
    for row in customers:
        record = orjson.loads(row[-1])
        assert row[0] == record["id"] and row[1] == record["name"]
        assert row[2] == (record["email"] or None)
        assert row[4] == (1 if record["is_company"] else 0)  # a boolean is 0/1, never NULL
        assert row[5] == (record["parent_id"][0] if record["parent_id"] else None)
        assert row[8] == record["write_date"]
    assert rows(database, "SELECT typeof(is_company), typeof(write_date) FROM odoo_customers "
                          "LIMIT 1") == [("integer", "text")]
    products = rows(database, "SELECT list_price, typeof(list_price), record FROM odoo_products")
    assert len(products) == 7
    assert all(p[0] == orjson.loads(p[2])["list_price"] and p[1] == "real" for p in products)
    # The state lives in the same database, and status / check read it there.
    (last,) = rows(database, "SELECT value FROM syncd_meta WHERE key = 'last_sync'")[0]
    status = syncd(tmp_path, env, "--config", str(cfg), "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"last sync: {last} UTC" in status.stdout
    assert any(line.split()[:6] == ["customers", "res.partner", "odoo.sqlite", "table",
                                     "odoo_customers", "12"]  # FILE: in the data directory
               for line in status.stdout.splitlines()), status.stdout
    listed = orjson.loads(syncd(tmp_path, env, "--config", str(cfg), "status", "--json").stdout)
    assert listed["models"][0]["file"] == f"{database} table odoo_customers"  # not a JSON file
    check = syncd(tmp_path, env, "--config", str(cfg), "check", "--strict")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "customers (res.partner): odoo 12, snapshot 12: in sync" in check.stdout


def test_resync_and_forget_go_through_the_database(tmp_path: Path,
                                                   odoo: Emulator) -> None:  # noqa: F811
    env = environment(tmp_path, odoo)
    extra = '[models.vendors]\nmodel = "res.partner"\nfields = ["name"]\n'
    full = config(tmp_path, extra_models="[models.customers]\nmodel = \"res.partner\"\n"
                  "fields = [\"name\", \"email\"]\n" + extra)
    assert cli(tmp_path, env, "--config", str(full), "once").returncode == 0
    database = tmp_path / "data" / "odoo.sqlite"
    assert rows(database, "SELECT count(*) FROM odoo_vendors") == [(12,)]
    resync = cli(tmp_path, env, "--config", str(full), "resync", "customers")
    assert resync.returncode == 0, resync.stderr
    (text,) = rows(database, "SELECT state FROM syncd_state WHERE name = 'customers'")[0]
    assert orjson.loads(text)["full_resync"] is True and orjson.loads(text)["watermark"] is None
    again = cli(tmp_path, env, "--config", str(full), "-v", "once")
    assert again.returncode == 0 and "model=customers full sync" in again.stderr
    # vendors is no longer configured: --forget drops its table and its state row together.
    (tmp_path / "syncd.toml").write_text(full.read_text().replace(extra, ""))
    forget = cli(tmp_path, env, "--config", str(full), "resync", "--forget", "vendors")
    assert forget.returncode == 0, forget.stderr
    assert rows(database, "SELECT name FROM sqlite_master WHERE name = 'odoo_vendors'") == []
    assert rows(database, "SELECT name FROM syncd_state ORDER BY name") == [("customers",)]
    twice = cli(tmp_path, env, "--config", str(full), "resync", "--forget", "vendors")
    assert twice.returncode == 2 and "nothing to forget" in one_error_line(twice)


def test_another_writer_of_the_same_database_is_refused(tmp_path: Path,
                                                        odoo: Emulator) -> None:  # noqa: F811
    """Two data directories, one database file: the lock beside the file refuses the second."""
    database = tmp_path / "shared.sqlite"
    env = environment(tmp_path, odoo)
    cfg = config(tmp_path, path=database)
    with FileLock(database.with_name("shared.sqlite.lock"), database):
        result = syncd(tmp_path, env, "--config", str(cfg), "once")
    assert result.returncode == 1
    assert f"another syncd (pid {os.getpid()}) is already writing to {database}" \
        in one_error_line(result)
    assert syncd(tmp_path, env, "--config", str(cfg), "once").returncode == 0


def test_a_path_that_is_a_directory_is_a_usage_error(tmp_path: Path,
                                                     odoo: Emulator) -> None:  # noqa: F811
    (tmp_path / "dbdir").mkdir()
    cfg = config(tmp_path, path=tmp_path / "dbdir")
    result = cli(tmp_path, environment(tmp_path, odoo), "--config", str(cfg), "once")
    assert result.returncode == 2
    line = one_error_line(result)
    assert f"{tmp_path / 'dbdir'} is a directory" in line
    assert not list((tmp_path / "dbdir").iterdir())
    assert odoo.stats.calls("res.partner", "search_read") == 0  # refused before contacting


@pytest.fixture
def shared() -> Iterator[Path]:
    with shared_directory("syncd-sqlite-", 0o777) as directory:
        yield directory


def test_a_read_only_database_file_fails_the_pass_naming_it(shared: Path,
                                                            odoo: Emulator) -> None:  # noqa: F811
    env = environment(shared, odoo)
    database = shared / "db" / "odoo.sqlite"
    cfg = config(shared, path=database)
    (shared / "db").mkdir()
    (shared / "db").chmod(0o777)
    first = as_nobody(shared, env, "--config", str(cfg), "once")
    assert first.returncode == 0, first.stderr
    before = rows(database, "SELECT id, record FROM odoo_customers ORDER BY id")
    database.chmod(0o444)
    odoo.db.create("res.partner", {"name": "Late", "is_company": True})
    result = as_nobody(shared, env, "--config", str(cfg), "once")
    assert result.returncode == 1
    line = one_error_line(result)
    assert str(database) in line and "readonly" in line.replace("-", "").replace(" ", "")
    assert rows(database, "SELECT id, record FROM odoo_customers ORDER BY id") == before


def test_a_read_only_database_directory_fails_the_pass_naming_the_file(
        shared: Path, odoo: Emulator) -> None:  # noqa: F811
    env = environment(shared, odoo)
    (shared / "db").mkdir()
    (shared / "db").chmod(0o555)  # root's: nobody can create the database (or its lock) there
    database = shared / "db" / "odoo.sqlite"
    result = as_nobody(shared, env, "--config", str(config(shared, path=database)), "once")
    assert result.returncode == 1
    assert f"cannot write to {database}" in one_error_line(result)
    assert not database.exists()


# -- a killed pass -----------------------------------------------------------------------------
def committed(database: Path) -> tuple[list[str], str | None]:
    """The emails in odoo_customers and the state's last_sync, read as a new reader would."""
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        emails = [r[0] for r in db.execute("SELECT email FROM odoo_customers ORDER BY id")]
        (last,) = db.execute("SELECT value FROM syncd_meta WHERE key = 'last_sync'").fetchone()
        state = dict(db.execute("SELECT name, state FROM syncd_state").fetchall())
    assert orjson.loads(state["customers"])["records"] == len(emails)  # the state moved with it
    return emails, last


def test_sigkill_during_a_rebuild_leaves_the_previous_pass_whole(tmp_path: Path,
                                                                odoo: Emulator) -> None:  # noqa: F811
    """A `syncd once` killed at a random page of a rebuild of 4,000 records, five times: the
    database still holds the previous pass, whole and readable, and the next pass converges."""
    ids = odoo.db.import_records("res.partner", [{"name": f"Customer #{n}", "is_company": True,
                                                  "email": f"round-0-{n}@example.com"}
                                                 for n in range(4000)])
    env = environment(tmp_path, odoo)
    cfg = config(tmp_path, page_size=100)  # 41 pages of customers
    assert cli(tmp_path, env, "--config", str(cfg), "once").returncode == 0
    database = tmp_path / "data" / "odoo.sqlite"
    rng = random.Random(7)
    for round_ in range(1, 6):
        previous, last = committed(database)
        assert cli(tmp_path, env, "--config", str(cfg), "resync", "customers").returncode == 0
        # Every record changes (the email: a rename would also make the emulator recompute
        # its contacts' names, a scan of every partner per write).
        for n, record_id in enumerate(ids):
            odoo.db.write("res.partner", record_id, {"email": f"round-{round_}-{n}@example.com"})
        pages = odoo.stats.calls("res.partner", "search_read") + rng.randint(2, 20)
        proc = subprocess.Popen([SYNCD, "--config", str(cfg), "-q", "once"], cwd=tmp_path,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # Some pages of the rebuild served: the pass is inside its transaction.
            wait_for(lambda: odoo.stats.calls("res.partner", "search_read") >= pages,
                     what="the rebuild's pages")
        finally:
            proc.kill()
            proc.wait()
        assert proc.returncode == -9, "the pass ended before it was killed: make it longer"
        assert committed(database) == (previous, last), f"round {round_}: not the previous pass"
        assert cli(tmp_path, env, "--config", str(cfg), "once").returncode == 0
        emails, _ = committed(database)
        assert emails[-4000:] == [f"round-{round_}-{n}@example.com"
                                  for n in range(4000)]  # converged


def test_demo_into_sqlite(tmp_path: Path) -> None:
    proc = subprocess.Popen([SYNCD, "demo", "--sink", "sqlite", "--seconds", "60",
                             "--interval", "1", "--data-dir", str(tmp_path / "demo")],
                            cwd=tmp_path, env=environment(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    database = tmp_path / "demo" / "odoo.sqlite"

    def two_passes() -> bool:
        if not database.exists():
            return False
        try:
            return len(rows(database, "SELECT 1 FROM syncd_meta WHERE key = 'last_sync'")) == 1 \
                and rows(database, "SELECT count(*) FROM odoo_customers")[0][0] == 800
        except sqlite3.OperationalError:
            return False  # the tables are not there yet

    try:
        wait_for(two_passes, timeout=60, what="the demo's first pass into odoo.sqlite")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert f"the tables stay in {tmp_path / 'demo' / 'odoo.sqlite'}" in out
    assert not list((tmp_path / "demo").glob("odoo_*.json"))
