"""The PostgreSQL database of the crash-point sweep (tests/sinks/crash_points.py): the one a pass
writes, in the server the test fixture starts (tests/pg_server.py); saved after the first pass as
a database of its own (CREATE DATABASE ... TEMPLATE) and put back from it before each kill; and
what readers see of it.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

SCHEMA = "public"


class CrashDatabase:
    """The database of the sweep that works in ``key`` (a directory): ``dsn`` for the pass."""

    def __init__(self, key: str) -> None:
        from tests import pg_server

        self.server = pg_server.server()  # skips (or fails) the test when none can be started
        self.dsn = self.server.database_for(key)
        self.name = self.server.databases[key]
        self.saved = f"{self.name}_saved"

    def save(self) -> None:
        """Keep the database as it is now (no session may be connected to it)."""
        self.server.sql("postgres", f"DROP DATABASE IF EXISTS {self.saved}")
        self.server.sql("postgres", f"CREATE DATABASE {self.saved} TEMPLATE {self.name}")

    def restore(self) -> None:
        """The database as saved. A killed pass's sessions may outlive it for a moment: FORCE
        ends them."""
        self.server.sql("postgres", f"DROP DATABASE {self.name} WITH (FORCE)")
        self.server.sql("postgres", f"CREATE DATABASE {self.name} TEMPLATE {self.saved}")

    def _query(self, query: sql.Composed) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute(query).fetchall()

    def tables(self) -> dict[str, bytes]:
        """What readers see: every table of the schema, ``table <name>`` -> its rows in a fixed
        order (a table is as one committed transaction left it, or the check fails)."""
        found: dict[str, bytes] = {}
        for (table,) in self._query(sql.SQL("SELECT tablename FROM pg_tables WHERE schemaname "
                                            "= {} ORDER BY 1").format(sql.Literal(SCHEMA))):
            rows = self._query(sql.SQL("SELECT * FROM {}").format(sql.Identifier(SCHEMA, table)))
            found[f"table {table}"] = repr(sorted(repr(row) for row in rows)).encode()
        return found

    def journal_beyond_state(self) -> dict[str, int]:
        """Model -> rows of ``syncd_changes`` past the committed state's ``journal_seq`` (a
        reader following the journal would see changes no committed pass made)."""
        if not self._query(sql.SQL("SELECT 1 FROM pg_tables WHERE schemaname = {} AND "
                                   "tablename = 'syncd_changes'").format(sql.Literal(SCHEMA))):
            return {}
        rows = self._query(sql.SQL(
            "SELECT c.model, count(*) FROM {changes} c WHERE c.seq > coalesce("
            "(SELECT (s.state->>'journal_seq')::bigint FROM {state} s WHERE s.name = c.model), 0) "
            "GROUP BY c.model ORDER BY 1").format(changes=sql.Identifier(SCHEMA, "syncd_changes"),
                                                  state=sql.Identifier(SCHEMA, "syncd_state")))
        return {str(model): int(count) for model, count in rows}
