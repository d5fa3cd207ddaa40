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
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
from loguru import logger

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
_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


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
    """What a command that contacts Odoo needs before it does: a database and a username, and
    an API key for ``protocol = "json2"`` (JSON-2 accepts no password). Raises ConfigError
    naming the key, where to set it, and which config file was read.

    Not part of `load_settings`: `status`, `watch`, `resync` work on local files and must not
    need credentials."""
    odoo = settings.odoo
    where = describe_config_file(settings)
    for key, variable in (("database", "ODOO_DB"), ("username", "ODOO_USERNAME")):
        if not getattr(odoo, key):
            raise ConfigError(f"[odoo].{key} is empty (set it in syncd.toml or {variable}; "
                              f"{where})")
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
    _check_keys(raw, {"odoo", "sync", "log", "sink", "models"}, "")

    odoo_raw = dict(_table(raw, "odoo"))
    for env_name, key in ENVIRONMENT.items():
        if key.startswith("odoo.") and env.get(env_name):
            odoo_raw[key.removeprefix("odoo.")] = env[env_name]
    odoo = _odoo_settings(odoo_raw)

    sync_raw = dict(_table(raw, "sync"))
    if env.get("SYNCD_DATA_DIR"):
        sync_raw["data_dir"] = env["SYNCD_DATA_DIR"]
    if data_dir:
        sync_raw["data_dir"] = data_dir
    sync = _sync_settings(sync_raw)
    log = _log_settings(_table(raw, "log"))
    sink_raw = dict(_table(raw, "sink"))
    if env.get("SYNCD_PG_DSN"):
        sink_raw["dsn"] = env["SYNCD_PG_DSN"]
    sink = _sink_settings(sink_raw)

    models_raw = _table(raw, "models")
    models = tuple(_model_spec(name, spec) for name, spec in models_raw.items()) or DEFAULT_MODELS
    return Settings(odoo=odoo, sync=sync, log=log, sink=sink, models=models, config_file=path)


def _table(raw: Mapping[str, Any], key: str, prefix: str = "") -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{prefix}{key}] must be a table")
    return value


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in raw:
        if key not in allowed:
            place = f"[{where}] " if where else ""
            raise ConfigError(f"{place}unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")


