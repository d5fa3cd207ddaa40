"""Configuration: precedence (defaults < file < environment < flags), validation naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import DEFAULT_MODELS, load_settings
from syncd.errors import ConfigError

FULL = """
[odoo]
url = "https://example.odoo.com/"
database = "example"
username = "sync@example.com"
password = "file-password"
protocol = "xmlrpc"
timeout = 30

[sync]
data_dir = "out"
interval = 60
page_size = 200
lookback = 120
reconcile_interval = 0

[models.partners]
model = "res.partner"
fields = ["name", "email", "write_date"]
domain = ["|", ["is_company", "=", true], ["parent_id", "=", false]]
include_archived = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncd.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    settings = load_settings(environ={})
    assert settings.config_file is None
    assert settings.models == DEFAULT_MODELS
    assert [m.name for m in settings.models] == ["customers", "products"]
    assert settings.sync.data_dir == Path("odoo_database")
    assert (settings.sync.interval, settings.sync.page_size) == (300, 1000)
    assert (settings.sync.lookback, settings.sync.reconcile_interval) == (300, 3600)
    assert settings.odoo.protocol == "auto" and settings.odoo.timeout == 60


def test_file_values_are_read(tmp_path: Path) -> None:
    settings = load_settings(str(write(tmp_path, FULL)), environ={})
    assert settings.odoo.url == "https://example.odoo.com"  # trailing slash dropped
    assert settings.odoo.protocol == "xmlrpc" and settings.odoo.timeout == 30
    assert settings.sync.data_dir == Path("out") and settings.sync.page_size == 200
    assert settings.sync.reconcile_interval == 0
    (spec,) = settings.models
    assert spec.name == "partners" and spec.filename == "odoo_partners.json"
    assert spec.fields == ("name", "email", "write_date") and spec.include_archived


def test_environment_overrides_file_and_flag_overrides_both(tmp_path: Path) -> None:
    env = {"ODOO_URL": "http://127.0.0.1:9999", "ODOO_DB": "envdb", "ODOO_USERNAME": "envuser",
           "ODOO_PASSWORD": "envpass", "ODOO_API_KEY": "envkey", "SYNCD_DATA_DIR": "envdir"}
    settings = load_settings(str(write(tmp_path, FULL)), environ=env)
    assert settings.odoo.url == "http://127.0.0.1:9999"
    assert (settings.odoo.database, settings.odoo.username) == ("envdb", "envuser")
    assert settings.odoo.secret == "envkey"  # the API key wins over the password
    assert settings.sync.data_dir == Path("envdir")
    flagged = load_settings(str(write(tmp_path, FULL)), data_dir="flagdir", environ=env)
    assert flagged.sync.data_dir == Path("flagdir")


def test_search_order_env_then_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, '[sync]\ninterval = 11\n')
    other = tmp_path / "other.toml"
    other.write_text('[sync]\ninterval = 22\n')
    assert load_settings(environ={}).sync.interval == 11
    assert load_settings(environ={"SYNCD_CONFIG": str(other)}).sync.interval == 22


def test_platform_config_dir_is_the_last_resort(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.chdir(tmp_path)
    home = tmp_path / "cfg"
    monkeypatch.setattr(platformdirs, "user_config_dir", lambda name: str(home / name))
    (home / "syncd").mkdir(parents=True)
    (home / "syncd" / "syncd.toml").write_text('[sync]\ninterval = 33\n')
    assert load_settings(environ={}).sync.interval == 33


@pytest.mark.parametrize("text, needle", [
    ('[odoo]\nurll = "x"\n', "unknown key 'urll'"),
    ('[sync]\ninterval = "fast"\n', "[sync].interval must be a number"),
    ('[sync]\npage_size = 0\n', "[sync].page_size must be >= 1"),
    ('[sync]\nlookback = true\n', "[sync].lookback must be a number"),
    ('[odoo]\nprotocol = "soap"\n', "[odoo].protocol must be one of"),
    ('[odoo]\nurl = "example.com"\n', "[odoo].url must start with http"),
    ('[models.x]\nfields = ["name"]\n', "[models.x].model is required"),
    ('[models.x]\nmodel = "res.partner"\n', "[models.x].fields is required"),
    ('[models.x]\nmodel = "res.partner"\nfields = ["name"]\ndomain = ["|", ["a", "=", 1]]\n',
     "operand"),
    ('[models.x]\nmodel = "res.partner"\nfields = ["name"]\ndomain = [["a", "="]]\n',
     "[field, operator, value]"),
    ('[models."a/b"]\nmodel = "res.partner"\nfields = ["name"]\n', "the name may use"),
    ("[odoo\n", "invalid TOML"),
])
def test_bad_configuration_names_the_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(str(write(tmp_path, text)), environ={})
    assert needle in str(info.value)
    assert "\n" not in str(info.value).strip()


def test_wrong_typed_password_is_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(str(write(tmp_path, '[odoo]\npassword = 12345678\n')), environ={})
    assert "12345678" not in str(info.value)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(str(tmp_path / "nope.toml"), environ={})
