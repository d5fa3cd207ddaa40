"""Windows replace contention, simulated off Windows: on Windows a reader that holds a file
open makes `os.replace` over it fail with PermissionError. The write path retries a bounded
number of times, then fails cleanly: the old file intact, no temp left, and a pass that hits it
fails with one line changing nothing, and converges once the reader lets go."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from syncd.sinks import atomic
from syncd.sinks.atomic import TEMP_MARK, write_atomic
from syncd.sinks.datadir import ERROR_FILE
from tests.sync_rig import CUSTOMERS, PRODUCTS, Rig, make_rig, partner


class Readers:
    """Files held open by readers, as Windows sees them: replacing one is refused with
    PermissionError (ERROR_SHARING_VIOLATION) while it is held; `after` refusals, then it is
    let go (None: held until `release`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.held: dict[Path, Any] = {}
        self.left: dict[Path, int | None] = {}
        self.refused = 0
        self.pauses: list[float] = []
        replace = os.replace

        def windows_replace(src: Any, dst: Any) -> None:
            target = Path(dst)
            if target in self.held:
                left = self.left[target]
                if left is None or left > 0:
                    self.refused += 1
                    if left is not None:
                        self.left[target] = left - 1
                    raise PermissionError(13, "The process cannot access the file because it "
                                          "is being used by another process", str(src), None,
                                          str(dst))
                self.release(target)
            replace(src, dst)

        monkeypatch.setattr(atomic, "_IS_WINDOWS", True)
        monkeypatch.setattr(atomic.os, "replace", windows_replace)  # type: ignore[attr-defined]
        monkeypatch.setattr(atomic, "_pause", self.pauses.append)  # an injected clock

    def hold(self, path: Path, refusals: int | None = None) -> None:
        self.held[path] = open(path, "rb")  # noqa: SIM115 - a reader keeping it open
        self.left[path] = refusals

    def release(self, path: Path) -> None:
        self.held.pop(path).close()
        self.left.pop(path)

    def close(self) -> None:
        for path in list(self.held):
            self.release(path)


@pytest.fixture
def readers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Readers]:
    r = Readers(monkeypatch)
    yield r
    r.close()


def temps(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if TEMP_MARK in p.name]


def test_a_reader_letting_go_within_the_retries_lets_the_write_through(
        tmp_path: Path, readers: Readers) -> None:
    target = tmp_path / "odoo_customers.json"
    target.write_bytes(b"old")
    readers.hold(target, refusals=3)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert readers.refused == 3 and readers.pauses == [atomic._REPLACE_PAUSE] * 3
    assert temps(tmp_path) == []


def test_a_reader_that_keeps_the_file_fails_the_write_after_bounded_retries(
        tmp_path: Path, readers: Readers) -> None:
    target = tmp_path / "odoo_customers.json"
    target.write_bytes(b"old")
    readers.hold(target)
    with pytest.raises(PermissionError):
        write_atomic(target, b"new")
    assert readers.refused == atomic._REPLACE_ATTEMPTS  # bounded: about two seconds in all
    assert sum(readers.pauses) == pytest.approx(
        (atomic._REPLACE_ATTEMPTS - 1) * atomic._REPLACE_PAUSE)
    assert target.read_bytes() == b"old"
    assert temps(tmp_path) == []


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS), reconcile_interval=0)
    yield r
    r.close()


def seen(data: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(data.iterdir())
            if p.is_file() and p.name != ERROR_FILE and "lock" not in p.name}


@pytest.mark.parametrize("held", ["odoo_customers.json", "odoo_products.json", "last_sync.json"])
def test_a_pass_blocked_by_a_reader_fails_with_one_line_changing_nothing(
        rig: Rig, readers: Readers, held: str) -> None:
    """Customers are replaced first, then products, then the state: whichever the reader holds,
    the files replaced before it are put back."""
    rig.db.create("res.partner", partner(None, 1))
    rig.db.create("product.product", {"name": "Chair", "list_price": 5.0})
    assert rig.sync().ok
    before = seen(rig.data_dir)
    rig.db.create("res.partner", partner(None, 2))
    rig.db.create("product.product", {"name": "Table", "list_price": 50.0})
    readers.hold(rig.data_dir / held)
    report = rig.sync()
    assert not report.ok and report.error is not None
    assert "\n" not in report.error.strip() and "being used by another process" in report.error
    assert readers.refused == atomic._REPLACE_ATTEMPTS
    assert seen(rig.data_dir) == before  # no temp left either
    error = orjson.loads((rig.data_dir / ERROR_FILE).read_bytes())
    assert error["error"] == report.error
    readers.close()
    assert rig.sync().ok
    rig.assert_in_sync("after the reader let go")
