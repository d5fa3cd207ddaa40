"""Following the stored models: each change set as it lands, from the journal or by diffing.

``follow(config, ["customers"])`` is an iterator of ``Change`` (and ``run(callback)`` the
callback form); ``stop()`` or leaving its ``with`` block ends it. How it learns what changed:

* JSON sink with ``journal = true``: after each committed pass (the state file is replaced
  last), the journal lines between the ``seq`` it has and the one the state commits, netted
  per id. ``reset`` lines, a journal rotated past its ``seq`` or a state that went back make it
  diff the snapshot instead, with ``Change.reset`` set.
* JSON sink without a journal: when a snapshot file is replaced, a streaming diff of it
  against the marks of the previous one (syncd.consumer.marks): memory is 16 bytes a record
  plus the changed records, whatever the file's size.
* A database sink: the state is polled every ``check_every`` seconds; when its ``last_sync``
  moved (each pass), every followed model is diffed through ``sink.records`` (a full read of
  each model per pass: fine for thousands of records, slow for millions).

Files are watched with watchdog (moved, created, closed-after-write and deleted events;
``observer="polling"`` where inotify does not work, as on network shares; ``"none"``: only the
periodic check), events are debounced, and every ``check_every`` seconds a check runs anyway,
so a lost event delays a change, never loses it. A half-written file is never handed out: a
snapshot is read whole once it is in place, and journal lines only up to the committed ``seq``.
A missing snapshot (deleted, being rebuilt) is skipped until it is back.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from syncd.config import Settings
from syncd.consumer.journal import JournalGap, JournalReader
from syncd.consumer.load import Config, settings_of
from syncd.consumer.marks import Change, diff, patch
from syncd.sync.digests import Digests
from syncd.errors import CorruptFileError, SinkError, SyncdError
from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import make_sink
from syncd.sinks.snapshot import Layout, record_lines
from syncd.sync.state import State

Stamp = tuple[int, int, int, int] | None  # inode, size, mtime_ns, ctime_ns of a file


def _stamp(path: Path) -> Stamp:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Follow:
    """See the module docstring. Not thread-safe: iterate it from one thread; ``stop`` may be
    called from any."""

    def __init__(self, settings: Settings, names: Sequence[str] | None = None, *,
                 seq: Mapping[str, int] | None = None, records: bool = True,
                 observer: str = "native", debounce: float = 0.2,
                 check_every: float = 5.0) -> None:
        if observer not in ("native", "polling", "none"):
            raise ValueError(f"observer must be native, polling or none, not {observer!r}")
        self.settings = settings
        self.names = list(names) if names else [spec.name for spec in settings.models]
        self.data_dir = DataDir(settings.sync.data_dir)
        self.records = records
        self.observer_kind = observer
        self.debounce = debounce
        self.check_every = check_every
        self.json = settings.sink.kind == "json"
        self.journaled = self.json and settings.sync.journal
        self._sink = make_sink(settings)
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._stopping = threading.Lock()
        self._observer: Any = None
        self._started = False
        self._known: dict[str, Digests] = {n: Digests() for n in self.names}
        self._seq: dict[str, int | None] = {n: None for n in self.names}
        self._resume = {n: s for n, s in (seq or {}).items() if n in self._known}
        self._stamps: dict[str, Stamp] = {}
        self._readers = {n: JournalReader(self.data_dir, n) for n in self.names}
        self._state = State()
        self._state_stamp: Stamp = None  # the state file's signature (JSON sink)
        self._state_bytes = b""  # the committed state as last read (database sinks)
        self.checks = 0  # how many checks ran (for tests and the curious)

    # -- life ----------------------------------------------------------------------------------
    def start(self) -> Follow:
        """Take the baseline (what is stored now is no change) and start watching."""
        if self._started:
            return self
        if self.json and not self.data_dir.path.is_dir():
            raise SyncdError(f"no data directory at {self.data_dir.path} (run 'syncd once' "
                             "first, or check --data-dir / sync.data_dir / SYNCD_DATA_DIR)")
        self._started = True
        self._read_state()
        for name in self.names:
            if name in self._resume and self.journaled:
                self._seq[name] = self._resume[name]
            else:
                self._seq[name] = self._committed(name)
                self._stamps[name] = _stamp(self.data_dir.snapshot(name))
                self._diff(name, Change(name))
        if self.json and self.observer_kind != "none":
            self._watch()
        return self

    def _watch(self) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        follow = self

        class Wake(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type not in ("moved", "created", "closed", "deleted"):
                    return  # opened, closed_no_write, modified: a reader's, or half-way
                target = Path(str(getattr(event, "dest_path", "") or event.src_path))
                if follow.relevant(target):
                    follow._wake.set()

        observer: Any = PollingObserver(timeout=max(self.debounce, 0.1)) \
            if self.observer_kind == "polling" else Observer()
        observer.schedule(Wake(), str(self.data_dir.path), recursive=False)
        observer.start()
        self._observer = observer

    def relevant(self, path: Path) -> bool:
        """Whether an event on ``path`` may mean a change landed."""
        return path.name == self.data_dir.state_file.name or DataDir.is_snapshot(path) \
            or DataDir.is_journal(path)

    def stop(self) -> None:
        """End the iteration (from any thread); the observer is stopped."""
        self._stopped.set()
        self._wake.set()
        with self._stopping:  # the iterating thread and another may both stop it
            observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            if observer is not threading.current_thread():
                observer.join(timeout=5)
        self._sink.close()

    def __enter__(self) -> Follow:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __iter__(self) -> Iterator[Change]:
        self.start()
        try:
            while not self._stopped.is_set():
                self._wake.clear()  # before the check: an event during it wakes the next one
                for change in self.check():
                    if self._stopped.is_set():
                        return
                    yield change
                if self._wake.wait(self.check_every) and not self._stopped.is_set():
                    self._settle()
        finally:
            self.stop()

    def run(self, callback: Callable[[Change], object]) -> None:
        """Call ``callback`` with each change until ``stop``."""
        for change in self:
            callback(change)

    def _settle(self) -> None:
        """Debounce: wait until events stop for ``debounce`` seconds (at most 20 times that)."""
        deadline = time.monotonic() + 20 * self.debounce
        while time.monotonic() < deadline:
            self._wake.clear()
            if not self._wake.wait(self.debounce):
                return

    # -- checking ------------------------------------------------------------------------------
    def check(self) -> list[Change]:
        """One look at every followed model (the periodic check runs this): the changes that
        landed since the last look, non-empty ones only."""
        self.checks += 1
        moved = self._read_state()
        found: list[Change] = []
        for name in self.names:
            change = self._check(name, moved)
            if change is not None and not change.empty:
                found.append(change)
        return found

    def _read_state(self) -> bool:
        """Re-read the state if it changed; True when it did."""
        if self.json:
            stamp = _stamp(self.data_dir.state_file)
            if stamp == self._state_stamp:
                return False
            try:
                self._state = self._sink.read_state()
            except CorruptFileError:
                return False  # not ours to judge; the next pass sets it aside
            self._state_stamp = stamp
            return True
        # Not last_sync alone: it moves by whole seconds, and two passes may share one. A pass
        # that changed data changed its models' state (watermarks, marks, counts) with it.
        state = self._sink.read_state()
        committed = state.to_bytes()
        moved = committed != self._state_bytes
        self._state, self._state_bytes = state, committed
        return moved

    def _committed(self, name: str) -> int | None:
        model = self._state.models.get(name)
        return model.journal_seq if model is not None and self.journaled else None

    def _check(self, name: str, state_moved: bool) -> Change | None:
        if not self.json:
            return self._diff(name, Change(name)) if state_moved else None
        committed, have = self._committed(name), self._seq[name]
        if committed is None or have is None:
            stamp = _stamp(self.data_dir.snapshot(name))
            if stamp is None or stamp == self._stamps.get(name):
                if stamp is not None and name not in self._resume:
                    self._seq[name] = committed  # what is known is that snapshot: the state's
                return None
            self._stamps[name] = stamp
            change = self._diff(name, Change(name, reset=name in self._resume))
            self._resume.pop(name, None)
            self._seq[name] = committed
            return change
        if committed == have:
            return None
        change = Change(name, seq=committed)
        if committed > have:
            try:
                net: dict[int, bytes | None] = {}
                for entry in self._readers[name].entries(have, committed):
                    if entry.op == "reset":
                        raise JournalGap("reset")
                    assert entry.id is not None
                    net[entry.id] = entry.line
            except JournalGap:
                pass
            else:
                resumed = self._resume.pop(name, None) is not None
                change.resumed = resumed
                self._known[name] = patch(self._known[name], net, change, records=self.records,
                                          resumed=resumed)
                self._seq[name] = committed
                if resumed:  # learn the whole snapshot now: later changes are exact
                    self._diff(name, Change(name))
                return change
        change.reset = True
        self._seq[name] = committed
        self._stamps[name] = _stamp(self.data_dir.snapshot(name))
        self._resume.pop(name, None)
        return self._diff(name, change)

    def _diff(self, name: str, change: Change) -> Change | None:
        """Fill ``change`` with the stored copy's differences from what is known (None: the
        copy cannot be read now; tried again on the next event or check)."""
        model = self._state.models.get(name)
        fields = model.fields if model is not None and model.fields else \
            next((s.fields for s in self.settings.models if s.name == name), ())
        layout = Layout(fields)
        if self.json:
            path = self.data_dir.snapshot(name)
            if not path.exists():
                return None
            lines: Iterator[tuple[int, bytes]] = record_lines(path, layout)
        else:
            lines = ((r["id"], layout.line(r)) for r in self._sink.records(name))
        try:
            self._known[name] = diff(self._known[name], lines, change, records=self.records)
        except (CorruptFileError, SinkError, OSError):
            self._stamps.pop(name, None)  # try again at the next look
            return None
        return change


def follow(config: Config | None = None, names: Sequence[str] | None = None, *,
           seq: Mapping[str, int] | None = None, records: bool = True,
           observer: str = "native", debounce: float = 0.2,
           check_every: float = 5.0) -> Follow:
    """Follow ``names`` (default: every configured model) of the configuration ``config`` (a
    file path or ``Settings``). ``seq``: per model, the journal position to resume from (as
    saved from ``Change.seq`` or ``load_at``); ``records=False``: ids only (nothing decoded).
    """
    return Follow(settings_of(config), names, seq=seq, records=records, observer=observer,
                  debounce=debounce, check_every=check_every)
