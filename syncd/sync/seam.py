"""The Sink seam: the one interface on the output side, as ``Transport`` is on the Odoo side.

Writing. A pass hands each model's ``ChangeSet`` to a ``PassWriter`` (``Sink.begin``), then
commits the whole pass at once with the new state (``PassWriter.commit``), or drops it
(``abort``): the stored copies and the state stay exactly as they were. Every sink gives the same
guarantees: readers see the previous pass or the new one, never a mix or a half-written copy,
and the state moves only with the data it describes.

Reading (``Reader``, the half ``syncd.consumer`` uses and nothing else). ``stamp`` is a cheap
token that moves with every committed pass; ``heads`` says where each stored model stands
(its last committed journal ``seq`` and a version that moves when its copy changes); ``lines``
streams a model's canonical record lines by id; ``changes`` the journal entries between two
``seq``s (``JournalGap`` when they are gone); ``wait`` blocks until a pass may have committed.
Read ``heads`` before ``lines``: the lines are then at least as new as the heads, so replaying
the journal from a head's ``seq`` may repeat a change already in them, never miss one.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Hashable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Protocol

from syncd.errors import SyncdError
from syncd.sync.changes import ChangeSet
from syncd.sync.state import ModelState, State


class JournalGap(SyncdError):
    """The journal entries after a reader's ``seq`` are gone (rotated away, the journal deleted
    or restarted): reload the stored copy."""


@dataclass
class Applied:
    """What writing one change set did: records added or changed, removed, and the new count."""

    changed: int
    removed: int
    records: int


@dataclass(frozen=True)
class Entry:
    """One journal entry. ``line``: the record's canonical line (upsert only), the same bytes as
    the stored copy holds for it, so it can be compared with a line without decoding either."""

    seq: int
    at: str
    op: str  # "upsert", "remove" or "reset"
    id: int | None
    line: bytes | None


@dataclass(frozen=True)
class Head:
    """Where one stored model stands after the last committed pass. ``seq``: its last journal
    entry (None when that pass kept no journal); ``version``: moves whenever the stored copy
    changes (compare for equality only)."""

    seq: int | None
    version: str | None


class Stored(Protocol):
    """What a pull may ask about the stored copy of a model (every sink answers it)."""

    def exists(self, name: str) -> bool:
        """False when the model has never been written (or its copy was removed)."""

    def changed_outside(self, name: str, state: ModelState) -> bool:
        """True when the copy is not the one syncd last wrote (edited by someone else)."""

    def stored_ids(self, name: str, state: ModelState) -> array[int]:
        """The ids in the stored copy, ascending (CorruptFileError if unreadable)."""


class PassWriter(Protocol):
    """One pass's all-or-nothing write. ``write`` each model's change set, then ``commit``
    once with the whole new state, or ``abort``. Neither may be called twice."""

    def write(self, change: ChangeSet) -> Applied:
        """Stage one model's changes (consuming ``change.rebuild``, if any). On an exception
        (a corrupt stored copy, an Odoo error inside the rebuild stream) nothing of this model
        is staged and the writer stays usable for another attempt at it."""

    def forget(self, name: str) -> None:
        """Remove the stored copy of ``name`` at commit (``resync --forget``: a model no longer
        configured; the caller drops its state entry)."""

    def commit(self, state: State) -> None:
        """Make every staged change visible, with ``state``, as one step. The sink sets each
        model's ``journal_seq`` in ``state`` (None when it keeps no journal)."""

    def abort(self) -> None:
        """Drop everything staged; safe to call after a failed commit or more than once."""


class Reader(Protocol):
    """The read half: what every consumer (load, follow, watch, match) uses, on every sink."""

    def stamp(self) -> Hashable:
        """A token that moves with every committed pass. O(1): nothing decoded."""

    def heads(self) -> dict[str, Head]:
        """Each stored model's ``Head`` as of the last committed pass (models with no stored
        copy are absent)."""

    def lines(self, name: str) -> Iterator[tuple[int, bytes]]:
        """The stored copy of ``name``: (id, canonical record line), ascending ids, from one
        committed pass (nothing when there is no copy). CorruptFileError when unreadable."""

    def changes(self, name: str, after: int, upto: int) -> Iterator[Entry]:
        """The journal entries of ``name`` with ``after < seq <= upto``, in order; JournalGap
        when any of them is gone."""

    def wait(self, timeout: float, wake: threading.Event, *, events: str = "native") -> bool:
        """Block until a pass may have committed (True), or ``wake`` is set or ``timeout``
        seconds passed (False). May return True spuriously: check ``stamp``. ``events``:
        ``native`` (the sink's own way: file events, notifications, a cheap poll), ``polling``
        (file events by polling, for network shares), ``none`` (only the timeout). The first
        call starts listening: make it before the first look (timeout 0) to miss nothing."""

    def read_state(self) -> State:
        """The committed state as it is: CorruptFileError instead of setting it aside; an empty
        state when there is none."""

    def location(self, name: str) -> str:
        """Where the stored copy of ``name`` is, for people (a file, a table)."""

    def where(self) -> str:
        """Where the stored copies are, for people (a directory, a database file, a schema)."""

    def close(self) -> None:
        """Release connections and watchers. Safe to call more than once."""


class Sink(Stored, Reader, Protocol):
    """Where records go, and where readers find them. ``Stored`` is what a pull asks;
    ``Reader`` what consumers use.

    A sink connects lazily (on first use) and holds nothing open after ``close``. The caller
    holds the data directory's lock; ``lock`` adds the sink's own one-writer lock where its
    target may be shared beyond the data directory (a database file, a database schema)."""

    def lock(self) -> AbstractContextManager[object]:
        """Exclusive, non-blocking: LockedError naming the holder when another syncd has it."""

    def load_state(self) -> State:
        """The committed state; an empty one (rebuild everything) when there is none. A corrupt
        state is set aside (reported) and read as empty."""

    def begin(self, at: str | None = None) -> PassWriter:
        """Start a pass's write. ``at``: when the pass began (naive UTC ``YYYY-MM-DD HH:MM:SS``,
        this machine's clock), for the change journal's ``at``; None outside a pass."""

    def set_aside(self, name: str) -> str | None:
        """Move a corrupt stored copy of ``name`` out of the way (reported, never deleted);
        returns where it went, if anywhere."""

    def count(self, name: str, state: State) -> int | None:
        """Records in the stored copy of ``name``; None when it does not exist."""


class Workdir(Protocol):
    """What a pass asks of the data directory besides the sink: that it exists, the pending
    ``syncd resync`` request, and where a failed pass leaves its error for ``status``."""

    def prepare(self) -> None:
        """Create the directory if missing and sweep what a killed writer left behind."""

    def scratch_file(self) -> IO[bytes]:
        """A new scratch file (read and write) for a change set past its memory budget
        (``syncd.sync.upserts``), removed when closed or when the process dies (or, where the
        platform cannot, by the next ``prepare``)."""

    def resync_request(self) -> list[str] | None:
        """The models ``syncd resync`` asked to rebuild ([] for all); None when none asked."""

    def clear_resync_request(self, request: list[str] | None) -> None:
        """Drop the request once a pass has honoured it."""

    def record_error(self, model: str | None, message: str, when: datetime) -> None:
        """Keep a failed pass's error where ``status`` finds it."""

    def clear_error(self) -> None:
        """A good pass: no error to show any more."""
