"""The state file: round trip, missing, corrupt, forward compatible, deterministic."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from syncd.errors import CorruptFileError
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
    customers.recent = {10: "d10", 9: "d9", 100: "d100"}
    customers.last_success = "2024-05-01 10:00:00"
    customers.last_reconcile = "2024-05-01 09:00:00"
    customers.last_error = None
    products = state.model("products")
    products.model = "product.product"
    products.last_error = "FaultError: boom"
    products.full_resync = True
    return state


def test_round_trip_including_int_recent_keys(tmp_path: Path) -> None:
    path = tmp_path / "last_sync.json"
    state = sample()
    state.save(path)
    loaded = State.load(path)
    assert loaded == state
    assert loaded.models["customers"].recent == {9: "d9", 10: "d10", 100: "d100"}
    assert all(isinstance(k, int) for k in loaded.models["customers"].recent)
    on_disk = orjson.loads(path.read_bytes())
    assert on_disk["version"] == 1
    assert on_disk["last_sync"] == "2024-05-01 10:00:00"
    assert on_disk["models"]["customers"]["watermark"] == "2024-05-01 09:59:58"
    assert on_disk["models"]["customers"]["recent"]["10"] == "d10"


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
    path.write_bytes(b'{"last_sync": null, "models": {"c": {"watermark": null, "last_error": null}}}')
    assert State.load(path) == State(models={"c": ModelState()})


def test_bytes_are_deterministic(tmp_path: Path) -> None:
    a = sample()
    b = State(last_sync=a.last_sync)
    # Same content built in another order.
    b.models["products"] = a.models["products"]
    b.models["customers"] = ModelState(**{**a.models["customers"].__dict__})
    b.models["customers"].recent = dict(reversed(list(a.models["customers"].recent.items())))
    a.save(tmp_path / "a.json")
    b.save(tmp_path / "b.json")
    raw = (tmp_path / "a.json").read_bytes()
    assert raw == (tmp_path / "b.json").read_bytes()
    assert raw.endswith(b"}\n")
    assert b'\n  "last_sync"' in raw  # indented
    keys = list(orjson.loads(raw))
    assert keys == sorted(keys)


def test_to_dict_is_json_shaped() -> None:
    data = sample().to_dict()
    orjson.dumps(data)  # no int keys, nothing exotic
    assert data["models"]["customers"]["recent"] == {"9": "d9", "10": "d10", "100": "d100"}
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
