"""The snapshot file ``odoo_<name>.json``: its layout, and writing it as a stream (reading it:
syncd.sinks.json.snapshot_read, re-exported here).

The layout is a JSON array with one record per line, sorted by ``id``, UTF-8 (no ``\\u``
escapes)::

    [
    {"id":1,"name":"A",...},
    {"id":2,"name":"B",...}
    ]

and ``[]`` plus a newline when empty. Each record's keys are in a canonical order (``id``, the
configured fields in their order, then any other keys sorted), so the bytes are a pure function
of the content, whichever protocol delivered the records and in whatever order.

Nothing here holds a whole snapshot in memory, nor a whole change set. A full sync writes each
page to the staged temporary file as it arrives (``rebuild``); a pass with changes merges them
into the existing file (``merge``), reading the change set as a stream in id order (its upserts
may be spilled to disk: syncd.sync.upserts): it finds each changed id by bisecting the sorted
file and copies the unchanged bytes between them in the kernel, never decoding a line it does
not change, and hands each change to the journal as it goes. That is only sound for a
file syncd wrote itself, which the caller knows from the file's signature (``signature``): any
other file (edited by hand, indented, written by another tool) is read once, validated record by
record, and rewritten in this layout (``trusted=False``).

Surprise: JSON strings cannot hold a raw newline (it is escaped as ``\\n``), so in this layout a
newline followed by ``{"id":`` only ever starts a record; that is what makes the bisection safe.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncd.errors import CorruptFileError
from syncd.sinks.atomic import Staged, StagedWriter
from syncd.sinks.json.snapshot_read import EMPTY as _EMPTY
from syncd.sinks.json.snapshot_read import HEAD as _HEAD
from syncd.sinks.json.snapshot_read import (
    count_records,
    read_records,
    record_lines,
    snapshot_ids,
)
from syncd.sinks.record import Layout, record_id_of
from syncd.sync.upserts import Upserts

__all__ = ["Layout", "Merged", "Rebuild", "count_records", "encode", "merge", "read_records",
           "record_id_of", "record_lines", "signature", "snapshot_ids"]

_TAIL = b"\n]\n"
_SEP = b",\n"
_ID_PREFIX = b'{"id":'
_ID_AT = re.compile(rb'\{"id":([0-9]+)')


def signature(path: Path) -> str | None:
    """Size and mtime of a file: when it is not the one syncd last wrote, it is not trusted."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


def encode(lines: Iterable[bytes]) -> bytes:
    """The whole file for these record lines (already in id order)."""
    joined = _SEP.join(lines)
    return _HEAD + joined + _TAIL if joined else _EMPTY


# -- writing ------------------------------------------------------------------------------------
class Rebuild:
    """A new snapshot written as a stream: ``add`` lines in ascending id order, then ``finish``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = StagedWriter(path)
        self._last: int | None = None
        self.records = 0

    def add(self, record_id: int, line: bytes) -> None:
        if self._last is not None and record_id <= self._last:
            raise ValueError(f"records out of id order: {record_id} after {self._last}")
        self._last = record_id
        self._writer.write(_SEP + line if self.records else _HEAD + line)
        self.records += 1

    def finish(self) -> Staged | None:
        """The staged file, or None (and nothing left behind) when the file already holds
        exactly these bytes: an unchanged file is never touched, so watchers stay quiet."""
        self._writer.write(_TAIL if self.records else _EMPTY)
        staged = self._writer.finish()
        if _same_bytes(staged.temp, self.path):
            staged.discard()
            return None
        return staged

    def discard(self) -> None:
        self._writer.discard()


@dataclass
class Merged:
    staged: Staged | None  # None: the file stays as it is
    changed: int  # records added or whose bytes changed
    removed: int
    inserted: int  # of the changed, those whose id was not in the file
    records: int | None  # the new count when known (always for an untrusted file)


# What changed, in id order: (id, the new line) for a record added or whose bytes changed,
# (id, None) for one removed; the change journal writes exactly these.
Changes = Callable[[int, bytes | None], None]


def merge(path: Path, layout: Layout, upserts: Upserts | Mapping[int, Mapping[str, Any]],
          removals: Iterable[int], *, trusted: bool, changes: Changes | None = None) -> Merged:
    """Apply ``upserts`` (records by id; an id also in ``removals`` is upserted) and
    ``removals`` to the snapshot at ``path``; ``changes`` is told each change it made, in id
    order, as it goes.

    ``trusted``: the file is syncd's own (its signature is the one last written), so unchanged
    lines are copied as bytes. Otherwise every record is read and validated (CorruptFileError
    naming the file on anything that is not a JSON array of objects with distinct integer ids)
    and the file is rewritten in syncd's layout. A missing file is an empty snapshot."""
    if not isinstance(upserts, Upserts):
        upserts = Upserts.of(layout.fields, upserts.values())
    ordered = _ordered(upserts, removals)
    told: Changes = changes if changes is not None else _ignore
    if not path.exists():
        trusted = True  # nothing to distrust: an empty snapshot
    if trusted:
        with _Source.open(path) as source:
            if source is not None and source.ours:
                return _merge_trusted(path, source, ordered, told)
    return _merge_rewritten(path, layout, ordered, told)


