"""What one model's pull hands to the output side: a change set (the pull opens no file: what it
asks of the stored copy is ``syncd.sync.seam.Stored``, which every sink answers)."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from syncd.sync.report import ModelReport
from syncd.sync.state import ModelState
from syncd.sync.upserts import Upserts


Rebuilt = tuple[dict[str, Any], bytes]  # a record and its canonical line (syncd.sync.record)


class RebuildReason(enum.Enum):
    """Why a model is rebuilt from scratch instead of changed in place."""

    FIRST_SYNC = "first sync"
    CONFIG_CHANGED = "configuration or server changed"
    LANG_CHANGED = "language changed"
    REQUESTED = "resync requested"
    MISSING = "stored copy missing"
    NO_WATERMARK = "no watermark yet"
    FIELDS_CHANGED = "server fields changed"
    CORRUPT = "stored copy corrupt"


@dataclass
class ChangeSet:
    """One model's outcome of a pull.

    Either ``rebuild`` is set: the model's whole content as a stream of records in ascending id
    order, each with its canonical line (``Rebuilt``), consumed once by the sink, which replaces
    the stored copy with it (``state`` is final only once the stream is exhausted); or
    ``upserts`` (records by id, to add or replace, held as canonical lines and spilled to disk
    past the memory budget: syncd.sync.upserts) and ``removals`` (ids) change the stored copy
    in place (the pull never puts an id in both; every sink keeps the upsert if it did).
    ``fields`` is the records' key order.
    ``distrusted``: the stored copy was changed by someone else since syncd wrote it (a file
    edited by hand): the sink reads it whole and rewrites it in its own layout."""

    name: str
    fields: tuple[str, ...]
    state: ModelState  # its ``types`` give each field's Odoo type (for typed columns)
    report: ModelReport
    upserts: Upserts = field(default_factory=Upserts)
    removals: set[int] = field(default_factory=set)
    rebuild: Iterator[Rebuilt] | None = None
    reasons: list[RebuildReason] = field(default_factory=list)
    distrusted: bool = False

    def gone(self) -> list[int]:
        """The ids to remove, ascending: ``removals`` less any id also upserted (an upsert wins,
        on every sink)."""
        return [i for i in sorted(self.removals) if i not in self.upserts]

    @property
    def empty(self) -> bool:
        """Nothing to write (the stored copy stays exactly as it is)."""
        return self.rebuild is None and not self.upserts and not self.removals \
            and not self.distrusted
