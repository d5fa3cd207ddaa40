"""The PostgreSQL sink (``[sink] kind = "postgres"``): one table per model, and the state, in
one schema of one database, written by one transaction per pass.

In ``schema`` (created if missing):

* ``odoo_<name>`` per model: ``id`` (the primary key), one typed column per field
  (syncd.sinks.database), and ``record`` (jsonb): the record exactly as the JSON snapshot holds it;
* ``syncd_state``: one row per model (``name``, ``state`` jsonb: its ModelState, ``last_sync``),
  and the row named ``''`` for the pass itself (no model can be named ``''``);
* ``syncd_changes`` with ``[sync] journal = true``: the change journal (syncd.sinks.postgres.writer).

A pass is ONE transaction, state included (syncd.sinks.postgres.writer): a failed, aborted or killed
pass leaves the previous one whole, and readers never see a half-built table. After a commit that
changed tables, ``NOTIFY syncd, '<name>'`` once per table (sent by the commit itself), so
consumers can ``LISTEN syncd`` instead of polling.

One writer per database and schema: ``lock`` takes a session advisory lock on a dedicated
connection, held until it is released or that session ends (a killed syncd's session ends with
it). The connection string is libpq's (a ``key=value`` string or a URI); what it leaves out comes
from libpq's PG* variables and ~/.pgpass as usual. Connections are opened on first use.

Surprises: ``changed_outside`` is always False (a table edited by hand is not detected: the
database is the consumer's to query, syncd trusts its own transactions). ``record`` is jsonb, so a
float written with an exponent of 16 or more (``1e16``) reads back as an integer, and PostgreSQL
refuses text holding a NUL character (``\\u0000``): that pass fails, naming the table.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from array import array
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from loguru import logger
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from syncd.errors import (
    ConfigError,
    CorruptFileError,
    LockedError,
    SinkError,
    one_line,
    scrub,
)
from syncd.settings import SinkSettings
from syncd.sinks.database import decode_heads, identifier, journal_entries
from syncd.sinks.postgres.writer import (
    CHANNEL,
    CONNECT_TIMEOUT,
    JOURNAL_TABLE,
    LOCK_CLASS,
    PASS_ROW,
    STATE_TABLE,
    PostgresPassWriter,
    key_of,
    table_of,
)
from syncd.sync.seam import Entry, Head
from syncd.sync.state import VERSION, State, utc_now_text

SLICE = 0.25  # seconds: how soon a waiting follower sees its stop


class PostgresSink:
    """Tables of one schema of the database ``settings.dsn`` names (see the module docstring)."""

    def __init__(self, settings: SinkSettings, *, journal: bool = False) -> None:
        self.dsn = settings.dsn
        self.schema = settings.schema
        self.journal = journal
        self.secrets = settings.secrets()
        try:
            self._options = conninfo_to_dict(self.dsn)
        except psycopg.ProgrammingError as exc:
            # Name where the value came from: the variable overrides the file's key.
            where = "SYNCD_PG_DSN" if os.environ.get("SYNCD_PG_DSN") == self.dsn \
                else "[sink].dsn"
            raise ConfigError(self._scrub(f"{where} is not a libpq connection string or URI: "
                                          f"{one_line(str(exc))}")) from None
        self._conn: psycopg.Connection[Any] | None = None
        self._lock_conn: psycopg.Connection[Any] | None = None
        self._listen: psycopg.Connection[Any] | None = None

    def __repr__(self) -> str:
        return f"PostgresSink(schema={self.schema!r})"  # never the DSN: it may hold a password

    # -- connections and errors ---------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        return scrub(text, self.secrets)

    @contextmanager
    def errors(self, doing: str = "") -> Iterator[None]:
        """psycopg's errors as SinkError: one line, the server's reason, no secret."""
        try:
            yield
        except psycopg.Error as exc:
            diag = getattr(exc, "diag", None)
            reason = (diag.message_primary if diag is not None else None) or str(exc)
            where = f" ({doing})" if doing else ""
            raise SinkError(self._scrub(f"PostgreSQL{where}: {one_line(reason)}")) from exc

    def connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection (SinkError when the server is unreachable or refuses)."""
        extra: dict[str, Any] = {"application_name": f"syncd pid={os.getpid()} on "
                                                     f"{socket.gethostname()}"[:63]}
        if "connect_timeout" not in self._options and not os.environ.get("PGCONNECT_TIMEOUT"):
            extra["connect_timeout"] = CONNECT_TIMEOUT
        with self.errors("connecting"):
            return psycopg.connect(self.dsn, autocommit=True, **extra)

    def connection(self) -> psycopg.Connection[Any]:
        """The sink's connection, opened on first use (and again after it broke)."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self.connect()
        return self._conn

    def relation_exists(self, table: str) -> bool:
        with self.errors():
            row = self.connection().execute(
                "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL",
                (self.schema, table)).fetchone()
        return bool(row and row[0])

    # -- Stored --------------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        return self.relation_exists(table_of(name))

    def changed_outside(self, name: str, state: Any) -> bool:
        return False  # see the module docstring

    def stored_ids(self, name: str, state: Any) -> array[int]:
        """The ids, ascending, streamed with COPY and packed in chunks (no list of a million)."""
        found: array[int] = array("q")
        if not self.exists(name):
            return found
        query = sql.SQL("COPY (SELECT id FROM {} ORDER BY id) TO STDOUT").format(
            sql.Identifier(self.schema, table_of(name)))
        rest = b""
        with self.errors(f"reading {table_of(name)}"), self.connection().cursor() as cursor:
            with cursor.copy(query) as copy:
                for block in copy:
                    data = rest + bytes(block)
                    cut = data.rfind(b"\n") + 1
                    found.fromlist([int(i) for i in data[:cut].split()])
                    rest = data[cut:]
        return found

    # -- Sink ----------------------------------------------------------------------------------
    @contextmanager
    def lock(self) -> Iterator[object]:
        """The advisory lock of this database and schema, on a session of its own; LockedError
        naming the database, the schema and the holder (its application_name carries its pid)."""
        conn = self.connect()
        try:
            with self.errors("taking the writer's lock"):
                row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext("
                                   "current_database() || '.' || %s)), current_database()",
                                   (LOCK_CLASS, self.schema)).fetchone()
            assert row is not None
            if not row[0]:
                raise LockedError(f"another syncd is writing to PostgreSQL database {row[1]!r} "
                                  f"schema {self.schema!r}{self._holder(conn)}")
            self._lock_conn = conn
            yield self
        finally:
            self._lock_conn = None
            conn.close()  # ending the session releases the lock

    def _holder(self, conn: psycopg.Connection[Any]) -> str:
        try:
            row = conn.execute(
                "SELECT a.application_name, a.pid FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.classid = %s::oid AND l.objsubid = 2 AND l.objid = "
                "hashtext(current_database() || '.' || %s)::oid LIMIT 1",
                (LOCK_CLASS, self.schema)).fetchone()
        except psycopg.Error:
            return ""
        return f" ({row[0] or 'application unknown'}, server pid {row[1]})" if row else ""

    def close(self) -> None:
        for conn in (self._conn, self._lock_conn, self._listen):
            if conn is not None:
                conn.close()
        self._conn = self._lock_conn = self._listen = None

    def load_state(self) -> State:
        try:
            return self.read_state()
        except CorruptFileError as exc:
            logger.error("corrupt state in PostgreSQL ignored (the next commit replaces it); "
                         "every model will be rebuilt: {}", exc)
            return State()

    def read_state(self) -> State:
        """The committed state, from ``syncd_state``; CorruptFileError naming the table on a
        row that is not a ModelState."""
        if not self.relation_exists(STATE_TABLE):
            return State()
        query = sql.SQL("SELECT name, state::text, last_sync FROM {} ORDER BY name").format(
            sql.Identifier(self.schema, STATE_TABLE))
        with self.errors(f"reading {STATE_TABLE}"):
            rows = self.connection().execute(query).fetchall()
        last_sync = None
        handshake = None
        models: dict[str, Any] = {}
        for name, text, last in rows:
            if name == PASS_ROW:
                last_sync = last
                handshake = orjson.loads(text).get("handshake")  # kept with the pass record
            else:
                models[name] = orjson.loads(text)
        whole = orjson.dumps({"version": VERSION, "last_sync": last_sync, "models": models,
                              "handshake": handshake})
        return State.load_bytes(whole, f"PostgreSQL table {self.schema}.{STATE_TABLE}")

    def begin(self, at: str | None = None) -> PostgresPassWriter:
        return PostgresPassWriter(self, at)

    def set_aside(self, name: str) -> str | None:
        """Rename the table out of the way (in the pass's transaction when one is open)."""
        if not self.exists(name):
            return None
        table = table_of(name)
        aside = identifier(f"{table}.corrupt-{utc_now_text().replace(' ', 'T')}")
        with self.errors(f"setting {table} aside"):
            conn = self.connection()
            conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                sql.Identifier(self.schema, table), sql.Identifier(aside)))
            # Its primary key's name goes with it: the rebuilt table's key takes the old name.
            conn.execute(sql.SQL("ALTER INDEX IF EXISTS {} RENAME TO {}").format(
                sql.Identifier(self.schema, key_of(table)), sql.Identifier(key_of(aside))))
        return aside

    def where(self) -> str:
        return f"PostgreSQL schema {self.schema}"

    def location(self, name: str) -> str:
        return f"table {self.schema}.odoo_{name}"

    def count(self, name: str, state: State) -> int | None:
        if not self.exists(name):
            return None
        with self.errors():
            row = self.connection().execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(self.schema, table_of(name)))).fetchone()
        return int(row[0]) if row else 0

    # -- Reader --------------------------------------------------------------------------------
    def _pass_row(self) -> str | None:
        if not self.relation_exists(STATE_TABLE):
            return None
        with self.errors(f"reading {STATE_TABLE}"):
            row = self.connection().execute(sql.SQL("SELECT state::text FROM {} WHERE name = %s")
                                            .format(sql.Identifier(self.schema, STATE_TABLE)),
                                            (PASS_ROW,)).fetchone()
        return None if row is None else str(row[0])

    def stamp(self) -> Hashable:
        """The pass row of ``syncd_state`` as stored (one row by its key): its counter moves with
        every pass, and its heads only grow, so a counter that starts again (the state deleted
        by hand) still makes another stamp."""
        return self._pass_row()

    def heads(self) -> dict[str, Head]:
        text = self._pass_row()
        if text is not None and '"heads"' not in text:  # written before syncd kept heads
            return {name: Head(model.journal_seq, f"{model.watermark}|{model.records}")
                    for name, model in self.read_state().models.items()}
        return decode_heads(text)[1]

    def lines(self, name: str) -> Iterator[tuple[int, bytes]]:
        """The ``record`` column as stored (jsonb's text), as one COPY on a connection of its
        own: one committed pass's rows, whatever the caller does meanwhile."""
        if not self.exists(name):
            return
        query = sql.SQL("COPY (SELECT id, record::text FROM {} ORDER BY id) TO STDOUT").format(
            sql.Identifier(self.schema, table_of(name)))
        conn = self.connect()
        try:
            with self.errors(f"reading {table_of(name)}"), conn.cursor() as cursor:
                with cursor.copy(query) as copy:
                    copy.set_types(["int8", "text"])
                    for record_id, text in copy.rows():
                        yield int(record_id), text.encode()
        finally:
            conn.close()

    def changes(self, name: str, after: int, upto: int) -> Iterator[Entry]:
        if upto <= after:
            return iter(())
        rows: list[Any] = []
        if self.relation_exists(JOURNAL_TABLE):
            query = sql.SQL("SELECT seq, to_char(at, 'YYYY-MM-DD HH24:MI:SS'), op, id, "
                            "record::text FROM {} WHERE model = %s AND seq > %s AND seq <= %s "
                            "ORDER BY seq").format(sql.Identifier(self.schema, JOURNAL_TABLE))
            with self.errors(f"reading {JOURNAL_TABLE}"):
                rows = self.connection().execute(query, (name, after, upto)).fetchall()
        return journal_entries(name, rows, after, upto)

    def wait(self, timeout: float, wake: threading.Event, *, events: str = "native") -> bool:
        """``LISTEN syncd`` on a connection of its own (opened by the first call, which is
        best made before the first look: a commit after it is never missed); the commit of a
        pass that changed tables sends a notification. Looks at ``wake`` every ``SLICE``."""
        if events == "none":
            wake.wait(timeout)
            return False
        if self._listen is None or self._listen.closed or self._listen.broken:
            self._listen = self.connect()
            with self.errors("listening"):
                self._listen.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
        deadline = time.monotonic() + timeout
        while not wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self.errors("listening"):
                for _ in self._listen.notifies(timeout=min(SLICE, left), stop_after=1):
                    return True
        return False
