"""A row's canonical line and its mark come from one encoding (syncd.sync.digests ``RowMarks``):
the line is the record's, byte for byte, and the mark is a function of the row's content alone
that changes with every value fetched, kept in the record or not."""

from __future__ import annotations

import random

import pytest

from syncd.sync.digests import OUT_BIT, RowMarks
from syncd.sync.record import Layout

FIELDS = ("name", "email", "parent_id")
FETCHED = ["name", "email", "parent_id", "write_date", "active", "is_company"]


def row(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {"id": 7, "name": 'Ünïcødé "q"', "email": "a@example.com",
                               "parent_id": [3, "Parent"], "write_date": "2026-01-01 10:00:00",
                               "active": True, "is_company": False}
    base.update(changes)
    return base


def shuffled(value: dict[str, object], seed: int) -> dict[str, object]:
    items = list(value.items())
    random.Random(seed).shuffle(items)
    return dict(items)


@pytest.mark.parametrize("fetched", [FETCHED, list(FIELDS), ["write_date", *FIELDS], []])
def test_the_line_is_the_records_canonical_line_whatever_the_order_of_the_keys(
        fetched: list[str]) -> None:
    layout = Layout(FIELDS)
    marks = RowMarks(layout, fetched)
    source = {k: v for k, v in row().items() if k == "id" or k in fetched or k in FIELDS}
    expected = layout.line({"id": 7, **{f: source.get(f, False) for f in FIELDS}})
    for seed in range(4):
        value = shuffled(source, seed) if seed else source
        record, line, mark = marks.take(value)
        assert line == expected and marks.line(value) == expected
        assert marks.encode(value) == (record, line) and layout.line(record) == expected
        assert mark == marks.mark(value) == marks.take(source)[2] and not mark & OUT_BIT
        assert layout.line(marks.record(value)) == expected
    lacking = {"id": 7, "name": "x"}  # fields the server left out read as false
    assert marks.take(lacking)[1] == layout.line({"id": 7, "name": "x", "email": False,
                                                  "parent_id": False})


def test_the_mark_moves_with_every_fetched_value() -> None:
    marks = RowMarks(Layout(FIELDS), FETCHED)
    first = marks.mark(row())
    others = [marks.mark(row(**change)) for change in (
        {"name": "other"}, {"parent_id": False}, {"id": 8},
        {"write_date": "2026-01-01 10:00:01"},  # fetched, not kept in the record
        {"active": False}, {"is_company": True})]
    assert first not in others and len(set(others)) == len(others)


def test_a_row_without_an_integer_id_is_refused() -> None:
    marks = RowMarks(Layout(FIELDS), FETCHED)
    for bad in ({"name": "x"}, {"id": True, "name": "x"}, {"id": "7"}):
        with pytest.raises(ValueError, match="integer id"):
            marks.take(bad)


def test_values_a_rebuild_implies_give_the_marks_a_window_gives() -> None:
    """A rebuild leaves `active` out (every row it reads is active): its marks, taken with the
    implied value, are those of the same rows fetched with `active`, whatever else is fetched."""
    for fetched in (["name", "email", "parent_id", "active"],
                    ["name", "email", "parent_id", "write_date", "active"],
                    ["name", "active", "email", "parent_id", "write_date"]):
        window = RowMarks(Layout(FIELDS), fetched)
        rebuild = RowMarks(Layout(FIELDS), fetched, {"active": True})
        fetched_row = {k: v for k, v in row().items() if k == "id" or k in fetched}
        without = {k: v for k, v in fetched_row.items() if k != "active"}
        assert rebuild.take(without) == window.take(fetched_row), fetched
        assert rebuild.take(shuffled(without, 1)) == window.take(fetched_row), fetched
        assert window.take(without) != window.take(fetched_row)  # false is not implied there
