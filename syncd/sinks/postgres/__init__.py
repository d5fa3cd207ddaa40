"""The PostgreSQL sink: a table per model in one schema, one transaction per pass.

``[sink] dsn``: a libpq connection string or URI (``SYNCD_PG_DSN`` overrides it); ``schema``:
where the tables live (default ``public``). Importing this package does not import psycopg."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from syncd.errors import ConfigError
from syncd.settings import get

KEYS = ("dsn", "schema")
_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def parse(table: Mapping[str, Any]) -> dict[str, Any]:
    """The sink's settings from its ``[sink]`` keys, checked (ConfigError naming the key)."""
    given: dict[str, Any] = {key: get(table, key, str, "sink") for key in KEYS if key in table}
    schema = given.get("schema")
    if schema is not None and not _IDENTIFIER_RE.match(schema):
        raise ConfigError(f"[sink].schema must be a plain identifier (letters, digits, '_'; at "
                          f"most 63), not {schema!r}")
    return given
