"""What a pass remembers of the rows in its change window: one 8-byte digest per id, packed.

Every pass re-reads its lookback window, so right after a bulk import every row of a table is
in it, pass after pass, until Odoo's clock has moved a lookback past the import. A digest of
each row as last fetched (``mark``) lets such a pass recognise what it has already seen, and
do nothing, without reading the snapshot. A million of them are two packed arrays of 8 MB
each (not a dict of a million objects), and about 10 MB in the state file.

A mark is 63 bits of a BLAKE2b digest of the row as fetched (stored fields, ``write_date``,
``active``, the domain's fields) with the lowest bit telling whether the row was *outside* the
snapshot (archived, or out of the domain): equal marks mean neither the record nor its
membership changed. It is taken from the record's canonical line (``syncd.sync.record``), which
the pull encodes anyway for the sink, and the few fetched values the record does not keep
(``RowMarks``): one encoding per row, not a second one of the whole row for its digest.

Marks of scheme 1 (``MARKS``) were digests of the whole row, keys sorted (``row_mark``; a state
without ``marks`` holds those): a pass comparing with them recognises rows by the old digest
and keeps the new one, so an upgrade re-marks the window without re-writing a row. Marks of the
layout before packing (hex strings, ``out:`` prefixed) read as the same numbers.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain
from typing import Any

import orjson

from syncd.sync.record import Layout

OUT_BIT = 1
MARKS = 2  # the scheme of the marks a pass takes: 2, from the canonical line; 1, ``row_mark``
_LEGACY_OUT = "out:"


def row_mark(row: dict[str, Any], *, member: bool = True) -> int:
    """A digest of the whole row, keys sorted: scheme 1 of a model's marks (still the scheme of
    a followed parent's rows); ``member`` False sets the out-of-snapshot bit."""
    digest = hashlib.blake2b(orjson.dumps(row, option=orjson.OPT_SORT_KEYS), digest_size=8)
    value = int.from_bytes(digest.digest(), "big") & ~OUT_BIT
    return value if member else value | OUT_BIT


