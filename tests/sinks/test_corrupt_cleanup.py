"""Set-aside ``*.corrupt-*`` files are pruned: at most 5 per original file, none older than 30
days, at the start of a pass. Ages come from mtimes set with os.utime and an injected `now`."""

from __future__ import annotations

import os
import time
from pathlib import Path

from loguru import logger

from syncd.sinks.atomic import prune_set_aside, set_aside
from tests.sync_rig import CUSTOMERS, make_rig, partner

DAY = 86400.0
NOW = 1_900_000_000.0


def aside(directory: Path, original: str, stamp: str, days_old: float) -> Path:
    path = directory / f"{original}.corrupt-{stamp}"
    path.write_bytes(b"garbage")
    os.utime(path, (NOW - days_old * DAY, NOW - days_old * DAY))
    return path


def test_keeps_the_newest_five_per_file_and_none_older_than_30_days(tmp_path: Path) -> None:
    state = [aside(tmp_path, "last_sync.json", f"2030030{n}T000000", days_old=n) for n in range(8)]
    old = aside(tmp_path, "odoo_products.json", "20300101T000000", days_old=31)
    young = aside(tmp_path, "odoo_products.json", "20300301T000000", days_old=29.9)
    bystanders = [tmp_path / "odoo_customers.json", tmp_path / "notes.corrupt-old",
                  tmp_path / "last_sync.json"]
    for path in bystanders:
        path.write_bytes(b"keep")
        os.utime(path, (NOW - 400 * DAY, NOW - 400 * DAY))
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="INFO")
    try:
        removed = prune_set_aside(tmp_path, now=NOW)
    finally:
        logger.remove(sink)
    assert sorted(removed) == sorted(state[5:] + [old])
    assert all(p.exists() for p in state[:5] + [young] + bystanders)
    assert not any(p.exists() for p in removed)
    assert len([line for line in lines if "removed old corrupt file" in line]) == 4
    assert any("older than 30 days" in line and old.name in line for line in lines)
    assert any("more than 5 kept" in line and state[7].name in line for line in lines)
    assert prune_set_aside(tmp_path, now=NOW) == []  # nothing more to do


def test_a_file_set_aside_today_is_young_whatever_its_last_write(tmp_path: Path) -> None:
    path = tmp_path / "odoo_customers.json"
    path.write_bytes(b"[{")
    os.utime(path, (time.time() - 90 * DAY, time.time() - 90 * DAY))  # unchanged for months
    moved = set_aside(path)
    assert prune_set_aside(tmp_path) == [] and moved.exists()


def test_a_pass_prunes_before_it_runs(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS,))
    try:
        rig.db.create("res.partner", partner(None, 1))
        rig.data_dir.mkdir(parents=True)
        stale = rig.data_dir / "odoo_customers.json.corrupt-20200101T000000"
        stale.write_bytes(b"old")
        os.utime(stale, (time.time() - 31 * DAY, time.time() - 31 * DAY))
        fresh = rig.data_dir / "odoo_customers.json.corrupt-20200102T000000"
        fresh.write_bytes(b"new")
        assert rig.sync().ok
        assert not stale.exists() and fresh.exists()
    finally:
        rig.close()
