"""One model's records keyed by id, and its snapshot file ``odoo_<name>.json``.

The file is a JSON array, one record per line, sorted by ``id``, UTF-8 (no ``\\u`` escapes).
Its bytes are a pure function of the content: each record's keys are put in a canonical order
("id", then the configured fields in their order, then any other keys sorted), so the same
records give the same bytes whichever protocol delivered them and in whatever order. ``save``
rewrites the file only when those bytes change, so consumers watching it are woken only by
real changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson

from syncd.sinks.atomic import Staged, stage
from syncd.errors import CorruptFileError

T = TypeVar("T")


def encode(records: Iterable[Mapping[str, Any]]) -> bytes:
    """Deterministic bytes for records already sorted by id and key-ordered: one per line."""
    return _join([orjson.dumps(record) for record in records])


def _join(lines: list[bytes]) -> bytes:
    if not lines:
        return b"[]\n"
    return b"[\n" + b",\n".join(lines) + b"\n]\n"


def _record_id(record: Mapping[str, Any]) -> int | None:
    value = record.get("id")
    # bool is an int in Python, but true/false is not a record id.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _load(path: Path, consume: Callable[[Iterator[dict[str, Any]]], T]) -> T | None:
    """`consume` the records of a snapshot file, validated as they are read; None if the file
    does not exist. Raises CorruptFileError naming the file.

    A file in our own layout (one record per line) is decoded a line at a time, so a big
    snapshot never exists as a whole tree of Python objects; any other JSON array (a file
    edited or written by another tool) is parsed whole."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    lines = _by_line(raw)
    if lines is not None:
        try:
            return consume(_checked(path, map(orjson.loads, lines)))
        except orjson.JSONDecodeError:
            pass  # not one record per line after all: judge the file as a whole
    try:
        whole = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(whole, list):
        raise CorruptFileError(f"{path}: expected a JSON array of records, "
                               f"got {type(whole).__name__}")
    return consume(_checked(path, iter(whole)))


def _by_line(raw: bytes) -> list[bytes] | None:
    """The record lines of a file in our layout, or None if it is not laid out that way."""
    if raw == b"[]\n":
        return []
    if not (raw.startswith(b"[\n{") and raw.endswith(b"}\n]\n")):
        return None
    lines = raw[2:-3].split(b"\n")
    if any(not line.endswith(b"},") for line in lines[:-1]):
        return None
    return [line[:-1] for line in lines[:-1]] + lines[-1:]


def _checked(path: Path, items: Iterator[Any]) -> Iterator[dict[str, Any]]:
    seen: set[int] = set()
    for position, record in enumerate(items):
        if not isinstance(record, dict):
            raise CorruptFileError(f"{path}: element {position} is not an object")
        record_id = _record_id(record)
        if record_id is None:
            raise CorruptFileError(f"{path}: element {position} has no integer id")
        if record_id in seen:
            raise CorruptFileError(f"{path}: duplicate id {record_id}")
        seen.add(record_id)
        yield record


class Snapshot:
    """One model's records keyed by id, with canonical key order (see the module docstring).

    Each record is held as its encoded line (bytes), not as a dict: a 100,000-record snapshot
    is its file size in memory plus a little, and comparing a fetched record with the stored
    one is one bytes comparison."""

    def __init__(self, fields: Sequence[str], records: Iterable[Mapping[str, Any]] = ()) -> None:
        self.fields: tuple[str, ...] = tuple(f for f in fields if f != "id")
        self._lines: dict[int, bytes] = {}
        for record in records:
            self.upsert(record)

    @classmethod
    def load(cls, path: Path, fields: Sequence[str]) -> Snapshot:
        """Read a snapshot file; a missing file gives an empty snapshot.

        Raises CorruptFileError (naming the file) if it is not a JSON array of objects with
        distinct integer ids.
        """
        snapshot = _load(path, lambda records: cls(fields, records))
        return snapshot if snapshot is not None else cls(fields)

    def __len__(self) -> int:
        return len(self._lines)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._lines

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Records in id order (decoded copies)."""
        return (orjson.loads(self._lines[i]) for i in sorted(self._lines))

    def get(self, record_id: int) -> dict[str, Any] | None:
        """A copy of the record with this id, or None."""
        line = self._lines.get(record_id)
        return orjson.loads(line) if line is not None else None

    def ids(self) -> set[int]:
        return set(self._lines)

    def upsert(self, record: Mapping[str, Any]) -> bool:
        """Add or replace the record with this id; True if the snapshot's bytes would change.

        Equality is judged on the encoded JSON, not Python ``==``, because ``0 == False == 0.0``
        in Python while Odoo's ``0``, ``false`` and ``0.0`` are different values in the file.
        Raises ValueError if the record has no integer ``id``.
        """
        record_id = _record_id(record)
        if record_id is None:
            raise ValueError(f"record without an integer id: keys={sorted(record)}")
        line = orjson.dumps(self._canonical(record))
        if self._lines.get(record_id) == line:
            return False
        # orjson's result keeps its whole output buffer (about 4 KB whatever the length); an
        # exact-size copy makes a 100,000-record snapshot ~25 MB instead of ~400 MB.
        self._lines[record_id] = bytes(memoryview(line))
        return True

    def remove(self, ids: Iterable[int]) -> list[int]:
        """Drop these ids; return those that were present, in the order given."""
        removed = []
        for record_id in ids:
            if self._lines.pop(record_id, None) is not None:
                removed.append(record_id)
        return removed

    def to_bytes(self) -> bytes:
        return _join([self._lines[i] for i in sorted(self._lines)])

    def save(self, path: Path) -> bool:
        """Write the file atomically unless it already holds exactly these bytes; True if written.

        An unchanged file is not touched at all (same inode and mtime), so watchers stay quiet.
        """
        staged = stage_if_changed(path, self.to_bytes())
        if staged is None:
            return False
        staged.commit()
        return True

    def _canonical(self, record: Mapping[str, Any]) -> dict[str, Any]:
        canonical: dict[str, Any] = {"id": record["id"]}
        for name in self.fields:
            if name in record:
                canonical[name] = record[name]
        for name in sorted(record.keys() - canonical.keys()):
            canonical[name] = record[name]
        return canonical


def stage_if_changed(path: Path, data: bytes) -> Staged | None:
    """Stage `data` for `path` (see atomic.stage) unless the file already holds exactly these
    bytes: an unchanged file is never touched (same inode and mtime), so watchers stay quiet."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return None
    except FileNotFoundError:
        pass
    return stage(path, data)


def count_records(path: Path) -> int | None:
    """Number of records in a snapshot file, None if missing; CorruptFileError if unparsable."""
    return _load(path, lambda records: sum(1 for _ in records))
