"""Snapshot: canonical bytes, change detection, corrupt files (contract: files in the data dir)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from syncd.errors import CorruptFileError
from syncd.sinks.snapshot import Snapshot, count_records, encode

FIELDS = ["name", "email", "write_date"]


def test_encode_layout() -> None:
    assert encode([]) == b"[]\n"
    assert encode([{"id": 1, "a": True}, {"id": 2, "a": False}]) == (
        b'[\n{"id":1,"a":true},\n{"id":2,"a":false}\n]\n'
    )


def test_bytes_are_deterministic_whatever_key_and_record_order() -> None:
    one = Snapshot(
        FIELDS,
        [
            {"id": 7, "name": "Zed", "email": False, "write_date": "2024-01-01 00:00:00"},
            {"id": 3, "name": "Ann", "email": "a@x", "write_date": "2024-01-02 00:00:00", "extra": 1},
        ],
    )
    two = Snapshot(
        FIELDS,
        [
            {"extra": 1, "write_date": "2024-01-02 00:00:00", "email": "a@x", "name": "Ann", "id": 3},
            {"email": False, "write_date": "2024-01-01 00:00:00", "id": 7, "name": "Zed"},
        ],
    )
    assert one.to_bytes() == two.to_bytes()
    assert one.to_bytes() == (
        b"[\n"
        b'{"id":3,"name":"Ann","email":"a@x","write_date":"2024-01-02 00:00:00","extra":1},\n'
        b'{"id":7,"name":"Zed","email":false,"write_date":"2024-01-01 00:00:00"}\n'
        b"]\n"
    )


def test_records_sorted_numerically_by_id() -> None:
    snap = Snapshot(["name"], [{"id": i, "name": str(i)} for i in (10, 9, 100, 1, 2)])
    ids = [r["id"] for r in orjson.loads(snap.to_bytes())]
    assert ids == [1, 2, 9, 10, 100]


def test_extra_keys_sorted_after_fields() -> None:
    snap = Snapshot(["b", "a"], [{"z": 1, "a": 2, "y": 3, "b": 4, "id": 1}])
    assert list(orjson.loads(snap.to_bytes())[0]) == ["id", "b", "a", "y", "z"]


def test_upsert_reports_changes() -> None:
    snap = Snapshot(FIELDS)
    assert snap.upsert({"id": 1, "name": "A"}) is True
    assert snap.upsert({"name": "A", "id": 1}) is False  # same content, other key order
    assert snap.upsert({"id": 1, "name": "B"}) is True
    assert snap.get(1) == {"id": 1, "name": "B"}
    # A new field is a change, not a merge: the record is replaced whole.
    assert snap.upsert({"id": 1, "email": "b@x"}) is True
    assert snap.get(1) == {"id": 1, "email": "b@x"}
    assert len(snap) == 1 and 1 in snap and 2 not in snap


def test_upsert_distinguishes_values_python_thinks_equal() -> None:
    snap = Snapshot(["qty"], [{"id": 1, "qty": 0}])
    assert snap.upsert({"id": 1, "qty": False}) is True
    assert snap.upsert({"id": 1, "qty": 0.0}) is True
    assert snap.to_bytes() == b'[\n{"id":1,"qty":0.0}\n]\n'


def test_upsert_rejects_record_without_int_id() -> None:
    snap = Snapshot(FIELDS)
    with pytest.raises(ValueError):
        snap.upsert({"name": "no id"})
    with pytest.raises(ValueError):
        snap.upsert({"id": True})
    assert len(snap) == 0


def test_get_returns_copy() -> None:
    snap = Snapshot(["name"], [{"id": 1, "name": "A"}])
    got = snap.get(1)
    assert got is not None
    got["name"] = "mutated"
    assert snap.get(1) == {"id": 1, "name": "A"}
    assert snap.get(2) is None


def test_remove_returns_only_present_ids() -> None:
    snap = Snapshot(["name"], [{"id": i, "name": "x"} for i in (1, 2, 3)])
    assert snap.remove([3, 4, 1]) == [3, 1]
    assert snap.ids() == {2}
    assert snap.remove([]) == []


def test_save_writes_then_skips_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "odoo_customers.json"
    snap = Snapshot(FIELDS, [{"id": 1, "name": "A"}])
    assert snap.save(path) is True
    assert path.read_bytes() == snap.to_bytes()
    old = 1_000_000_000
    os.utime(path, ns=(old * 10**9, old * 10**9))
    before = path.stat()

    reloaded = Snapshot.load(path, FIELDS)
    assert reloaded.save(path) is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    reloaded.upsert({"id": 1, "name": "B"})
    assert reloaded.save(path) is True
    assert path.stat().st_mtime_ns != before.st_mtime_ns
    assert Snapshot.load(path, FIELDS).get(1) == {"id": 1, "name": "B"}


def test_save_rewrites_same_size_different_bytes(tmp_path: Path) -> None:
    path = tmp_path / "odoo_x.json"
    Snapshot(["name"], [{"id": 1, "name": "A"}]).save(path)
    assert Snapshot(["name"], [{"id": 1, "name": "B"}]).save(path) is True
    assert b'"B"' in path.read_bytes()


def test_load_missing_is_empty(tmp_path: Path) -> None:
    snap = Snapshot.load(tmp_path / "nope.json", FIELDS)
    assert len(snap) == 0
    assert snap.fields == tuple(FIELDS)
    assert snap.to_bytes() == b"[]\n"


def test_load_recanonicalizes_key_order(tmp_path: Path) -> None:
    path = tmp_path / "odoo_x.json"
    path.write_bytes(b'[{"name":"A","id":1}]')
    snap = Snapshot.load(path, ["name"])
    assert snap.to_bytes() == b'[\n{"id":1,"name":"A"}\n]\n'


@pytest.mark.parametrize(
    "content, why",
    [
        (b'[\n{"id":1,"name":"A"},\n{"id":2,"na', "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"id": 1}', "expected a JSON array"),
        (b'[{"name": "no id"}]', "no integer id"),
        (b'[{"id": "1"}]', "no integer id"),
        (b'[{"id": true}]', "no integer id"),
        (b"[1, 2]", "not an object"),
        (b'[{"id": 1}, {"id": 1}]', "duplicate id 1"),
        # Our own one-record-per-line layout, read a line at a time, judged the same way:
        (b'[\n{"id":1,"name":"A"},\n{"id":2,"name":"B\n]\n', "not valid JSON"),
        (b'[\n{"id":1},\n{"id":1}\n]\n', "duplicate id 1"),
        (b'[\n{"id":1},\n{"name":"x"}\n]\n', "element 1 has no integer id"),
    ],
)
def test_corrupt_files_raise_naming_the_file(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "odoo_customers.json"
    path.write_bytes(content)
    for read in (lambda: Snapshot.load(path, FIELDS), lambda: count_records(path)):
        with pytest.raises(CorruptFileError) as info:
            read()
        assert str(path) in str(info.value)
        assert why in str(info.value)


@pytest.mark.parametrize("layout", ["indented", "two records on a line", "ours"])
def test_any_valid_array_loads_whatever_its_layout(tmp_path: Path, layout: str) -> None:
    records = [{"id": 2, "name": "B"}, {"id": 1, "name": "A,\\n}"}]
    path = tmp_path / "odoo_x.json"
    path.write_bytes({
        "indented": orjson.dumps(records, option=orjson.OPT_INDENT_2),
        "two records on a line": b'[\n{"id":2,"name":"B"},{"id":1,"name":"A,\\\\n}"}\n]\n',
        "ours": encode(sorted(records, key=lambda r: r["id"])),
    }[layout])
    snap = Snapshot.load(path, ["name"])
    assert list(snap) == sorted(records, key=lambda r: r["id"])
    assert count_records(path) == 2


def test_unicode_round_trips_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "odoo_customers.json"
    name = "Zoë Müller – 東京 😀"
    Snapshot(["name"], [{"id": 1, "name": name}]).save(path)
    raw = path.read_bytes()
    assert name.encode("utf-8") in raw
    assert b"\\u" not in raw
    assert Snapshot.load(path, ["name"]).get(1) == {"id": 1, "name": name}


def test_count_records(tmp_path: Path) -> None:
    path = tmp_path / "odoo_products.json"
    assert count_records(path) is None
    Snapshot(["name"], [{"id": i, "name": "p"} for i in (5, 3, 8)]).save(path)
    assert count_records(path) == 3
    Snapshot(["name"]).save(path)
    assert count_records(path) == 0
    assert path.read_bytes() == b"[]\n"
