"""`syncd check` advises the write_date index Odoo does not create, for big configured models."""

from __future__ import annotations

from syncd.odoo.advice import INDEX_ADVICE_ABOVE, odoo_table, write_date_index
from syncd.service.status import render_check


def test_the_index_is_advised_above_the_threshold_on_odoos_table_name() -> None:
    assert odoo_table("account.move.line") == "account_move_line"
    assert write_date_index("res.partner", INDEX_ADVICE_ABOVE) is None
    assert write_date_index("account.move.line", INDEX_ADVICE_ABOVE + 1) == (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS account_move_line_write_date_index "
        "ON account_move_line (write_date);")


def test_check_shows_the_advice_under_its_model() -> None:
    result = {"version": "17.0", "url": "http://odoo", "database": "prod", "protocol": "jsonrpc",
              "uid": 2, "models": [
                  {"name": "lines", "model": "account.move.line", "odoo": 250_000,
                   "snapshot": 250_000, "missing_fields": [],
                   "advice": write_date_index("account.move.line", 250_000)},
                  {"name": "customers", "model": "res.partner", "odoo": 40, "snapshot": 40,
                   "missing_fields": []}]}
    assert render_check(result).splitlines()[1:] == [
        "lines (account.move.line): odoo 250000, snapshot 250000: in sync",
        "  advice: Odoo creates no index on write_date, so without one each pass scans these "
        "250,000 records; on the database (a no-op if it is there already): CREATE INDEX CONCURRENTLY IF NOT EXISTS "
        "account_move_line_write_date_index ON account_move_line (write_date);",
        "customers (res.partner): odoo 40, snapshot 40: in sync"]
