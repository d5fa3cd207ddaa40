"""The SQLite sink: one database file, one table per model, the state in the same file.

Each model configured as ``name`` is the table ``odoo_<name>``: ``id`` (INTEGER PRIMARY KEY),
one typed column per field (syncd.sinks.database: booleans 0/1, dates and datetimes ISO text,
x2many and JSON kinds as JSON text) and ``record``, the record as JSON text exactly as the JSON
snapshot holds it (the same canonical bytes). The state is in ``syncd_state`` (one row per
model: ``name``, the configured name, and ``state``, its ModelState as JSON; the key column is
``name`` as on PostgreSQL) and ``syncd_meta`` (``last_sync``, ``version``, the kept Odoo
``handshake``); with ``[sync] journal = true`` every change also goes to ``syncd_changes``
(syncd.sinks.sqlite.writer).

A pass is ONE transaction (``BEGIN IMMEDIATE`` at its first write, ``COMMIT`` at ``commit``,
state included), so a failed or killed pass leaves the previous one whole. The database runs in
WAL mode (readers never block the writer, nor it them) with ``synchronous=FULL`` (a committed
pass survives a power cut). One writer per file: an flock on ``<path>.lock`` beside it
(``lock``), on top of the data directory's lock, since the database may live elsewhere.

Surprise: readers (``status``, ``check``, ``records``) never create the file: a missing database
reads as empty. ``changed_outside`` is always False: syncd owns its tables, and a row edited by
hand is not detected (it is overwritten the next time Odoo changes that record).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from array import array
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from loguru import logger

from syncd.errors import ConfigError, CorruptFileError, SinkError
from syncd.sinks.database import decode_heads, journal_entries
from syncd.sinks.datadir import DataDir
from syncd.sinks.lock import FileLock
from syncd.sinks.sqlite.writer import (HEADS, JOURNAL_SCHEMA, OLD_STATE_KEY, SCHEMA,
                                       SqlitePassWriter, quoted, table_of)
from syncd.sync.seam import Entry, Head
from syncd.sync.state import ModelState, State

BUSY_TIMEOUT_MS = 10_000  # a reader's checkpoint or a `sqlite3` shell may hold the file briefly
POLL = 0.1  # seconds between two looks at the pass counter while a follower waits


class SqliteSink:
    """The database file at ``path``; ``journal``: also write ``syncd_changes``."""

    def __init__(self, path: Path, *, journal: bool = False) -> None:
        self.path = path
        self.journal = journal
        self._db: sqlite3.Connection | None = None
        self._ready = False  # the schema and pragmas of a writer are in place
        self._lock = FileLock(DataDir.lock_beside(path), path)
        self._waited: tuple[Hashable] | None = None  # the stamp the last wait saw

    def __repr__(self) -> str:
        return f"SqliteSink({str(self.path)!r})"

    # -- the connection ------------------------------------------------------------------------
    def _check_path(self) -> None:
        if self.path.is_dir():
            raise ConfigError(f"[sink].path {self.path} is a directory: it must name the SQLite "
                              "database file (e.g. odoo.sqlite inside it)")

    @contextmanager
    def guarded(self) -> Iterator[None]:
        """Every sqlite3 error as one SinkError line naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise SinkError(f"SQLite database {self.path}: {exc}") from exc

    def connection(self, *, create: bool) -> sqlite3.Connection | None:
        """The open connection; None when the file does not exist and ``create`` is False. A
        writer's (``create``) also sets WAL mode, ``synchronous=FULL`` and the state tables."""
        self._check_path()
        if self._db is None:
            if not create and not self.path.exists():
                return None
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.guarded():
                # Autocommit: the writer issues BEGIN IMMEDIATE / COMMIT itself. Threads: the
                # daemon may close from another thread than the one that ran the pass.
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                try:
                    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                except BaseException:
                    db.close()
                    raise
            self._db = db
        if create and not self._ready:
            with self.guarded():
                mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise SinkError(f"SQLite database {self.path}: cannot use WAL mode "
                                        f"(journal_mode is {mode})")
                self._db.execute("PRAGMA synchronous = FULL")
                self._db.execute("PRAGMA journal_size_limit = 67108864")  # 64 MB kept after use
                if state_key(self._db) == "model":
                    self._db.execute(OLD_STATE_KEY)
                self._db.executescript(SCHEMA + (JOURNAL_SCHEMA if self.journal else ""))
            self._ready = True
        return self._db

    @property
    def open_connection(self) -> sqlite3.Connection | None:
        """The connection if one is open (nothing is opened)."""
        return self._db

    def writer_connection(self) -> sqlite3.Connection:
        db = self.connection(create=True)
        assert db is not None
        return db

    def has_table(self, db: sqlite3.Connection, table: str) -> bool:
        return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                          (table,)).fetchone() is not None

    # -- Stored --------------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        db = self.connection(create=False)
        with self.guarded():
            return db is not None and self.has_table(db, table_of(name))

    def changed_outside(self, name: str, state: ModelState) -> bool:
        return False  # syncd owns its tables (see the module docstring)

    def stored_ids(self, name: str, state: ModelState) -> array[int]:
        found: array[int] = array("q")
        db = self.connection(create=False)
        with self.guarded():
            if db is None or not self.has_table(db, table_of(name)):
                return found
            cursor = db.execute(f"SELECT id FROM {quoted(table_of(name))} ORDER BY id")
            while chunk := cursor.fetchmany(65536):
                found.fromlist([row[0] for row in chunk])
        return found

    # -- Sink ----------------------------------------------------------------------------------
    def lock(self) -> FileLock:
        self._check_path()
        return self._lock

    def close(self) -> None:
        db, self._db = self._db, None
        self._ready = False
        if db is not None:
            try:
                if db.in_transaction:
                    db.rollback()
            finally:
                db.close()
        self._lock.release()

    def load_state(self) -> State:
        db = self.writer_connection()
        try:
            return self._state(db)
        except CorruptFileError as exc:
            logger.error("corrupt state in {}; every model will be rebuilt: {}", self.path, exc)
            return State()

    def read_state(self) -> State:
        db = self.connection(create=False)
        return State() if db is None else self._state(db)

    def _state(self, db: sqlite3.Connection) -> State:
        state = State()
        with self.guarded():
            if not self.has_table(db, "syncd_state"):
                return state
            meta = dict(db.execute("SELECT key, value FROM syncd_meta").fetchall())
            key = state_key(db)
            rows = db.execute(f"SELECT {key}, state FROM syncd_state ORDER BY {key}").fetchall()
        state.last_sync = meta.get("last_sync")
        state.handshake = _handshake(meta.get("handshake"))
        for name, text in rows:
            where = f"{self.path}: syncd_state row {name!r}"
            try:
                data = orjson.loads(text)
                if not isinstance(data, dict):
                    raise ValueError(f"expected a JSON object, got {type(data).__name__}")
                state.models[name] = ModelState.from_dict(data, "state")
            except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
                raise CorruptFileError(f"{where}: {exc}") from None
        return state

    def begin(self, at: str | None = None) -> SqlitePassWriter:
        return SqlitePassWriter(self, at)

    def set_aside(self, name: str) -> str | None:
        """Rename the table to ``odoo_<name>.corrupt-<UTC time>`` (inside the pass's
        transaction when one is open: an aborted pass puts it back)."""
        db = self.writer_connection()
        table = table_of(name)
        with self.guarded():
            if not self.has_table(db, table):
                return None
            aside = f"{table}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
            db.execute(f"ALTER TABLE {quoted(table)} RENAME TO {quoted(aside)}")
        return aside

    def where(self) -> str:
        return str(self.path)

    def location(self, name: str) -> str:
        return f"{self.path} table odoo_{name}"

    def count(self, name: str, state: State) -> int | None:
        db = self.connection(create=False)
        with self.guarded():
            if db is None or not self.has_table(db, table_of(name)):
                return None
            return int(db.execute(f"SELECT count(*) FROM {quoted(table_of(name))}").fetchone()[0])

    # -- Reader --------------------------------------------------------------------------------
    def _meta(self, db: sqlite3.Connection, key: str) -> str | None:
        if not self.has_table(db, "syncd_meta"):
            return None
        row = db.execute("SELECT value FROM syncd_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def stamp(self) -> Hashable:
        """The pass record in ``syncd_meta`` as stored: one row by its key (None before the
        first pass). Its counter moves with every pass, and its heads only grow, so a counter
        that starts again (the row deleted by hand) still makes another stamp."""
        db = self.connection(create=False)
        with self.guarded():
            return None if db is None else self._meta(db, HEADS)

    def heads(self) -> dict[str, Head]:
        db = self.connection(create=False)
        if db is None:
            return {}
        with self.guarded():
            text = self._meta(db, HEADS)
            if text is None:  # written before syncd kept heads: one look at the state
                return {name: Head(model.journal_seq, state_text_of(model))
                        for name, model in self._state(db).models.items()}
            return decode_heads(text)[1]

    def lines(self, name: str) -> Iterator[tuple[int, bytes]]:
        """The ``record`` column as stored (one SELECT: one committed pass's rows)."""
        db = self.connection(create=False)
        with self.guarded():
            if db is None or not self.has_table(db, table_of(name)):
                return
            cursor = db.execute(f"SELECT id, record FROM {quoted(table_of(name))} ORDER BY id")
            while chunk := cursor.fetchmany(4096):
                for record_id, text in chunk:
                    if not isinstance(text, str):
                        raise CorruptFileError(f"{self.path}: {table_of(name)} id {record_id}: "
                                               "record is not JSON text")
                    yield record_id, text.encode()

    def changes(self, name: str, after: int, upto: int) -> Iterator[Entry]:
        if upto <= after:
            return iter(())
        db = self.connection(create=False)
        with self.guarded():
            if db is None or not self.has_table(db, "syncd_changes"):
                rows: list[Any] = []
            else:
                rows = db.execute("SELECT seq, at, op, id, record FROM syncd_changes "
                                  "WHERE model = ? AND seq > ? AND seq <= ? ORDER BY seq",
                                  (name, after, upto)).fetchall()
        return journal_entries(name, rows, after, upto)

    def wait(self, timeout: float, wake: threading.Event, *, events: str = "native") -> bool:
        """Polls the pass counter every ``POLL`` seconds (SQLite has no notifications)."""
        if events == "none":
            wake.wait(timeout)
            return False
        # Compared with what the previous wait saw last, not with now: a pass that commits while
        # the follower looks (between two waits) still wakes the next wait at once.
        if self._waited is None:
            self._waited = (self.stamp(),)
        deadline = time.monotonic() + timeout
        while not wake.is_set():
            now = self.stamp()
            if now != self._waited[0]:
                self._waited = (now,)
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            wake.wait(min(POLL, left))
        return False


def state_text_of(model: ModelState) -> str:
    return f"{model.watermark}|{model.records}|{model.last_success}"


def state_key(db: sqlite3.Connection) -> str:
    """The key column of ``syncd_state``: ``name`` (``model`` in a database written before
    it was renamed to match PostgreSQL's); ``name`` when the table does not exist yet."""
    columns = [row[1] for row in db.execute("PRAGMA table_info(syncd_state)")]
    return "model" if "model" in columns else "name"


def _handshake(text: str | None) -> dict[str, Any] | None:
    """The kept Odoo handshake in ``syncd_meta``; None when absent or not a JSON object (it is
    only a shortcut: the next pass connects instead)."""
    try:
        data = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
