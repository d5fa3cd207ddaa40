"""The SQLite sink on a real database file: what the contract suite cannot see from outside
(typed columns, rows touched, a reader during a rebuild, the journal, corrupt state)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from syncd.consumer.load import records as stored_records
from syncd.errors import CorruptFileError, LockedError
from syncd.sinks.record import Layout
from syncd.sinks.sqlite.sink import SqliteSink
from syncd.sync.changes import ChangeSet, RebuildReason
from syncd.sync.upserts import Upserts
from syncd.sync.report import ModelReport
from syncd.sync.state import ModelState, State
from tests.sync_rig import CUSTOMERS, PRODUCTS, make_rig, partner

FIELDS = ("name", "active", "qty", "price", "day", "stamp", "parent_id", "tag_ids", "kind",
          "data")
TYPES = {"name": "char", "active": "boolean", "qty": "integer", "price": "float", "day": "date",
         "stamp": "datetime", "parent_id": "many2one", "tag_ids": "many2many",
         "kind": "selection", "data": "json"}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "odoo.sqlite"


@pytest.fixture
def sink(path: Path) -> Iterator[SqliteSink]:
    opened = SqliteSink(path, journal=True)
    yield opened
    opened.close()


def record(n: int, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": n, "name": f"Ünïcødé {n}", "active": n % 2 == 0, "qty": n, "price": n + 0.5,
        "day": "2026-01-0%d" % (n % 9 + 1), "stamp": "2026-01-01 10:00:00",
        "parent_id": [7, "Parent, Inc."] if n % 2 else False, "tag_ids": [3, n],
        "kind": "a", "data": {"k": [n]}}
    values.update(extra)
    return values


def change(state: ModelState, *, rebuild: list[dict[str, Any]] | None = None,
           upserts: list[dict[str, Any]] = (), removals: set[int] = frozenset()) -> ChangeSet:
    state.types = dict(TYPES)
    return ChangeSet(name="things", fields=FIELDS, state=state,
                     report=ModelReport(name="things", model="x.thing"),
                     upserts=Upserts.of(FIELDS, upserts), removals=set(removals),
                     rebuild=iter([(r, Layout(FIELDS).line(r)) for r in rebuild])
                     if rebuild is not None else None,
                     reasons=[RebuildReason.FIRST_SYNC] if rebuild is not None else [])


def one_pass(sink: SqliteSink, at: str, **kwargs: Any) -> tuple[State, Any]:
    state = sink.load_state()
    model = state.model("things")
    writer = sink.begin(at=at)
    applied = writer.write(change(model, **kwargs))
    model.records = applied.records
    writer.commit(state)
    return state, applied


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def test_typed_columns_hold_what_the_record_says(sink: SqliteSink, path: Path) -> None:
    records = [record(1), record(2, name=False, qty=False, price=0, day=False, tag_ids=[])]
    one_pass(sink, "2026-01-01 10:00:00", rebuild=records)
    got = query(path, "SELECT id, name, active, qty, price, day, stamp, parent_id, tag_ids, kind,"
                      " data, parent_id_name, typeof(price), record FROM odoo_things ORDER BY id")
    assert got[0][:13] == (1, "Ünïcødé 1", 0, 1, 1.5, "2026-01-02", "2026-01-01 10:00:00", 7,
                           "[3,1]", "a", '{"k":[1]}', "Parent, Inc.", "real")
    # Odoo's false is NULL, but a boolean's false is 0; a float given as 0 is stored as REAL.
    assert got[1][:13] == (2, None, 1, None, 0.0, None, "2026-01-01 10:00:00", None, "[]", "a",
                           '{"k":[2]}', None, "real")
    # The record column holds the JSON snapshot's canonical bytes.
    assert [r[-1].encode() for r in got] == [Layout(FIELDS).line(r) for r in records]


def test_only_changed_rows_are_touched(sink: SqliteSink, path: Path) -> None:
    one_pass(sink, "2026-01-01 10:00:00", rebuild=[record(n) for n in range(1, 6)])
    with closing(sqlite3.connect(path)) as db, db:  # count every row write from now on
        db.executescript("""
            CREATE TABLE touched (id INTEGER);
            CREATE TRIGGER t_up AFTER UPDATE ON odoo_things BEGIN INSERT INTO touched VALUES (new.id); END;
            CREATE TRIGGER t_in AFTER INSERT ON odoo_things BEGIN INSERT INTO touched VALUES (new.id); END;
            CREATE TRIGGER t_del AFTER DELETE ON odoo_things BEGIN INSERT INTO touched VALUES (old.id); END;
        """)
    _, applied = one_pass(sink, "2026-01-02 10:00:00",
                          upserts=[record(1), record(2, qty=20), record(9)], removals={5, 77})
    assert (applied.changed, applied.removed, applied.records) == (2, 1, 5)
    assert sorted(query(path, "SELECT id FROM touched")) == [(2,), (5,), (9,)]
    assert sink.count("things", State()) == 5
    # Journal: seq goes on from the rebuild's reset; only real changes, removals without record.
    journal = query(path, "SELECT seq, at, op, id, record IS NOT NULL FROM syncd_changes "
                          "WHERE model = 'things' ORDER BY seq")
    assert journal == [(1, "2026-01-01 10:00:00", "reset", None, 0),
                       (2, "2026-01-02 10:00:00", "upsert", 2, 1),
                       (3, "2026-01-02 10:00:00", "upsert", 9, 1),
                       (4, "2026-01-02 10:00:00", "remove", 5, 0)]
    one_pass(sink, "2026-01-03 10:00:00", rebuild=[record(1)])  # a resync: seq still grows
    assert query(path, "SELECT max(seq), count(*) FROM syncd_changes") == [(5, 5)]


def test_a_reader_sees_the_old_table_until_the_rebuild_commits(sink: SqliteSink,
                                                               path: Path) -> None:
    one_pass(sink, "2026-01-01 10:00:00", rebuild=[record(1), record(2)])
    reader = SqliteSink(path)
    try:
        state = sink.load_state()
        writer = sink.begin(at="2026-01-02 10:00:00")
        writer.write(change(state.models["things"], rebuild=[record(n) for n in range(10, 20)]))
        # Mid-pass, WAL: another connection reads at once (no busy wait), the whole old table.
        assert [r["id"] for r in stored_records(reader, "things")] == [1, 2]
        assert query(path, "PRAGMA journal_mode") == [("wal",)]
        writer.commit(state)
        assert [r["id"] for r in stored_records(reader, "things")] == list(range(10, 20))
    finally:
        reader.close()
    assert sink.open_connection is not None
    assert sink.open_connection.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_a_corrupt_state_row(sink: SqliteSink, path: Path) -> None:
    one_pass(sink, "2026-01-01 10:00:00", rebuild=[record(1)])
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE syncd_state SET state = '[1, 2'")
    with pytest.raises(CorruptFileError, match="syncd_state row 'things'"):
        sink.read_state()
    assert sink.load_state() == State()  # reported; everything is rebuilt


def test_set_aside_and_forget(sink: SqliteSink, path: Path) -> None:
    one_pass(sink, "2026-01-01 10:00:00", rebuild=[record(1)])
    aside = sink.set_aside("things")
    assert aside is not None and aside.startswith("odoo_things.corrupt-")
    assert not sink.exists("things") and sink.set_aside("things") is None
    assert query(path, f'SELECT count(*) FROM "{aside}"') == [(1,)]  # kept, never deleted


def test_readers_create_nothing(path: Path) -> None:
    reader = SqliteSink(path)
    assert reader.read_state() == State() and list(stored_records(reader, "x")) == []
    assert reader.count("x", State()) is None and not reader.exists("x")
    reader.close()
    assert not path.exists()


def test_the_lock_names_the_holder_and_the_file(path: Path) -> None:
    first, second = SqliteSink(path), SqliteSink(path)
    try:
        with first.lock():
            with pytest.raises(LockedError, match=rf"pid \d+\) is already writing to {path}"):
                second.lock().acquire()
    finally:
        first.close()
        second.close()


def test_a_table_whose_columns_do_not_match_is_set_aside_and_rebuilt(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS), sink="sqlite")
    try:
        ids = [rig.db.create("res.partner", partner(None, n)) for n in range(3)]
        assert rig.sync().ok
        database = rig.settings.sink.path
        assert database is not None
        with closing(sqlite3.connect(database)) as db, db:
            db.execute("ALTER TABLE odoo_customers DROP COLUMN phone")
        rig.db.write("res.partner", ids[0], {"name": "Renamed"})
        assert rig.sync().ok
        rig.assert_in_sync("after the table was altered")
        assert query(database, "SELECT count(*) FROM sqlite_master "
                               "WHERE name LIKE 'odoo_customers.corrupt-%'") == [(1,)]
        assert "phone" in [r[1] for r in query(database, "PRAGMA table_info(odoo_customers)")]
    finally:
        rig.close()


def test_a_failed_pass_changes_nothing_in_the_database(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS), reconcile_interval=0, sink="sqlite")
    try:
        rig.db.create("res.partner", partner(None, 1))
        rig.db.create("product.product", {"name": "Chair", "list_price": 5.0})
        assert rig.sync().ok
        database = rig.settings.sink.path
        assert database is not None
        with closing(sqlite3.connect(database)) as db:
            before = list(db.iterdump())
        rig.db.create("res.partner", partner(None, 2))  # customers is written first ...
        rig.emulator.faults.add("http_500", times=1000, model="product.product")  # ... then this
        report = rig.sync()
        assert not report.ok and "products" in (report.error or "")
        with closing(sqlite3.connect(database)) as db:
            assert list(db.iterdump()) == before
        rig.emulator.faults.clear()
        assert rig.sync().ok
        rig.assert_in_sync("after recovery")
    finally:
        rig.close()


@pytest.mark.parametrize("value", [False, None, True, 0, 3, -2, 0.0, 2.5, "", "x", "2026-01-01",
                                   [], [4], [4, "Four"], [1, 2, "x"], {"a": 1}, "missing"])
def test_the_fast_encoders_give_what_columns_say(value: Any) -> None:
    """The writer's per-kind encoders (a full sync's hot loop) agree with Column.value, for
    every kind and for values of every shape, even ones Odoo would not send for that type."""
    from syncd.sinks.database import columns_for, encode_json
    from syncd.sinks.sqlite.writer import _encoder

    for column in columns_for(FIELDS, TYPES):
        # "missing": the field is not in the record at all (read as Odoo's false).
        given = {"id": 1} if value == "missing" else {"id": 1, column.field: value}
        want = column.value(given)
        if column.kind in ("ids", "json") and want is not None:
            want = encode_json(want)
        got = _encoder(column)(given)
        assert (got, type(got)) == (want, type(want)), (column, value)


def test_the_state_key_is_name_as_on_postgresql_and_an_old_database_is_renamed(
        tmp_path: Path) -> None:
    """`syncd_state`'s key column is `name` on both database sinks; a database written when
    SQLite's was `model` is read as it is and renamed by the next write."""
    import sqlite3

    from syncd.sinks.sqlite.sink import SqliteSink
    from syncd.sync.state import ModelState, State

    path = tmp_path / "odoo.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE syncd_state (model TEXT PRIMARY KEY, state TEXT NOT NULL)")
        db.execute("CREATE TABLE syncd_meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT INTO syncd_state VALUES ('old', '{\"records\": 3}')")
    sink = SqliteSink(path)
    try:
        assert sink.read_state().models["old"].records == 3
        writer = sink.begin()
        writer.commit(State(last_sync="2026-01-01 00:00:00",
                            models={"old": ModelState(records=3)}))
    finally:
        sink.close()
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(syncd_state)")]
        assert columns == ["name", "state"]
        assert [r[0] for r in db.execute("SELECT name FROM syncd_state")] == ["old"]
