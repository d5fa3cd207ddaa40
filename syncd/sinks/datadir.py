"""The data directory's one owner: every file name in it, and every read and write of them.

Nothing else in syncd builds a path inside the data directory (a test checks it). What lives
there, for every sink (the files of the JSON sink are its snapshots and state):

* ``odoo_<name>.json`` — the snapshot of the model configured as ``name`` (JSON sink);
* ``odoo_<name>.changes.jsonl`` — the change journal of ``name`` (JSON sink, ``journal = true``),
  and its rotated files ``odoo_<name>.changes.<first seq>.jsonl`` (see syncd.sinks.json.journal);
* ``last_sync.json`` — the state (JSON sink; a database sink keeps it in the database);
* ``odoo.sqlite`` — the SQLite sink's database by default (``[sink].path`` may put it anywhere),
  with SQLite's ``-wal`` and ``-shm`` files and syncd's ``.lock`` file beside it;
* ``.syncd.lock`` — held by the running ``once``/``run`` (one writer);
* ``.syncd-resync.json`` — a ``syncd resync`` left for a running daemon to apply;
* ``.syncd-error.json`` — the last failed pass's error, for ``status``;
* ``.syncd-demo`` — marks a directory ``syncd demo`` made (its snapshots hold fake data);
* ``*.corrupt-<time>`` — a file that could not be parsed, set aside before it was rebuilt;
* ``.<name>.<random>.syncd-tmp`` — a file being written (removed at start-up if left over);
* ``.spill.<random>.syncd-tmp`` — a scratch file of a pass's change set too big for its memory
  budget (``[sync] memory_mb``, syncd.sync.upserts): on Linux it normally never has a name
  (``O_TMPFILE``), elsewhere it is removed from the directory as soon as it is created (on
  Windows when it is closed); a leftover of a killed process is a temp file like the others.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
from loguru import logger

from syncd.errors import ConfigError, CorruptFileError, LockedError, SyncdError
from syncd.sinks.atomic import (
    TEMP_MARK,
    Staged,
    prune_set_aside,
    set_aside,
    stage,
    sweep_temp_files,
    write_atomic,
)
from syncd.sinks.lock import DataDirLock, holder
from syncd.sync.state import State, utc_now_text

if TYPE_CHECKING:
    from syncd.sync.seam import Sink

STATE_FILE = "last_sync.json"
RESYNC_FILE = ".syncd-resync.json"
ERROR_FILE = ".syncd-error.json"
DEFAULT_DATABASE = "odoo.sqlite"
DEMO_MARKER = ".syncd-demo"  # a directory `syncd demo` made: its snapshots hold fake data
SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX = "odoo_", ".json"
JOURNAL_SUFFIX = ".changes"  # odoo_<name>.changes.jsonl, odoo_<name>.changes.<first seq>.jsonl
SPILL_PREFIX = ".spill."  # .spill.<random>.syncd-tmp: a change set's scratch file (see scratch_file)
# The error record is readable by whoever may read the data directory, whatever the umask: an
# admin's `status` must see why the service fails. It never holds a secret (scrubbed first).
ERROR_MODE = 0o644


class DataDir:
    """The data directory at ``path`` (created on first write, never by a reader)."""

    def __init__(self, path: Path, *, error_elsewhere: Path | None = None) -> None:
        """``error_elsewhere``: where a failed pass's error goes when the directory refuses it
        (another user's directory), so ``status`` still sees the failure."""
        self.path = path
        self.error_elsewhere = error_elsewhere

    def __repr__(self) -> str:
        return f"DataDir({str(self.path)!r})"

    # -- names -------------------------------------------------------------------------------
    def snapshot(self, name: str) -> Path:
        return self.path / f"{SNAPSHOT_PREFIX}{name}{SNAPSHOT_SUFFIX}"

    def journal(self, name: str) -> Path:
        """The journal file being appended to (``odoo_<name>.changes.jsonl``)."""
        return self.path / f"{SNAPSHOT_PREFIX}{name}{JOURNAL_SUFFIX}.jsonl"

    def rotated_journal(self, name: str, first_seq: int) -> Path:
        """A rotated journal file: ``odoo_<name>.changes.<first seq>.jsonl``."""
        return self.path / f"{SNAPSHOT_PREFIX}{name}{JOURNAL_SUFFIX}.{first_seq}.jsonl"

    def rotated_journals(self, name: str) -> list[tuple[int, Path]]:
        """The rotated journal files of ``name`` as (first seq, path), oldest first."""
        head = f"{SNAPSHOT_PREFIX}{name}{JOURNAL_SUFFIX}."
        found: list[tuple[int, Path]] = []
        for entry in self.entries():
            middle = entry[len(head):-len(".jsonl")]
            if entry.startswith(head) and entry.endswith(".jsonl") and middle.isdigit():
                found.append((int(middle), self.path / entry))
        return sorted(found)

    @staticmethod
    def is_journal(path: Path) -> bool:
        """True for a journal file's name, current or rotated (what a follower reacts to)."""
        return path.name.startswith(SNAPSHOT_PREFIX) and path.name.endswith(".jsonl") \
            and f"{JOURNAL_SUFFIX}." in path.name

    @property
    def state_file(self) -> Path:
        return self.path / STATE_FILE

    @property
    def resync_file(self) -> Path:
        return self.path / RESYNC_FILE

    @property
    def error_file(self) -> Path:
        return self.path / ERROR_FILE

    @property
    def default_database(self) -> Path:
        """The SQLite sink's database file when ``[sink].path`` is not set."""
        return self.path / DEFAULT_DATABASE

    @staticmethod
    def lock_beside(database: Path) -> Path:
        """The one-writer lock file of a database file, beside it (``<database>.lock``)."""
        return database.with_name(database.name + ".lock")

    @property
    def demo_marker(self) -> Path:
        return self.path / DEMO_MARKER

    def entries(self) -> list[str]:
        """The names of everything in the directory, sorted ([] when it does not exist)."""
        try:
            return sorted(p.name for p in self.path.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return []

    def snapshot_names(self) -> list[str]:
        """The model names that have a snapshot file here, sorted."""
        try:
            entries = sorted(self.path.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [e.name[len(SNAPSHOT_PREFIX):-len(SNAPSHOT_SUFFIX)] for e in entries
                if e.name.startswith(SNAPSHOT_PREFIX) and e.name.endswith(SNAPSHOT_SUFFIX)
                and e.is_file()]

    @staticmethod
    def is_snapshot(path: Path) -> bool:
        """True for a snapshot file's name (what a watcher reacts to)."""
        return path.name.startswith(SNAPSHOT_PREFIX) and path.name.endswith(SNAPSHOT_SUFFIX)

    @staticmethod
    def name_of(path: Path) -> str:
        """The model name of a snapshot file's path."""
        return path.name[len(SNAPSHOT_PREFIX):-len(SNAPSHOT_SUFFIX)]

    # -- the writer's lock and house-keeping ----------------------------------------------------
    def lock(self) -> DataDirLock:
        return DataDirLock(self.path)

    def holder(self) -> int | None:
        """The pid of a syncd holding the directory's lock, found without taking it."""
        return holder(self.path)

    def prepare(self) -> None:
        """At the start of a pass, with the lock held: create the directory, remove the temp
        files a killed writer left behind and old set-aside files (at most 5 per file, none
        older than 30 days)."""
        self.path.mkdir(parents=True, exist_ok=True)
        sweep_temp_files(self.path)
        prune_set_aside(self.path)

    def scratch_file(self) -> IO[bytes]:
        """A new scratch file for a change set that outgrew its memory budget
        (syncd.sync.upserts), open for reading and writing, on the disk of the stored copies
        (not a ``/tmp`` that may be memory). Gone with the process, even a killed one, where the
        platform allows it (Linux: no name at all); else a temp file's name, which ``prepare``
        sweeps at the next pass's start."""
        self.path.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryFile(dir=self.path, prefix=SPILL_PREFIX, suffix=TEMP_MARK)

    def set_aside(self, path: Path) -> Path:
        """Rename a corrupt file out of the way (see syncd.sinks.atomic.set_aside)."""
        return set_aside(path)

    # -- the state (JSON sink) ---------------------------------------------------------------
    def load_state(self) -> State:
        """The state, or an empty one (full resync) when missing or corrupt; a corrupt file is
        set aside and reported."""
        try:
            return State.load(self.state_file)
        except CorruptFileError as exc:
            aside = self.set_aside(self.state_file)
            logger.error("corrupt state file set aside as {}; every model will be rebuilt: {}",
                         aside.name, exc)
            return State()

    def read_state(self) -> State:
        """The state as it is, for readers: CorruptFileError instead of setting it aside."""
        return State.load(self.state_file)

    def stage_state(self, state: State) -> Staged:
        return stage(self.state_file, state.to_bytes())

    # -- resync requests -----------------------------------------------------------------------
    def request_resync(self, sink: Sink, names: list[str], all_names: list[str]) -> bool:
        """Forget the watermarks of ``names`` (all models when empty): the next pass rebuilds
        them. With the directory free, the sink's state is changed at once (True). While another
        syncd holds it, a request file is left instead (False), which that daemon's next pass
        applies and removes once it has committed: the running syncd owns the state."""
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            with self.lock(), sink.lock():
                state = sink.load_state()
                state.request_resync(names, all_names)
                sink.begin().commit(state)
                return True
        except LockedError:
            pass
        pending = self.resync_request()
        if pending is not None and names and pending:
            names = sorted(set(pending) | set(names))
        elif pending is not None and not pending:
            names = []
        write_atomic(self.resync_file, orjson.dumps(sorted(names)) + b"\n")
        return False

    def resync_request(self) -> list[str] | None:
        """A pending request: None when there is none; [] means every model."""
        try:
            value = orjson.loads(self.resync_file.read_bytes())
        except FileNotFoundError:
            return None
        except orjson.JSONDecodeError:
            return []  # an unreadable request still means "rebuild": the safe reading
        return [str(v) for v in value] if isinstance(value, list) else []

    def clear_resync_request(self, applied: list[str] | None) -> None:
        """After a committed pass: remove the request it applied (not a newer one)."""
        if applied is not None and self.resync_request() == applied:
            self.resync_file.unlink(missing_ok=True)

    def forget(self, sink: Sink, names: list[str]) -> list[str]:
        """Remove the stored copy and the state entry of models no longer configured.

        The caller has checked that none is configured. Needs the directory free (LockedError
        otherwise: the running syncd owns the state); ConfigError for a name with neither a
        stored copy nor a state entry. The JSON sink drops the state entry first, so a crash in
        between leaves only a snapshot that `status` still lists and a second ``--forget``
        removes; a database sink does both in one transaction."""
        if not self.path.is_dir():
            raise SyncdError(f"no data directory at {self.path}")
        for name in names:
            if Path(name).name != name or name.startswith("."):
                raise ConfigError(f"not a model name: {name!r}")
        try:
            with self.lock(), sink.lock():
                state = sink.load_state()
                unknown = [n for n in names if n not in state.models and not sink.exists(n)]
                if unknown:
                    raise ConfigError(f"nothing to forget: no stored copy or state entry for "
                                      f"{', '.join(unknown)} in {self.path}")
                writer = sink.begin()
                for name in names:
                    state.models.pop(name, None)
                    writer.forget(name)
                writer.commit(state)
                for name in names:
                    logger.info("forgot model={model} (stored copy and state entry removed)",
                                model=name)
        except LockedError as exc:
            raise LockedError(f"{exc}: stop it before resync --forget") from None
        return names

    # -- the last failed pass, for `status` -------------------------------------------------
    def record_error(self, model: str | None, text: str, when: datetime) -> None:
        """Write ``.syncd-error.json`` atomically, mode 0644: ``{"at", "model", "error"}``,
        ``model`` None for an error of the whole pass (login, lock, local files). ``text`` must
        already be free of secrets. When the directory refuses it, the record goes to
        ``error_elsewhere`` (if given); one that cannot be written anywhere is logged, not
        raised: the pass has failed already."""
        record = orjson.dumps({"at": utc_now_text(when), "model": model, "error": text},
                              option=orjson.OPT_INDENT_2) + b"\n"
        try:
            _write_record(self.error_file, record)
            return
        except OSError as exc:
            refused = exc
        if self.error_elsewhere is not None:
            try:
                self.error_elsewhere.parent.mkdir(parents=True, exist_ok=True)
                _write_record(self.error_elsewhere, record)
                logger.warning("cannot record the error in the data directory ({}): recorded "
                               "in {} for status", refused, self.error_elsewhere)
                return
            except OSError as exc:
                refused = exc
        logger.warning("cannot record the error for status: {}", refused)

    def clear_error(self) -> None:
        """Remove the error records after a good pass (a failure to do so is only logged)."""
        for path in (self.error_file, self.error_elsewhere):
            if path is None:
                continue
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                logger.warning("cannot remove the old error record: {}", exc)

    def read_error(self) -> dict[str, Any] | None:
        """The last failed pass's record (the newer of the data directory's and
        ``error_elsewhere``), or None (no record, or an unreadable one)."""
        found = [record for record in map(_read_record, (self.error_file, self.error_elsewhere))
                 if record is not None]
        return max(found, key=lambda record: str(record.get("at"))) if found else None


def _write_record(path: Path, record: bytes) -> None:
    item = stage(path, record)
    try:
        os.chmod(item.temp, ERROR_MODE)  # before the rename: never seen with another mode
    except BaseException:
        item.discard()
        raise
    item.commit()


def _read_record(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        value = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("error"), str):
        return None
    return value
