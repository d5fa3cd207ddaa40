"""Settings with defaults; precedence is built-in defaults < TOML file < environment < flags.

The file is found at ``--config FILE``, else ``$SYNCD_CONFIG``, else ``./syncd.toml``, else
``user_config_dir("syncd", appauthor=False)/syncd.toml``; with none, defaults plus the
environment. The surprise: platformdirs' appauthor defaults to the app name, which on Windows
is ``%LOCALAPPDATA%/syncd/syncd``, one folder too deep, so every call passes appauthor=False.
A relative ``data_dir`` is relative to the current directory (as ``scripts/sync_odoo.sh`` and
the services set it). Unknown keys, wrong types and log rotation/retention values loguru would
reject are errors that name the key: a typo must not silently sync the wrong thing.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from syncd.errors import ConfigError

PROTOCOLS = ("auto", "jsonrpc", "xmlrpc", "json2")
# Every key the file may hold, per table (the README's table is checked against this).
KEYS: dict[str, tuple[str, ...]] = {
    "odoo": ("url", "database", "username", "password", "api_key", "protocol", "timeout",
             "retry_budget", "lang"),
    "sync": ("data_dir", "interval", "page_size", "lookback", "reconcile_interval", "journal",
             "journal_max_bytes", "journal_keep", "workers"),
    "log": ("file", "format", "rotation", "retention"),
    "sink": ("kind", "path", "dsn", "schema"),
    "models.<name>": ("model", "fields", "domain", "include_archived"),
}
ENVIRONMENT = {"ODOO_URL": "odoo.url", "ODOO_DB": "odoo.database",
               "ODOO_USERNAME": "odoo.username", "ODOO_PASSWORD": "odoo.password",
               "ODOO_API_KEY": "odoo.api_key", "SYNCD_DATA_DIR": "sync.data_dir",
               "SYNCD_PG_DSN": "sink.dsn"}
SINKS = ("json", "sqlite", "postgres")


@dataclass(frozen=True)
class OdooSettings:
    """How to reach and log in to Odoo. ``password``/``api_key`` never appear in repr or logs."""

    url: str = "http://127.0.0.1:8069"
    database: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)
    protocol: str = "auto"
    timeout: float = 60.0
    retry_budget: float = 120.0  # seconds one request may spend in retries before the pass fails
    lang: str = ""  # the language of translated fields; empty: the sync user's own

    @property
    def secret(self) -> str:
        """What goes in the password slot of RPC calls: the API key when set, else the password."""
        return self.api_key or self.password

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for scrubbing from messages."""
        return tuple(s for s in (self.password, self.api_key) if s)


@dataclass(frozen=True)
class ModelSpec:
    """One synced model, configured as ``[models.<name>]``: its stored copy holds the ``model``
    records matching ``domain`` (the JSON sink's file name comes from syncd.sinks.datadir)."""

    name: str
    model: str
    fields: tuple[str, ...]
    domain: tuple[Any, ...] = ()
    include_archived: bool = False


@dataclass(frozen=True)
class SyncSettings:
    data_dir: Path = Path("odoo_database")
    interval: float = 300.0
    page_size: int = 1000
    lookback: float = 300.0
    reconcile_interval: float = 3600.0
    journal: bool = False  # append each change to a journal (odoo_<name>.changes.jsonl)
    journal_max_bytes: int = 64 * 1024 * 1024  # rotate a journal file past this size
    journal_keep: int = 8  # rotated journal files kept per model
    workers: int = 4  # concurrent requests: accepted and checked, not used yet (sequential)


@dataclass(frozen=True)
class SinkSettings:
    """Where records go. ``json``: the snapshot files in the data directory (the default);
    ``sqlite``: the database file ``path`` (default ``<data_dir>/odoo.sqlite``); ``postgres``:
    the server ``dsn`` names (a libpq string or URI; libpq's PG* variables and ~/.pgpass apply),
    tables in ``schema``. The data directory keeps the lock and the last error for every sink."""

    kind: str = "json"
    path: Path | None = None
    dsn: str = field(default="", repr=False)
    schema: str = "public"

    def secrets(self) -> tuple[str, ...]:
        """The password inside ``dsn``, for scrubbing: ``password=...`` of a libpq string
        (quoted or not) or the ``user:password@`` / ``?password=`` of a URI, as written and
        percent-decoded (libpq may echo either)."""
        return dsn_secrets(self.dsn)


@dataclass(frozen=True)
class LogSettings:
    """``file``: True for the platform log dir, False for none, or a path. ``format``: text|json."""

    file: bool | Path = True
    format: str = "text"
    rotation: str = "10 MB"
    retention: str = "14 days"


DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="customers",
        model="res.partner",
        fields=("name", "email", "phone", "is_company", "parent_id", "country_id", "vat",
                "write_date"),
    ),
    ModelSpec(
        name="products",
        model="product.product",
        fields=("name", "default_code", "barcode", "list_price", "categ_id", "write_date"),
    ),
)


@dataclass(frozen=True)
class Settings:
    odoo: OdooSettings = OdooSettings()
    sync: SyncSettings = SyncSettings()
    log: LogSettings = LogSettings()
    sink: SinkSettings = SinkSettings()
    models: tuple[ModelSpec, ...] = DEFAULT_MODELS
    config_file: Path | None = None  # the file that was read; None when none was found

    def secrets(self) -> tuple[str, ...]:
        """Every secret of the configuration (Odoo's and the sink's), for scrubbing messages."""
        return self.odoo.secrets() + self.sink.secrets()


_DSN_PASSWORD_RE = re.compile(r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")
_URI_RE = re.compile(r"^postgres(?:ql)?://(?:(?P<userinfo>[^@/?#]*)@)?")
_URI_QUERY_PASSWORD_RE = re.compile(r"[?&]password=([^&#]*)")


def dsn_secrets(dsn: str) -> tuple[str, ...]:
    """Every form of the password a libpq connection string or URI holds (see SinkSettings)."""
    from urllib.parse import unquote

    found: list[str] = []
    uri = _URI_RE.match(dsn)
    if uri is not None:
        userinfo = uri["userinfo"] or ""
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
        found += _URI_QUERY_PASSWORD_RE.findall(dsn)
        found += [unquote(s) for s in found]
    else:
        for value in _DSN_PASSWORD_RE.findall(dsn):
            found.append(value)
            if value.startswith("'") and value.endswith("'") and len(value) > 1:
                found.append(re.sub(r"\\(.)", r"\1", value[1:-1]))
    # Longest first: scrubbing a shorter form first would leave the rest of a longer one.
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))


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
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
    from syncd.config_tables import settings_from  # the tables' parsers (imports this module)

    return settings_from(raw, env, data_dir, path)


def domain_as_list(domain: tuple[Any, ...]) -> list[Any]:
    """The domain in the JSON/XML-RPC shape Odoo expects (lists, not tuples)."""
    return [list(_thaw(t)) if isinstance(t, tuple) else t for t in domain]


def _thaw(term: tuple[Any, ...]) -> list[Any]:
    return [list(_thaw(t)) if isinstance(t, tuple) else t for t in term]
