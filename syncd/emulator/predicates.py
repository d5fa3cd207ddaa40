"""Leaf predicates on plain (non-relational-search) values, with PostgreSQL's NULL rules.

A NULL (False/None; '' too for char, as Odoo writes empty strings as NULL) never satisfies a
comparison, except that Odoo adds `OR col IS NULL` to `!=`, `not in` (without False in the
list), `not like` and `not ilike`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from syncd.emulator.faults import bad_argument
from syncd.emulator.literals import Comparison, compare, datetime_comparisons, like_pattern, \
    parse_date
from syncd.emulator.models import Field

Test = Callable[[dict[str, Any]], bool]
Getter = Callable[[dict[str, Any]], Any]
_LIKE = ("like", "ilike", "=like", "=ilike", "not like", "not ilike")


def is_null(value: Any) -> bool:
    return value is None or value is False or value == ""


def _coerce(item: Field, right: Any, operator: str) -> Any:
    """The literal as the column's type; ValueError-like faults for what PostgreSQL refuses."""
    if right is None or right is False and item.type != "boolean":
        return None
    kind = item.type
    try:
        if kind == "boolean":
            return bool(right)
        if kind in ("integer", "many2one"):
            return int(right)
        if kind == "float":
            return float(right)
        if kind == "date":
            return parse_date(right)
    except (TypeError, ValueError):
        raise bad_argument(f"Invalid value {right!r} for field {item.name!r}") from None
    if kind in ("char", "text", "html", "selection"):
        return right if isinstance(right, str) else str(right)
    return right


def leaf_test(getter: Getter, item: Field, operator: str, right: Any, version: int) -> Test:
    if operator in _LIKE:
        return _like_test(getter, operator, right)
    if operator in ("in", "not in"):
        return _in_test(getter, item, operator, right)
    if operator not in ("=", "!=", ">", ">=", "<", "<="):
        raise bad_argument(f"Invalid operator {operator!r} for field {item.name!r}")
    if item.type == "datetime" and not is_null(right):
        comparisons = datetime_comparisons(operator, right, version)
        if operator == "!=":
            return _not_equal(getter, comparisons)
        return _all_of(getter, comparisons)
    value = _coerce(item, right, operator)
    if value is None:
        if operator == "=":
            return lambda row: is_null(getter(row))
        if operator == "!=":
            return lambda row: not is_null(getter(row))
        return lambda row: False
    if item.type == "boolean":
        if operator in ("=", "!="):
            wanted = value if operator == "=" else not value
            return lambda row: bool(getter(row)) is wanted
    if operator == "!=":
        return _not_equal(getter, [("=", value)])
    return _all_of(getter, [(operator, value)])


def _all_of(getter: Getter, comparisons: list[Comparison]) -> Test:
    def test(row: dict[str, Any]) -> bool:
        value = getter(row)
        if is_null(value):
            return False
        return all(compare(op, value, right) for op, right in comparisons)
    return test


def _not_equal(getter: Getter, comparisons: list[Comparison]) -> Test:
    """`!=`: true for NULL too; a 19 whole-second `!=` arrives as one `outside` comparison."""
    def test(row: dict[str, Any]) -> bool:
        value = getter(row)
        if is_null(value):
            return True
        op, right = comparisons[0]
        return compare("!=" if op == "=" else op, value, right)
    return test


def _like_test(getter: Getter, operator: str, right: Any) -> Test:
    negative = operator.startswith("not ")
    if right is False or right is None:
        return (lambda row: not is_null(getter(row))) if negative else \
            (lambda row: is_null(getter(row)))
    text = str(right)
    wildcard = operator in ("like", "ilike", "not like", "not ilike")
    # expression.py: `(wildcard and not right) or (right and negative)` adds OR IS NULL
    null_matches = (wildcard and not text) or (bool(text) and negative)
    if wildcard:
        text = f"%{text}%"
    pattern = like_pattern(text, "ilike" in operator)

    def matches(row: dict[str, Any]) -> bool:
        value = getter(row)
        if is_null(value):
            return null_matches
        shown = value if isinstance(value, str) else _as_text(value)
        return (pattern.match(shown) is None) if negative else (pattern.match(shown) is not None)
    return matches


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _in_test(getter: Getter, item: Field, operator: str, right: Any) -> Test:
    values = list(right) if isinstance(right, (list, tuple, set)) else [right]
    with_null = any(value is False or value is None for value in values)
    plain = {_coerce(item, value, "=") for value in values
             if not (value is False or value is None) or item.type == "boolean"}
    plain.discard(None)
    if item.type == "datetime":
        plain = {datetime_comparisons("=", value, 16)[0][1] for value in plain}
    if operator == "in":
        return lambda row: (is_null(getter(row)) and with_null) or getter(row) in plain
    # NOT IN: NULL rows qualify unless False was in the list
    return lambda row: (not with_null) if is_null(getter(row)) else getter(row) not in plain
