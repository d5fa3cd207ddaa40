"""One pass into the SQLite sink: a single transaction, the state committed with the rows.

``BEGIN IMMEDIATE`` at the first write (or at ``commit`` for a pass that only changes the
state), one SAVEPOINT per model (a model whose write fails is rolled back alone, and the writer
stays usable), ``COMMIT`` at ``commit``, ``ROLLBACK`` at ``abort`` or on any failure.

A rebuild streams into a NEW table (``executemany`` batches of ``BATCH`` rows), then drops the
old one and renames the new one in its place, still inside the transaction: readers see the
old table until the commit, never a half-built one. Changes in place compare each upsert's
canonical JSON with the stored ``record`` and touch only the rows that really differ
(``INSERT ... ON CONFLICT(id) DO UPDATE``); removals are ``DELETE ... RETURNING id`` in batches,
so ``Applied.removed`` counts only rows that existed.

The journal (``[sync] journal = true``): ``syncd_changes`` rows in the same transaction, ``seq``
per model from 1, continuing from the model's ``max(seq)`` (resyncs included): ``upsert`` with
the canonical record, ``remove`` without one, and for a rebuild one ``reset`` row alone (a
consumer re-reads the whole table).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import orjson

from syncd.errors import CorruptFileError, SinkError
from syncd.sinks.database import (Column, chunks, columns_for, committed_seq, encode_heads,
                                  encode_json)
from syncd.sinks.record import Layout, record_id_of
from syncd.sync.changes import ChangeSet
from syncd.sync.seam import Applied
from syncd.sync.state import VERSION, ModelState, State

SCHEMA = """
CREATE TABLE IF NOT EXISTS syncd_state (name TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS syncd_meta (key TEXT PRIMARY KEY, value TEXT);
"""
JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS syncd_changes (
    seq INTEGER NOT NULL, model TEXT NOT NULL, at TEXT, op TEXT NOT NULL, id INTEGER,
    record TEXT, PRIMARY KEY (model, seq));
"""
# Before 0.1 settled, the key column was "model" (PostgreSQL's was always "name"): renamed on
# the first write, read either way.
OLD_STATE_KEY = "ALTER TABLE syncd_state RENAME COLUMN model TO name"
HEADS = "heads"  # the syncd_meta row of the pass counter and heads (syncd.sinks.database)
BATCH = 5000  # rows per executemany
IDS_PER_STATEMENT = 500  # ids in one IN (...) list: far below SQLite's variable limit
SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "float": "REAL", "boolean": "INTEGER",
             "date": "TEXT", "datetime": "TEXT", "ids": "TEXT", "json": "TEXT",
             "m2o_id": "INTEGER", "m2o_name": "TEXT"}


def quoted(identifier: str) -> str:
    """An SQL identifier, double-quoted (any name is safe: quotes are doubled)."""
    return '"' + identifier.replace('"', '""') + '"'


def table_of(name: str) -> str:
    return f"odoo_{name}"


def state_text(model: ModelState) -> str:
    """A model's state row: compact, key-sorted JSON (as in the JSON sink's state file)."""
    return str(orjson.dumps(model.to_dict(), option=orjson.OPT_SORT_KEYS).decode())


class Database(Protocol):
    """What a pass needs of the SQLite sink (``SqliteSink`` is one)."""

    path: Path
    journal: bool

    def writer_connection(self) -> sqlite3.Connection: ...

    def guarded(self) -> AbstractContextManager[None]: ...

    @property
    def open_connection(self) -> sqlite3.Connection | None: ...

    def exists(self, name: str) -> bool: ...


class Table:
    """One model's table: its typed columns and the statements and rows that fill them."""

    def __init__(self, change: ChangeSet) -> None:
        self.name = table_of(change.name)
        self.layout = Layout(change.fields)
        self.columns = columns_for(self.layout.fields, change.state.types)
        self.names = ["id", *(c.name for c in self.columns), "record"]
        self._values = [_encoder(c) for c in self.columns]

    def create(self, table: str) -> str:
        typed = "".join(f", {quoted(c.name)} {SQL_TYPES[c.kind]}" for c in self.columns)
        return f"CREATE TABLE {quoted(table)} (id INTEGER PRIMARY KEY{typed}, record TEXT NOT NULL)"

    def insert(self, table: str, *, upsert: bool = False) -> str:
        marks = ", ".join("?" for _ in self.names)
        sql = f"INSERT INTO {quoted(table)} ({', '.join(map(quoted, self.names))}) VALUES ({marks})"
        if upsert:
            sets = ", ".join(f"{quoted(n)} = excluded.{quoted(n)}" for n in self.names[1:])
            sql += f" ON CONFLICT(id) DO UPDATE SET {sets}"
        return sql

    def row(self, record_id: int, record: dict[str, Any], text: str) -> tuple[Any, ...]:
        return (record_id, *[value(record) for value in self._values], text)


