"""One model's committed rows and its primary-key index.

Rows are plain dicts holding only the values that were set (defaults are resolved on read),
so a million rows stay small. `ids` is the primary key, a sorted list kept with bisect. There
is deliberately no index on write_date: Odoo creates none (`write_date` is a plain column and
`res_partner` has nine indexes, none on it), so a `write_date >= W` search is a sequential
scan (docs/odoo-api.md §8). Only committed rows are here; a deleted row leaves no trace.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Any

Row = dict[str, Any]


class Table:
    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}
        self.ids: list[int] = []

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

    def update(self, record_id: int, values: dict[str, Any]) -> None:
        self.rows[record_id].update(values)

    def delete(self, record_id: int) -> None:
        row = self.rows.pop(record_id, None)
        if row is None:
            return
        position = bisect_left(self.ids, record_id)
        del self.ids[position]
