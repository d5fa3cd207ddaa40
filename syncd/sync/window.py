"""The change window's arithmetic and the marks that let a pass skip what it has seen.

Timestamps here are Odoo's own naive UTC ``"YYYY-MM-DD HH:MM:SS"`` strings, compared as strings
(the format sorts like time); none comes from this machine's clock.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from syncd.config import ModelSpec, domain_as_list
from syncd.sync.state import TIME_FORMAT

OUT = "out:"  # prefix of the digest of a record that is not in the snapshot
CLOCK_MARGIN = 60.0  # seconds of skew allowed between Odoo's HTTP Date and its database clock


def fingerprint(spec: ModelSpec, source: str) -> str:
    """What the snapshot's content depends on; when it changes, the snapshot is rebuilt."""
    key = orjson.dumps([source, spec.model, list(spec.fields), domain_as_list(spec.domain),
                        spec.include_archived])
    return hashlib.blake2b(key, digest_size=8).hexdigest()


def shift(stamp: str, seconds: float) -> str:
    """A server timestamp moved by `seconds`, in the same naive UTC format."""
    moved = datetime.strptime(stamp[:19], TIME_FORMAT) + timedelta(seconds=seconds)
    return moved.strftime(TIME_FORMAT)


def digest(row: dict[str, Any]) -> str:
    """A row as fetched (stored fields, write_date, active, the domain's fields): equal digests
    mean neither the record nor its membership changed, so there is nothing to do."""
    return hashlib.blake2b(orjson.dumps(row, option=orjson.OPT_SORT_KEYS),
                           digest_size=8).hexdigest()


def domain_fields(domain: tuple[Any, ...]) -> list[str]:
    """The fields a domain's leaves name (the first part of a dotted path)."""
    names: list[str] = []
    for term in domain:
        if isinstance(term, (tuple, list)) and term and isinstance(term[0], str):
            name = term[0].split(".", 1)[0]
            if name not in names:
                names.append(name)
    return names


def file_signature(path: Path) -> str | None:
    """Size and mtime of a snapshot: a change we did not make means we must re-read it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"
