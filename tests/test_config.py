"""Configuration: precedence (defaults < file < environment < flags), validation naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import load_settings, require_login
from syncd.settings import DEFAULT_MODELS
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
    assert spec.name == "partners"
    assert spec.fields == ("name", "email", "write_date") and spec.include_archived


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Notepad (before Windows 10 1903) saves UTF-8 with a byte order mark: the file must not
    be refused as invalid TOML at line 1."""
    path = write(tmp_path, FULL)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    settings = load_settings(str(path), environ={})
    assert settings.odoo.url == "https://example.odoo.com" and settings.sync.page_size == 200


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
    monkeypatch.setattr(platformdirs, "user_config_dir", lambda name, **kw: str(home / name))
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
    ('[log]\nrotation = "10 MBs"\n', '[log].rotation cannot be \'10 MBs\' (use a size like "10 MB"'),
    ('[log]\nrotation = "sometimes"\n', "[log].rotation cannot be 'sometimes'"),
    ('[log]\nretention = "daily"\n', '[log].retention cannot be \'daily\' (use a duration'),
    ('[log]\nretention = "10 MB"\n', "[log].retention cannot be '10 MB'"),
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


@pytest.mark.parametrize("rotation", ["10 MB", "1.5 GB", "1 week", "00:00", "monday at 12:00",
                                      "daily", "weekly", "monthly"])
@pytest.mark.parametrize("retention", ["14 days", "1 week", "3 months"])
def test_log_rotation_and_retention_forms_loguru_takes_are_accepted(
        tmp_path: Path, rotation: str, retention: str) -> None:
    text = f'[log]\nrotation = "{rotation}"\nretention = "{retention}"\n'
    log = load_settings(str(write(tmp_path, text)), environ={}).log
    assert (log.rotation, log.retention) == (rotation, retention)


def test_checking_the_log_settings_creates_no_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    load_settings(str(write(tmp_path, '[log]\nrotation = "1 week"\n')), environ={})
    assert list(scratch.iterdir()) == []


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> str:
    """platformdirs answering as on Windows, with %LOCALAPPDATA% at a fake folder."""
    import platformdirs
    import platformdirs.windows

    local = r"C:\Users\ann\AppData\Local"
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", lambda name: local)
    monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.windows.Windows)
    monkeypatch.delenv("LOGS_DIRECTORY", raising=False)
    return local


def test_windows_config_file_is_in_one_syncd_folder(windows: str) -> None:
    from syncd.config import config_candidates

    assert str(config_candidates()[-1]) == str(Path(windows) / "syncd" / "syncd.toml")


def test_windows_log_dir_is_in_one_syncd_folder(windows: str) -> None:
    from syncd.service.logs import default_log_dir

    assert str(default_log_dir()) == str(Path(windows) / "syncd" / "Logs")


def test_require_login_names_the_empty_key_and_the_file_read(tmp_path: Path) -> None:
    path = write(tmp_path, '[odoo]\nurl = "https://example.odoo.com"\n')
    settings = load_settings(str(path), environ={})
    with pytest.raises(ConfigError) as info:
        require_login(settings)
    assert str(info.value) == (f"[odoo].database is empty (set it in syncd.toml or ODOO_DB; "
                               f"config file: {path.absolute()})")
    settings = load_settings(str(path), environ={"ODOO_DB": "example"})
    with pytest.raises(ConfigError, match=r"^\[odoo\]\.username is empty .*ODOO_USERNAME"):
        require_login(settings)
    login = {"ODOO_DB": "d", "ODOO_USERNAME": "u"}
    with pytest.raises(ConfigError, match=r"^\[odoo\]\.password and \[odoo\]\.api_key are both "
                                          r"empty \(set ODOO_PASSWORD or ODOO_API_KEY"):
        require_login(load_settings(str(path), environ=login))
    require_login(load_settings(str(path), environ={**login, "ODOO_PASSWORD": "p"}))
    require_login(load_settings(str(path), environ={**login, "ODOO_API_KEY": "k"}))


def test_require_login_without_a_config_file_says_where_it_looked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(platformdirs, "user_config_dir", lambda name, **kw: str(tmp_path / "cfg"))
    with pytest.raises(ConfigError) as info:
        require_login(load_settings(environ={"ODOO_USERNAME": "u"}))
    assert str(info.value) == (
        "[odoo].database is empty (set it in syncd.toml or ODOO_DB; no config file found "
        f"(looked for {tmp_path / 'syncd.toml'}, {tmp_path / 'cfg' / 'syncd.toml'}))")


def test_json2_without_an_api_key_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[odoo]\ndatabase = "d"\nusername = "u"\nprotocol = "json2"\n')
    with pytest.raises(ConfigError, match="json2.*needs an API key.*ODOO_API_KEY"):
        require_login(load_settings(str(path), environ={"ODOO_PASSWORD": "p"}))
    require_login(load_settings(str(path), environ={"ODOO_API_KEY": "k"}))


def test_workers_is_accepted_and_checked(tmp_path: Path) -> None:
    """The contract's [sync] workers key: a whole number, at least 1 (exit 2 otherwise)."""
    config = tmp_path / "syncd.toml"
    config.write_text("[sync]\nworkers = 2\n")
    assert load_settings(str(config), None, {}).sync.workers == 2
    config.write_text("[sync]\nworkers = 0\n")
    with pytest.raises(ConfigError, match=r"\[sync\]\.workers"):
        load_settings(str(config), None, {})


def test_metrics_is_off_by_default_and_an_address_is_host_and_port(tmp_path: Path) -> None:
    assert load_settings(str(write(tmp_path, "")), environ={}).service.metrics == ""
    for text, address in (("127.0.0.1:9184", ("127.0.0.1", 9184)),
                          ("[::1]:9184", ("::1", 9184)), ("0.0.0.0:65535", ("0.0.0.0", 65535))):
        path = write(tmp_path, f'[service]\nmetrics = "{text}"\n')
        assert load_settings(str(path), environ={}).service.metrics_address == address


@pytest.mark.parametrize("value", ['"9184"', '"127.0.0.1:0"', '"127.0.0.1:65536"',
                                   '"localhost:http"', '"::1:9184"', '":9184"', "9184"])
def test_a_bad_metrics_address_names_the_key(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"[service]\nmetrics = {value}\n")
    with pytest.raises(ConfigError, match=r"^\[service\]\.metrics must be "):
        load_settings(str(path), environ={})


def test_an_unknown_service_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[service\] unknown key 'metric'"):
        load_settings(str(write(tmp_path, '[service]\nmetric = "127.0.0.1:9184"\n')), environ={})
