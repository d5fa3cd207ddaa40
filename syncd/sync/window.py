"""The change window: which rows one pull re-reads, and where the next pull will start.

Timestamps here are Odoo's own naive UTC ``"YYYY-MM-DD HH:MM:SS"`` strings, compared as strings
(the format sorts like time); none comes from this machine's clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from syncd.settings import ModelSpec, domain_as_list
from syncd.sync.state import TIME_FORMAT, ModelState

CLOCK_MARGIN = 60.0  # seconds of skew allowed between Odoo's HTTP Date and its database clock


@dataclass(frozen=True)
class Window:
    """The change window of one pull, computed once when the pull begins.

    ``start``: the pull re-reads every row with ``write_date >= start`` (``>=`` is the one
    comparison that means the same on Odoo 16-19, docs/odoo-api.md §3), or everything when None
    (a rebuild). It lies a ``lookback`` before the moment the *previous* pass began on Odoo's
    clock: Odoo stamps a row with its transaction's start time (§1), so a row stamped earlier
    was committed and read by then unless its transaction ran longer than ``lookback``, and a
    row committed since carries a later stamp however long that pass ran.

    ``floor``: without Odoo's clock (no HTTP ``Date``, as behind some proxies), the newest stamp
    known before this pull began: it then stands in for the moment the pass began.

    ``settled(pass_clock)`` is where the next pull will start (the state's ``settled``): a lookback and a skew margin
    before this pass began on Odoo's clock (the ``Date`` of the pass's first answer), else a
    lookback before ``floor``. Neither the local clock nor the newest stamp seen (the
    ``watermark``, which is only reported) decides it: the newest stamp would skip a write that
    landed, during a pass longer than ``lookback``, on a page that pass had already read."""

    start: str | None
    floor: str | None
    lookback: float

    @classmethod
    def for_pull(cls, state: ModelState, lookback: float, clock: datetime | None) -> Window:
        """The window of an in-place pull from ``state`` (a rebuild uses ``start=None``).
        ``clock``: Odoo's clock as last seen, if known: a server clock that went backwards
        since the last pass moves the start back with it."""
        if state.settled is None:
            # A state written before `settled` existed: fall back to the newest stamp seen.
            assert state.watermark is not None
            return cls(shift(state.watermark, -lookback), state.watermark, lookback)
        start = state.settled
        if clock is not None:
            start = min(start, _before(clock, lookback))
        return cls(start, state.watermark, lookback)

    def settled(self, pass_clock: datetime | None) -> str | None:
        if pass_clock is not None:
            return _before(pass_clock, self.lookback)
        return shift(self.floor, -self.lookback) if self.floor else None


def _before(clock: datetime, lookback: float) -> str:
    return (clock - timedelta(seconds=lookback + CLOCK_MARGIN)).strftime(TIME_FORMAT)


def fingerprint(spec: ModelSpec, source: str, lang: str | None) -> str:
    """What the snapshot's content depends on; when it changes, the snapshot is rebuilt.

    ``lang`` is the language the pass reads in (``[odoo] lang``, else the sync user's own):
    every translatable value (a product's ``name``, a many2one's display name) depends on it,
    so a snapshot read in another language is rebuilt, like one with another field list.
    None gives the fingerprint of a state written before the language was part of it."""
    parts: list[Any] = [source, spec.model, list(spec.fields), domain_as_list(spec.domain),
                        spec.include_archived]
    if lang is not None:
        parts.append(lang)
    key = orjson.dumps(parts)
    return hashlib.blake2b(key, digest_size=8).hexdigest()


def shift(stamp: str, seconds: float) -> str:
    """A server timestamp moved by `seconds`, in the same naive UTC format."""
    moved = datetime.strptime(stamp[:19], TIME_FORMAT) + timedelta(seconds=seconds)
    return moved.strftime(TIME_FORMAT)


def domain_fields(domain: tuple[Any, ...]) -> list[str]:
    """The fields a domain's leaves name (the first part of a dotted path)."""
    names: list[str] = []
    for term in domain:
        if isinstance(term, (tuple, list)) and term and isinstance(term[0], str):
            name = term[0].split(".", 1)[0]
            if name not in names:
                names.append(name)
    return names
