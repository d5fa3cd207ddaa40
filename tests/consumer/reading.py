"""What the reader tests do to a sink from outside, the way its owner or an accident would."""

from __future__ import annotations

import sqlite3

from syncd.sinks.datadir import DataDir
from tests.sync_rig import Rig


def sql(rig: Rig, statement: str, *params: object) -> None:
    """Run one statement on the rig's database sink, committed."""
    if rig.settings.sink.kind == "sqlite":
        path = rig.settings.sink.path or DataDir(rig.data_dir).default_database
        with sqlite3.connect(path) as db:
            db.execute(statement.replace("%s", "?"), params)
        return
    import psycopg

    with psycopg.connect(rig.settings.sink.dsn, autocommit=True) as conn:
        conn.execute(statement, params)  # type: ignore[arg-type]


def cut_journal(rig: Rig, upto: int) -> None:
    """Drop the journal entries of customers up to ``upto`` (JSON: its rotated files go with
    the rotation the test configured; a database: the rows)."""
    if rig.settings.sink.kind != "json":
        sql(rig, "DELETE FROM syncd_changes WHERE model = %s AND seq <= %s", "customers", upto)


def delete_state(rig: Rig) -> None:
    """The state gone (the JSON file deleted; a database's state rows deleted)."""
    if rig.settings.sink.kind == "json":
        (rig.data_dir / "last_sync.json").unlink()
    else:
        sql(rig, "DELETE FROM syncd_state")
