"""One model's committed rows and its two indexes.

Rows are plain dicts holding only the values that were set (defaults are resolved on read),
so a million rows stay small. The indexes are sorted lists kept with bisect: `ids` (the primary
key) and `stamps`, sorted (write_date, id) pairs, like a b-tree index on write_date. Only
committed rows are here; a deleted row leaves both indexes (and leaves no trace at all).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from datetime import datetime
from typing import Any

Row = dict[str, Any]


class Table:
    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}
        self.ids: list[int] = []
        self.stamps: list[tuple[datetime, int]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def insert_many(self, rows: list[Row]) -> None:
        """Add new rows (ids not present); appends when they sort last, as imports do."""
        rows = sorted(rows, key=lambda row: row["id"])
        for row in rows:
            self.rows[row["id"]] = row
        if rows and (not self.ids or rows[0]["id"] > self.ids[-1]):
            self.ids.extend(row["id"] for row in rows)
        else:
            for row in rows:
                insort(self.ids, row["id"])
        keys = sorted((row["write_date"], row["id"]) for row in rows)
        if keys and (not self.stamps or keys[0] > self.stamps[-1]):
            self.stamps.extend(keys)
        elif len(keys) > 1000:
            self.stamps = sorted(self.stamps + keys)
        else:
            for key in keys:
                insort(self.stamps, key)

    def update(self, record_id: int, values: dict[str, Any]) -> None:
        """Apply values (a changed write_date moves the row in the stamps index)."""
        row = self.rows[record_id]
        stamp = values.get("write_date")
        if stamp is not None and stamp != row["write_date"]:
            self._unstamp(row)
            row.update(values)
            key = (row["write_date"], record_id)
            if not self.stamps or key > self.stamps[-1]:
                self.stamps.append(key)
            else:
                insort(self.stamps, key)
        else:
            row.update(values)

    def delete(self, record_id: int) -> None:
        row = self.rows.pop(record_id, None)
        if row is None:
            return
        position = bisect_left(self.ids, record_id)
        del self.ids[position]
        self._unstamp(row)

    def _unstamp(self, row: Row) -> None:
        position = bisect_left(self.stamps, (row["write_date"], row["id"]))
        del self.stamps[position]
