"""A change set's upserts: the records a pass adds or replaces, by id, held compactly and spilled
to disk past a memory budget.

Each record is kept as its canonical line (``syncd.sync.record``), encoded once when the pull
adds it: the bytes the JSON sink writes and the database sinks store in ``record``, about a
quarter of the same record as a dict. While the lines held in memory stay within ``budget``
bytes they sit in dicts by id; past it (a mass update or an import after the first sync, where
every record of the table changed) the held lines are sorted by id and written to a scratch
file (a *run*), and memory starts again empty. Reading them back (``items``) merges the runs
and what is still in memory as sorted streams (``heapq.merge``): ascending ids, the latest value
of an id winning, and an id removed after it was spilled (``discard``) staying removed. Memory
is then the budget, plus a sparse index per run (16 bytes per 128 records) and one read buffer
per run being merged, whatever the size of the change set.

Spilling never changes what is written: ``items`` yields the same (id, line) pairs, in the same
order, as it would with everything in memory (a test writes each sink both ways and compares).

The scratch files come from the caller (``scratch``; the data directory's, on the same disk as
the stored copies, not a ``/tmp`` that may be memory): they are removed from the directory as
soon as they are created where the platform allows it, and by ``close`` otherwise; a leftover of
a killed process is removed at the next pass's start. Not shared between threads: each model's
pull fills its own, and the sink reads it on that same thread.
"""

from __future__ import annotations

import heapq
import struct
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

from syncd.sync.record import Layout

# What one record held in memory costs beyond its line's bytes: the bytes object's header, the
# dict's slot and its share of the table, the id's int object (95 to 125 bytes by tracemalloc,
# as the dict's fill varies), and its place in the list sorted at a spill (8).
# tests/sync/test_upserts.py keeps the estimate honest.
PER_RECORD = 135
_READ = 1 << 16  # bytes read from a run at a time, per run being merged
_WRITE = 1 << 20  # bytes buffered before a run's write

Scratch = Callable[[], IO[bytes]]