def _ignore(record_id: int, line: bytes | None) -> None:
    pass


def _ordered(upserts: Upserts, removals: Iterable[int]) -> Iterator[tuple[int, bytes | None]]:
    """The changes in id order: (id, line) for an upsert, (id, None) for a removal."""
    gone = sorted(removals)
    at = 0
    for record_id, line in upserts.items():
        while at < len(gone) and gone[at] < record_id:
            yield gone[at], None
            at += 1
        if at < len(gone) and gone[at] == record_id:
            at += 1  # removed and upserted: upserted
        yield record_id, line
    for record_id in gone[at:]:
        yield record_id, None


def _merge_trusted(path: Path, source: _Source, ordered: Iterable[tuple[int, bytes | None]],
                   told: Changes) -> Merged:
    out = _Pieces(StagedWriter(path))
    changed = removed = inserted = 0
    try:
        pos = source.start
        for record_id, line in ordered:
            at = source.seek_id(record_id, pos)
            out.copy(source, pos, at)
            if at < source.end and source.id_at(at) == record_id:
                following = source.next_start(at)
                old = source.mm[at:following - 2]
                if line is None:
                    removed += 1
                    told(record_id, None)
                else:
                    if old != line:
                        changed += 1
                        told(record_id, line)
                    out.piece(line)
                pos = following
            else:
                if line is not None:
                    out.piece(line)
                    changed += 1
                    inserted += 1
                    told(record_id, line)
                pos = at
            source.release(pos)
        out.copy(source, pos, source.end)
    except BaseException:
        out.writer.discard()
        raise
    if not changed and not removed:
        out.writer.discard()
        return Merged(None, 0, 0, 0, None)
    return Merged(out.finish(), changed, removed, inserted, None)


def _merge_rewritten(path: Path, layout: Layout, ordered: Iterable[tuple[int, bytes | None]],
                     told: Changes) -> Merged:
    """A file syncd does not trust, rewritten in its layout with the changes applied. When its
    records are in ascending id order (syncd's own file, touched or edited in place: the usual
    reasons) it is merged as it is read, a record at a time, after a first reading that checks
    it (so a 1,000,000-record file costs two readings, not a million records held); any other
    is held whole and sorted."""
    if _ascending(path):
        return _merge_streamed(path, layout, ordered, told)
    return _merge_held(path, layout, ordered, told)


def _ascending(path: Path) -> bool:
    """Whether every record of the file is valid and their ids ascend (CorruptFileError on a
    record that is not valid; an unreadable file is judged again, whole, by the caller)."""
    last = 0
    for record in read_records(path):
        record_id = record["id"]
        if record_id <= last:
            return False
        last = record_id
    return True


