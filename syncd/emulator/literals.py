"""Domain literals as Odoo and PostgreSQL read them: datetimes per version, LIKE patterns.

Odoo 16-18 hand a datetime string to PostgreSQL, which accepts 'T', silently DROPS any UTC
offset ('...T09:12:05+05:00' is 09:12:05) and compares against the stored microseconds; a
date-only value becomes 00:00:00 (23:59:59 for `>` and `<=`). Odoo 19 parses in Python:
an offset or a 'T' is refused, a date-only value is midnight (user tz: UTC here), and
second-precision values are widened to the whole second (`>` is `>= v+1s`, `<=` is `< v+1s`,
`=` is `[v, v+1s)`). `>=` and `<` mean the same on every version.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from syncd.emulator.faults import OdooFault, bad_argument, bad_timestamp

_PG_TIMESTAMP = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$", re.I)
_ONE_SECOND = timedelta(seconds=1)
Comparison = tuple[str, Any]


def parse_timestamp(text: str, operator: str, version: int) -> tuple[datetime, bool]:
    """(naive UTC value, second_precision) of a datetime literal, or an OdooFault."""
    match = _PG_TIMESTAMP.match(text)
    if version >= 19 and match and ("T" in text.upper().replace("Z", "") or match.group(8)):
        raise bad_argument(f"expecting only datetimes with no timezone: {text!r}")
    if not match:
        raise bad_timestamp(text)
    year, month, day, hour, minute, second, fraction, _offset = match.groups()
    try:
        value = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                         int(second or 0), int((fraction or "0").ljust(6, "0")))
    except ValueError:
        raise bad_timestamp(text) from None
    if hour is None and version < 19 and operator in (">", "<="):
        value = value.replace(hour=23, minute=59, second=59)  # expression.py, 16-18
    return value, not fraction


def datetime_comparisons(operator: str, right: Any, version: int) -> list[Comparison]:
    """The plain comparisons (ANDed) a datetime leaf means; operator one of = != > >= < <=."""
    if isinstance(right, datetime):
        value, whole = right, right.microsecond == 0
    elif isinstance(right, date):
        value, whole = datetime(right.year, right.month, right.day), True
    elif isinstance(right, str):
        value, whole = parse_timestamp(right, operator, version)
    else:
        raise bad_argument(f"Invalid datetime value {right!r}")
    if version < 19 or not whole:
        return [(operator, value)]
    if operator == ">":
        return [(">=", value + _ONE_SECOND)]
    if operator == "<=":
        return [("<", value + _ONE_SECOND)]
    if operator == "=":
        return [(">=", value), ("<", value + _ONE_SECOND)]
    if operator == "!=":
        return [("outside", (value, value + _ONE_SECOND))]
    return [(operator, value)]


def parse_date(right: Any) -> date:
    if isinstance(right, datetime):
        return right.date()
    if isinstance(right, date):
        return right
    match = _PG_TIMESTAMP.match(str(right))
    if not match:
        raise OdooFault("psycopg2.errors.InvalidDatetimeFormat",
                        "invalid input syntax for type date")
    return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))


@lru_cache(maxsize=512)
def like_pattern(pattern: str, insensitive: bool) -> re.Pattern[str]:
    """A SQL LIKE pattern (% any, _ one, backslash escapes) as an anchored regex."""
    parts: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if insensitive else 0)
    return re.compile("".join(parts) + r"\Z", flags)


def compare(operator: str, value: Any, right: Any) -> bool:
    """value <operator> right for a non-null value (SQL semantics of the plain operators)."""
    if operator == "=":
        return bool(value == right)
    if operator == "!=":
        return bool(value != right)
    if operator == ">":
        return bool(value > right)
    if operator == ">=":
        return bool(value >= right)
    if operator == "<":
        return bool(value < right)
    if operator == "<=":
        return bool(value <= right)
    if operator == "outside":
        low, high = right
        return bool(value < low or value >= high)
    raise ValueError(operator)
