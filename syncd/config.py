"""Loading the settings: precedence is built-in defaults < TOML file < environment < flags.

The file is found at ``--config FILE``, else ``$SYNCD_CONFIG``, else ``./syncd.toml``, else
``user_config_dir("syncd", appauthor=False)/syncd.toml``; with none, defaults plus the
environment. The surprise: platformdirs' appauthor defaults to the app name, which on Windows
is ``%LOCALAPPDATA%/syncd/syncd``, one folder too deep, so every call passes appauthor=False.
A relative ``data_dir`` is relative to the current directory (as ``scripts/sync_odoo.sh`` and
the services set it). Unknown keys, wrong types and log rotation/retention values loguru would
reject are errors that name the key: a typo must not silently sync the wrong thing. The
settings themselves, with their defaults, are syncd.settings; the tables' parsers are
syncd.config_tables (each sink's own keys are parsed by the sink's package).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs

from syncd.config_tables import settings_from
from syncd.errors import ConfigError
from syncd.settings import Settings


def config_candidates() -> tuple[Path, ...]:
    """Where a config file is looked for when neither ``--config`` nor ``$SYNCD_CONFIG`` names one,
    in order."""
    platform_dir = Path(platformdirs.user_config_dir("syncd", appauthor=False))
    return Path("syncd.toml"), platform_dir / "syncd.toml"


def describe_config_file(settings: Settings) -> str:
    """For messages: the absolute path of the file that was read, or where none was found."""
    if settings.config_file is not None:
        return f"config file: {settings.config_file.absolute()}"
    looked = ", ".join(str(path.absolute()) for path in config_candidates())
    return f"no config file found (looked for {looked})"


def require_login(settings: Settings) -> None:
    """What a command that contacts Odoo needs before it does: a database, a username, a
    password or an API key (Odoo 18 faults on an empty one), and an API key for
    ``protocol = "json2"`` (JSON-2 accepts no password). Raises ConfigError
    naming the key, where to set it, and which config file was read.

    Not part of `load_settings`: `status`, `watch`, `resync` work on local files and must not
    need credentials."""
    odoo = settings.odoo
    where = describe_config_file(settings)
    for key, variable in (("database", "ODOO_DB"), ("username", "ODOO_USERNAME")):
        if not getattr(odoo, key):
            raise ConfigError(f"[odoo].{key} is empty (set it in syncd.toml or {variable}; "
                              f"{where})")
    if not odoo.password and not odoo.api_key:
        raise ConfigError(f"[odoo].password and [odoo].api_key are both empty (set ODOO_PASSWORD "
                          f"or ODOO_API_KEY, or one of them in syncd.toml; {where})")
    if odoo.protocol == "json2" and not odoo.api_key:
        raise ConfigError(f'[odoo].protocol = "json2" needs an API key (set ODOO_API_KEY or '
                          f"[odoo].api_key; {where})")


def find_config_file(explicit: str | None, environ: Mapping[str, str]) -> Path | None:
    """The file to read, per the precedence above; an explicit path that does not exist is an error."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    env_path = environ.get("SYNCD_CONFIG")
    if env_path:
        path = Path(env_path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path} (from SYNCD_CONFIG)")
        return path
    for candidate in config_candidates():
        if candidate.is_file():
            return candidate
    return None


def load_settings(
    config: str | None = None,
    data_dir: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from file, environment and flags. Raises ConfigError naming the bad key."""
    env = os.environ if environ is None else environ
    path = find_config_file(config, env)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            # utf-8-sig: a byte order mark (Notepad wrote one before Windows 10 1903) is skipped
            raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
    return settings_from(raw, env, data_dir, path)
