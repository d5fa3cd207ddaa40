"""`status`, `check --strict`, `resync --forget` and `watch` as a user runs them: the `syncd`
command line against the emulator over HTTP, run in this process (tests/in_process.py) but for
what needs a process of its own: "another user" (uid 65534, nobody) and a running daemon run the
real command."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from syncd.emulator import Emulator
from syncd.sinks.lock import LOCK_NAME, DataDirLock
from syncd.sinks.datadir import ERROR_FILE, STATE_FILE
from tests.in_process import cli
from tests.test_cli import SECRET, SYNCD, environment, one_error_line, wait_for
from tests.unprivileged import as_nobody, shared_directory
from tests.test_cli import odoo  # noqa: F401



@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    with shared_directory("syncd-shared-", 0o755) as directory:
        yield directory


def test_another_user_sees_the_failed_pass_and_the_next_good_pass_clears_it(
        shared: Path, odoo: Emulator) -> None:  # noqa: F811
    env = environment(shared, odoo)
    # The failing pass retries within one second, not the default budget's backoff.
    (shared / "syncd.toml").write_text("[odoo]\nretry_budget = 1\n")
    assert cli(shared, env, "once").returncode == 0
    odoo.faults.add("http_500", times=1000, model="product.product")
    failed = cli(shared, env, "once")
    assert failed.returncode == 1
    raw = (shared / "data" / ERROR_FILE).read_text()
    record = orjson.loads(raw)
    assert record["model"] == "products" and odoo.password not in raw
    other = as_nobody(shared, env, "--data-dir", str(shared / "data"), "status")
    assert other.returncode == 1, other.stderr
    row = next(line for line in other.stdout.splitlines() if line.startswith("products"))
    assert row.endswith(record["error"])
    assert f"failed:    the last pass, at {record['at']} UTC" in other.stdout
    odoo.faults.clear()
    assert cli(shared, env, "once").returncode == 0
    assert not (shared / "data" / ERROR_FILE).exists()
    again = as_nobody(shared, env, "--data-dir", str(shared / "data"), "status")
    assert again.returncode == 0, again.stdout + again.stderr


def test_refused_credentials_are_recorded_without_the_secret(tmp_path: Path,
                                                             odoo: Emulator) -> None:  # noqa: F811
    env = environment(tmp_path, odoo, ODOO_PASSWORD=SECRET)
    assert cli(tmp_path, env, "once").returncode == 1
    record = orjson.loads((tmp_path / "data" / ERROR_FILE).read_bytes())
    assert record["model"] is None and "credentials" in record["error"].lower()
    assert SECRET not in (tmp_path / "data" / ERROR_FILE).read_text()
    status = cli(tmp_path, env, "status")
    assert status.returncode == 1 and record["error"] in status.stdout


def test_a_lock_file_of_another_user_says_whose_and_what_to_do(shared: Path) -> None:
    data = shared / "data"
    with DataDirLock(data):  # root's run leaves a root-owned 0644 lock file
        pass
    data.chmod(0o777)  # the service user may write the directory, not the lock file
    (shared / "syncd.toml").write_text("[odoo]\ndatabase = \"odoo\"\nusername = \"sync\"\n"
                                      "password = \"p\"\n[log]\nfile = false\n")
    result = as_nobody(shared, environment(shared), "--data-dir", str(data), "once")
    assert result.returncode == 1
    line = one_error_line(result)
    assert f"cannot open the lock file {data / LOCK_NAME} (owned by root): Permission denied" \
        in line
    assert f"chown -R nobody {data} (or run syncd as root)" in line
    status = as_nobody(shared, environment(shared), "--data-dir", str(data), "status")
    assert status.returncode == 1 and "cannot open the lock file" in status.stdout


def test_a_data_directory_of_another_user_names_it_and_status_sees_the_failure(
        odoo: Emulator) -> None:  # noqa: F811
    """Root made the data directory; the service runs as nobody. Owning the lock file (the old
    advice) is not enough: the error names the directory, the user and `chown -R`, and as the
    directory refuses the error record too, it is kept beside the logs, where status finds it."""
    with shared_directory("syncd-readonly-", 0o777) as shared:
        env = environment(shared, odoo)
        data = shared / "data"
        assert cli(shared, env, "once").returncode == 0  # root's: a good pass, root's files
        import os

        os.chown(data / LOCK_NAME, 65534, 65534)
        odoo.db.create("res.partner", {"name": "New", "is_company": True})
        env = {**env, "XDG_STATE_HOME": str(shared / "nobody-state")}  # nobody's own home
        failed = as_nobody(shared, env, "once")
        assert failed.returncode == 1
        line = one_error_line(failed)
        assert f"syncd runs as nobody and cannot write in {data} (Permission denied" in line
        assert line.endswith(f"chown -R nobody {data}")
        assert not (data / ERROR_FILE).exists()
        assert "recorded in" in failed.stderr
        for status in (as_nobody(shared, env, "status"), cli(shared, env, "status")):
            assert status.returncode == 1, status.stdout
            assert f"chown -R nobody {data}" in status.stdout


def test_check_strict_fails_on_a_count_that_lags(tmp_path: Path, odoo: Emulator) -> None:  # noqa: F811
    env = environment(tmp_path, odoo)
    assert cli(tmp_path, env, "once").returncode == 0
    assert cli(tmp_path, env, "check", "--strict").returncode == 0
    odoo.db.create("res.partner", {"name": "Late", "is_company": True})
    lenient = cli(tmp_path, env, "check")
    assert lenient.returncode == 0 and "odoo 13, snapshot 12: differs" in lenient.stdout
    strict = cli(tmp_path, env, "check", "--strict")
    assert strict.returncode == 1 and "odoo 13, snapshot 12" in strict.stdout
    (tmp_path / "syncd.toml").write_text(
        '[models.customers]\nmodel = "res.partner"\nfields = ["name", "no_such_field"]\n')
    assert cli(tmp_path, env, "once").returncode == 0
    missing = cli(tmp_path, env, "check", "--strict")
    assert missing.returncode == 1 and "missing fields: no_such_field" in missing.stdout
    assert cli(tmp_path, env, "check").returncode == 0


def test_check_fails_on_errors_with_or_without_strict(tmp_path: Path, odoo: Emulator) -> None:  # noqa: F811
    env = environment(tmp_path, odoo)
    (tmp_path / "syncd.toml").write_text('[models.things]\nmodel = "x.nosuch"\nfields = ["name"]\n')
    for args in (["check"], ["check", "--strict"]):
        result = cli(tmp_path, env, *args)
        assert result.returncode == 1 and "things (x.nosuch): error" in result.stdout


def test_missing_and_never_synced_data_directories(tmp_path: Path) -> None:
    env = environment(tmp_path)
    for args in (["--data-dir", "typo", "watch"], ["--data-dir", "typo", "status"]):
        result = cli(tmp_path, env, *args)
        assert result.returncode == 1
        assert "no data directory at typo (" in one_error_line(result)
        assert not (tmp_path / "typo").exists() and result.stdout == ""
    (tmp_path / "data").mkdir()
    never = cli(tmp_path, env, "status")
    assert never.returncode == 1
    assert "no syncd pass has succeeded here yet: run 'syncd once'" in never.stdout
    assert "daemon:    not running" in never.stdout
    assert list((tmp_path / "data").iterdir()) == []  # status took no lock, created nothing


def test_the_old_scripts_last_sync_file_is_no_syncd_pass(tmp_path: Path,
                                                         odoo: Emulator) -> None:  # noqa: F811
    """The cron script syncd replaces left last_sync.json holding only a timestamp: that is no
    pass of syncd's (exit 1, "never"), and the first pass replaces it with syncd's state."""
    env = environment(tmp_path, odoo)
    data = tmp_path / "data"
    data.mkdir()
    (data / STATE_FILE).write_text('{"last_sync": "2025-10-15 08:00:00"}')
    (data / "odoo_customers.json").write_text('[{"id": 1, "name": "Old"}]')
    status = cli(tmp_path, env, "status")
    assert status.returncode == 1, status.stdout
    assert "last sync: never" in status.stdout
    assert "error:     no syncd pass has succeeded here yet: run 'syncd once'" in status.stdout
    assert cli(tmp_path, env, "once").returncode == 0
    assert cli(tmp_path, env, "status").returncode == 0


def test_max_age(tmp_path: Path, odoo: Emulator) -> None:  # noqa: F811
    env = environment(tmp_path, odoo)
    (tmp_path / "data").mkdir()
    assert cli(tmp_path, env, "status", "--max-age", "60").returncode == 1  # none yet
    assert cli(tmp_path, env, "status", "--max-age", "0").returncode == 2
    assert cli(tmp_path, env, "once").returncode == 0
    assert cli(tmp_path, env, "status", "--max-age", "3600").returncode == 0
    state_path = tmp_path / "data" / STATE_FILE
    state = orjson.loads(state_path.read_bytes())
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    state["last_sync"] = two_hours_ago.strftime("%Y-%m-%d %H:%M:%S")
    state_path.write_bytes(orjson.dumps(state))
    stale = cli(tmp_path, env, "status", "--max-age", "3600")
    assert stale.returncode == 1 and "older than --max-age 3600 s" in stale.stdout
    assert "(2 h ago)" in stale.stdout
    data = orjson.loads(cli(tmp_path, env, "status", "--json", "--max-age", "3600").stdout)
    assert data["stale"] and 7190 < data["age_seconds"] < 7300 and not data["ok"]
    assert cli(tmp_path, env, "status", "--max-age", "9000").returncode == 0
    assert cli(tmp_path, env, "status").returncode == 0  # no --max-age: age alone is fine


def test_status_names_the_running_daemon(tmp_path: Path, odoo: Emulator) -> None:  # noqa: F811
    env = environment(tmp_path, odoo)
    (tmp_path / "syncd.toml").write_text("[sync]\ninterval = 3600\n")
    proc = subprocess.Popen([SYNCD, "run"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for((tmp_path / "data" / STATE_FILE).exists, what="the first pass")
        data = orjson.loads(cli(tmp_path, env, "status", "--json").stdout)
        assert data["holder"] == {"pid": proc.pid}
        assert f"daemon:    running (pid {proc.pid})" in cli(tmp_path, env, "status").stdout
        forget = cli(tmp_path, env, "resync", "--forget", "gone")
        assert forget.returncode == 1 and "stop it before resync --forget" in one_error_line(forget)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    data = orjson.loads(cli(tmp_path, env, "status", "--json").stdout)
    assert data["holder"] is None and data["ok"]


def test_forget_a_model_removed_from_the_configuration(tmp_path: Path,
                                                       odoo: Emulator) -> None:  # noqa: F811
    env = environment(tmp_path, odoo)
    assert cli(tmp_path, env, "once").returncode == 0
    products = tmp_path / "data" / "odoo_products.json"
    before = products.read_bytes()
    (tmp_path / "syncd.toml").write_text(
        '[models.customers]\nmodel = "res.partner"\nfields = ["name", "write_date"]\n')
    assert cli(tmp_path, env, "once").returncode == 0
    assert products.read_bytes() == before
    status = cli(tmp_path, env, "status")
    assert status.returncode == 0
    row = next(line for line in status.stdout.splitlines() if line.startswith("products"))
    assert "not configured" in row and "7" in row and " odoo_products.json " in row  # FILE
    refused = cli(tmp_path, env, "resync", "--forget", "customers")
    assert refused.returncode == 2 and "still configured" in one_error_line(refused)
    unknown = cli(tmp_path, env, "resync", "--forget", "nothing")
    assert unknown.returncode == 2 and "nothing to forget" in one_error_line(unknown)
    done = cli(tmp_path, env, "resync", "--forget", "products")
    assert done.returncode == 0, done.stderr
    assert not products.exists()
    state = orjson.loads((tmp_path / "data" / STATE_FILE).read_bytes())
    assert set(state["models"]) == {"customers"}
    assert "products" not in cli(tmp_path, env, "status").stdout


def test_adding_one_model_table_warns_that_the_default_models_stop(tmp_path: Path,
                                                                   odoo: Emulator) -> None:  # noqa: F811
    """A `[models.X]` table replaces the default models: every pass, `status` and `check` say
    which stored models stopped moving and how to keep or drop them; `check --strict` exits 1."""
    env = environment(tmp_path, odoo)
    assert cli(tmp_path, env, "once").returncode == 0
    (tmp_path / "syncd.toml").write_text(
        '[models.countries]\nmodel = "res.partner"\nfields = ["name"]\n')
    advice = ("stored models no longer synced: customers, products (not in the configuration's "
              "[models.*] tables, so their copies stop changing): list them under [models.NAME] "
              "to keep them current, or remove them with 'syncd resync --forget customers "
              "products'")
    for _ in range(2):  # on every pass, not only the first
        again = cli(tmp_path, env, "-q", "once")
        assert again.returncode == 0, again.stderr
        assert advice in again.stderr
    status = cli(tmp_path, env, "status")
    assert f"warning:   {advice}" in status.stdout
    check = cli(tmp_path, env, "check")
    assert check.returncode == 0 and f"warning: {advice}" in check.stdout
    strict = cli(tmp_path, env, "check", "--strict")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert cli(tmp_path, env, "resync", "--forget", "customers", "products").returncode == 0
    clean = cli(tmp_path, env, "once")
    assert clean.returncode == 0 and "no longer synced" not in clean.stderr


def test_loading_a_model_no_longer_configured_warns(tmp_path: Path,
                                                     odoo: Emulator) -> None:  # noqa: F811
    from dataclasses import replace

    from loguru import logger

    from syncd import consumer
    from syncd.config import load_settings
    from syncd.settings import ModelSpec

    env = environment(tmp_path, odoo)
    assert cli(tmp_path, env, "once").returncode == 0
    settings = load_settings(None, str(tmp_path / "data"), {})
    only = replace(settings, models=(ModelSpec(name="countries", model="res.country",
                                               fields=("name",)),))
    said: list[str] = []
    sink = logger.add(lambda m: said.append(m.record["message"]), level="WARNING")
    try:
        assert len(consumer.load(only, "customers")) == 12  # still readable ...
        assert any("customers is not in the configuration's [models.*] tables" in line
                   for line in said)  # ... but said to be stale
        said.clear()
        assert len(consumer.load(settings, "customers")) == 12
        assert said == []
    finally:
        logger.remove(sink)
