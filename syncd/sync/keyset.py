"""Reading a model in pages on an id keyset: ``id > last ORDER BY id LIMIT n``.

Never offset paging (O(offset) per page on the server, and rows shift under concurrent writes)
and never ``write_date`` tie-breaks (the API hides the microseconds the database orders by).
A server or proxy that ignores the keyset would make the loop endless: rows outside the page
asked for fail the pass instead.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from typing import Any

from syncd.errors import OdooError
from syncd.odoo.client import OdooClient

ID_PAGE = 20_000  # ids per request for an id scan: ids are tiny


def pages(client: OdooClient, model: str, domain: list[Any], fields: list[str], *,
          context: dict[str, Any], page_size: int,
          check_stop: Callable[[], None]) -> Iterator[list[dict[str, Any]]]:
    """Pages of `fields` of the rows matching `domain`, in id order."""
    cursor = 0
    while True:
        check_stop()
        rows = client.search_read(model, domain + [["id", ">", cursor]], fields,
                                  limit=page_size, order="id", context=context)
        if len(rows) > page_size or any(not isinstance(row.get("id"), int) or row["id"] <= cursor
                                        for row in rows):
            raise OdooError(f"{model}.search_read answered rows outside the page asked for "
                            f"(id > {cursor}, limit {page_size}); not paging further")
        if rows:
            yield rows
            cursor = max(row["id"] for row in rows)
        if len(rows) < page_size:
            return


def ids(client: OdooClient, model: str, domain: list[Any], *, context: dict[str, Any],
        check_stop: Callable[[], None], page_size: int = ID_PAGE) -> array[int]:
    """Every id matching `domain`, ascending and packed (8 bytes each: a million ids are 8 MB,
    not a 60 MB set): the cheap scan that finds deletions."""
    found: array[int] = array("q")
    cursor = 0
    while True:
        check_stop()
        batch = client.search(model, domain + [["id", ">", cursor]], limit=page_size,
                              order="id", context=context)
        if any(not isinstance(i, int) or i <= cursor for i in batch) or len(batch) > page_size:
            raise OdooError(f"{model}.search answered ids outside the page asked for "
                            f"(id > {cursor}, limit {page_size}); not paging further")
        found.extend(sorted(batch))  # asked for in id order; sorted in case a proxy did not
        if len(batch) < page_size:
            return found
        cursor = max(batch)
