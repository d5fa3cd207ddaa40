"""The state file: round trip, missing, corrupt, forward compatible, deterministic."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from syncd.errors import CorruptFileError
from syncd.sinks.atomic import write_atomic
from syncd.sync.digests import Digests, row_mark as mark
from syncd.sync.state import ModelState, State, utc_now_text


def sample() -> State:
    state = State(last_sync="2024-05-01 10:00:00")
    customers = state.model("customers")
    customers.model = "res.partner"
    customers.fingerprint = "abc123"
    customers.watermark = "2024-05-01 09:59:58"
    customers.fields = ["name", "email"]
    customers.missing_fields = ["phone_mobile"]
    customers.records = 42
    customers.recent = digests({10: 0xD10, 9: 0xD9 | 1, 100: 0xD100})
    customers.last_success = "2024-05-01 10:00:00"
    customers.last_reconcile = "2024-05-01 09:00:00"
    products = state.model("products")
    products.model = "product.product"
    products.full_resync = True
    return state


def digests(marks: dict[int, int]) -> Digests:
    found = Digests()
    for record_id, value in marks.items():
        found.add(record_id, value)
    found.sort()
    return found


def test_round_trip_including_packed_digests(tmp_path: Path) -> None:
    path = tmp_path / "last_sync.json"
    state = sample()
    write_atomic(path, state.to_bytes())
    loaded = State.load(path)
    assert loaded == state
    recent = loaded.models["customers"].recent
    assert list(recent.items()) == [(9, 0xD9 | 1), (10, 0xD10), (100, 0xD100)]
    on_disk = orjson.loads(path.read_bytes())
    assert on_disk["version"] == 2
    assert on_disk["last_sync"] == "2024-05-01 10:00:00"
    assert on_disk["models"]["customers"]["watermark"] == "2024-05-01 09:59:58"
    assert set(on_disk["models"]["customers"]["recent"]) == {"ids", "marks"}


def test_a_million_digests_cost_megabytes_not_a_dict_of_objects(tmp_path: Path) -> None:
    state = State()
    recent = state.model("customers").recent
    for record_id in range(1, 1_000_001):
        recent.add(record_id, (record_id * 0x9E3779B97F4A7C15) & (2**64 - 2))
    assert recent.ids.itemsize * len(recent.ids) + recent.marks.itemsize * len(recent.marks) \
        == 16_000_000
    raw = state.to_bytes()
    assert len(raw) < 12_000_000  # consecutive ids compress away; marks are 8 bytes, base64
    assert State.load_bytes(raw, tmp_path / "x") == state


def test_a_version_1_file_is_read_and_keeps_recognising_rows(tmp_path: Path) -> None:
    """The previous layout: indented, digests as hex strings by id, "out:" for non-members."""
    row = {"id": 10, "name": "A", "write_date": "2024-05-01 09:59:58"}
    legacy_hex = f"{mark(row):016x}"
    path = tmp_path / "last_sync.json"
    path.write_bytes(orjson.dumps({"version": 1, "last_sync": "2024-05-01 10:00:00", "models": {
        "customers": {"watermark": "2024-05-01 09:59:58", "records": 1,
                      "recent": {"10": legacy_hex, "11": "out:" + legacy_hex},
                      "last_error": None, "parents": [{"link": "p", "model": "m",
                                                       "fields": ["name"],
                                                       "seen": {"3": legacy_hex}}]}}},
        option=orjson.OPT_INDENT_2))
    state = State.load(path)
    recent = state.models["customers"].recent
    assert recent.get(10) == mark(row)  # the same row is recognised: no re-read, no resync
    assert state.models["customers"].marks == 1  # whole-row digests, compared as such
    assert recent.get(11) == mark(row, member=False)
    assert state.models["customers"].parents[0].seen.get(3) == mark(row)
    write_atomic(path, state.to_bytes())
    assert orjson.loads(path.read_bytes())["version"] == 2
    assert State.load(path) == state


def test_missing_file_is_fresh_state(tmp_path: Path) -> None:
    state = State.load(tmp_path / "last_sync.json")
    assert state.last_sync is None and state.models == {}
    assert state.model("customers").watermark is None
    assert "customers" in state.models


def test_model_get_or_create_returns_same_object() -> None:
    state = State()
    first = state.model("x")
    first.records = 3
    assert state.model("x") is first
    assert state.model("x").records == 3


@pytest.mark.parametrize(
    "content, why",
    [
        (b'{"last_sync": "2024-', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "top level should be dict"),
        (b'{"models": []}', "models should be dict"),
        (b'{"models": {"c": 5}}', "models.c should be dict"),
        (b'{"models": {"c": {"records": "many"}}}', "models.c.records"),
        (b'{"models": {"c": {"records": true}}}', "models.c.records"),
        (b'{"models": {"c": {"watermark": 5}}}', "models.c.watermark"),
        (b'{"models": {"c": {"fields": ["a", 1]}}}', "models.c.fields"),
        (b'{"models": {"c": {"recent": {"x": "d"}}}}', "models.c.recent"),
        (b'{"models": {"c": {"recent": {"1": 2}}}}', "models.c.recent"),
        (b'{"models": {"c": {"recent": {"ids": "!!", "marks": ""}}}}', "models.c.recent"),
        (b'{"models": {"c": {"recent": {"ids": "eJwDAAAAAAE=", "marks": "AAAAAAAAAAA="}}}}',
         "models.c.recent"),
        (b'{"last_sync": 17}', "last_sync"),
    ],
)
def test_corrupt_file_raises_naming_the_file(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "last_sync.json"
    path.write_bytes(content)
    with pytest.raises(CorruptFileError) as info:
        State.load(path)
    assert str(path) in str(info.value)
    assert why in str(info.value)


def test_unknown_keys_ignored(tmp_path: Path) -> None:
    path = tmp_path / "last_sync.json"
    path.write_bytes(
        orjson.dumps(
            {
                "version": 7,
                "future_top": {"a": 1},
                "last_sync": "2024-01-01 00:00:00",
                "models": {"c": {"watermark": "2024-01-01 00:00:00", "future_model_key": [1, 2]}},
            }
        )
    )
    state = State.load(path)
    assert state.last_sync == "2024-01-01 00:00:00"
    assert state.models == {"c": ModelState(watermark="2024-01-01 00:00:00")}


def test_nulls_load_as_defaults(tmp_path: Path) -> None:
    path = tmp_path / "last_sync.json"
    path.write_bytes(b'{"last_sync": null, "models": {"c": {"watermark": null, "settled": null}}}')
    assert State.load(path) == State(models={"c": ModelState()})


def test_bytes_are_deterministic(tmp_path: Path) -> None:
    a = sample()
    b = State(last_sync=a.last_sync)
    # Same content built in another order.
    b.models["products"] = a.models["products"]
    b.models["customers"] = ModelState(**{**a.models["customers"].__dict__})
    b.models["customers"].recent = digests(dict(reversed(list(a.models["customers"].recent.items()))))
    write_atomic(tmp_path / "a.json", a.to_bytes())
    write_atomic(tmp_path / "b.json", b.to_bytes())
    raw = (tmp_path / "a.json").read_bytes()
    assert raw == (tmp_path / "b.json").read_bytes()
    assert raw.endswith(b"}\n")
    assert b"\n" not in raw[:-1]  # compact: one line
    keys = list(orjson.loads(raw))
    assert keys == sorted(keys)


def test_to_dict_is_json_shaped() -> None:
    data = sample().to_dict()
    orjson.dumps(data)  # no int keys, nothing exotic
    assert Digests.from_json(data["models"]["customers"]["recent"], "x") == sample().models[
        "customers"].recent
    assert data["models"]["products"]["full_resync"] is True


def test_utc_now_text() -> None:
    assert utc_now_text(datetime(2024, 2, 3, 4, 5, 6, 789)) == "2024-02-03 04:05:06"
    paris = timezone(timedelta(hours=2))
    assert utc_now_text(datetime(2024, 2, 3, 4, 5, 6, tzinfo=paris)) == "2024-02-03 02:05:06"
    datetime.strptime(utc_now_text(), "%Y-%m-%d %H:%M:%S")


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="needs time.tzset (POSIX)")
def test_utc_now_text_default_is_utc_whatever_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # UTC+9, no DST
    time.tzset()
    try:
        text = utc_now_text()
        reference = datetime.now(UTC).replace(tzinfo=None)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert abs(datetime.strptime(text, "%Y-%m-%d %H:%M:%S") - reference) < timedelta(minutes=5)


def test_a_data_directory_of_the_previous_format_is_upgraded_without_a_resync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A state file as the previous syncd wrote it (version 1: indented, hex digests, no field
    types) is read, its rows still recognised, and rewritten in the new layout by the next
    pass: no rebuild, no snapshot rewritten."""
    from tests.sync_rig import CUSTOMERS, make_rig, partner

    rig = make_rig(tmp_path, models=(CUSTOMERS,))
    try:
        for n in range(30):
            rig.db.create("res.partner", partner(None, n))
        assert rig.sync().ok
        path = rig.data_dir / "last_sync.json"
        data = orjson.loads(path.read_bytes())
        for model in data["models"].values():
            recent = Digests.from_json(model["recent"], "recent")
            model["recent"] = {str(i): ("out:" if v & 1 else "") + f"{v:016x}"
                               for i, v in recent.items()}
            model.pop("types")
        data["version"] = 1
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        snapshot = (rig.data_dir / "odoo_customers.json").stat().st_mtime_ns
        import syncd.sinks.json.sink as jsondir

        merges: list[object] = []
        monkeypatch.setattr(jsondir, "merge", lambda *a, **k: merges.append(a))
        report = rig.sync()
        assert report.ok and not report.models[0].full and not report.models[0].written
        assert merges == []  # every row of the window recognised: the snapshot is not even read
        assert (rig.data_dir / "odoo_customers.json").stat().st_mtime_ns == snapshot
        assert orjson.loads(path.read_bytes())["version"] == 2
    finally:
        rig.close()


