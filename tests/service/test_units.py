"""What the systemd units hand syncd: credentials, the env file, and the per-instance template."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from syncd.config import load_settings
from syncd.emulator import Emulator
from tests.test_cli import environment, odoo, syncd  # noqa: F401
from tests.test_scripts import dry_run, fake_repo, needs_bash, unit_settings  # noqa: F401

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def active_assignments(text: str) -> list[str]:
    """The lines systemd's EnvironmentFile= would assign (it skips blank, # and ; lines)."""
    return [line for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith(("#", ";")) and "=" in line]


# -- the env file and LoadCredential= --------------------------------------------------------------
def test_an_empty_variable_does_not_hide_a_systemd_credential(tmp_path: Path, odoo: Emulator) -> None:
    # As the installer's env file left it: every ODOO_* line present but empty; the password and
    # the connection settings come from LoadCredential= and the --config file.
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "odoo_password").write_text(odoo.password + "\n", encoding="utf-8")
    config = tmp_path / "syncd.toml"
    config.write_text(f'[odoo]\nurl = "{odoo.url}"\ndatabase = "{odoo.db.name}"\n'
                      f'username = "{odoo.login}"\n', encoding="utf-8")
    env = environment(tmp_path, None, CREDENTIALS_DIRECTORY=str(credentials), ODOO_URL="",
                      ODOO_DB="", ODOO_USERNAME="", ODOO_PASSWORD="", ODOO_API_KEY="")
    result = syncd(tmp_path, env, "--config", str(config), "once")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "odoo_customers.json").is_file()


def test_a_non_empty_variable_still_wins_over_a_credential(tmp_path: Path, odoo: Emulator) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "odoo_password").write_text(odoo.password, encoding="utf-8")
    env = environment(tmp_path, odoo, CREDENTIALS_DIRECTORY=str(credentials),
                      ODOO_PASSWORD="not-the-password")
    result = syncd(tmp_path, env, "once")
    assert result.returncode == 1 and "credentials" in result.stderr


def test_empty_environment_variables_never_override_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text('[odoo]\nurl = "https://odoo.example.com"\ndatabase = "prod"\n'
                      'username = "bot"\napi_key = "from-file"\n'
                      '[sync]\ndata_dir = "snapshots"\n', encoding="utf-8")
    empty = {name: "" for name in ("ODOO_URL", "ODOO_DB", "ODOO_USERNAME", "ODOO_PASSWORD",
                                   "ODOO_API_KEY", "SYNCD_DATA_DIR", "SYNCD_CONFIG")}
    settings = load_settings(str(config), None, empty)
    assert (settings.odoo.url, settings.odoo.database, settings.odoo.username) == \
        ("https://odoo.example.com", "prod", "bot")
    assert settings.odoo.api_key == "from-file" and settings.sync.data_dir == Path("snapshots")
    # The same variables set do override: proof the check above can fail.
    overridden = load_settings(str(config), None, {**empty, "ODOO_DB": "other"})
    assert overridden.odoo.database == "other"


def test_the_env_example_overrides_nothing_until_a_line_is_uncommented() -> None:
    text = (SCRIPTS / "syncd.env.example").read_text(encoding="utf-8")
    assert active_assignments(text) == []
    # Every setting is there to uncomment, each with a word about it.
    for name in ("ODOO_URL", "ODOO_DB", "ODOO_USERNAME", "ODOO_API_KEY", "ODOO_PASSWORD"):
        assert f"#{name}=" in text, name
    assert active_assignments(text.replace("#ODOO_DB=", "ODOO_DB=")) == ["ODOO_DB=example"]


# -- the template unit syncd@.service ----------------------------------------------------------------
# What may differ between the single unit and the template: naming the instance, nothing else.
PER_INSTANCE = {"Description", "ExecStart", "Environment", "EnvironmentFile", "StateDirectory",
                "LogsDirectory"}


def rendered(output: str, unit: str) -> str:
    """The unit text that `install_systemd.sh --dry-run` shows it would write as `unit`."""
    match = re.search(rf"^would write \S+/{re.escape(unit)}:\n((?:    .*\n|\n)*)", output, re.M)
    assert match, output
    return "\n".join(line.removeprefix("    ") for line in match.group(1).splitlines()) + "\n"


