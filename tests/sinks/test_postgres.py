"""The PostgreSQL sink against a real server (tests/pg_server.py): typed columns, one transaction
per pass, readers during a rebuild, NOTIFY at commit, only changed rows touched, the lock, the
state table, the journal. The Sink contract itself is tests/sinks/test_sink_contract.py."""

from __future__ import annotations

import os
import select
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from syncd.consumer.load import records as stored_records
from syncd.settings import ModelSpec, Settings, SinkSettings, SyncSettings, dsn_secrets
from syncd.errors import CorruptFileError, LockedError
from syncd.sinks.database import columns_for
from syncd.sinks.factory import make_sink
from syncd.sinks.postgres.sink import PostgresSink
from syncd.sinks.record import Layout
from syncd.sync.changes import ChangeSet, RebuildReason
from syncd.sync.upserts import Upserts
from syncd.sync.report import ModelReport
from syncd.sync.state import ModelState, State
from tests.sync_rig import make_rig, partner, sink_settings

TYPES = {"name": "char", "qty": "float", "count": "integer", "done": "boolean", "day": "date",
         "at": "datetime", "partner_id": "many2one", "tag_ids": "many2many", "data": "json"}
FIELDS = tuple(TYPES)


@pytest.fixture
def dsn(tmp_path: Path) -> str:
    return sink_settings("postgres", tmp_path).dsn


def open_sink(dsn: str, *, schema: str = "public", journal: bool = False) -> PostgresSink:
    return PostgresSink(SinkSettings(kind="postgres", dsn=dsn, schema=schema), journal=journal)


@pytest.fixture
def sink(dsn: str) -> Iterator[PostgresSink]:
    opened = open_sink(dsn)
    yield opened
    opened.close()