def _encoder(column: Column) -> Callable[[dict[str, Any]], Any]:
    """``column.value`` for SQLite (ids and JSON encoded as text, booleans as 0/1), specialised
    per kind: a full sync calls it for every column of every row, and the generic
    ``Column.value`` made the SQLite sink's full sync 1.5x the JSON sink's. A test checks that
    both give the same values."""
    field = column.field
    kind = column.kind
    if kind in ("text", "date", "datetime"):
        def text(record: dict[str, Any]) -> Any:
            raw = record.get(field, False)
            if type(raw) is str:
                return raw
            return None if raw is False or raw is None else str(raw)
        return text
    if kind == "boolean":
        return lambda record: None if (raw := record.get(field, False)) is None else bool(raw)
    if kind == "integer":
        return lambda record: raw if type(raw := record.get(field, False)) is int else None
    if kind == "float":
        return lambda record: float(raw) if type(raw := record.get(field, False)) in (int, float) \
            else None
    if kind == "m2o_id":
        def m2o_id(record: dict[str, Any]) -> Any:
            raw = record.get(field, False)
            if type(raw) is list:
                return raw[0] if raw else None
            return raw if type(raw) is int else None
        return m2o_id
    if kind == "m2o_name":
        def m2o_name(record: dict[str, Any]) -> Any:
            raw = record.get(field, False)
            return raw[1] if type(raw) is list and len(raw) > 1 else None
        return m2o_name

    def encoded(record: dict[str, Any]) -> Any:  # ids and json
        value = column.value(record)
        return None if value is None else encode_json(value)
    return encoded


