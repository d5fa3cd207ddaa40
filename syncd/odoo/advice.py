"""What to tell an Odoo administrator: the index Odoo does not create on ``write_date``.

Odoo indexes no ``write_date`` column, so every change-window query (``write_date >= W``) is a
sequential scan of the model's table: next to nothing on a small table, the largest cost of an
idle pass on a big one. With an index, the same query reads only the window's rows
(0.11-0.16 ms instead of 30-50 ms on 50,000 partners, seen on Odoo 17 with PostgreSQL 15).
"""

from __future__ import annotations

INDEX_ADVICE_ABOVE = 100_000  # records; below, a scan per idle pass costs little


def odoo_table(model: str) -> str:
    """The PostgreSQL table Odoo keeps ``model`` in (its ``_table``): dots become underscores."""
    return model.replace(".", "_")


def write_date_index(model: str, records: int) -> str | None:
    """The statement that indexes ``model``'s ``write_date``, for a model above
    ``INDEX_ADVICE_ABOVE`` records; None below. CONCURRENTLY: it does not lock writers out."""
    if records <= INDEX_ADVICE_ABOVE:
        return None
    table = odoo_table(model)
    return (f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {table}_write_date_index "
            f"ON {table} (write_date);")