def test_marks_of_the_previous_scheme_recognise_every_row_and_are_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A state whose window marks digest whole rows (scheme 1, before marks came from the
    canonical line) still recognises every row the next pass reads, members and rows outside
    the copy alike: nothing is merged or rewritten, and the state then holds the new marks."""
    from tests.sync_rig import CUSTOMERS, make_rig, partner

    rig = make_rig(tmp_path, models=(CUSTOMERS,))
    try:
        ids = [rig.db.create("res.partner", partner(None, n)) for n in range(30)]
        assert rig.sync().ok
        rig.db.write("res.partner", ids[:2], {"active": False})  # out of the copy
        assert rig.sync().ok
        path = rig.data_dir / "last_sync.json"
        data = orjson.loads(path.read_bytes())
        model = data["models"]["customers"]
        assert model["marks"] == 2
        current = Digests.from_json(model["recent"], "recent")
        rows = {row["id"]: row for row in rig.client.search_read(
            "res.partner", [["id", "in", list(current.ids)]], model["fields"],
            context={"active_test": False})}
        legacy = Digests()
        for record_id, value in current.items():
            legacy.add(record_id, mark(rows[record_id], member=not value & 1))
        assert sorted(i for i, v in legacy.items() if v & 1) == ids[:2]
        assert all(legacy.get(i) != v for i, v in current.items())  # another digest
        model["recent"] = legacy.to_json()
        del model["marks"]
        path.write_bytes(orjson.dumps(data))
        import syncd.sinks.json.sink as jsondir

        merges: list[object] = []
        monkeypatch.setattr(jsondir, "merge", lambda *a, **k: merges.append(a))
        report = rig.sync()
        assert report.ok and not report.models[0].full and not report.models[0].written
        assert report.models[0].fetched >= 30 and merges == []  # every row recognised
        model = orjson.loads(path.read_bytes())["models"]["customers"]
        assert model["marks"] == 2 and Digests.from_json(model["recent"], "recent") == current
    finally:
        rig.close()


def test_the_handshake_round_trips_and_a_malformed_one_is_dropped() -> None:
    handshake = {"url": "http://odoo", "uid": 2, "probed": "2026-01-01 00:00:00"}
    state = State(last_sync="2026-01-01 00:00:00", handshake=handshake)
    assert State.load_bytes(state.to_bytes(), "t").handshake == handshake
    assert b"handshake" not in State(last_sync="x").to_bytes()  # none: not written
    for bad in (b'"x"', b"[1]", b"null"):
        raw = b'{"version": 2, "models": {}, "handshake": ' + bad + b"}"
        assert State.load_bytes(raw, "t").handshake is None
