"""Reading a snapshot file as a stream: its records (validated), its ids (packed, not decoded
when the file is syncd's own), its lines (what the journal holds). The layout is described in
syncd.sinks.json.snapshot, which re-exports these.

A file in syncd's layout is read a line at a time, so a big snapshot never exists as a whole
tree of Python objects; any other JSON array (edited by hand, written by another tool) is parsed
whole, once, and validated: CorruptFileError naming the file on anything that is not an array of
objects with distinct integer ids.
"""

from __future__ import annotations

import os
import re
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from syncd.errors import CorruptFileError
from syncd.sinks.record import Layout, record_id_of

HEAD = b"[\n"
EMPTY = b"[]\n"
BOM = b"\xef\xbb\xbf"  # what some Windows editors put before UTF-8 text; JSON may ignore it
LINE_ID = re.compile(rb'\{"id":(\d+)[,}]')


def snapshot_ids(path: Path, *, trusted: bool) -> array[int]:
    """The ids in the file, ascending, packed (8 bytes each). A trusted file is read a line at
    a time without decoding its records (and without mapping it: a mapped file's pages would
    count as this process's memory); any other is validated as ``read_records`` does."""
    found: array[int] = array("q")
    if trusted:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            return found
        with handle:
            first = handle.readline()
            if first in (HEAD, EMPTY):
                chunk: list[int] = []
                for line in handle:
                    match = LINE_ID.match(line)
                    if match is None:
                        break  # the closing bracket (or not our layout: judged below)
                    chunk.append(int(match[1]))
                    if len(chunk) >= 65536:
                        found.fromlist(chunk)
                        chunk.clear()
                found.fromlist(chunk)
                if all(a < b for a, b in zip(found, found[1:])):
                    return found
        found = array("q")
    found.fromlist(sorted(record["id"] for record in read_records(path)))
    return found


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a snapshot file, validated as they are read; nothing if it does not
    exist. Raises CorruptFileError naming the file.

    A file in syncd's layout is decoded a line at a time; any other JSON array (edited by hand
    or written by another tool) is parsed whole; a UTF-8 byte order mark before either is
    skipped (Notepad wrote one before Windows 10 1903). A file found not to be in syncd's
    layout after some records were given (a record spread over lines further on, no newline
    after the ``]``) is parsed whole and goes on after them: every line given was a whole
    object after ``[`` and the ones before, so the array's elements begin with them (JSON
    objects delimit themselves); the whole array is checked again, for ids repeated across
    the two."""
    given = 0
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        first = handle.readline()
        first = first[len(BOM):] if first.startswith(BOM) else first
        if first == EMPTY and not handle.read(1):
            return
        if first == HEAD:
            lines = _our_lines(path, handle)
            try:
                for record in _checked(path, map(orjson.loads, lines)):
                    yield record
                    given += 1
                return
            except (orjson.JSONDecodeError, _NotOurs):
                pass  # not one record per line after all: judge the file as a whole
        handle.seek(0)
        raw = handle.read()
    try:
        whole = orjson.loads(raw[len(BOM):] if raw.startswith(BOM) else raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(whole, list):
        raise CorruptFileError(f"{path}: expected a JSON array of records, "
                               f"got {type(whole).__name__}")
    for position, record in enumerate(_checked(path, iter(whole))):
        if position >= given:
            yield record


class _NotOurs(Exception):
    pass


def _our_lines(path: Path, handle: Any) -> Iterator[bytes]:
    previous: bytes | None = None
    for line in handle:
        if previous is not None:
            if not previous.endswith(b"},\n"):
                if previous == b"]\n" or not previous.endswith(b"}\n") or line != b"]\n":
                    raise _NotOurs
                yield previous[:-1]
                if handle.read(1):
                    raise _NotOurs
                return
            yield previous[:-2]
        previous = line
    raise _NotOurs  # no closing bracket line


def _checked(path: Path, items: Iterator[Any]) -> Iterator[dict[str, Any]]:
    """The records, each checked to be an object with an integer id not seen before. While the
    ids ascend (any file syncd wrote) they are distinct by their order and only kept packed, 8
    bytes each; a set of them is built at the first id out of order."""
    ascending: array[int] | None = array("q")
    seen: set[int] = set()
    last: int | None = None
    for position, record in enumerate(items):
        if not isinstance(record, dict):
            raise CorruptFileError(f"{path}: element {position} is not an object")
        record_id = record_id_of(record)
        if record_id is None:
            raise CorruptFileError(f"{path}: element {position} has no integer id")
        if ascending is not None:
            if last is None or record_id > last:
                ascending.append(record_id)
                last = record_id
                yield record
                continue
            seen, ascending = set(ascending), None
        if record_id in seen:
            raise CorruptFileError(f"{path}: duplicate id {record_id}")
        seen.add(record_id)
        yield record


def record_lines(path: Path, layout: Layout) -> Iterator[tuple[int, bytes]]:
    """(id, line) of each record of a snapshot file, ascending, the line in syncd's layout
    (what the journal's ``record`` holds); nothing if the file does not exist. CorruptFileError
    naming the file on anything unreadable.

    A file in syncd's layout (it starts ``[\n{`` and ends ``}\n]\n``) is read a line at a time
    and no line is decoded: only its id is read. Any other file is read whole, validated and
    re-encoded with ``layout`` (so its lines equal what the next pass will write)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        head = handle.read(3)
        size = os.fstat(handle.fileno()).st_size
        handle.seek(max(0, size - 4))
        ours = head == b"[\n{" and handle.read(4) == b"}\n]\n"
        if head == EMPTY and size == len(EMPTY):
            return
        if ours:
            handle.seek(len(HEAD))
            last: int | None = None
            for line in handle:
                if line == b"]\n":
                    return
                match = LINE_ID.match(line)
                if match is None:
                    raise CorruptFileError(f"{path}: a record line without an id")
                record_id = int(match[1])
                if last is not None and record_id <= last:
                    raise CorruptFileError(f"{path}: id {record_id} after {last}")
                last = record_id
                yield record_id, line[:-2] if line.endswith(b",\n") else line[:-1]
            return
    found = sorted((record["id"], layout.line(record)) for record in read_records(path))
    yield from found


def count_records(path: Path, *, trusted: bool = False) -> int | None:
    """Number of records in a snapshot file, None if missing; CorruptFileError if unparsable.
    A trusted file (syncd's own, by its signature) is counted without decoding a record."""
    if not path.exists():
        return None
    if trusted:
        return len(snapshot_ids(path, trusted=True))
    return sum(1 for _ in read_records(path))


class Difference:
    """Counts a rebuild against the snapshot it replaces, as the new lines stream by in
    ascending id order: ``changed`` (added, or bytes differ) and ``removed`` (ids gone). The old
    file is read alongside, a line at a time; one that cannot be read counts as empty (every
    record new). ``close`` (or ``finish``) releases it."""

    def __init__(self, path: Path, layout: Layout) -> None:
        self._old = record_lines(path, layout)
        self._current: tuple[int, bytes] | None = None
        self._unreadable = False
        self.records = self.changed = self.removed = 0
        self._next()

    def _next(self) -> None:
        try:
            self._current = next(self._old, None)
        except CorruptFileError:
            self._current, self._unreadable = None, True

    def add(self, record_id: int, line: bytes) -> None:
        self.records += 1
        while self._current is not None and self._current[0] < record_id:
            self.removed += 1
            self._next()
        if self._current is not None and self._current[0] == record_id:
            self.changed += self._current[1] != line
            self._next()
        else:
            self.changed += 1

    def finish(self) -> tuple[int, int]:
        """(changed, removed), the ids left in the old file counted as removed."""
        while self._current is not None:
            self.removed += 1
            self._next()
        self.close()
        return (self.records, 0) if self._unreadable else (self.changed, self.removed)

    def close(self) -> None:
        close = getattr(self._old, "close", None)
        if close is not None:
            close()
