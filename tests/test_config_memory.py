"""``[sync] memory_mb``: the changed records a model's pass holds in memory before spilling them.
A value that is not a whole number of at least 1 is refused by the real command, exit 2, in one
line naming the key, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import load_settings
from syncd.emulator import Emulator
from syncd.settings import SyncSettings
from tests.test_bad_input import CUSTOMERS, ODOO, configured
from tests.test_cli import odoo, one_error_line, syncd  # noqa: F401 - a fixture


@pytest.mark.parametrize("value", ["0", "-1", "1.5", '"100"', "true", "100.0"])
def test_a_bad_memory_mb_exits_2_naming_the_key(tmp_path: Path, odoo: Emulator,  # noqa: F811
                                               value: str) -> None:
    env = configured(tmp_path, odoo, ODOO + f"[sync]\nmemory_mb = {value}\n" + CUSTOMERS)
    result = syncd(tmp_path, env, "once")
    assert result.returncode == 2, result.stderr
    line = one_error_line(result)
    assert "[sync].memory_mb" in line
    assert ("must be >= 1" if value in ("0", "-1") else "must be a whole number") in line
    assert not (tmp_path / "data").exists()


def test_memory_mb_sets_the_budget_in_mebibytes(tmp_path: Path) -> None:
    (tmp_path / "syncd.toml").write_text("[sync]\nmemory_mb = 3\n")
    settings = load_settings(str(tmp_path / "syncd.toml"), environ={})
    assert settings.sync.memory_mb == 3 and settings.sync.memory_budget == 3 << 20
    assert SyncSettings().memory_budget == 100 << 20  # the default: 100 MB
    assert SyncSettings(memory_bytes=1500).memory_budget == 1500  # the tests' byte budget