class RowMarks:
    """One model's rows as fetched turned into their canonical lines and marks, one encoding each.

    A row is encoded with its keys in the canonical order: ``id``, the layout's fields, then the
    fetched values the record does not keep (``write_date``, ``active``, the domain's fields,
    when not configured) in ``fetched`` order; a field the server left out reads as its
    ``implied`` value (what a rebuild knows without asking: ``active`` is true under
    ``active_test``), else ``false``. The mark digests that encoding; the record's line is its
    beginning, closed where the values it does not keep begin. Rows come from the server with
    their keys in the order asked for (``fetched`` lists the layout's fields first), so a row is
    usually encoded as it is, without a second dict; any other row is put in order first, to
    the same bytes."""

    def __init__(self, layout: Layout, fetched: Sequence[str],
                 implied: Mapping[str, Any] | None = None) -> None:
        self.layout = layout
        self.fields = layout.fields
        self.keys = ("id", *self.fields)
        self.rest = tuple(f for f in fetched if f != "id" and f not in self.fields)
        self.order = (*self.keys, *self.rest)
        self.defaults = {key: (implied or {}).get(key, False) for key in self.order}
        # What follows a line's last value when every value it does not keep is implied:
        # `,"active":true}`.
        self.tail = b"," + orjson.dumps({key: implied[key] for key in self.rest})[1:] \
            if self.rest and implied and all(key in implied for key in self.rest) else None

    def mark(self, row: dict[str, Any]) -> int:
        """The row's mark, the out-of-snapshot bit clear."""
        if tuple(row) == self.order and type(row["id"]) is int:  # a window's row, as it comes
            return _digest(_dumps(row))
        return _digest(self._encoded(row))

    def take(self, row: dict[str, Any]) -> tuple[dict[str, Any], bytes, int]:
        """The row's record, its canonical line (orjson's own buffer, a few KB: ``line`` gives
        one to keep for long) and its mark. Written for speed: a full sync takes every row of
        its window through it."""
        keys = tuple(row)
        if type(row.get("id")) is int:
            if keys == self.keys:  # the record alone, anything else implied
                line = _dumps(row)
                if not self.rest:
                    return row, line, int.from_bytes(
                        _blake2b(line, digest_size=8).digest(), "big") & _MARK
                if self.tail is not None:
                    digest = _blake2b(line[:-1], digest_size=8)
                    digest.update(self.tail)
                    return row, line, int.from_bytes(digest.digest(), "big") & _MARK
            elif keys == self.order:  # the record, then what it does not keep
                encoded = _dumps(row)
                value = int.from_bytes(_blake2b(encoded, digest_size=8).digest(), "big") & _MARK
                return self.record(row), self._line(row, encoded), value
        encoded = self._encoded(row)
        return self.record(row), self._line(row, encoded), _digest(encoded)

    def encode(self, row: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        """The row's record and canonical line (orjson's own buffer), without a mark."""
        if tuple(row) == self.keys and type(row["id"]) is int:
            return row, _dumps(row)
        return self.record(row), self._line(row, self._encoded(row))

    def line(self, row: dict[str, Any]) -> bytes:
        """The row's canonical line alone, an exact-size copy to keep."""
        if not self.rest and tuple(row) == self.keys and type(row["id"]) is int:
            return _exact(_dumps(row))
        return _exact(self._line(row, self._encoded(row)))

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        """The record a row holds (the row itself when it holds nothing else)."""
        if tuple(row) == self.keys:
            return row
        return {"id": row["id"], **{f: row.get(f, False) for f in self.fields}}

    def _encoded(self, row: dict[str, Any]) -> bytes:
        """The row's whole encoding, its keys put in the canonical order."""
        if type(row.get("id")) is not int:
            raise ValueError(f"a row without an integer id: {row.get('id')!r}")
        if tuple(row) == self.order:
            return _dumps(row)
        return _dumps({key: row.get(key, self.defaults[key]) for key in self.order})

    def _line(self, row: dict[str, Any], encoded: bytes) -> bytes:
        if not self.rest:
            return encoded
        tail = _dumps({key: row.get(key, self.defaults[key]) for key in self.rest})
        return encoded[:-len(tail)] + b"}"  # `,"write_date":…}` is `{"write_date":…}` long


_blake2b = hashlib.blake2b
_dumps = orjson.dumps
_MARK = (1 << 64) - 1 - OUT_BIT


def _digest(encoded: bytes) -> int:
    return int.from_bytes(_blake2b(encoded, digest_size=8).digest(), "big") & _MARK


def _exact(data: bytes) -> bytes:
    """An exact-size copy: orjson's result keeps its output buffer, a few KB."""
    return bytes(memoryview(data))


class Digests:
    """Marks by id, ids ascending. Build with ``add`` in ascending id order (or ``sort``)."""

    def __init__(self) -> None:
        self.ids: array[int] = array("q")
        self.marks: array[int] = array("Q")

    def __len__(self) -> int:
        return len(self.ids)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Digests) and self.ids == other.ids and self.marks == other.marks

    def __repr__(self) -> str:
        return f"Digests({len(self)} ids)"

    def add(self, record_id: int, value: int) -> None:
        self.ids.append(record_id)
        self.marks.append(value)

    def sort(self) -> None:
        """Order by id after out-of-order ``add``s; for a repeated id the last added wins."""
        if all(a < b for a, b in zip(self.ids, self.ids[1:])):
            return
        latest = dict(zip(self.ids, self.marks))
        self.ids = array("q", sorted(latest))
        self.marks = array("Q", (latest[i] for i in self.ids))

    def get(self, record_id: int) -> int | None:
        at = bisect_left(self.ids, record_id)
        if at < len(self.ids) and self.ids[at] == record_id:
            return self.marks[at]
        return None

    def items(self) -> Iterator[tuple[int, int]]:
        return zip(self.ids, self.marks)

    def without(self, ids: Iterable[int]) -> Digests:
        """A copy without these ids."""
        drop = set(ids)
        kept = Digests()
        for record_id, value in self.items():
            if record_id not in drop:
                kept.add(record_id, value)
        return kept

    def copy(self) -> Digests:
        twin = Digests()
        twin.ids = array("q", self.ids)
        twin.marks = array("Q", self.marks)
        return twin

    # -- the state file ----------------------------------------------------------------------
    def to_json(self) -> dict[str, str]:
        """``ids``: deltas of the ascending ids as little-endian int64, zlib, base64 (a bulk
        import's consecutive ids shrink to almost nothing); ``marks``: little-endian uint64,
        base64 (digests do not compress)."""
        deltas = array("q", (b - a for a, b in zip(chain((0,), self.ids), self.ids)))
        return {"ids": _b64(zlib.compress(_little(deltas), 6)), "marks": _b64(_little(self.marks))}

    @classmethod
    def from_json(cls, data: Any, where: str) -> Digests:
        """Read either layout: the packed one, or the previous ``{"<id>": "<hex>"}`` mapping.
        Raises ValueError naming ``where`` on a wrong shape."""
        found = cls()
        if isinstance(data, dict) and set(data) == {"ids", "marks"} and all(
                isinstance(v, str) for v in data.values()):
            try:
                deltas = _from_little("q", zlib.decompress(base64.b64decode(data["ids"])))
                marks = _from_little("Q", base64.b64decode(data["marks"]))
            except (ValueError, zlib.error) as exc:
                raise ValueError(f"{where}: not packed digests ({exc})") from None
            if len(deltas) != len(marks):
                raise ValueError(f"{where}: {len(deltas)} ids but {len(marks)} marks")
            total = 0
            for delta in deltas:
                total += delta
                found.ids.append(total)
            found.marks = marks
            if any(a >= b for a, b in zip(found.ids, found.ids[1:])):
                raise ValueError(f"{where}: ids are not ascending")
            return found
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be an object, not {type(data).__name__}")
        for key, value in data.items():
            if not isinstance(value, str):
                raise ValueError(f"{where}[{key}] must be a string")
            try:
                record_id = int(key)
                out = value.startswith(_LEGACY_OUT)
                number = int(value.removeprefix(_LEGACY_OUT), 16) & ~OUT_BIT
            except ValueError:
                raise ValueError(f"{where}[{key}]: not an id and a hex digest") from None
            found.add(record_id, number | OUT_BIT if out else number)
        found.sort()
        return found


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _little(values: array[int]) -> bytes:
    if sys.byteorder == "little":
        return values.tobytes()
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped.tobytes()


def _from_little(typecode: str, data: bytes) -> array[int]:
    values: array[int] = array(typecode)
    if len(data) % values.itemsize:
        raise ValueError("truncated")
    values.frombytes(data)
    if sys.byteorder != "little":
        values.byteswap()
    return values