class Upserts:
    """Records by id, to add or replace (see the module docstring). ``fields``: the model's
    field order, for the canonical lines; ``budget``: bytes of lines held in memory before they
    spill (None: never); ``scratch``: makes a new scratch file (None: never spill)."""

    def __init__(self, fields: Sequence[str] = (), *, budget: int | None = None,
                 scratch: Scratch | None = None) -> None:
        self.layout = Layout(fields)
        self._budget = budget if scratch is not None else None
        self._scratch = scratch
        self._memory = _Memory()
        self._held = 0  # bytes the records in memory cost (PER_RECORD each included)
        self._runs: list[_Run] = []
        self._dead: set[int] = set()  # ids removed after a run took them (never in _memory)
        self._count: int | None = None  # with runs: the live ids, once counted
        self._closed = False

    @classmethod
    def of(cls, fields: Sequence[str], records: Iterable[Mapping[str, Any]]) -> Upserts:
        """In memory, from records (each with its ``id``); the latest of an id wins."""
        upserts = cls(fields)
        for record in records:
            upserts[record["id"]] = record
        return upserts

    def __repr__(self) -> str:
        return (f"Upserts({len(self._memory)} in memory, {len(self._runs)} spilled runs"
                f"{', closed' if self._closed else ''})")

    # -- filling ---------------------------------------------------------------------------
    def __setitem__(self, record_id: int, record: Mapping[str, Any]) -> None:
        """Add or replace ``record`` (its ``id`` must be ``record_id``)."""
        self.put(record_id, self.layout.line(record))

    def put(self, record_id: int, line: bytes) -> None:
        """Add or replace a record by its canonical line."""
        self._open()
        old = self._memory.put(record_id, line)
        if old is not None:
            self._held -= len(old) + PER_RECORD
        self._held += len(line) + PER_RECORD
        if self._runs:
            self._count = None  # counted again when asked (a run may hold the id)
            if self._dead:
                self._dead.discard(record_id)
        if self._budget is not None and self._held > self._budget:
            self._spill()

    def discard(self, record_id: int) -> None:
        """Remove ``record_id`` if present: it stays removed even when a run holds it."""
        self._open()
        old = self._memory.pop(record_id)
        if old is not None:
            self._held -= len(old) + PER_RECORD
        if self._runs:
            self._count = None
            if self._in_runs(record_id):
                self._dead.add(record_id)

    def _spill(self) -> None:
        assert self._scratch is not None
        file = self._scratch()
        try:
            run = _Run.write(file, self._memory.items())
        except BaseException:
            file.close()
            raise
        self._runs.append(run)
        self._memory = _Memory()
        self._held = 0

    # -- reading ---------------------------------------------------------------------------
    def __contains__(self, record_id: object) -> bool:
        if not isinstance(record_id, int):
            return False
        if record_id in self._memory:
            return True
        return record_id not in self._dead and self._in_runs(record_id)

    def _in_runs(self, record_id: int) -> bool:
        return any(run.holds(record_id) for run in self._runs)

    def __len__(self) -> int:
        if not self._runs:
            return len(self._memory)
        if self._count is None:
            self._count = sum(1 for _ in self.ids())
        return self._count

    def __bool__(self) -> bool:
        if self._memory:
            return True
        # A run holding more ids than were discarded holds a live one (its ids are distinct).
        return any(run.count > len(self._dead) for run in self._runs) or \
            (bool(self._runs) and len(self) > 0)

    def __iter__(self) -> Iterator[int]:
        return self.ids()

    def ids(self) -> Iterator[int]:
        """The ids, ascending."""
        for record_id, _ in self._merged(lines=False):
            yield record_id

    def items(self) -> Iterator[tuple[int, bytes]]:
        """(id, canonical line), ascending ids: each id once, with its latest line. May be
        read more than once; the upserts must not change meanwhile."""
        return self._merged(lines=True)

    def _merged(self, *, lines: bool) -> Iterator[tuple[int, bytes]]:
        self._open()
        if not self._runs:
            yield from self._memory.items()
            return
        # (id, age, line): for an id in several sources the newest (age 0: memory) comes first.
        sources: list[Iterator[tuple[int, int, bytes]]] = [
            ((record_id, 0, line) for record_id, line in self._memory.items())]
        for age, run in enumerate(reversed(self._runs), 1):
            sources.append(run.entries(age, lines))
        dead = self._dead
        last = None
        for record_id, _, line in heapq.merge(*sources):
            if record_id == last:
                continue  # an older value of the id just yielded (or skipped)
            last = record_id
            if record_id in dead:
                continue
            yield record_id, line

    # -- the end -----------------------------------------------------------------------------
    @property
    def spilled(self) -> int:
        """Runs written to scratch files so far."""
        return len(self._runs)

    @property
    def held(self) -> int:
        """Bytes the records in memory cost (their lines, and ``PER_RECORD`` each)."""
        return self._held

    def close(self) -> None:
        """Drop everything and close (remove) the scratch files. Safe to call more than once."""
        self._closed = True
        runs, self._runs = self._runs, []
        self._memory = _Memory()
        self._dead = set()
        self._held = 0
        self._count = None
        errors: list[BaseException] = []
        for run in runs:
            try:
                run.file.close()
            except OSError as exc:  # closing every file matters more than the first error
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> Upserts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        if self._closed:
            raise ValueError("the upserts are closed")


class _Memory:
    """The records in memory, by id: dicts of at most ``SHARD`` ids each, an id in one of them
    only. One dict of all would double its table as it grows, and for the moment it copies, old
    and new tables both live (about 20 MB more at 350,000 records, past the budget just when
    it is full); a shard never grows beyond the table that holds ``SHARD``."""

    SHARD = 87_000  # CPython's dict of 2**17 slots holds 87,381 before it doubles

    def __init__(self) -> None:
        self.shards: list[dict[int, bytes]] = [{}]

    def put(self, record_id: int, line: bytes) -> bytes | None:
        """Add or replace; the line replaced, if any."""
        shards = self.shards
        current = shards[-1]
        old = current.get(record_id)
        if old is None:
            if len(shards) > 1:
                for shard in shards:  # the current one has it not: it pops nothing
                    old = shard.pop(record_id, None)
                    if old is not None:
                        break
            if len(current) >= self.SHARD:
                current = {}
                shards.append(current)
        current[record_id] = line
        return old

    def pop(self, record_id: int) -> bytes | None:
        for shard in self.shards:
            old = shard.pop(record_id, None)
            if old is not None:
                return old
        return None

    def __contains__(self, record_id: int) -> bool:
        return any(record_id in shard for shard in self.shards)

    def __len__(self) -> int:
        return sum(len(shard) for shard in self.shards)

    def __bool__(self) -> bool:
        return any(self.shards)

    def items(self) -> Iterator[tuple[int, bytes]]:
        """(id, line), ascending ids."""
        if len(self.shards) == 1:
            return _sorted_items(self.shards[0])
        return heapq.merge(*map(_sorted_items, self.shards))  # ids are distinct: no ties


