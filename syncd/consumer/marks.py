"""What a follower remembers of a model (an 8-byte mark per id, packed) and a change set.

A follower never keeps records: it keeps, per id in ascending order, a digest of the record's
line in the snapshot layout (16 bytes a record: 300,000 records are under 5 MB), and compares a
new snapshot with it as a stream: both are in id order, so one walk finds what was added,
updated and removed, and only those lines are decoded. The journal's ``record`` is the same
bytes as the snapshot's line, so marks from either agree.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from syncd.sync.digests import Digests


def line_mark(line: bytes) -> int:
    """The mark of a record's line (equal lines, equal marks; the layout is canonical)."""
    return int.from_bytes(hashlib.blake2b(line, digest_size=8).digest(), "big")


@dataclass
class Change:
    """One model's change set as it landed: records added, updated (by id, decoded; with
    ``records=False`` each value is an empty dict: ids only), ids removed.

    ``reset``: the snapshot was rebuilt, or the journal lines since the follower's ``seq`` are
    gone (rotated away): a consumer that keeps a copy should reload it (``load``); the sets are
    then the differences from what the follower knew, which is nothing when it resumed from a
    saved ``seq``. ``seq``: the journal position this change brings the model to (None without
    a journal): save it to resume from. ``count``: the model's records after the change.
    ``resumed``: the catch-up from a saved ``seq``; whether a record was new to the consumer is
    not known then, so every upsert is under ``updated``."""

    name: str
    added: dict[int, dict[str, Any]] = field(default_factory=dict)
    updated: dict[int, dict[str, Any]] = field(default_factory=dict)
    removed: list[int] = field(default_factory=list)
    reset: bool = False
    seq: int | None = None
    count: int = 0
    resumed: bool = False

    @property
    def empty(self) -> bool:
        return not (self.added or self.updated or self.removed or self.reset)


def _decoded(line: bytes, records: bool) -> dict[str, Any]:
    if not records:
        return {}
    value: dict[str, Any] = orjson.loads(line)
    return value


def marks_of(lines: Iterable[tuple[int, bytes]]) -> Digests:
    """The marks of a stream of (id, line), ascending: what a follower remembers of a copy."""
    known = Digests()
    for record_id, line in lines:
        known.add(record_id, line_mark(line))
    return known


def diff(old: Digests, lines: Iterable[tuple[int, bytes]], change: Change, *,
         records: bool) -> Digests:
    """Fill ``change`` with how the stream of (id, line), ascending, differs from ``old``;
    return the marks of the stream."""
    new = Digests()
    i, n = 0, len(old)
    for record_id, line in lines:
        while i < n and old.ids[i] < record_id:
            change.removed.append(old.ids[i])
            i += 1
        value = line_mark(line)
        if i < n and old.ids[i] == record_id:
            if old.marks[i] != value:
                change.updated[record_id] = _decoded(line, records)
            i += 1
        else:
            change.added[record_id] = _decoded(line, records)
        new.add(record_id, value)
    change.removed.extend(old.ids[i:])
    change.count = len(new)
    return new


def patch(old: Digests, net: Mapping[int, bytes | None], change: Change, *, records: bool,
          resumed: bool = False) -> Digests:
    """Apply ``net`` (id: its last line, or None for removed) to ``old`` in place, filling
    ``change``; returns ``old``. An upsert equal to what ``old`` has is no change (a journal
    replayed over a copy that already had it); ``resumed`` reports every upsert and every
    removal as it is. Each id is found by bisection: the cost is the change's, not the copy's
    (an insertion or removal moves the packed arrays' tail, a memmove)."""
    ids, marks = old.ids, old.marks
    for record_id in sorted(net):
        at = bisect_left(ids, record_id)
        present = at < len(ids) and ids[at] == record_id
        before = marks[at] if present else None
        line = net[record_id]
        if line is None:
            if present:
                del ids[at]
                del marks[at]
            if present or resumed:
                change.removed.append(record_id)
            continue
        value = line_mark(line)
        if present:
            marks[at] = value
        else:
            ids.insert(at, record_id)
            marks.insert(at, value)
        if resumed or (present and before != value):
            change.updated[record_id] = _decoded(line, records)
        elif not present:
            change.added[record_id] = _decoded(line, records)
    change.count = len(old)
    return old