def query(dsn: str, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(text, params).fetchall()  # type: ignore[arg-type]


def item(n: int, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"id": n, "name": f"Ünïcødé {n}", "qty": 1.5, "count": n,
                              "done": n % 2 == 0, "day": "2026-02-28", "at": "2026-01-01 10:00:00",
                              "partner_id": [7, "Acme, Inc."], "tag_ids": [3, 5],
                              "data": {"k": [1, "x"]}}
    values.update(extra)
    return values


def a_change(name: str, state: ModelState, *, rebuild: list[dict[str, Any]] | None = None,
             upserts: list[dict[str, Any]] = (), removals: set[int] = frozenset()) -> ChangeSet:
    state.types = dict(TYPES)
    return ChangeSet(name=name, fields=FIELDS, state=state,
                     report=ModelReport(name=name, model="x.model"),
                     upserts=Upserts.of(FIELDS, upserts), removals=set(removals),
                     rebuild=iter([(r, Layout(FIELDS).line(r)) for r in rebuild])
                     if rebuild is not None else None,
                     reasons=[RebuildReason.FIRST_SYNC] if rebuild is not None else [])


def commit(sink: PostgresSink, name: str, *, at: str | None = None, **kwargs: Any) -> Any:
    state = sink.load_state()
    model = state.model(name)
    writer = sink.begin(at=at)
    applied = writer.write(a_change(name, model, **kwargs))
    model.records = applied.records
    writer.commit(state)
    return applied


# -- the DSN's secrets ---------------------------------------------------------------------------
def test_the_password_of_a_dsn_is_a_secret_in_every_form_it_may_be_echoed() -> None:
    assert dsn_secrets("host=db user=u password=pl41n dbname=x") == ("pl41n",)
    assert set(dsn_secrets(r"host=db password='a b\'c' user=u")) == {r"'a b\'c'", "a b'c"}
    assert set(dsn_secrets("postgresql://u:p%40ss@db:5432/x")) == {"p%40ss", "p@ss"}
    assert dsn_secrets("postgres://db/x?user=u&password=qq9&sslmode=disable") == ("qq9",)
    assert dsn_secrets("postgresql://u@db/x") == dsn_secrets("dbname=x") == ()
    settings = Settings(sink=SinkSettings(kind="postgres", dsn="password=pl41n"))
    assert "pl41n" in settings.secrets() and "pl41n" not in repr(settings)


# -- tables and types ----------------------------------------------------------------------------
def test_typed_columns_hold_what_record_says(sink: PostgresSink, dsn: str) -> None:
    records = [item(1), item(2, name=False, qty=False, count=0, done=False, day=False, at=False,
                            partner_id=False, tag_ids=[], data=False),
               item(3, qty=0.0, data=[1, 2.5, None], tag_ids=[9])]
    commit(sink, "things", rebuild=records)
    columns = columns_for(FIELDS, TYPES)
    types = dict(query(dsn, "SELECT column_name, format_type(a.atttypid, a.atttypmod) "
                            "FROM information_schema.columns c JOIN pg_attribute a ON "
                            "a.attrelid = 'odoo_things'::regclass AND a.attname = c.column_name "
                            "WHERE table_name = 'odoo_things'"))
    assert types == {"id": "bigint", "name": "text", "qty": "double precision", "count": "bigint",
                     "done": "boolean", "day": "date", "at": "timestamp without time zone",
                     "partner_id": "bigint", "partner_id_name": "text", "tag_ids": "bigint[]",
                     "data": "jsonb", "record": "jsonb"}
    names = ", ".join(["record"] + [f'"{c.name}"::text' for c in columns])
    for row in query(dsn, f"SELECT {names} FROM odoo_things ORDER BY id"):
        record, texts = row[0], dict(zip((c.name for c in columns), row[1:]))
        # Every typed column is what the column's rule makes of `record` (a jsonb, decoded).
        for column in columns:
            want = column.value(record)
            shown = texts[column.name]
            if want is None:
                assert shown is None, (column.name, record)
            elif column.kind == "boolean":
                assert shown == ("true" if want else "false")
            elif column.kind == "ids":
                assert shown == "{" + ",".join(map(str, want)) + "}"
            elif column.kind == "json":
                assert orjson.loads(shown) == want
            elif column.kind == "float":
                assert float(shown) == want
            else:
                assert shown == str(want), (column.name, shown, want)
    assert [r for r in stored_records(sink, "things")] == records  # record: exactly the snapshot object
    assert query(dsn, "SELECT data FROM odoo_things ORDER BY id") == [
        ({"k": [1, "x"]},), (None,), ([1, 2.5, None],)]


def test_a_rig_pass_fills_typed_columns_from_odoo(tmp_path: Path) -> None:
    spec = ModelSpec(name="people", model="res.partner",
                     fields=("name", "is_company", "parent_id", "customer_rank", "category_id",
                             "write_date"))
    rig = make_rig(tmp_path, models=(spec,), sink="postgres")
    try:
        boss = rig.db.create("res.partner", partner(None, 1))
        rig.db.create("res.partner", partner(None, 2, company=False, parent_id=boss,
                                             customer_rank=3))
        assert rig.sync().ok
        rig.assert_in_sync()
        rows = query(rig.settings.sink.dsn,
                     "SELECT id, name, is_company, parent_id, parent_id_name, customer_rank, "
                     "category_id, write_date::text, record->>'write_date' FROM odoo_people "
                     "ORDER BY id")
        assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
            (boss, "Partner 1", True, None, None, 0),
            (boss + 1, "Partner 2", False, boss, "Partner 1", 3)]
        assert all(r[6] == [] and r[7] == r[8] for r in rows)  # timestamp = Odoo's naive UTC
    finally:
        rig.close()


# -- one transaction -------------------------------------------------------------------------------
def test_readers_see_the_old_table_during_a_rebuild_and_notify_comes_at_commit(
        tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(ModelSpec(name="customers", model="res.partner",
                                               fields=("name",)),), page_size=10, sink="postgres")
    dsn = rig.settings.sink.dsn
    listener = psycopg.connect(dsn, autocommit=True)
    try:
        for n in range(30):
            rig.db.create("res.partner", partner(None, n))
        assert rig.sync().ok
        before = query(dsn, "SELECT record FROM odoo_customers ORDER BY id")
        listener.execute("LISTEN syncd")
        rig.db.import_records("res.partner", [partner(None, n) for n in range(100, 150)])
        other = make_sink(rig.settings)
        state = other.load_state()
        state.request_resync(["customers"], ["customers"])  # the next pass rebuilds it
        other.begin().commit(state)
        other.close()
        drain(listener)
        seen: list[int] = []
        heard: list[str] = []

        def meanwhile() -> None:  # before each page of the rebuild: what a reader sees
            seen.append(len(query(dsn, "SELECT id FROM odoo_customers")))
            heard.extend(drain(listener))

        assert rig.sync(meanwhile).ok
        assert len(seen) >= 5 and set(seen) == {len(before)}  # never a half-built table
        assert heard == []  # nothing announced before the commit
        assert wait_notified(listener) == ["customers"]
        assert len(query(dsn, "SELECT id FROM odoo_customers")) == 80
        rig.assert_in_sync()
    finally:
        listener.close()
        rig.close()


