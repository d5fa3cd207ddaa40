"""The data directory's one owner: every file name in it, and every read and write of them.

Nothing else in syncd builds a path inside the data directory (a test checks it). What lives
there, for every sink (the files of the JSON sink are its snapshots and state):

* ``odoo_<name>.json`` — the snapshot of the model configured as ``name`` (JSON sink);
* ``last_sync.json`` — the state (JSON sink; a database sink keeps it in the database);
* ``.syncd.lock`` — held by the running ``once``/``run`` (one writer);
* ``.syncd-resync.json`` — a ``syncd resync`` left for a running daemon to apply;
* ``.syncd-error.json`` — the last failed pass's error, for ``status``;
* ``*.corrupt-<time>`` — a file that could not be parsed, set aside before it was rebuilt;
* ``.<name>.<random>.syncd-tmp`` — a file being written (removed at start-up if left over).
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from syncd.errors import CorruptFileError
from syncd.service.lock import DataDirLock
from syncd.sinks.atomic import Staged, set_aside, stage, sweep_temp_files
from syncd.sync.state import State

STATE_FILE = "last_sync.json"
RESYNC_FILE = ".syncd-resync.json"
ERROR_FILE = ".syncd-error.json"
SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX = "odoo_", ".json"


class DataDir:
    """The data directory at ``path`` (created on first write, never by a reader)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"DataDir({str(self.path)!r})"

    # -- names -------------------------------------------------------------------------------
    def snapshot(self, name: str) -> Path:
        return self.path / f"{SNAPSHOT_PREFIX}{name}{SNAPSHOT_SUFFIX}"

    @property
    def state_file(self) -> Path:
        return self.path / STATE_FILE

    @property
    def resync_file(self) -> Path:
        return self.path / RESYNC_FILE

    @property
    def error_file(self) -> Path:
        return self.path / ERROR_FILE

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

    def prepare(self) -> None:
        """At the start of a pass, with the lock held: create the directory, remove the temp
        files a killed writer left behind."""
        self.path.mkdir(parents=True, exist_ok=True)
        for leftover in sweep_temp_files(self.path):
            logger.info("removed stale temporary file {}", leftover.name)

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
