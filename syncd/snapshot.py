"""One model's records keyed by id, and its snapshot file ``odoo_<name>.json``.

The file is a JSON array, one record per line, sorted by ``id``, UTF-8 (no ``\\u`` escapes).
Its bytes are a pure function of the content: each record's keys are put in a canonical order
("id", then the configured fields in their order, then any other keys sorted), so the same
records give the same bytes whichever protocol delivered them and in whatever order. ``save``
rewrites the file only when those bytes change, so consumers watching it are woken only by
real changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from syncd.atomic import Staged, stage
from syncd.errors import CorruptFileError


def encode(records: Iterable[Mapping[str, Any]]) -> bytes:
    """Deterministic bytes for records already sorted by id and key-ordered: one per line."""
    lines = [orjson.dumps(record) for record in records]
    if not lines:
        return b"[]\n"
    return b"[\n" + b",\n".join(lines) + b"\n]\n"


def _record_id(record: Mapping[str, Any]) -> int | None:
    value = record.get("id")
    # bool is an int in Python, but true/false is not a record id.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _parse(path: Path) -> list[dict[str, Any]] | None:
    """The records of a snapshot file, validated; None if the file does not exist."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise CorruptFileError(f"{path}: expected a JSON array of records, got {type(data).__name__}")
    seen: set[int] = set()
    for position, record in enumerate(data):
        if not isinstance(record, dict):
            raise CorruptFileError(f"{path}: element {position} is not an object")
        record_id = _record_id(record)
        if record_id is None:
            raise CorruptFileError(f"{path}: element {position} has no integer id")
        if record_id in seen:
            raise CorruptFileError(f"{path}: duplicate id {record_id}")
        seen.add(record_id)
    return data


class Snapshot:
    """One model's records keyed by id, with canonical key order (see the module docstring)."""

    def __init__(self, fields: Sequence[str], records: Iterable[Mapping[str, Any]] = ()) -> None:
        self.fields: tuple[str, ...] = tuple(f for f in fields if f != "id")
        self._records: dict[int, dict[str, Any]] = {}
        for record in records:
            self.upsert(record)

    @classmethod
    def load(cls, path: Path, fields: Sequence[str]) -> Snapshot:
        """Read a snapshot file; a missing file gives an empty snapshot.

        Raises CorruptFileError (naming the file) if it is not a JSON array of objects with
        distinct integer ids.
        """
        records = _parse(path)
        return cls(fields, records or ())

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._records

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Records in id order (the snapshot's own dicts: do not mutate them)."""
        return (self._records[i] for i in sorted(self._records))

    def get(self, record_id: int) -> dict[str, Any] | None:
        """A copy of the record with this id, or None."""
        record = self._records.get(record_id)
        return dict(record) if record is not None else None

    def ids(self) -> set[int]:
        return set(self._records)

    def upsert(self, record: Mapping[str, Any]) -> bool:
        """Add or replace the record with this id; True if the snapshot's bytes would change.

        Equality is judged on the encoded JSON, not Python ``==``, because ``0 == False == 0.0``
        in Python while Odoo's ``0``, ``false`` and ``0.0`` are different values in the file.
        Raises ValueError if the record has no integer ``id``.
        """
        record_id = _record_id(record)
        if record_id is None:
            raise ValueError(f"record without an integer id: keys={sorted(record)}")
        canonical = self._canonical(record)
        previous = self._records.get(record_id)
        if previous is not None and orjson.dumps(previous) == orjson.dumps(canonical):
            return False
        self._records[record_id] = canonical
        return True

    def remove(self, ids: Iterable[int]) -> list[int]:
        """Drop these ids; return those that were present, in the order given."""
        removed = []
        for record_id in ids:
            if self._records.pop(record_id, None) is not None:
                removed.append(record_id)
        return removed

    def to_bytes(self) -> bytes:
        return encode(self)

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
    records = _parse(path)
    return None if records is None else len(records)
