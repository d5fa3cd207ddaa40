"""search: plan with the primary key, filter, order, slice, and count the rows examined.

Cost model (what `Database.visits` counts): every committed row the predicate is evaluated on
is one visit, as PostgreSQL reads it. The planner narrows candidates with the top-level ANDed
leaves on `id` (= > >= < <= in) by bisecting the sorted id list (and, as a B-tree index scan,
does not test those comparisons again on the rows it finds): the only index this emulator
has on a table, as `id` is the only indexed column syncd filters on. `write_date` has no index
in Odoo (docs/odoo-api.md §8), so a `write_date >= W` window examines every row of the table,
however few rows it returns. When the order is by id and there is a limit, it walks the id
index in order and stops once offset+limit rows matched: keyset paging (`id > last ORDER BY id
LIMIT n`) costs about n visits per page, while offset paging costs offset+n. Anything else
evaluates every candidate and sorts the matches. Sub-searches (dotted paths, name searches,
child_of) scan and count too.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from typing import Any

from syncd.emulator.domain import Compiled, compile_domain
from syncd.emulator.faults import OdooFault, invalid_field
from syncd.emulator.models import Model
from syncd.emulator.predicates import is_null
from syncd.emulator.records import View
from syncd.emulator.table import Row, Table

_ORDER = re.compile(r"^(\s*([a-z0-9:_]+|\"[a-z0-9:_]+\")(\.id)?(\s+(desc|asc))?"
                    r"(\s+nulls\s+(first|last))?\s*(,|$))+(?<!,)$", re.I)
OrderKey = tuple[str, bool, bool]  # (field, descending, nulls_first)


def parse_order(model: Model, order: str) -> list[OrderKey]:
    """Odoo's order spec: "f [asc|desc] [nulls first|last], ..."; NULLs last for ASC."""
    if not _ORDER.match(order):
        raise OdooFault("odoo.exceptions.UserError",
                        f'Invalid "order" specified ({order}). A valid "order" specification is'
                        " a comma-separated list of valid field names (optionally followed by"
                        " asc/desc for the direction)", xmlrpc_code=2, http_status=422)
    keys: list[OrderKey] = []
    for part in order.split(","):
        words = part.split()
        name = words[0].strip('"').removesuffix(".id")
        item = model.fields.get(name)
        if item is None or item.type in ("one2many", "many2many") or (
                not item.store and name not in ("display_name", "complete_name")):
            raise invalid_field(model.name, name)
        descending = len(words) > 1 and words[1].lower() == "desc"
        nulls_first = descending
        if len(words) >= 3 and words[-2].lower() == "nulls":
            nulls_first = words[-1].lower() == "first"
        keys.append((name, descending, nulls_first))
    return keys


def _ranges(table: Table, compiled: Compiled) -> dict[str, tuple[int, int]]:
    """Candidate range (start, stop) in the id index from the top-level id bounds."""
    low, high = 0, len(table.ids)
    for op, value in compiled.bounds.get("id", []):
        if op in (">", ">=", "="):
            start = bisect_right(table.ids, value) if op == ">" else bisect_left(table.ids, value)
            low = max(low, start)
        if op in ("<", "<=", "="):
            stop = bisect_left(table.ids, value) if op == "<" else bisect_right(table.ids, value)
            high = min(high, stop)
    return {"ids": (low, max(low, high))}


def _narrowest(ranges: dict[str, tuple[int, int]]) -> tuple[str, int, int]:
    index = min(ranges, key=lambda name: ranges[name][1] - ranges[name][0])
    return (index, *ranges[index])


def _candidates(table: Table, index: str, start: int, stop: int, descending: bool,
                id_sets: list[set[int]]) -> Iterator[Row]:
    if id_sets:
        wanted = set.intersection(*id_sets)
        if len(wanted) < stop - start:
            yield from [table.rows[i] for i in sorted(wanted, reverse=descending)
                        if i in table.rows]
            return
    span = range(stop - 1, start - 1, -1) if descending else range(start, stop)
    ids = table.ids
    for position in span:
        yield table.rows[ids[position]]


def _walk_order(keys: list[OrderKey]) -> tuple[str, bool] | None:
    """The index whose order equals `keys`, with its direction, or None."""
    names = [(name, desc) for name, desc, _ in keys]
    if names and names[0][0] == "id":
        return "ids", names[0][1]
    return None


def search(view: View, model: Model, domain: Any, *, offset: int = 0, limit: int | None = None,
           order: str | None = None, active_test: bool = True) -> list[int]:
    """Ids matching `domain`, ordered, sliced."""
    compiled = compile_domain(view, model, domain, active_test)
    keys = parse_order(model, order or model.order)
    table = view.tables[model.name]
    ranges = _ranges(table, compiled)
    index, start, stop = _narrowest(ranges)
    walk = _walk_order(keys)
    if limit and walk is not None and _size(ranges[walk[0]]) <= _size(ranges[index]):
        # walk the ordering index and stop early: the keyset-paging plan
        index, descending = walk
        start, stop = ranges[index]
        matched: list[int] = []
        test = compiled.within_bounds()
        for row in _candidates(table, index, start, stop, descending, compiled.id_sets):
            view.visits += 1
            if test(row):
                matched.append(row["id"])
                if len(matched) >= offset + limit:
                    break
        return matched[offset:]
    test = compiled.within_bounds()
    rows = [row for row in _scan(view, table, index, start, stop, compiled) if test(row)]
    _sort(view, model, rows, keys)
    chosen = rows[offset:offset + limit] if limit else rows[offset:]
    return [row["id"] for row in chosen]


def count(view: View, model: Model, domain: Any, *, limit: int | None = None,
          active_test: bool = True) -> int:
    compiled = compile_domain(view, model, domain, active_test)
    table = view.tables[model.name]
    index, start, stop = _narrowest(_ranges(table, compiled))
    found = 0
    test = compiled.within_bounds()
    for row in _scan(view, table, index, start, stop, compiled):
        if test(row):
            found += 1
            if limit and found >= limit:
                break
    return found


def _size(span: tuple[int, int]) -> int:
    return span[1] - span[0]


def _scan(view: View, table: Table, index: str, start: int, stop: int,
          compiled: Compiled) -> Iterable[Row]:
    for row in _candidates(table, index, start, stop, False, compiled.id_sets):
        view.visits += 1
        yield row


def _sort(view: View, model: Model, rows: list[Row], keys: list[OrderKey]) -> None:
    """Stable sort by each key from the last; ties finally by id ascending."""
    rows.sort(key=lambda row: row["id"])
    for name, descending, nulls_first in reversed(keys):
        item = model.fields[name]
        flip = nulls_first != descending  # Postgres: NULLS LAST for ASC, FIRST for DESC

        def key(row: Row, name: str = name, relation: str | None = item.relation,
                boolean: bool = item.type == "boolean", flip: bool = flip) -> tuple[bool, Any]:
            value = row["id"] if name == "id" else view.value(model, row, name)
            if relation and value:
                value = view.name_of(relation, value) or ""
            if boolean:
                return (flip, bool(value))
            null = is_null(value)
            return (null != flip, 0 if null else value)
        rows.sort(key=key, reverse=descending)