def drain(conn: psycopg.Connection[Any]) -> list[str]:
    return [n.payload for n in conn.notifies(timeout=0, stop_after=100)]


def wait_notified(conn: psycopg.Connection[Any], timeout: float = 10) -> list[str]:
    """The payloads arrived (waits for the first with a deadline, then takes what is there)."""
    select.select([conn.fileno()], [], [], timeout)
    return drain(conn)


def test_a_pass_failing_on_the_database_commits_nothing_and_says_why(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, sink="postgres")
    dsn = rig.settings.sink.dsn
    try:
        for n in range(5):
            rig.db.create("res.partner", partner(None, n))
        assert rig.sync().ok
        before = query(dsn, "SELECT name, state::text, last_sync FROM syncd_state ORDER BY name")
        rows = query(dsn, "SELECT record FROM odoo_customers ORDER BY id")
        rig.db.create("res.partner", partner(None, 77))
        killed = []

        def kill_the_writer() -> None:  # the server ends the pass's session mid-pass
            if not killed:
                killed.extend(query(dsn, "SELECT pg_terminate_backend(pid) FROM "
                                         "pg_stat_activity WHERE application_name LIKE "
                                         "'syncd pid=%%' AND pid <> pg_backend_pid()"))

        report = rig.sync(kill_the_writer)
        assert killed and not report.ok
        assert report.error is not None and report.error.startswith("customers: PostgreSQL")
        assert "unexpected" not in report.error  # a database failure, not a bug
        assert query(dsn, "SELECT name, state::text, last_sync FROM syncd_state "
                          "ORDER BY name") == before
        assert query(dsn, "SELECT record FROM odoo_customers ORDER BY id") == rows
        assert rig.sync().ok  # a new connection, and the pass catches up
        rig.assert_in_sync()
    finally:
        rig.close()


def test_in_place_touches_only_changed_rows(sink: PostgresSink, dsn: str) -> None:
    commit(sink, "things", rebuild=[item(n) for n in range(1, 6)])
    versions = dict(query(dsn, "SELECT id, xmin::text FROM odoo_things"))
    applied = commit(sink, "things", upserts=[item(1), item(2, name="new"), item(3), item(9)],
                     removals={5, 404})
    assert (applied.changed, applied.removed, applied.records) == (2, 1, 5)
    after = dict(query(dsn, "SELECT id, xmin::text FROM odoo_things"))
    assert {i for i in after if after[i] != versions.get(i)} == {2, 9}  # 1, 3 and 4 untouched
    assert query(dsn, "SELECT name, record->>'name' FROM odoo_things WHERE id = 2") == [
        ("new", "new")]


def test_forget_and_state_rows(sink: PostgresSink, dsn: str) -> None:
    commit(sink, "old", rebuild=[item(1)])
    commit(sink, "kept", rebuild=[item(2)])
    assert sorted(r[0] for r in query(dsn, "SELECT name FROM syncd_state")) == ["", "kept", "old"]
    state = sink.load_state()
    writer = sink.begin()
    writer.forget("old")
    state.models.pop("old")
    writer.abort()  # aborted: nothing forgotten
    assert sink.exists("old") and "old" in sink.load_state().models
    writer = sink.begin()
    writer.forget("old")
    writer.commit(state)
    assert not sink.exists("old") and sorted(sink.load_state().models) == ["kept"]


def test_a_corrupt_state_row_is_reported_by_readers_and_read_as_empty_by_the_writer(
        sink: PostgresSink, dsn: str) -> None:
    commit(sink, "things", rebuild=[item(1)])
    query(dsn, "UPDATE syncd_state SET state = '{\"records\": \"many\"}' WHERE name = 'things' "
               "RETURNING 1")
    with pytest.raises(CorruptFileError, match="syncd_state.*records"):
        sink.read_state()
    assert sink.load_state() == State()


def test_tables_go_in_the_schema_which_is_created(dsn: str) -> None:
    other = open_sink(dsn, schema="mirror")
    try:
        commit(other, "things", rebuild=[item(1)])
        assert query(dsn, "SELECT count(*) FROM mirror.odoo_things") == [(1,)]
        assert query(dsn, "SELECT to_regclass('public.odoo_things')") == [(None,)]
        assert other.count("things", State()) == 1
    finally:
        other.close()