def test_the_template_runs_one_instance_per_config_file() -> None:
    text = (SCRIPTS / "syncd@.service").read_text(encoding="utf-8")
    unit = unit_settings(text)
    assert unit["ExecStart"] == ["/opt/syncd/.venv/bin/syncd --config /etc/syncd/%i.toml run"]
    assert unit["Environment"] == ["SYNCD_DATA_DIR=%S/syncd/%i"]
    assert unit["StateDirectory"] == ["syncd/%i"] and unit["LogsDirectory"] == ["syncd/%i"]
    assert unit["EnvironmentFile"] == ["-/etc/syncd/%i.env"]  # optional: "-"
    assert unit["Restart"] == ["on-failure"] and unit["RestartPreventExitStatus"] == ["2"]
    assert "LoadCredential" not in unit  # a missing credential file would fail every start
    assert "#LoadCredential=odoo_password:/etc/syncd/%i.password" in text


def test_the_template_has_the_single_units_hardening_and_restart_policy() -> None:
    single = unit_settings((SCRIPTS / "syncd.service").read_text(encoding="utf-8"))
    template = unit_settings((SCRIPTS / "syncd@.service").read_text(encoding="utf-8"))
    assert {k: v for k, v in template.items() if k not in PER_INSTANCE} == \
        {k: v for k, v in single.items() if k not in PER_INSTANCE}
    assert "MemoryDenyWriteExecute" in template and "StartLimitBurst" in template


@needs_bash
def test_install_dry_run_for_an_instance_copies_its_config_and_starts_it(fake_repo: Path) -> None:
    (fake_repo / "acme.toml").write_text("[odoo]\n", encoding="utf-8")
    output = dry_run(fake_repo, "--instance", "acme", "--config", "acme.toml").stdout
    unit = unit_settings(rendered(output, "syncd@.service"))
    assert unit["ExecStart"] == [f"{fake_repo}/.venv/bin/syncd --config /etc/syncd/%i.toml run"]
    assert unit["WorkingDirectory"] == [str(fake_repo)] and unit["User"] == ["syncd"]
    assert unit["StateDirectory"] == ["syncd/%i"]
    assert f"would run: install -m 640 -o root -g syncd {fake_repo}/acme.toml " \
           "/etc/syncd/acme.toml" in output
    assert "would run: systemctl enable --now syncd@acme.service" in output
    assert "journalctl -u syncd@acme -f" in output
    assert "would write /etc/systemd/system/syncd.service" not in output
    assert not (fake_repo / ".venv/calls").exists()  # nothing was really run


@needs_bash
def test_install_dry_run_for_a_user_instance_without_config_waits_for_one(fake_repo: Path) -> None:
    output = dry_run(fake_repo, "--user", "--instance", "acme").stdout
    config_home = fake_repo.parent / ".config"
    unit = unit_settings(rendered(output, "syncd@.service"))
    assert unit["ExecStart"] == [f"{fake_repo}/.venv/bin/syncd --config %E/syncd/%i.toml run"]
    assert unit["EnvironmentFile"] == ["-%E/syncd/%i.env"] and "User" not in unit
    assert f"would write {config_home}/systemd/user/syncd@.service:" in output
    assert "would run: systemctl --user enable syncd@acme.service" in output  # no --now
    assert f"Next: write {config_home}/syncd/acme.toml" in output


@needs_bash
@pytest.mark.parametrize("args, message", [
    (["--instance", "../etc"], "letters, digits"),
    (["--instance", "a b"], "letters, digits"),
    (["--instance"], "needs a NAME"),
    (["--instance", "acme", "--config", "missing.toml"], "no such config file"),
])
def test_install_refuses_a_bad_instance_with_exit_2(fake_repo: Path, args: list[str],
                                                    message: str) -> None:
    result = subprocess.run(["bash", str(fake_repo / "scripts/install_systemd.sh"), "--dry-run",
                             *args], cwd=fake_repo, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "would run" not in result.stdout


@needs_bash
@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="no systemd-analyze (Debian/Ubuntu: apt-get install systemd)")
@pytest.mark.parametrize("template, args", [
    ("syncd.service", ()), ("syncd.service", ("--user",)),
    ("syncd@.service", ("--instance", "acme")), ("syncd@.service", ("--user", "--instance", "acme")),
])
def test_systemd_analyze_verify_accepts_the_installed_units(fake_repo: Path, tmp_path: Path,
                                                            template: str,
                                                            args: tuple[str, ...]) -> None:
    units = tmp_path / "units"
    units.mkdir()
    (units / template).write_text(rendered(dry_run(fake_repo, *args).stdout, template),
                                  encoding="utf-8")
    # A template is verified as one of its instances (systemd finds syncd@.service beside it),
    # so %i is expanded as it would be.
    name = template.replace("@.", "@acme.")
    result = subprocess.run(["systemd-analyze", "verify", str(units / name)], capture_output=True,
                            text=True, timeout=60)
    stem = template.split(".")[0]
    problems = [line for line in (result.stdout + result.stderr).splitlines() if stem in line]
    assert result.returncode == 0 and problems == [], result.stdout + result.stderr
