"""The Sink seam: the one interface on the output side, as ``Transport`` is on the Odoo side.

A pass hands each model's ``ChangeSet`` to a ``PassWriter`` (``Sink.begin``), then commits the
whole pass at once with the new state (``PassWriter.commit``), or drops it (``abort``): the
stored copies and the state stay exactly as they were. Every sink gives the same guarantees:
readers see the previous pass or the new one, never a mix or a half-written copy, and the
state moves only with the data it describes. The JSON sink stages files and writes the state
file last; a database sink runs the pass in one transaction, state included.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from syncd.sync.changes import ChangeSet, Stored
from syncd.sync.state import State


@dataclass
class Applied:
    """What writing one change set did: records added or changed, removed, and the new count."""

    changed: int
    removed: int
    records: int


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
        """Make every staged change visible, with ``state``, as one step."""

    def abort(self) -> None:
        """Drop everything staged; safe to call after a failed commit or more than once."""


class Sink(Stored, Protocol):
    """Where records go. ``Stored`` (exists, changed_outside, stored_ids) is what a pull asks.

    A sink connects lazily (on first use) and holds nothing open after ``close``. The caller
    holds the data directory's lock; ``lock`` adds the sink's own one-writer lock where its
    target may be shared beyond the data directory (a database file, a database schema)."""

    def lock(self) -> AbstractContextManager[object]:
        """Exclusive, non-blocking: LockedError naming the holder when another syncd has it."""

    def close(self) -> None:
        """Release connections (and the lock, if held). Safe to call more than once."""

    def load_state(self) -> State:
        """The committed state; an empty one (rebuild everything) when there is none. A corrupt
        state is set aside (reported) and read as empty."""

    def read_state(self) -> State:
        """The committed state as it is, for readers: CorruptFileError instead of setting it
        aside; an empty state when there is none."""

    def begin(self, at: str | None = None) -> PassWriter:
        """Start a pass's write. ``at``: when the pass began (naive UTC ``YYYY-MM-DD HH:MM:SS``,
        this machine's clock), for the change journal's ``at``; None outside a pass."""

    def set_aside(self, name: str) -> str | None:
        """Move a corrupt stored copy of ``name`` out of the way (reported, never deleted);
        returns where it went, if anywhere."""

    def location(self, name: str) -> str:
        """Where the stored copy of ``name`` is, for people (a file, a table)."""

    def count(self, name: str, state: State) -> int | None:
        """Records in the stored copy of ``name``; None when it does not exist."""

    def records(self, name: str) -> Iterator[dict[str, Any]]:
        """The stored records of ``name`` in id order (for readers and ``check``)."""
