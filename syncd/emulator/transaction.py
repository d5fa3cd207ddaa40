"""Transaction: changes staged under one stamp, invisible until commit (docs/odoo-api.md §1).

Its stamp is the clock at BEGIN, as PostgreSQL's now(): a long transaction commits rows whose
write_date is older than anything written meanwhile. Ids are taken at once (like sequences,
lost on rollback). `with db.transaction() as tx:` commits on a clean exit, rolls back on an
exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from syncd.emulator.faults import bad_argument, missing_record

if TYPE_CHECKING:
    from syncd.emulator.store import Database

Op = tuple[str, str, Any, Any]  # (kind, model, ids or rows, values)


def id_list(ids: int | Iterable[int]) -> list[int]:
    if isinstance(ids, bool) or not isinstance(ids, (int, list, tuple, set, frozenset, range)):
        raise bad_argument(f"Invalid ids {ids!r}", "TypeError")
    return [ids] if isinstance(ids, int) else [int(i) for i in ids]


class Transaction:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.stamp = db.clock.now()
        self.ops: list[Op] = []
        self.closed = False
        self._created: dict[str, set[int]] = {}

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.closed:
            return
        if kind is None:
            self.commit()
        else:
            self.rollback()

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("transaction already committed or rolled back")

    def create(self, model: str, values: dict[str, Any]) -> int:
        return self.import_records(model, [values])[0]

    def import_records(self, model: str, rows: list[dict[str, Any]]) -> list[int]:
        """Stage new records; all of them will carry this transaction's stamp."""
        self._check_open()
        staged = self.db.prepare_rows(model, rows, self)
        ids = [row["id"] for row in staged]
        self._created.setdefault(model, set()).update(ids)
        return ids

    def stage_rows(self, model: str, rows: list[dict[str, Any]]) -> None:
        self.ops.append(("create", model, rows, None))
        self._created.setdefault(model, set()).update(row["id"] for row in rows)

    def write(self, model: str, ids: int | Iterable[int], values: dict[str, Any]) -> None:
        self._check_open()
        targets = id_list(ids)
        self._require(model, targets)
        self.db.prepare_write(model, targets, values, self)

    def stage_write(self, model: str, ids: list[int], values: dict[str, Any]) -> None:
        self.ops.append(("write", model, ids, values))

    def unlink(self, model: str, ids: int | Iterable[int]) -> None:
        self._check_open()
        targets = id_list(ids)
        self._require(model, targets)
        self.ops.append(("unlink", model, targets, None))

    def archive(self, model: str, ids: int | Iterable[int]) -> None:
        self.write(model, ids, {"active": False})

    def unarchive(self, model: str, ids: int | Iterable[int]) -> None:
        self.write(model, ids, {"active": True})

    def _require(self, model: str, ids: list[int]) -> None:
        table = self.db.table(model)
        created = self._created.get(model, set())
        missing = [i for i in ids if i not in table.rows and i not in created]
        if missing:
            raise missing_record(model, missing)

    def commit(self) -> None:
        self._check_open()
        self.closed = True
        self.db.apply(self.ops, self.stamp)

    def rollback(self) -> None:
        self._check_open()
        self.closed = True
        self.ops.clear()