def _sorted_items(shard: dict[int, bytes]) -> Iterator[tuple[int, bytes]]:
    return ((record_id, shard[record_id]) for record_id in sorted(shard))


class _Run:
    """One spilled run: its scratch file, entries in ascending id order (the id, the line's
    length, the line), and a sparse index: the id and offset of every ``STRIDE``-th entry, so
    that ``holds`` reads one block of the file and memory does not grow with the run."""

    STRIDE = 128
    _ENTRY = struct.Struct("<qI")  # an entry's head: id, the line's length

    def __init__(self, file: IO[bytes], index_ids: array[int], index_at: array[int],
                 last: int, size: int, count: int) -> None:
        self.file = file
        self.count = count
        self.index_ids = index_ids
        self.index_at = index_at
        self.last = last
        self.size = size
        self._block: tuple[int, list[int]] = (-1, [])  # the last block ``holds`` read

    @classmethod
    def write(cls, file: IO[bytes], lines: Iterable[tuple[int, bytes]]) -> _Run:
        """Write ``lines`` ((id, line), ascending ids) to ``file``; the run that reads them."""
        index_ids, index_at = array("q"), array("q")
        head = cls._ENTRY.pack
        buffer = bytearray()
        written = 0
        last = n = 0
        for n, (record_id, line) in enumerate(lines, 1):
            if (n - 1) % cls.STRIDE == 0:
                index_ids.append(record_id)
                index_at.append(written + len(buffer))
            last = record_id
            buffer += head(record_id, len(line))
            buffer += line
            if len(buffer) >= _WRITE:
                file.write(buffer)
                written += len(buffer)
                buffer.clear()
        file.write(buffer)
        written += len(buffer)
        file.flush()
        return cls(file, index_ids, index_at, last, written, n)

    def holds(self, record_id: int) -> bool:
        if not self.index_ids or record_id < self.index_ids[0] or record_id > self.last:
            return False
        block = bisect_right(self.index_ids, record_id) - 1
        if self._block[0] != block:  # ascending lookups (a deletion check's) read each once
            start = self.index_at[block]
            stop = self.index_at[block + 1] if block + 1 < len(self.index_at) else self.size
            self.file.seek(start)
            data = self.file.read(stop - start)
            ids, at = [], 0
            while at < len(data):
                found, length = self._ENTRY.unpack_from(data, at)
                ids.append(found)
                at += self._ENTRY.size + length
            self._block = (block, ids)
        ids = self._block[1]
        at = bisect_left(ids, record_id)
        return at < len(ids) and ids[at] == record_id

    def entries(self, age: int, lines: bool) -> Iterator[tuple[int, int, bytes]]:
        """(id, age, line) in id order (``lines`` False: the lines left empty)."""
        file = self.file
        size = self._ENTRY.size
        unpack = self._ENTRY.unpack_from
        position = 0  # where the next read starts in the file
        buffer = b""
        at = 0
        while position < self.size or at < len(buffer):
            if at + size > len(buffer):
                buffer, position, at = _refill(file, buffer, at, position, size)
            record_id, length = unpack(buffer, at)
            end = at + size + length
            if end > len(buffer):
                buffer, position, at = _refill(file, buffer, at, position, size + length)
                end = at + size + length
            yield record_id, age, buffer[at + size:end] if lines else b""
            at = end


def _refill(file: IO[bytes], buffer: bytes, at: int, position: int,
            needed: int) -> tuple[bytes, int, int]:
    """The unread rest of ``buffer`` and at least ``needed`` bytes more from ``position`` (each
    read seeks first: several readers of one file may take turns)."""
    file.seek(position)
    more = file.read(max(_READ, needed))
    if len(buffer) - at + len(more) < needed:
        raise OSError(f"spilled run truncated: wanted {needed} bytes at {position}")
    return buffer[at:] + more, position + len(more), 0
