"""The SQLite sink: one database file, a table per model, the state and journal beside them.

``[sink] path``: the database file (default ``<data_dir>/odoo.sqlite``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from syncd.errors import ConfigError
from syncd.settings import get

KEYS = ("path",)


def parse(table: Mapping[str, Any]) -> dict[str, Any]:
    """The sink's settings from its ``[sink]`` keys, checked (ConfigError naming the key)."""
    if "path" not in table:
        return {}
    path = get(table, "path", str, "sink")
    if not path:
        raise ConfigError("[sink].path must not be empty")
    return {"path": Path(path).expanduser()}
