"""How long to wait before retrying a transient Odoo error.

Capped exponential backoff with full jitter: attempt ``n`` (0-based) waits a uniform random time
in ``[0, min(cap, base * 2**n)]``, so many daemons hitting one recovering server spread out
instead of retrying in lock-step. A server's ``Retry-After`` wins over the computed delay (up to
``RETRY_AFTER_CAP``): it knows better when it will have room for us.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import parsedate_to_datetime

RETRY_AFTER_CAP = 300.0  # seconds; a proxy asking for hours would stall the daemon silently


@dataclass
class Backoff:
    """The delay policy of one client. ``rng`` is injectable so tests get repeatable jitter."""

    base: float = 0.5
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0 = the first try)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), RETRY_AFTER_CAP)
        ceiling = min(self.cap, self.base * (2.0 ** min(attempt, 62)))
        return self.rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait per a ``Retry-After`` header: delta-seconds or an HTTP-date.

    None when absent or unparsable; a date in the past gives 0. ``now`` is a POSIX time
    (default: the wall clock, which an HTTP-date is relative to by definition).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), RETRY_AFTER_CAP)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    seconds = when.timestamp() - current
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)
