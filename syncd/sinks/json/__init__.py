"""The JSON sink: snapshot files, the state file and the change journal in the data directory.

It has no ``[sink]`` keys of its own: everything is in the data directory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KEYS: tuple[str, ...] = ()


def parse(table: Mapping[str, Any]) -> dict[str, Any]:
    """The sink's settings from its ``[sink]`` keys (none)."""
    return {}
