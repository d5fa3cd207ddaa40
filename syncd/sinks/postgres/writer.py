"""One pass into PostgreSQL: a single transaction, from ``begin`` to ``commit`` (or ``abort``).

Each model's change set is written under a savepoint of its own, so a failure inside it (an Odoo
error in the middle of a rebuild stream) undoes that model only and the pass may go on.

* A rebuild streams the records with COPY into a NEW table (no index during the load), adds its
  primary key, and is swapped in at commit: drop the old table, rename the new one. Until the
  commit, readers see the old table (MVCC); the swap's exclusive lock is held only from the
  commit's start to its end.
* In place: ``INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE record IS DISTINCT FROM
  EXCLUDED.record``, so an unchanged record is not touched and ``Applied.changed`` counts the
  rows really written; removals are ``DELETE ... WHERE id = ANY(...)`` in batches.
* ``commit`` replaces the state rows, sends ``NOTIFY syncd, '<name>'`` for each changed table
  (delivered by PostgreSQL when the transaction commits, never before) and commits.
* The journal (``[sync] journal = true``): ``syncd_changes`` rows (``seq``, ``model``, ``at``,
  ``op``, ``id``, ``record``) in the same transaction: ``upsert`` with the canonical record for
  each row really changed, ``remove`` for each row really removed, and a rebuild's one ``reset``
  row alone; ``seq`` counts from 1 per model for the model's whole life.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import Any, Protocol

import orjson
import psycopg
from psycopg import sql

from syncd.errors import CorruptFileError
from syncd.sinks.database import (Column, chunks, columns_for, committed_seq, encode_heads,
                                  encode_json, identifier)
from syncd.sinks.record import Layout, record_id_of
from syncd.sync.changes import ChangeSet, Rebuilt
from syncd.sync.seam import Applied
from syncd.sync.state import State

STATE_TABLE = "syncd_state"
JOURNAL_TABLE = "syncd_changes"
CHANNEL = "syncd"
PASS_ROW = ""  # the syncd_state row of the pass itself (no model can be named "")
LOCK_CLASS = 0x7379_6E63  # "sync": the first key of syncd's advisory locks (the second: the target)
CONNECT_TIMEOUT = 10  # seconds, unless the DSN or PGCONNECT_TIMEOUT says otherwise
SQL_TYPES = {"text": "text", "integer": "bigint", "float": "double precision",
             "boolean": "boolean", "date": "date", "datetime": "timestamp", "ids": "bigint[]",
             "json": "jsonb", "m2o_id": "bigint", "m2o_name": "text"}
# How format_type() names them, to check that a table has the columns a change expects.
SHOWN_TYPES = {**SQL_TYPES, "datetime": "timestamp without time zone"}
MAX_PARAMETERS = 30_000  # per INSERT statement (PostgreSQL's limit is 65,535)
DELETE_BATCH = 10_000


def table_of(name: str) -> str:
    """The table of the model configured as ``name``."""
    return identifier(f"odoo_{name}")


def staging_of(name: str) -> str:
    return identifier(f"odoo_{name}.new")


def key_of(table: str) -> str:
    return identifier(f"{table}_pkey")


def row_of(columns: Sequence[Column], layout: Layout, record: dict[str, Any],
           line: bytes | None = None) -> list[Any]:
    """``id``, the typed columns, ``record`` (the canonical JSON text) for one record; ``line``:
    its canonical line, when known."""
    record_id = record_id_of(record)
    if record_id is None:
        raise ValueError(f"record without an integer id: keys={sorted(record)}")
    row: list[Any] = [record_id]
    for column in columns:
        value = column.value(record)
        row.append(encode_json(value) if column.kind == "json" and value is not None else value)
    row.append((line if line is not None else layout.line(record)).decode())
    return row


class Database(Protocol):
    """What a pass needs of the PostgreSQL sink (``PostgresSink`` is one)."""

    schema: str
    journal: bool

    def connection(self) -> psycopg.Connection[Any]: ...

    def errors(self, doing: str = "") -> AbstractContextManager[None]: ...

    def relation_exists(self, table: str) -> bool: ...

    def exists(self, name: str) -> bool: ...


class PostgresPassWriter:
    """The pass's transaction (see the module docstring); opened by ``PostgresSink.begin``."""

    def __init__(self, sink: Database, at: str | None) -> None:
        self.sink = sink
        self.at = at
        self.schema = sink.schema
        self.staged: dict[str, str] = {}  # model name -> its new table, swapped in at commit
        self.changed: set[str] = set()  # names to NOTIFY at commit
        self.forgotten: set[str] = set()
        self.savepoints = 0
        self._seq: dict[str, int] = {}  # each model's last journal seq written by this pass
        self._reset_only: set[str] = set()  # journals starting again: one reset, nothing else
        self.conn = sink.connection()
        with sink.errors("starting the pass"):
            self.conn.execute("BEGIN")
            self._create_missing()

    def _q(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, table)

    def _run(self, query: sql.SQL | sql.Composed,
             params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        return self.conn.execute(query, params)

    def _create_missing(self) -> None:
        # Looked up first: CREATE ... IF NOT EXISTS would need the CREATE privilege even when
        # the schema exists, and a role allowed only its own schema could not write.
        found = self._run(sql.SQL("SELECT to_regnamespace(%s) IS NOT NULL"),
                          (self.schema,)).fetchone()
        if not (found and found[0]):
            self._run(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        if not self.sink.relation_exists(STATE_TABLE):
            self._run(sql.SQL("CREATE TABLE {} (name text PRIMARY KEY, state jsonb NOT NULL, "
                              "last_sync text)").format(self._q(STATE_TABLE)))
        if self.sink.journal and not self.sink.relation_exists(JOURNAL_TABLE):
            self._run(sql.SQL("CREATE TABLE {} (seq bigint NOT NULL, model text NOT NULL, "
                              "at timestamp, op text NOT NULL, id bigint, record jsonb, "
                              "PRIMARY KEY (model, seq))").format(self._q(JOURNAL_TABLE)))

    # -- PassWriter ----------------------------------------------------------------------------
    def forget(self, name: str) -> None:
        self.forgotten.add(name)

    def write(self, change: ChangeSet) -> Applied:
        self.savepoints += 1
        savepoint = sql.Identifier(f"model_{self.savepoints}")
        name = change.name
        seq = self._seq.pop(name, None)
        self._reset_only.discard(name)
        with self.sink.errors(f"writing {table_of(name)}"):
            self._run(sql.SQL("SAVEPOINT {}").format(savepoint))
            try:
                # A journal that starts again after passes that kept none: what changed
                # meanwhile is not in it, so it says reset (alone): a reader resuming reloads.
                if self.sink.journal and change.state.journal_seq is None \
                        and self.sink.exists(name):
                    self._journal(name, [("reset", None, None)])
                    self._reset_only.add(name)
                applied = self._write(change)
            except BaseException:
                self._seq.pop(name, None)
                if seq is not None:
                    self._seq[name] = seq
                self._reset_only.discard(name)
                try:
                    self._run(sql.SQL("ROLLBACK TO SAVEPOINT {}").format(savepoint))
                except psycopg.Error:
                    pass  # the connection is gone: the pass fails, abort rolls back the rest
                raise
            self._run(sql.SQL("RELEASE SAVEPOINT {}").format(savepoint))
        return applied

    def _write(self, change: ChangeSet) -> Applied:
        name = change.name
        columns = columns_for(change.fields, change.state.types)
        layout = Layout(change.fields)
        earlier = self.staged.pop(name, None)
        if earlier is not None:  # written before in this pass: the new change set wins
            self._run(sql.SQL("DROP TABLE {}").format(self._q(earlier)))
        if change.rebuild is not None:
            records = self._rebuild(name, columns, layout, change.rebuild)
            self._journal(name, [("reset", None, None)])
            self.changed.add(name)
            changed, removed = self._difference(table_of(name), self.staged[name], records)
            return Applied(changed=changed, removed=removed, records=records)
        if change.empty:
            return Applied(changed=0, removed=0, records=change.state.records)
        table = table_of(name)
        if not self.sink.relation_exists(table):
            self._create_table(table, columns, key=True)
        else:
            self._check_columns(table, columns)
        changed = self._upsert(name, columns, layout, change.upserts.items())
        removed = self._remove(name, change.gone())
        if changed or removed:
            self.changed.add(name)
        row = self._run(sql.SQL("SELECT count(*) FROM {}").format(self._q(table))).fetchone()
        return Applied(changed=changed, removed=removed, records=int(row[0]) if row else 0)

    def _columns_sql(self, columns: Sequence[Column]) -> sql.Composable:
        return sql.SQL(", ").join(
            [sql.SQL("id bigint NOT NULL")]
            + [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(SQL_TYPES[c.kind]))
               for c in columns]
            + [sql.SQL("record jsonb NOT NULL")])

    def _create_table(self, table: str, columns: Sequence[Column], *, key: bool) -> None:
        self._run(sql.SQL("CREATE TABLE {} ({})").format(self._q(table), self._columns_sql(columns)))
        if key:
            self._add_key(table)

    def _add_key(self, table: str) -> None:
        self._run(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (id)").format(
            self._q(table), sql.Identifier(key_of(table))))

    def _check_columns(self, table: str, columns: Sequence[Column]) -> None:
        """A table whose columns are not these (made by another version, altered by hand) is
        reported corrupt: the engine sets it aside and rebuilds the model."""
        rows = self._run(sql.SQL(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"), (self.schema, table)).fetchall()
        wanted = [("id", "bigint"), *((c.name, SHOWN_TYPES[c.kind]) for c in columns),
                  ("record", "jsonb")]
        if [tuple(r) for r in rows] != wanted:
            raise CorruptFileError(f"PostgreSQL table {self.schema}.{table} does not have the "
                                   f"columns of the configured fields")

    def _rebuild(self, name: str, columns: Sequence[Column], layout: Layout,
                 stream: Iterator[Rebuilt]) -> int:
        staging = staging_of(name)
        self._create_table(staging, columns, key=False)
        names = sql.SQL(", ").join([sql.Identifier("id"), *(sql.Identifier(c.name) for c in columns),
                                    sql.Identifier("record")])
        records = 0
        with self.conn.cursor() as cursor:
            with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(self._q(staging),
                                                                        names)) as copy:
                for record, line in stream:
                    copy.write_row(row_of(columns, layout, record, line))
                    records += 1
        self._add_key(staging)  # after the load: one sort, not a million index insertions
        self._run(sql.SQL("ANALYZE {}").format(self._q(staging)))
        self.staged[name] = staging
        return records

    def _difference(self, old: str, new: str, records: int) -> tuple[int, int]:
        """(changed, removed) of a rebuilt table ``new`` against the stored ``old``: records
        added or different, and ids gone. With no old table, every record is new."""
        if not self.sink.relation_exists(old):
            return records, 0
        row = self._run(sql.SQL(
            "SELECT (SELECT count(*) FROM {new} n LEFT JOIN {old} o ON o.id = n.id "
            "WHERE o.id IS NULL OR o.record IS DISTINCT FROM n.record), "
            "(SELECT count(*) FROM {old} o WHERE NOT EXISTS "
            "(SELECT 1 FROM {new} n WHERE n.id = o.id))").format(
            new=self._q(new), old=self._q(old))).fetchone()
        return (int(row[0]), int(row[1])) if row else (records, 0)

    def _upsert(self, name: str, columns: Sequence[Column], layout: Layout,
                records: Iterable[tuple[int, bytes]]) -> int:
        """Write ``records`` ((id, canonical line), ascending ids: a stream, perhaps spilled to
        disk) in statements of ``MAX_PARAMETERS``, journaling the rows really changed."""
        table = table_of(name)
        types = ["bigint", *(SQL_TYPES[c.kind] for c in columns), "jsonb"]
        placeholder = sql.SQL("({})").format(sql.SQL(", ").join(
            sql.SQL("%s::" + t) for t in types))
        names = [sql.Identifier(c.name) for c in columns] + [sql.Identifier("record")]
        updates = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(n) for n in names)
        batch = max(1, MAX_PARAMETERS // len(types))
        changed = 0
        for chunk in chunks(records, batch):
            rows = [row_of(columns, layout, orjson.loads(line), line) for _, line in chunk]
            query = sql.SQL(
                "INSERT INTO {table} AS t (id, {names}) VALUES {values} ON CONFLICT (id) DO "
                "UPDATE SET {updates} WHERE t.record IS DISTINCT FROM EXCLUDED.record "
                "RETURNING id, record::text").format(
                table=self._q(table), names=sql.SQL(", ").join(names),
                values=sql.SQL(", ").join([placeholder] * len(chunk)), updates=updates)
            written = sorted(self._run(query, [v for row in rows for v in row]).fetchall())
            self._journal(name, [("upsert", i, text) for i, text in written])
            changed += len(written)
        return changed

    def _remove(self, name: str, ids: list[int]) -> int:
        removed: list[int] = []
        for start in range(0, len(ids), DELETE_BATCH):
            rows = self._run(sql.SQL("DELETE FROM {} WHERE id = ANY(%s::bigint[]) RETURNING id")
                             .format(self._q(table_of(name))),
                             (ids[start:start + DELETE_BATCH],)).fetchall()
            removed += (r[0] for r in rows)
        removed.sort()
        self._journal(name, [("remove", i, None) for i in removed])
        return len(removed)

    def _journal(self, name: str, entries: list[tuple[str, int | None, str | None]]) -> None:
        if not self.sink.journal or not entries or name in self._reset_only:
            return
        row = self._run(sql.SQL("SELECT coalesce(max(seq), 0) FROM {} WHERE model = %s").format(
            self._q(JOURNAL_TABLE)), (name,)).fetchone()
        seq = int(row[0]) if row else 0
        with self.conn.cursor() as cursor:
            with cursor.copy(sql.SQL("COPY {} (seq, model, at, op, id, record) FROM STDIN")
                             .format(self._q(JOURNAL_TABLE))) as copy:
                for n, (op, record_id, text) in enumerate(entries, seq + 1):
                    copy.write_row((n, name, self.at, op, record_id, text))
        self._seq[name] = seq + len(entries)

    def commit(self, state: State) -> None:
        """Swap the new tables in, drop the forgotten, replace the state rows, NOTIFY, commit."""
        try:
            with self.sink.errors("committing the pass"):
                for name, staging in sorted(self.staged.items()):
                    table = table_of(name)
                    self._run(sql.SQL("DROP TABLE IF EXISTS {}").format(self._q(table)))
                    self._run(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                        self._q(staging), sql.Identifier(table)))
                    self._run(sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                        self._q(table), sql.Identifier(key_of(staging)),
                        sql.Identifier(key_of(table))))
                for name in sorted(self.forgotten):
                    self._run(sql.SQL("DROP TABLE IF EXISTS {}").format(self._q(table_of(name))))
                    self.changed.add(name)
                self._write_state(state)
                for name in sorted(self.changed):
                    self._run(sql.SQL("SELECT pg_notify(%s, %s)"), (CHANNEL, name))
                self.conn.execute("COMMIT")
        except BaseException:
            self.abort()
            raise
        self.staged.clear()

    def _stored_max(self, name: str) -> int | None:
        row = self._run(sql.SQL("SELECT max(seq) FROM {} WHERE model = %s").format(
            self._q(JOURNAL_TABLE)), (name,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def _write_state(self, state: State) -> None:
        row = self._run(sql.SQL("SELECT state::text FROM {} WHERE name = %s").format(
            self._q(STATE_TABLE)), (PASS_ROW,)).fetchone()
        for name, model in state.models.items():
            model.journal_seq = committed_seq(model, journal=self.sink.journal,
                                              written=self._seq.get(name),
                                              stored_max=partial(self._stored_max, name))
        # The pass row: the reader's stamp (a counter) and each model's head.
        heads = encode_heads(row[0] if row else None, state, self.changed)
        self._run(sql.SQL("DELETE FROM {}").format(self._q(STATE_TABLE)))
        with self.conn.cursor() as cursor:
            with cursor.copy(sql.SQL("COPY {} (name, state, last_sync) FROM STDIN").format(
                    self._q(STATE_TABLE))) as copy:
                record = orjson.loads(heads)
                record["handshake"] = state.handshake  # the Odoo handshake the pass used
                copy.write_row((PASS_ROW, orjson.dumps(record).decode(), state.last_sync))
                for name, model in sorted(state.models.items()):
                    copy.write_row((name, orjson.dumps(model.to_dict()).decode(),
                                    state.last_sync))

    def abort(self) -> None:
        """Roll the transaction back; a broken connection is closed (its transaction is gone
        with it) and the sink opens a new one on next use."""
        self.staged.clear()
        if self.conn.closed:
            return
        try:
            self.conn.execute("ROLLBACK")
        except psycopg.Error:
            self.conn.close()
