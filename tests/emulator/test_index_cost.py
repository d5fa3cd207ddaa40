"""The emulator's cost model: keyset paging walks the id index; write_date has no index.

`Database.visits` counts rows a query examined (see syncd/emulator/query.py). Real PostgreSQL
makes `id > last ORDER BY id LIMIT n` cost about n rows per page, while OFFSET paging costs
offset+n; the emulator must show the same shape so sync strategies can be compared. Odoo
creates no index on write_date (docs/odoo-api.md §8), so a change window is a sequential scan:
an idle pass costs the server a read of every row of every model it watches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd.emulator.clock import Clock
from syncd.emulator.store import Database

RECORDS = 200_000
PAGE = 1000


def test_keyset_paging_by_id_costs_about_one_visit_per_record() -> None:
    db = Database(version=17)
    db.import_records("res.partner", [{"name": f"P{i}"} for i in range(RECORDS)])
    db.reset_visits()
    last, pages, seen = 0, 0, 0
    while True:
        rows = db.execute("res.partner", "search_read", [[("id", ">", last)]],
                          {"fields": ["name"], "order": "id", "limit": PAGE})
        pages += 1
        if not rows:
            break
        seen += len(rows)
        last = rows[-1]["id"]
    assert seen == RECORDS and pages == RECORDS // PAGE + 1
    assert db.visits <= 1.05 * RECORDS + pages * 2
    keyset_first_20 = 20 * PAGE
    db.reset_visits()
    for page in range(20):
        db.execute("res.partner", "search", [[]], {"order": "id", "limit": PAGE,
                                                   "offset": page * PAGE})
    # offset paging re-reads everything before the page: 1000 * (1 + 2 + ... + 20)
    assert db.visits == PAGE * 20 * 21 // 2
    assert db.visits > 10 * keyset_first_20


def test_a_write_date_window_examines_every_row_of_the_table() -> None:
    clock = Clock(start=datetime(2024, 5, 1, 12, 0, 0, 250000))
    db = Database(version=17, clock=clock)
    for batch in range(20):
        db.import_records("res.partner", [{"name": f"B{batch}-{i}"} for i in range(5000)])
        clock.advance(60)
    db.reset_visits()
    ids = db.execute("res.partner", "search", [[("write_date", ">=", "2024-05-01 12:19:00")]],
                     {"order": "id"})
    assert len(ids) == 5000  # the last batch, stamped 12:19:00.25
    assert db.visits == 100_000  # a sequential scan, not the 5000 rows an index would read
    db.reset_visits()
    idle = [("write_date", ">=", "2024-05-01 13:00:00")]  # an idle pass: nothing newer
    assert db.execute("res.partner", "search_read", [idle],
                      {"fields": ["name"], "order": "id", "limit": 1000}) == []
    assert db.visits == 100_000
    db.reset_visits()
    window = [("write_date", ">=", "2024-05-01 12:10:00"), ("write_date", "<", "2024-05-01 12:12:00")]
    assert db.execute("res.partner", "search_count", [window], {}) == 10_000
    assert db.visits == 100_000
    # an id bound still narrows through the primary key
    db.reset_visits()
    last = ids[-100]
    page = db.execute("res.partner", "search", [[("id", ">", last), ("write_date", ">=", "2024-05-01 12:19:00")]],
                      {"order": "id", "limit": 1000})
    assert len(page) == 99 and db.visits == 99


def test_deleted_and_uncommitted_rows_are_not_in_the_indexes() -> None:
    db = Database(version=17)
    ids = db.import_records("res.partner", [{"name": f"P{i}"} for i in range(10)])
    db.unlink("res.partner", ids[:5])
    tx = db.transaction()
    tx.import_records("res.partner", [{"name": "pending"}] * 3)
    table = db.tables["res.partner"]
    assert table.ids == ids[5:] and sorted(table.rows) == ids[5:]
    db.reset_visits()
    assert db.execute("res.partner", "search_count", [[]], {}) == 5
    assert db.visits == 5
    tx.commit()
    assert len(table.ids) == len(table.rows) == 8


def test_id_bounds_answered_by_the_index_match_testing_every_row() -> None:
    """The planner applies top-level id comparisons as a range of the id index and does not
    test them again on each row: every domain mixing them with other leaves, `in` lists, `|`
    and `!` gives exactly the ids a row-by-row test of the whole domain gives."""
    db = Database(version=17)
    ids = db.import_records("res.partner", [{"name": f"P{i}", "is_company": i % 3 == 0}
                                            for i in range(60)])
    db.unlink("res.partner", ids[10:15])
    db.write("res.partner", ids[20:25], {"active": False})
    low, high = ids[5], ids[40]
    domains = [
        [("id", ">", low)],
        [("id", ">", low), ("id", "<=", high)],
        [("id", ">=", low), ("id", "<", high), ("is_company", "=", True)],
        [("id", "=", ids[30])],
        [("id", "=", ids[12])],  # deleted
        [("id", ">", low), ("id", "in", [ids[1], ids[6], ids[41], ids[50]])],
        [("id", "<=", high), ("id", "in", ids[35:55])],
        ["|", ("id", "<", low), ("id", ">", high)],
        ["!", ("id", ">", low)],
        ["&", ("id", ">", low), "|", ("is_company", "=", True), ("id", "=", ids[3])],
        [("id", ">", high), ("id", "<", low)],  # empty
        [("id", ">", low), ("active", "=", False)],
    ]
    model = db.model("res.partner")
    for domain in domains:
        for active_test in (True, False):
            context = {"active_test": active_test}
            expected = sorted(row["id"] for row in db.tables["res.partner"].rows.values()
                              if _whole_test(db, model, domain, active_test)(row))
            found = db.execute("res.partner", "search", [domain],
                               {"order": "id", "context": context})
            paged = db.execute("res.partner", "search", [domain],
                               {"order": "id", "limit": 7, "context": context})
            counted = db.execute("res.partner", "search_count", [domain], {"context": context})
            assert found == expected, (domain, active_test)
            assert paged == expected[:7], (domain, active_test)
            assert counted == len(expected), (domain, active_test)


def _whole_test(db: Database, model: Any, domain: list[Any], active_test: bool) -> Any:
    from syncd.emulator.domain import compile_domain
    with db.lock:
        return compile_domain(db.view(), model, domain, active_test).test
