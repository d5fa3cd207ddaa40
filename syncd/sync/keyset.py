"""Reading a model in pages on an id keyset: ``id > last ORDER BY id LIMIT n``.

Never offset paging (O(offset) per page on the server, and rows shift under concurrent writes)
and never ``write_date`` tie-breaks (the API hides the microseconds the database orders by).
A server or proxy that ignores the keyset would make the loop endless: rows outside the page
asked for fail the pass instead.

Page sizes adapt (``PageSize``), between ``MIN_PAGE`` and ``[sync] page_size``: a page that
fails the way a too-big answer fails (cut short, unparsable, timed out, a gateway error; Odoo's
memory or time limits) is asked again at half the size, once each and without backoff, instead
of failing the pass; at the smallest size the client's retries apply as for any call. Pages
that come back fast grow back, doubling. Changing the size between pages keeps every guarantee:
each page is still ``id > cursor`` in the same window, and the last page is the one shorter
than what it asked for.

The first page carries no ``id > 0``: ids are positive, and the redundant term makes a database
with an index on ``write_date`` walk the primary key instead (an idle pass is one such page).
"""

from __future__ import annotations

import re
import time
from array import array
from collections.abc import Callable, Iterator
from typing import Any

from loguru import logger

from syncd.errors import FaultError, OdooError, TransientError
from syncd.odoo.client import OdooClient

ID_PAGE = 20_000  # ids per request for an id scan: ids are tiny
MIN_PAGE = 25  # smallest adaptive page; a failure at this size is a failure
FAST_PAGE = 0.5  # seconds: a page answered faster lets the next one double
# Odoo's own limits: a worker's MemoryError, `limit_time_cpu` ("CPU time limit exceeded."),
# PostgreSQL's statement_timeout (QueryCanceled).
_LIMIT_FAULT = re.compile(r"MemoryError|time limit exceeded|QueryCanceled|statement timeout",
                          re.IGNORECASE)


def too_big(error: OdooError) -> bool:
    """True for a failure a smaller page may avoid; not for a server asking us to slow down
    (Retry-After), nor for faults about the query itself."""
    if isinstance(error, TransientError):
        return error.retry_after is None
    if isinstance(error, FaultError):
        return bool(_LIMIT_FAULT.search(f"{error.name} {error}"))
    return False


class PageSize:
    """The size of the next page: halves on a too-big failure, doubles after a fast page,
    always within ``[floor, ceiling]``. ``clock`` is injectable (monotonic seconds)."""

    def __init__(self, ceiling: int, *, floor: int = MIN_PAGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = max(1, ceiling)
        self.floor = min(floor, self.ceiling)
        self.size = self.ceiling
        self.asked = self.size  # the limit of the last page asked for
        self.clock = clock

    @property
    def at_floor(self) -> bool:
        return self.size <= self.floor

    def shrink(self) -> None:
        self.size = max(self.floor, self.size // 2)

    def answered(self, seconds: float) -> None:
        if seconds < FAST_PAGE and self.size < self.ceiling:
            self.size = min(self.ceiling, self.size * 2)


def pages(client: OdooClient, model: str, domain: list[Any], fields: list[str], *,
          context: dict[str, Any], page_size: int | PageSize,
          check_stop: Callable[[], None], start: int = 0,
          upper: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """Pages of `fields` of the rows matching `domain`, in id order; a `PageSize` (or a
    fresh one of at most `page_size`) sizes each. `start` and `upper`: only the ids in
    ``(start, upper]`` (a slice of the id range; `upper` None: no upper bound)."""
    sizer = page_size if isinstance(page_size, PageSize) else PageSize(page_size)
    cursor = start
    while True:
        check_stop()
        size = sizer.size
        sizer.asked = size
        begun = sizer.clock()
        try:
            rows = client.search_read(model, _after(domain, cursor, upper), fields,
                                      limit=size, order="id", context=context,
                                      retry=sizer.at_floor)
        except OdooError as exc:
            if sizer.at_floor or not too_big(exc):
                raise
            sizer.shrink()
            logger.info("odoo page too big model={model} limit={limit} next={next} error={error}",
                        model=model, limit=size, next=sizer.size, error=str(exc))
            continue
        sizer.answered(sizer.clock() - begun)
        if len(rows) > size or any(not isinstance(row.get("id"), int) or row["id"] <= cursor
                                   or (upper is not None and row["id"] > upper)
                                   for row in rows):
            bound = f", id <= {upper}" if upper is not None else ""
            raise OdooError(f"{model}.search_read answered rows outside the page asked for "
                            f"(id > {cursor}{bound}, limit {size}); not paging further")
        if rows:
            yield rows
            cursor = max(row["id"] for row in rows)
        if len(rows) < size or (upper is not None and cursor >= upper):
            return  # a short page, or a slice read up to its end: nothing after it


def ids(client: OdooClient, model: str, domain: list[Any], *, context: dict[str, Any],
        check_stop: Callable[[], None], page_size: int = ID_PAGE) -> array[int]:
    """Every id matching `domain`, ascending and packed (8 bytes each: a million ids are 8 MB,
    not a 60 MB set): the cheap scan that finds deletions."""
    found: array[int] = array("q")
    cursor = 0
    while True:
        check_stop()
        batch = client.search(model, _after(domain, cursor), limit=page_size,
                              order="id", context=context)
        if any(not isinstance(i, int) or i <= cursor for i in batch) or len(batch) > page_size:
            raise OdooError(f"{model}.search answered ids outside the page asked for "
                            f"(id > {cursor}, limit {page_size}); not paging further")
        found.extend(sorted(batch))  # asked for in id order; sorted in case a proxy did not
        if len(batch) < page_size:
            return found
        cursor = max(batch)


def _after(domain: list[Any], cursor: int, upper: int | None = None) -> list[Any]:
    """`domain` narrowed to ids after `cursor` (and up to `upper`); the first page of a whole
    scan (cursor 0, no upper bound) is `domain` itself."""
    narrowed = domain + [["id", ">", cursor]] if cursor else list(domain)
    return narrowed + [["id", "<=", upper]] if upper is not None else narrowed


def last_id(client: OdooClient, model: str, domain: list[Any], *,
            context: dict[str, Any]) -> int | None:
    """The highest id matching `domain` (None when none does): one row off the primary key's
    end, as cheap as a page of one."""
    found = client.search(model, domain, limit=1, order="id desc", context=context)
    if len(found) > 1 or any(not isinstance(i, int) or isinstance(i, bool) for i in found):
        raise OdooError(f"{model}.search answered {found[:3]!r} for the highest id")
    return found[0] if found else None