def _get(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any) -> Any:
    if key not in raw:
        return default
    value = raw[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int in Python; a boolean where a number is wanted is a mistake.
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(f"[{where}].{key} must be {_kind_name(kinds)}, not {value!r}")
    if not isinstance(value, kinds):
        shown = "***" if key in ("password", "api_key") else repr(value)
        raise ConfigError(f"[{where}].{key} must be {_kind_name(kinds)}, not {shown}")
    return value


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "true or false",
             list: "a list"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def _odoo_settings(raw: Mapping[str, Any]) -> OdooSettings:
    _check_keys(raw, set(KEYS["odoo"]), "odoo")
    url = str(_get(raw, "url", str, "odoo", OdooSettings.url)).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(f"[odoo].url must start with http:// or https://, not {url!r}")
    protocol = _get(raw, "protocol", str, "odoo", "auto")
    if protocol not in PROTOCOLS:
        raise ConfigError(f"[odoo].protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    timeout = float(_get(raw, "timeout", (int, float), "odoo", 60.0))
    if timeout <= 0:
        raise ConfigError("[odoo].timeout must be > 0")
    retry_budget = float(_get(raw, "retry_budget", (int, float), "odoo", OdooSettings.retry_budget))
    if retry_budget < 0:
        raise ConfigError("[odoo].retry_budget must be >= 0")
    return OdooSettings(
        url=url,
        database=_get(raw, "database", str, "odoo", ""),
        username=_get(raw, "username", str, "odoo", ""),
        password=_get(raw, "password", str, "odoo", ""),
        api_key=_get(raw, "api_key", str, "odoo", ""),
        protocol=protocol,
        timeout=timeout,
        retry_budget=retry_budget,
        lang=_get(raw, "lang", str, "odoo", ""),
    )


def _sync_settings(raw: Mapping[str, Any]) -> SyncSettings:
    _check_keys(raw, set(KEYS["sync"]), "sync")
    data_dir = _get(raw, "data_dir", str, "sync", "odoo_database")
    if not data_dir:
        raise ConfigError("[sync].data_dir must not be empty")
    interval = float(_get(raw, "interval", (int, float), "sync", 300))
    page_size = _get(raw, "page_size", int, "sync", 1000)
    lookback = float(_get(raw, "lookback", (int, float), "sync", 300))
    reconcile = float(_get(raw, "reconcile_interval", (int, float), "sync", 3600))
    if interval <= 0:
        raise ConfigError("[sync].interval must be > 0")
    if page_size < 1:
        raise ConfigError("[sync].page_size must be >= 1")
    if lookback < 0:
        raise ConfigError("[sync].lookback must be >= 0")
    if reconcile < 0:
        raise ConfigError("[sync].reconcile_interval must be >= 0")
    journal = _get(raw, "journal", bool, "sync", False)
    journal_max_bytes = _get(raw, "journal_max_bytes", int, "sync", SyncSettings.journal_max_bytes)
    journal_keep = _get(raw, "journal_keep", int, "sync", SyncSettings.journal_keep)
    if journal_max_bytes < 1024:
        raise ConfigError("[sync].journal_max_bytes must be >= 1024")
    if journal_keep < 1:
        raise ConfigError("[sync].journal_keep must be >= 1")
    workers = _get(raw, "workers", int, "sync", SyncSettings.workers)
    if workers < 1:
        raise ConfigError("[sync].workers must be >= 1")
    return SyncSettings(data_dir=Path(data_dir).expanduser(), interval=interval,
                        page_size=page_size, lookback=lookback, reconcile_interval=reconcile,
                        journal=journal, journal_max_bytes=journal_max_bytes,
                        journal_keep=journal_keep, workers=workers)


def _sink_settings(raw: Mapping[str, Any]) -> SinkSettings:
    _check_keys(raw, set(KEYS["sink"]), "sink")
    kind = _get(raw, "kind", str, "sink", "json")
    if kind not in SINKS:
        raise ConfigError(f"[sink].kind must be one of {', '.join(SINKS)}, not {kind!r}")
    path = _get(raw, "path", str, "sink", None)
    if path is not None and not path:
        raise ConfigError("[sink].path must not be empty")
    schema = _get(raw, "schema", str, "sink", "public")
    if not _IDENTIFIER_RE.match(schema):
        raise ConfigError(f"[sink].schema must be a plain identifier (letters, digits, '_'; at "
                          f"most 63), not {schema!r}")
    return SinkSettings(kind=kind, path=Path(path).expanduser() if path else None,
                        dsn=_get(raw, "dsn", str, "sink", ""), schema=schema)


def _log_settings(raw: Mapping[str, Any]) -> LogSettings:
    _check_keys(raw, set(KEYS["log"]), "log")
    file_value = _get(raw, "file", (bool, str), "log", True)
    file: bool | Path = Path(file_value).expanduser() if isinstance(file_value, str) else file_value
    fmt = _get(raw, "format", str, "log", "text")
    if fmt not in ("text", "json"):
        raise ConfigError(f"[log].format must be text or json, not {fmt!r}")
    rotation = _get(raw, "rotation", str, "log", LogSettings.rotation)
    retention = _get(raw, "retention", str, "log", LogSettings.retention)
    for key, value, forms in (("rotation", rotation, ROTATION_FORMS),
                              ("retention", retention, RETENTION_FORMS)):
        if not _loguru_accepts(key, value):
            raise ConfigError(f"[log].{key} cannot be {value!r} (use {forms})")
    return LogSettings(file=file, format=fmt, rotation=rotation, retention=retention)


ROTATION_FORMS = ('a size like "10 MB", a duration like "1 week", a time like "00:00" or '
                  '"monday at 12:00", or "hourly", "daily", "weekly", "monthly", "yearly"')
RETENTION_FORMS = 'a duration like "14 days" or "1 week"'


def _loguru_accepts(key: str, value: str) -> bool:
    """Whether loguru's file sink takes `value` for its `key` (rotation or retention).

    Asked of loguru itself, so syncd accepts exactly what the log file will: a sink is added
    with ``delay=True`` (it creates no file or directory until a message is written, and its
    filter lets none through), then removed. Done at load time because the sink is otherwise
    only set up after the command has started, where a bad value could only be warned about."""
    with tempfile.TemporaryDirectory(prefix="syncd-log-check-") as scratch:
        try:
            sink = logger.add(Path(scratch) / "never-written.log", delay=True,
                              filter=lambda record: False,
                              rotation=value if key == "rotation" else None,
                              retention=value if key == "retention" else None)
        except ValueError:
            return False
        logger.remove(sink)
    return True


def _model_spec(name: str, raw: Any) -> ModelSpec:
    where = f"models.{name}"
    if not _NAME_RE.match(name):
        raise ConfigError(f"[{where}]: the name may use letters, digits, '_', '-' and '.' only")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"[{where}] must be a table")
    _check_keys(raw, set(KEYS["models.<name>"]), where)
    model = _get(raw, "model", str, where, None)
    if not model:
        raise ConfigError(f"[{where}].model is required (e.g. model = \"res.partner\")")
    fields = _get(raw, "fields", list, where, None)
    if fields is None:
        raise ConfigError(f"[{where}].fields is required (a list of field names)")
    if not all(isinstance(f, str) and f for f in fields):
        raise ConfigError(f"[{where}].fields must be a list of field names")
    domain = _get(raw, "domain", list, where, [])
    _check_domain(domain, where)
    names = tuple(dict.fromkeys(f for f in fields if f != "id"))
    return ModelSpec(
        name=name,
        model=model,
        fields=names,
        domain=tuple(_freeze(term) for term in domain),
        include_archived=_get(raw, "include_archived", bool, where, False),
    )


def _check_domain(domain: list[Any], where: str) -> None:
    # Prefix notation: each '&'/'|' needs two operands after it, '!' one. A short domain would
    # silently change meaning once syncd appends its own terms, so it is an error.
    needed = 0
    for term in domain:
        needed = max(needed - 1, 0) + (2 if term in ("&", "|") else 1 if term == "!" else 0)
    if needed:
        raise ConfigError(f"[{where}].domain: an operator is missing {needed} operand(s)")
    for term in domain:
        if isinstance(term, str):
            if term not in ("&", "|", "!"):
                raise ConfigError(f"[{where}].domain: unknown operator {term!r} (use '&', '|', '!')")
        elif not (isinstance(term, list) and len(term) == 3 and isinstance(term[0], str)
                  and isinstance(term[1], str)):
            raise ConfigError(f"[{where}].domain: each term must be [field, operator, value] or "
                              f"'&', '|', '!', not {term!r}")


def _freeze(term: Any) -> Any:
    return tuple(_freeze(t) for t in term) if isinstance(term, list) else term


def domain_as_list(domain: tuple[Any, ...]) -> list[Any]:
    """The domain in the JSON/XML-RPC shape Odoo expects (lists, not tuples)."""
    return [list(_thaw(t)) if isinstance(t, tuple) else t for t in domain]


def _thaw(term: tuple[Any, ...]) -> list[Any]:
    return [list(_thaw(t)) if isinstance(t, tuple) else t for t in term]
