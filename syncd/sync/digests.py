"""What a pass remembers of the rows in its change window: one 8-byte digest per id, packed.

Every pass re-reads its lookback window, so right after a bulk import every row of a table is
in it, pass after pass, until Odoo's clock has moved a lookback past the import. A digest of
each row as last fetched (``mark``) lets such a pass recognise what it has already seen, and
do nothing, without reading the snapshot. A million of them are two packed arrays of 8 MB
each (not a dict of a million objects), and about 10 MB in the state file.

A mark is 63 bits of a BLAKE2b digest of the row as fetched (stored fields, ``write_date``,
``active``, the domain's fields) with the lowest bit telling whether the row was *outside* the
snapshot (archived, or out of the domain): equal marks mean neither the record nor its
membership changed. Marks of the previous layout (hex strings, ``out:`` prefixed) read as the
same numbers, so an upgraded state file still recognises every row.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

import orjson

OUT_BIT = 1
_LEGACY_OUT = "out:"


def row_mark(row: dict[str, Any], *, member: bool = True) -> int:
    """The mark of a row as fetched; ``member`` False sets the out-of-snapshot bit."""
    digest = hashlib.blake2b(orjson.dumps(row, option=orjson.OPT_SORT_KEYS), digest_size=8)
    value = int.from_bytes(digest.digest(), "big") & ~OUT_BIT
    return value if member else value | OUT_BIT


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
