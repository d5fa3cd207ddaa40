"""The emulated server's clock: naive UTC datetimes with microseconds, under the test's control.

Odoo stamps `write_date` with PostgreSQL's `now()` (UTC, microseconds). Tests freeze or shift
this clock instead of sleeping; a running clock follows real time plus an offset, so an
emulated server can sit hours away from the client's clock.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Real UTC time plus `offset` seconds, or a frozen instant when frozen."""

    def __init__(self, *, start: datetime | None = None, offset: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._offset = offset
        self._frozen: datetime | None = start

    def now(self) -> datetime:
        """Naive UTC with microsecond precision."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            real = datetime.now(UTC).replace(tzinfo=None)
            return real + timedelta(seconds=self._offset)

    def freeze(self, at: datetime | None = None) -> None:
        """Stop time at `at` (default: the current reading)."""
        moment = at if at is not None else self.now()
        with self._lock:
            self._frozen = moment

    def unfreeze(self) -> None:
        """Run again from real time plus the offset (the frozen instant is forgotten)."""
        with self._lock:
            self._frozen = None

    def advance(self, seconds: float) -> None:
        """Move a frozen clock forward; a running one gains `seconds` of offset."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += timedelta(seconds=seconds)
            else:
                self._offset += seconds

    def set_offset(self, seconds: float) -> None:
        """Put a running clock `seconds` away from real UTC (e.g. a server hours off)."""
        with self._lock:
            self._offset = seconds