def test_one_writer_per_database_and_schema(dsn: str) -> None:
    first, second, elsewhere = open_sink(dsn), open_sink(dsn), open_sink(dsn, schema="other")
    try:
        with first.lock():
            with pytest.raises(LockedError) as refused:
                with second.lock():
                    pass
            database = dsn.split("dbname=")[1].split()[0]
            message = str(refused.value)
            assert f"database {database!r} schema 'public'" in message
            assert f"syncd pid={os.getpid()}" in message  # the holder, by its pid
            with elsewhere.lock():
                pass  # another schema is another target
        with second.lock():
            pass
    finally:
        for s in (first, second, elsewhere):
            s.close()


def test_the_lock_goes_with_the_holders_session(dsn: str) -> None:
    """A syncd killed while holding the lock: its session ends, and the lock with it."""
    first, second = open_sink(dsn), open_sink(dsn)
    try:
        held = first.lock()
        held.__enter__()
        with pytest.raises(LockedError):
            with second.lock():
                pass
        ended = query(dsn, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = "
                           "'advisory' AND database = (SELECT oid FROM pg_database WHERE "
                           "datname = current_database())")
        assert ended == [(True,)]
        with second.lock():
            pass
    finally:
        first.close()
        second.close()


# -- the journal ---------------------------------------------------------------------------------
def test_the_journal_in_the_passes_transaction(dsn: str) -> None:
    sink = open_sink(dsn, journal=True)
    try:
        commit(sink, "things", at="2026-03-01 10:00:00", rebuild=[item(1), item(2)])
        commit(sink, "things", at="2026-03-01 10:05:00",
               upserts=[item(2, name="two"), item(3)], removals={1, 99})
        state = sink.load_state()
        writer = sink.begin(at="2026-03-01 10:06:00")
        writer.write(a_change("things", state.models["things"], upserts=[item(7)]))
        writer.abort()  # not journaled
        commit(sink, "other", at="2026-03-01 10:07:00", rebuild=[item(5)])
        rows = query(dsn, "SELECT model, seq, at::text, op, id, record->>'name' "
                          "FROM syncd_changes ORDER BY model, seq")
        assert rows == [
            ("other", 1, "2026-03-01 10:07:00", "reset", None, None),
            ("things", 1, "2026-03-01 10:00:00", "reset", None, None),
            ("things", 2, "2026-03-01 10:05:00", "upsert", 2, "two"),
            ("things", 3, "2026-03-01 10:05:00", "upsert", 3, "Ünïcødé 3"),
            ("things", 4, "2026-03-01 10:05:00", "remove", 1, None)]
        commit(sink, "things", at="2026-03-01 10:10:00", rebuild=[item(4)])
        assert query(dsn, "SELECT seq, op FROM syncd_changes WHERE model = 'things' AND seq > 4") \
            == [(5, "reset")]  # the seq goes on through a rebuild
        canonical = query(dsn, "SELECT record::text FROM syncd_changes WHERE seq = 3")
        assert canonical and '"id": 3' in canonical[0][0]
    finally:
        sink.close()


def test_settings_make_a_postgres_sink(dsn: str, tmp_path: Path) -> None:
    settings = Settings(sync=SyncSettings(data_dir=tmp_path / "data", journal=True),
                        sink=SinkSettings(kind="postgres", dsn=dsn))
    made = make_sink(settings)
    assert isinstance(made, PostgresSink) and made.journal
    assert "dbname" not in repr(made)
    made.close()


def test_a_table_altered_by_hand_is_set_aside_and_rebuilt(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(ModelSpec(name="customers", model="res.partner",
                                               fields=("name", "email")),), sink="postgres")
    dsn = rig.settings.sink.dsn
    try:
        first = rig.db.create("res.partner", partner(None, 1))
        assert rig.sync().ok
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE odoo_customers DROP COLUMN email")
        rig.db.write("res.partner", first, {"name": "renamed"})
        report = rig.sync()
        assert report.ok and report.models[0].full  # rebuilt, not written into the wrong table
        rig.assert_in_sync()
        aside = query(dsn, "SELECT relname FROM pg_class WHERE relname LIKE "
                           "'odoo_customers.corrupt-%%' AND relkind = 'r'")
        assert len(aside) == 1
        assert query(dsn, "SELECT email FROM odoo_customers") == [("p1@example.com",)]
    finally:
        rig.close()