def _merge_streamed(path: Path, layout: Layout, ordered: Iterable[tuple[int, bytes | None]],
                    told: Changes) -> Merged:
    """Merge-join of the file's records (ids ascending) and the changes (ids ascending)."""
    stored = ((record["id"], layout.line(record)) for record in read_records(path))
    rebuild = Rebuild(path)
    changed = removed = inserted = records = 0
    try:
        current = next(stored, None)
        for record_id, line in ordered:
            while current is not None and current[0] < record_id:
                rebuild.add(*current)
                records += 1
                current = next(stored, None)
            old: bytes | None = None
            if current is not None and current[0] == record_id:
                old, current = current[1], next(stored, None)
            if line is None:
                if old is not None:
                    removed += 1
                    told(record_id, None)
                continue
            if old != line:
                inserted += old is None
                changed += 1
                told(record_id, line)
            rebuild.add(record_id, line)
            records += 1
        while current is not None:
            rebuild.add(*current)
            records += 1
            current = next(stored, None)
        staged = rebuild.finish()
    except BaseException:
        rebuild.discard()
        raise
    finally:
        stored.close()  # the file, closed before the new one may replace it
    return Merged(staged, changed, removed, inserted, records)


def _merge_held(path: Path, layout: Layout, ordered: Iterable[tuple[int, bytes | None]],
                told: Changes) -> Merged:
    lines: dict[int, bytes] = {}
    for record in read_records(path):
        lines[record["id"]] = layout.line(record)
    changed = removed = inserted = 0
    for record_id, line in ordered:
        if line is None:
            if lines.pop(record_id, None) is not None:
                removed += 1
                told(record_id, None)
        elif lines.get(record_id) != line:
            inserted += record_id not in lines
            lines[record_id] = line
            changed += 1
            told(record_id, line)
    rebuild = Rebuild(path)
    try:
        for record_id in sorted(lines):
            rebuild.add(record_id, lines[record_id])
        staged = rebuild.finish()
    except BaseException:
        rebuild.discard()
        raise
    return Merged(staged, changed, removed, inserted, len(lines))


class _Pieces:
    """Writes record lines and copied ranges with the separators between them."""

    def __init__(self, writer: StagedWriter) -> None:
        self.writer = writer
        self.count = 0

    def piece(self, data: bytes) -> None:
        self.writer.write(_SEP + data if self.count else _HEAD + data)
        self.count += 1

    def copy(self, source: _Source, start: int, stop: int) -> None:
        """Copy the whole lines starting in [start, stop) (without the separator after them)."""
        if start >= stop:
            return
        self.writer.write(_SEP if self.count else _HEAD)
        self.writer.copy_range(source.fd, start, stop - 2 - start)
        self.count += 1

    def finish(self) -> Staged:
        self.writer.write(_TAIL if self.count else _EMPTY)
        return self.writer.finish()