class SqlitePassWriter:
    """See the module docstring."""

    def __init__(self, sink: Database, at: str | None) -> None:
        self.sink = sink
        self.at = at
        self.forgotten: set[str] = set()
        self.touched: set[str] = set()  # models whose stored copy this pass changed
        self._seq: dict[str, int] = {}
        self._reset_only: set[str] = set()  # journals starting again: one reset, nothing else

    def _begin(self) -> sqlite3.Connection:
        db = self.sink.writer_connection()
        if not db.in_transaction:
            db.execute("BEGIN IMMEDIATE")
        return db

    def forget(self, name: str) -> None:
        self.forgotten.add(name)

    def write(self, change: ChangeSet) -> Applied:
        name = change.name
        self._seq.pop(name, None)
        self._reset_only.discard(name)
        # A journal that starts again after passes that kept none: what changed meanwhile is
        # not in it, so it says reset (alone) and a reader resuming from before reloads.
        restart = self.sink.journal and change.state.journal_seq is None \
            and self.sink.exists(name)
        if change.empty and not restart:
            return Applied(changed=0, removed=0, records=change.state.records)
        with self.sink.guarded():
            db = self._begin()
            db.execute("SAVEPOINT model")
            try:
                if restart:
                    self._journal(db, name, [("reset", None, None)])
                    self._reset_only.add(name)
                if change.empty:
                    applied = Applied(changed=0, removed=0, records=change.state.records)
                elif change.rebuild is not None:
                    applied = self._rebuild(db, change)
                else:
                    applied = self._in_place(db, change)
            except BaseException:
                db.execute("ROLLBACK TO model")
                db.execute("RELEASE model")
                self._seq.pop(name, None)
                self._reset_only.discard(name)
                raise
            db.execute("RELEASE model")
        if applied.changed or applied.removed or change.rebuild is not None:
            self.touched.add(name)
        return applied

    def _rebuild(self, db: sqlite3.Connection, change: ChangeSet) -> Applied:
        assert change.rebuild is not None
        table = Table(change)
        new = f"{table.name}.syncd-new"
        db.execute(f"DROP TABLE IF EXISTS {quoted(new)}")
        db.execute(table.create(new))
        insert = table.insert(new)
        records = 0
        last: int | None = None
        batch: list[tuple[Any, ...]] = []
        for record, line in change.rebuild:
            record_id = record_id_of(record)
            if record_id is None or (last is not None and record_id <= last):
                raise ValueError(f"records out of id order: {record_id} after {last}")
            last = record_id
            batch.append(table.row(record_id, record, line.decode()))
            if len(batch) >= BATCH:
                db.executemany(insert, batch)
                records += len(batch)
                batch.clear()
        db.executemany(insert, batch)
        records += len(batch)
        changed, removed = self._difference(db, table.name, new, records)
        db.execute(f"DROP TABLE IF EXISTS {quoted(table.name)}")
        db.execute(f"ALTER TABLE {quoted(new)} RENAME TO {quoted(table.name)}")
        self._journal(db, change.name, [("reset", None, None)])
        return Applied(changed=changed, removed=removed, records=records)

    @staticmethod
    def _difference(db: sqlite3.Connection, old: str, new: str, records: int) -> tuple[int, int]:
        """(changed, removed) of a rebuilt table ``new`` against the stored ``old``: records
        added or different, and ids gone. With no old table (or one with no ``record``
        column, set aside), every record is new."""
        try:
            row = db.execute(
                f"SELECT (SELECT count(*) FROM {quoted(new)} n LEFT JOIN {quoted(old)} o "
                "ON o.id = n.id WHERE o.id IS NULL OR o.record IS NOT n.record), "
                f"(SELECT count(*) FROM {quoted(old)} o WHERE NOT EXISTS "
                f"(SELECT 1 FROM {quoted(new)} n WHERE n.id = o.id))").fetchone()
        except sqlite3.OperationalError:  # no such table or column
            return records, 0
        return (int(row[0]), int(row[1])) if row else (records, 0)

    def _in_place(self, db: sqlite3.Connection, change: ChangeSet) -> Applied:
        table = Table(change)
        found = [row[1] for row in db.execute(f"PRAGMA table_info({quoted(table.name)})")]
        if found != table.names:
            # Not the table these fields make (another syncd's layout, or altered by hand): the
            # engine sets it aside and rebuilds the model.
            raise CorruptFileError(f"{self.sink.path}: table {table.name} has columns {found}, "
                                   f"not {table.names}")
        # In chunks of ascending ids (the upserts are a sorted stream, perhaps spilled to disk):
        # each chunk's stored records are looked up, the ones that differ written and journaled.
        # A record is decoded (for its typed columns) only when it is written.
        upsert = table.insert(table.name, upsert=True)
        changed = inserted = 0
        for chunk in chunks(change.upserts.items(), BATCH):
            stored: dict[int, str] = {}
            for ids in chunks((record_id for record_id, _ in chunk), IDS_PER_STATEMENT):
                marks = ", ".join("?" for _ in ids)
                stored.update(db.execute(f"SELECT id, record FROM {quoted(table.name)} "
                                         f"WHERE id IN ({marks})", ids).fetchall())
            rows: list[tuple[Any, ...]] = []
            written: list[tuple[str, int | None, str | None]] = []
            for record_id, line in chunk:
                text = line.decode()
                if stored.get(record_id) == text:
                    continue  # unchanged: not touched
                inserted += record_id not in stored
                rows.append(table.row(record_id, orjson.loads(line), text))
                written.append(("upsert", record_id, text))
            db.executemany(upsert, rows)
            self._journal(db, change.name, written)
            changed += len(rows)
        journal: list[tuple[str, int | None, str | None]] = []
        removed = 0
        for ids in chunks(change.gone(), IDS_PER_STATEMENT):
            marks = ", ".join("?" for _ in ids)
            found = db.execute(f"DELETE FROM {quoted(table.name)} WHERE id IN ({marks}) "
                               "RETURNING id", ids).fetchall()
            removed += len(found)
            journal.extend(("remove", i, None) for (i,) in sorted(found))
        self._journal(db, change.name, journal)
        return Applied(changed=changed, removed=removed,
                       records=change.state.records + inserted - removed)

    def _journal(self, db: sqlite3.Connection, name: str,
                 entries: list[tuple[str, int | None, str | None]]) -> None:
        if not self.sink.journal or not entries or name in self._reset_only:
            return
        seq = self._seq.get(name)
        if seq is None:
            seq = int(db.execute("SELECT coalesce(max(seq), 0) FROM syncd_changes WHERE model = ?",
                                 (name,)).fetchone()[0])
        rows = []
        for op, record_id, text in entries:
            seq += 1
            rows.append((seq, name, self.at, op, record_id, text))
        db.executemany("INSERT INTO syncd_changes (seq, model, at, op, id, record) "
                       "VALUES (?, ?, ?, ?, ?, ?)", rows)
        self._seq[name] = seq

    def commit(self, state: State) -> None:
        """Drop the forgotten tables, write the state rows that changed, COMMIT."""
        try:
            with self.sink.guarded():
                db = self._begin()
                for name in sorted(self.forgotten):
                    db.execute(f"DROP TABLE IF EXISTS {quoted(table_of(name))}")
                stored = dict(db.execute("SELECT name, state FROM syncd_state").fetchall())
                for name in sorted(stored.keys() - state.models.keys()):
                    db.execute("DELETE FROM syncd_state WHERE name = ?", (name,))
                previous = self._heads(db)
                for name, model in sorted(state.models.items()):
                    model.journal_seq = committed_seq(
                        model, journal=self.sink.journal, written=self._seq.get(name),
                        stored_max=partial(self._stored_max, db, name))
                    text = state_text(model)
                    if stored.get(name) != text:
                        db.execute("INSERT OR REPLACE INTO syncd_state (name, state) "
                                   "VALUES (?, ?)", (name, text))
                db.executemany("INSERT OR REPLACE INTO syncd_meta (key, value) VALUES (?, ?)",
                               [("last_sync", state.last_sync), ("version", str(VERSION)),
                                ("handshake", orjson.dumps(state.handshake).decode()
                                 if state.handshake is not None else None),
                                (HEADS, encode_heads(previous, state, self.touched))])
                db.execute("COMMIT")
        except BaseException:
            self.abort()
            raise

    def _heads(self, db: sqlite3.Connection) -> str | None:
        row = db.execute("SELECT value FROM syncd_meta WHERE key = ?", (HEADS,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _stored_max(db: sqlite3.Connection, name: str) -> int | None:
        row = db.execute("SELECT max(seq) FROM syncd_changes WHERE model = ?", (name,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def abort(self) -> None:
        db = self.sink.open_connection
        if db is not None and db.in_transaction:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                raise SinkError(f"SQLite database {self.sink.path}: {exc}") from exc
