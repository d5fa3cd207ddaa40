"""What the systemd units hand syncd: credentials, the env file, and the per-instance template."""

from __future__ import annotations

from pathlib import Path

from syncd.config import load_settings
from syncd.emulator import Emulator
from tests.test_cli import environment, odoo, syncd  # noqa: F401

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