# -- reading ------------------------------------------------------------------------------------
class _Source:
    """A snapshot file mapped in memory, for bisecting and copying. ``ours`` is False when the
    file is not in syncd's layout (then only ``read_records`` may read it).

    Offsets: ``start`` is where the first record line begins, ``end`` is one past the last
    line's separator position, so that for any line start (or ``end``) ``t``, the line before
    it ends at ``t - 2``."""

    def __init__(self, fd: int, mm: mmap.mmap | None, size: int) -> None:
        self.fd = fd
        self.mm = mm if mm is not None else _NO_MAP
        self.size = size
        self.ours = mm is not None and size > len(_EMPTY) and self.mm[:3] == b"[\n{" \
            and self.mm[size - 4:] == b"}\n]\n"
        self.empty = mm is None
        self._released = 0  # pages before this offset were let go (``release``)
        self._seen = (-1, 0)  # the last (offset, id) ``id_at`` read
        self.start = 2
        self.end = size - 1 if self.ours else 2
        if self.empty:
            self.ours = True  # "[]\n": no record lines at all

    @classmethod
    def open(cls, path: Path) -> _OpenSource:
        return _OpenSource(path)

    _RELEASE = 1 << 22  # bytes read past before their pages are let go

    def release(self, pos: int) -> None:
        """Let go of the mapped pages before ``pos`` once there are ``_RELEASE`` of them: a
        change set that touches every line would otherwise keep the whole file resident in
        this process (its RSS), though nothing reads those pages again."""
        upto = pos - pos % mmap.PAGESIZE
        if upto - self._released < self._RELEASE or self.mm is _NO_MAP:
            return
        madvise = getattr(self.mm, "madvise", None)
        if madvise is not None and hasattr(mmap, "MADV_DONTNEED"):
            madvise(mmap.MADV_DONTNEED, self._released, upto - self._released)
        self._released = upto

    def _limit(self) -> int:
        return self.end - 2  # the last line's end

    def next_start(self, at: int) -> int:
        found = self.mm.find(b"\n", at, self._limit())
        return self.end if found < 0 else found + 1

    def start_at_or_after(self, pos: int) -> int:
        if pos <= self.start:
            return self.start
        found = self.mm.find(b"\n", pos - 1, self._limit())
        return self.end if found < 0 else found + 1

    def id_at(self, at: int) -> int:
        if at == self._seen[0]:  # the merge asks for the id seek_id has just read
            return self._seen[1]
        found = _ID_AT.match(self.mm, at) if self.mm is not _NO_MAP else None
        if found is None:
            head = self.mm[at:at + len(_ID_PREFIX)]
            if head != _ID_PREFIX:
                raise CorruptFileError(f"record line at byte {at} does not start with an id")
            raise CorruptFileError(f"record line at byte {at} has no integer id")
        record_id = int(found[1])
        self._seen = (at, record_id)
        return record_id

    def seek_id(self, record_id: int, lo: int) -> int:
        """The first line start in [lo, end] whose id is >= record_id (``end`` if none).

        Changes come in id order, so the next one is often near: look at ``lo`` first, then
        gallop (4 KB, 8 KB, ... ahead) until a line at or past ``record_id`` bounds the
        bisection. A change set of every record then reads one id per record, not twenty."""
        if lo >= self.end or self.id_at(lo) >= record_id:
            return lo
        hi = self.end
        step = 1 << 12
        while True:
            probe = self.start_at_or_after(lo + step)
            if probe >= hi:
                break
            if self.id_at(probe) >= record_id:
                hi = probe
                break
            lo = probe
            step <<= 1
        while lo < hi:
            at = self.start_at_or_after((lo + hi) // 2)
            if at >= hi:
                # No line starts in the upper half: step through the lower one.
                if self.id_at(lo) >= record_id:
                    return lo
                lo = self.next_start(lo)
                continue
            if self.id_at(at) < record_id:
                lo = self.next_start(at)
            else:
                hi = at
        return lo


class _NoMap:
    def __getitem__(self, key: Any) -> bytes:
        return b""

    def find(self, *args: Any) -> int:
        return -1


_NO_MAP: Any = _NoMap()


class _OpenSource:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.source: _Source | None = None

    def __enter__(self) -> _Source | None:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            return None
        size = os.fstat(fd).st_size
        mm = None
        if size > len(_EMPTY):
            mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        elif os.read(fd, len(_EMPTY)) != _EMPTY:
            self.source = _Source(fd, None, size)
            self.source.ours = False
            return self.source
        self.source = _Source(fd, mm, size)
        return self.source

    def __exit__(self, *exc: object) -> None:
        if self.source is not None:
            if self.source.mm is not _NO_MAP:
                self.source.mm.close()
            os.close(self.source.fd)


def _same_bytes(one: Path, two: Path, chunk: int = 1 << 20) -> bool:
    try:
        if one.stat().st_size != two.stat().st_size:
            return False
        with one.open("rb") as a, two.open("rb") as b:
            while True:
                x, y = a.read(chunk), b.read(chunk)
                if x != y:
                    return False
                if not x:
                    return True
    except FileNotFoundError:
        return False

