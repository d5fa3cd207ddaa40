"""A new user's first week with the `syncd` command: interrupting `once` (the real command,
signalled), configuration mistakes caught before Odoo is contacted, the demo keeping away from
real snapshots, and global options on either side of the command (the command line run in this
process, tests/in_process.py: a subprocess would add nothing to these)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from syncd.cli import COMMANDS, DESCRIPTIONS
from syncd.emulator import Emulator
from tests.in_process import cli
from tests.test_cli import SYNCD, environment, one_error_line, wait_for
from tests.test_cli import odoo  # noqa: F401


def files(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> bytes), lock files aside."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".syncd.lock"}


def syncd_lines(stderr: str) -> list[str]:
    """The lines syncd itself writes (not the log lines)."""
    return [line for line in stderr.splitlines() if line.startswith("syncd:")]


# -- 1. `once` stopped by a signal ------------------------------------------------------------------
SLOW = {
    "slow-answer": dict(kind="latency", times=1000, seconds=120),  # abandoned while waiting
    "between-pages": dict(kind="latency", times=1000, seconds=0.3),  # stopped at a page
}


@pytest.mark.parametrize("where", SLOW)
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_once_stopped_by_a_signal_exits_non_zero_and_commits_nothing(
        tmp_path: Path, odoo: Emulator, signum: int, code: int, where: str) -> None:
    env = environment(tmp_path, odoo)
    (tmp_path / "syncd.toml").write_text('[sync]\npage_size = 2\n')
    assert cli(tmp_path, env, "once").returncode == 0
    data = tmp_path / "data"
    before = files(data)
    odoo.db.write("res.partner", 1, {"name": "Renamed"})  # a committed pass would change a file
    odoo.faults.add(**SLOW[where])  # type: ignore[arg-type]
    seen = odoo.stats.requests
    proc = subprocess.Popen([SYNCD, "once"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: odoo.stats.requests > seen, what="the pass under way")
        started = time.monotonic()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=15)
        assert time.monotonic() - started < 10  # not after the 120 s answer
        assert proc.returncode == code, err
        name = signal.Signals(signum).name
        assert syncd_lines(err) == [f"syncd: interrupted ({name}): nothing of the pass was "
                                    "committed"], err
        assert "Traceback" not in err
        assert files(data) == before
    finally:
        if proc.poll() is None:
            proc.kill()
        odoo.faults.clear()


def test_once_that_is_not_interrupted_still_exits_0(tmp_path: Path, odoo: Emulator) -> None:
    result = cli(tmp_path, environment(tmp_path, odoo), "once")
    assert result.returncode == 0 and syncd_lines(result.stderr) == [], result.stderr


# -- 4, 5. configuration errors are exit 2, before Odoo is contacted --------------------------------
@pytest.mark.parametrize("command", ["once", "run", "check"])
def test_an_empty_database_is_a_config_error_naming_the_file(tmp_path: Path, odoo: Emulator,
                                                           command: str) -> None:
    (tmp_path / "syncd.toml").write_text(f'[odoo]\nurl = "{odoo.url}"\nusername = "admin"\n')
    env = environment(tmp_path, None, ODOO_PASSWORD="admin")
    seen = odoo.stats.requests
    result = cli(tmp_path, env, command, timeout=20)
    assert result.returncode == 2, result.stderr
    assert one_error_line(result) == (
        "syncd: error: [odoo].database is empty (set it in syncd.toml or ODOO_DB; "
        f"config file: {tmp_path / 'syncd.toml'})")
    assert odoo.stats.requests == seen  # nothing was asked of Odoo


def test_odoo_table_alone_is_a_config_error_listing_where_it_looked(tmp_path: Path) -> None:
    env = environment(tmp_path)
    result = cli(tmp_path, env, "once", timeout=20)  # no file at all: it says where it looked
    assert result.returncode == 2, result.stderr
    line = one_error_line(result)
    assert line.startswith("syncd: error: [odoo].database is empty (set it in syncd.toml or "
                           "ODOO_DB; no config file found (looked for "), line
    assert str(tmp_path / "syncd.toml") in line
    assert str(tmp_path / "config" / "syncd" / "syncd.toml") in line
    (tmp_path / "syncd.toml").write_text("[odoo]\n")
    result = cli(tmp_path, env, "-q", "once", timeout=20)
    assert result.returncode == 2 and "[odoo].database is empty" in one_error_line(result)
    result = cli(tmp_path, environment(tmp_path, None, ODOO_DB="d"), "once", timeout=20)
    assert result.returncode == 2 and "[odoo].username is empty" in one_error_line(result)
    assert "ODOO_USERNAME" in one_error_line(result)


def test_local_commands_need_no_login(tmp_path: Path) -> None:
    (tmp_path / "syncd.toml").write_text("[odoo]\n")
    env = environment(tmp_path)
    assert cli(tmp_path, env, "status").returncode != 2
    assert cli(tmp_path, env, "resync").returncode == 0


def test_verbose_says_which_config_file_was_read(tmp_path: Path) -> None:
    (tmp_path / "syncd.toml").write_text("[odoo]\n")
    result = cli(tmp_path, environment(tmp_path), "-v", "status")
    assert f"config file: {tmp_path / 'syncd.toml'}" in result.stderr
    result = cli(tmp_path, environment(tmp_path), "status")
    assert "config file" not in result.stderr


def test_json2_without_an_api_key_is_a_config_error(tmp_path: Path, odoo: Emulator) -> None:
    (tmp_path / "syncd.toml").write_text('[odoo]\nprotocol = "json2"\n')
    result = cli(tmp_path, environment(tmp_path, odoo), "once", timeout=20)
    assert result.returncode == 2, result.stderr
    assert "needs an API key" in one_error_line(result)


@pytest.mark.parametrize("key, value", [("rotation", "10 MBs"), ("retention", "daily")])
def test_an_invalid_log_setting_is_a_config_error(tmp_path: Path, odoo: Emulator, key: str,
                                                   value: str) -> None:
    (tmp_path / "syncd.toml").write_text(f'[log]\n{key} = "{value}"\n')
    for command in ("once", "status"):
        result = cli(tmp_path, environment(tmp_path, odoo), command)
        assert result.returncode == 2, result.stderr
        assert f"[log].{key} cannot be '{value}'" in one_error_line(result)


# -- 3. the demo keeps away from real snapshots -----------------------------------------------------
def test_demo_leaves_a_real_setup_byte_identical(tmp_path: Path, odoo: Emulator) -> None:
    env = environment(tmp_path, odoo)
    del env["SYNCD_DATA_DIR"]
    (tmp_path / "syncd.toml").write_text(
        f'[odoo]\nurl = "{odoo.url}"\ndatabase = "{odoo.db.name}"\nusername = "{odoo.login}"\n'
        '[sync]\ndata_dir = "odoo_database"\n[log]\nfile = false\n')
    assert cli(tmp_path, env, "once").returncode == 0
    real = files(tmp_path)
    assert "odoo_database/odoo_customers.json" in real and "syncd.toml" in real

    result = cli(tmp_path, env, "demo", "--seconds", "2", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "into syncd-demo every" in result.stdout
    assert (tmp_path / "syncd-demo" / ".syncd-demo").exists()
    assert {k: v for k, v in files(tmp_path).items() if not k.startswith("syncd-demo/")} == real

    # The demo's own directory again is fine; a directory it did not make is refused (exit 2).
    assert cli(tmp_path, env, "demo", "--seconds", "0.5", timeout=60).returncode == 0
    for args in (["--data-dir", "odoo_database", "demo"], ["demo", "--data-dir", "."]):
        result = cli(tmp_path, env, *args, "--seconds", "2", timeout=60)
        assert result.returncode == 2, result.stderr
        assert "already holds files not made by a demo" in one_error_line(result)
    assert {k: v for k, v in files(tmp_path).items() if not k.startswith("syncd-demo/")} == real


# -- 6. global options before or after the command --------------------------------------------------
def test_global_options_after_the_command(tmp_path: Path, odoo: Emulator) -> None:
    env = environment(tmp_path, odoo)
    result = cli(tmp_path, env, "once", "--data-dir", str(tmp_path / "after"), "-q")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "after" / "odoo_customers.json").exists()
    assert "fetched=" not in result.stderr  # -q after the command quietened the INFO lines

    config = tmp_path / "other.toml"
    config.write_text('[models.things]\nmodel = "res.partner"\nfields = ["name"]\n')
    env["SYNCD_DATA_DIR"] = str(tmp_path / "after")  # status reads an existing data directory
    for args in (["status", "-q", "--config", str(config), "--json"],
                 ["--config", str(config), "status", "--json"],
                 ["--data-dir", str(tmp_path / "after"), "status", "--json", "-q"]):
        status = orjson.loads(cli(tmp_path, env, *args).stdout)
        if "--config" in args:
            assert [m["name"] for m in status["models"] if m["configured"]] == ["things"], args
        else:  # the value before the command is not reset by the command's own parser
            assert status["data_dir"] == str(tmp_path / "after"), status
            assert [m["records"] for m in status["models"]] == [12, 7]


def test_verbose_and_quiet_on_either_side_are_a_usage_error(tmp_path: Path) -> None:
    for args in (["-v", "status", "-q"], ["status", "-v", "-q"], ["-q", "-v", "status"]):
        result = cli(tmp_path, environment(tmp_path), *args)
        assert result.returncode == 2, args
        assert "not allowed with" in one_error_line(result)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_help_says_what_it_does(tmp_path: Path, command: str) -> None:
    result = cli(tmp_path, environment(tmp_path), command, "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    paragraphs = DESCRIPTIONS[command].split("\n\n")
    assert len(paragraphs) >= 2  # more than the one-line summary of `syncd --help`
    for paragraph in paragraphs:
        assert " ".join(paragraph.split()) in text
    for option in ("--config FILE", "--data-dir DIR", "--verbose", "--quiet"):
        assert option in result.stdout


def test_small_things_a_new_user_trips_on(tmp_path: Path, odoo: Emulator) -> None:  # noqa: F811
    env = environment(tmp_path, odoo)
    bad = cli(tmp_path, env, "status", "--max-age", "5m")
    assert bad.returncode == 2 and one_error_line(bad).endswith("(see 'syncd status --help')")
    top = cli(tmp_path, env, "--help").stdout
    assert "SQLite" in top and "PostgreSQL" in top  # not JSON snapshots only
    demo = cli(tmp_path, env, "demo", "--help").stdout
    assert "--odoo-version" in demo and "the Odoo version the emulator answers as" in demo
    typo = cli(tmp_path, env, "fields", "res.partnr")
    assert typo.returncode == 1 and "did you mean res.partner?" in one_error_line(typo)
    dsn = cli(tmp_path, environment(tmp_path, odoo, SYNCD_PG_DSN="host=x nokey"),
                "--config", str(postgres_config(tmp_path)), "once")
    assert dsn.returncode == 2
    assert one_error_line(dsn).startswith("syncd: error: SYNCD_PG_DSN is not a libpq")


def postgres_config(tmp_path: Path) -> Path:
    config = tmp_path / "pg.toml"
    config.write_text('[sink]\nkind = "postgres"\n')
    return config
