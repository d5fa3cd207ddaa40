"""Following the stored models: each change set as it lands, on every sink alike.

``follow(config, ["customers"])`` is an iterator of ``Change`` (and ``run(callback)`` the
callback form); ``stop()`` or leaving its ``with`` block ends it. It uses the sink's read half
only (syncd.sync.seam.Reader), so the same code follows the JSON files, SQLite and PostgreSQL:

* It waits (``Reader.wait``: file events, PostgreSQL's ``LISTEN``, a poll of SQLite's pass
  counter) and looks at the sink's ``stamp`` at least every ``check_every`` seconds. An idle
  look costs one stamp: nothing is decoded.
* When the stamp moved, the models' ``heads`` say which moved. With a journal (``[sync] journal
  = true``) the entries between the ``seq`` it has and the committed one are netted per id: the
  cost is the change's, not the table's. A ``reset`` entry, entries no longer there (rotated
  away) or a journal that went back make it re-read the stored copy, with ``Change.reset``.
* Without a journal, a model whose head moved is diffed: its lines streamed against the marks of
  the previous copy (syncd.consumer.marks: 16 bytes a record, whatever the copy's size).

``seq={name: saved}`` resumes: the first change of that model is exactly the netted entries
since ``saved`` (``resumed=True``), or ``reset=True`` when the journal no longer covers it (the
journal rotated past it, turned off and on again, a forced resync, a deleted state): never a
silent gap. Heads are read before lines, so a copy read is at least as new as the ``seq``
reported with it, and a replayed entry that is already in it is no change. A copy being
rebuilt is never seen half-built: every sink hands out committed passes only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence

from syncd.consumer.load import Config, settings_of
from syncd.consumer.marks import Change, diff, marks_of, patch
from syncd.errors import CorruptFileError, SinkError
from syncd.settings import Settings
from syncd.sinks.factory import make_sink
from syncd.sync.digests import Digests
from syncd.sync.seam import Head, JournalGap, Reader

OBSERVERS = ("native", "polling", "none")


class Follow:
    """See the module docstring. Not thread-safe: iterate it from one thread; ``stop`` may be
    called from any."""

    def __init__(self, settings: Settings, names: Sequence[str] | None = None, *,
                 seq: Mapping[str, int] | None = None, records: bool = True,
                 observer: str = "native", debounce: float = 0.0,
                 check_every: float = 5.0, reader: Reader | None = None) -> None:
        if observer not in OBSERVERS:
            raise ValueError(f"observer must be native, polling or none, not {observer!r}")
        self.settings = settings
        self.names = list(names) if names else [spec.name for spec in settings.models]
        self.records = records
        self.observer_kind = observer
        self.debounce = debounce
        self.check_every = check_every
        self.reader: Reader = reader if reader is not None else make_sink(settings)
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._started = False
        self._known: dict[str, Digests] = {n: Digests() for n in self.names}
        self._seq: dict[str, int | None] = {n: None for n in self.names}
        self._version: dict[str, str | None] = {}
        self._resume = {n: s for n, s in (seq or {}).items() if n in self._known}
        self._stamp: Hashable = object()  # never equal to a sink's: the first look reads heads
        self.checks = 0  # how many looks ran (for tests and the curious)
        self.reads = 0  # how many stored copies were read whole (idem)

    # -- life ----------------------------------------------------------------------------------
    def start(self) -> Follow:
        """Take the baseline (what is stored now is no change) and start listening."""
        if self._started:
            return self
        self.reader.stamp()  # a missing data directory is an error now, not a silent wait
        self._started = True
        self.reader.wait(0.0, self._wake, events=self.observer_kind)  # listening from here on
        self._stamp = self.reader.stamp()
        heads = self.reader.heads()
        for name in self.names:
            head = heads.get(name)
            if name in self._resume or head is None:
                continue  # resumed at the first look; not stored yet: all of it is news
            self._seq[name], self._version[name] = head.seq, head.version
            self._learn(name)
        return self

    @property
    def where(self) -> str:
        """Where the followed copies are, for people."""
        return self.reader.where()

    def stop(self) -> None:
        """End the iteration (from any thread); the sink's watchers are closed."""
        self._stopped.set()
        self._wake.set()

    def __enter__(self) -> Follow:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.reader.close()

    def __iter__(self) -> Iterator[Change]:
        self.start()
        try:
            first = True
            while not self._stopped.is_set():
                for change in self.check(force=first):
                    if self._stopped.is_set():
                        return
                    yield change
                first = False
                self._wake.clear()
                if self._stopped.is_set():
                    return
                if self.reader.wait(self.check_every, self._wake, events=self.observer_kind) \
                        and self.debounce > 0:
                    self._settle()
        finally:
            self.stop()
            self.reader.close()

    def run(self, callback: Callable[[Change], object]) -> None:
        """Call ``callback`` with each change until ``stop``."""
        for change in self:
            callback(change)

    def _settle(self) -> None:
        """Debounce: wait until events stop for ``debounce`` seconds (at most 20 times that)."""
        deadline = time.monotonic() + 20 * self.debounce
        while time.monotonic() < deadline and not self._stopped.is_set():
            self._wake.clear()
            if not self.reader.wait(self.debounce, self._wake, events=self.observer_kind):
                return

    # -- looking -------------------------------------------------------------------------------
    def check(self, *, force: bool = False) -> list[Change]:
        """One look at every followed model (the periodic check runs this): the changes that
        landed since the last look, non-empty ones only. Costs one stamp when nothing moved."""
        self.checks += 1
        try:
            stamp = self.reader.stamp()
            if stamp == self._stamp and not (force and self._resume):
                return []
            heads = self.reader.heads()
        except (CorruptFileError, SinkError):
            return []  # not ours to judge (the next pass sets a corrupt state aside)
        found: list[Change] = []
        complete = True
        for name in self.names:
            head = heads.get(name)
            if head is None:
                continue  # nothing stored (yet, or being put back): looked at when it is
            change = self._look(name, head)
            if change is None:
                complete = False  # unreadable now: the same stamp is looked at again
            elif not change.empty:
                found.append(change)
        if complete:
            self._stamp = stamp
        return found

    def _look(self, name: str, head: Head) -> Change | None:
        resume = self._resume.pop(name, None)
        have = resume if resume is not None else self._seq[name]
        if have is not None and head.seq is not None:
            if head.seq == have and resume is not None:  # nothing landed while it was away
                self._seq[name], self._version[name] = have, head.version
                if not self._learn(name):  # learn the copy: later changes are exact
                    self._resume[name] = resume
                    return None
                return Change(name, seq=have)
            if head.seq == have and self._same(name, head):
                return Change(name, seq=have)
            if head.seq > have:
                change = self._replay(name, have, head, resumed=resume is not None)
                if change is not None:
                    return change
            change = Change(name, seq=head.seq, reset=True)
        elif resume is not None:  # nothing to resume from: reload
            change = Change(name, seq=head.seq, reset=True)
        elif head.seq == have and self._same(name, head):
            return Change(name, seq=have)
        else:
            change = Change(name, seq=head.seq)
        self._seq[name], self._version[name] = head.seq, head.version
        result = self._diff(name, change)
        if result is None and resume is not None:
            self._resume[name] = resume  # could not read: resume again at the next look
        return result

    def _same(self, name: str, head: Head) -> bool:
        """The copy is the one last looked at (a model never looked at is always news)."""
        return name in self._version and self._version[name] == head.version

    def _replay(self, name: str, have: int, head: Head, *, resumed: bool) -> Change | None:
        """The journal's entries since ``have``, netted per id; None when they say to reload
        (a reset among them, or they are gone)."""
        assert head.seq is not None
        net: dict[int, bytes | None] = {}
        try:
            for entry in self.reader.changes(name, have, head.seq):
                if entry.op == "reset":
                    return None
                assert entry.id is not None
                net[entry.id] = entry.line
        except JournalGap:
            return None
        change = Change(name, seq=head.seq, resumed=resumed)
        self._known[name] = patch(self._known[name], net, change, records=self.records,
                                  resumed=resumed)
        self._seq[name], self._version[name] = head.seq, head.version
        if resumed:  # learn the whole copy now: later changes are exact
            self._learn(name)
        return change

    def _learn(self, name: str) -> bool:
        """Read the stored copy's marks (nothing decoded, nothing handed out); False when the
        copy cannot be read now."""
        self.reads += 1
        try:
            self._known[name] = marks_of(self.reader.lines(name))
        except (CorruptFileError, SinkError, OSError):
            self._version.pop(name, None)
            return False
        return True

    def _diff(self, name: str, change: Change) -> Change | None:
        """Fill ``change`` with the stored copy's differences from what is known (None: the
        copy cannot be read now; tried again at the next look)."""
        self.reads += 1
        try:
            self._known[name] = diff(self._known[name], self.reader.lines(name), change,
                                     records=self.records)
        except (CorruptFileError, SinkError, OSError):
            self._version.pop(name, None)
            return None
        return change


def follow(config: Config | None = None, names: Sequence[str] | None = None, *,
           seq: Mapping[str, int] | None = None, records: bool = True,
           observer: str = "native", debounce: float = 0.0,
           check_every: float = 5.0) -> Follow:
    """Follow ``names`` (default: every configured model) of the configuration ``config`` (a
    file path or ``Settings``). ``seq``: per model, the journal position to resume from (as
    saved from ``Change.seq`` or ``load_at``); ``records=False``: ids only (nothing decoded).
    ``observer``: how a sink that watches files does (``native``, ``polling`` for network
    shares, ``none``: only the periodic look every ``check_every`` seconds); ``debounce``:
    after a wake-up, wait until the sink is quiet that long before looking.
    """
    return Follow(settings_of(config), names, seq=seq, records=records, observer=observer,
                  debounce=debounce, check_every=check_every)
