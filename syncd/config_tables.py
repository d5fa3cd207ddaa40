"""The configuration file's tables, checked key by key: unknown keys and wrong types are errors
that name the key (a typo must not silently sync the wrong thing). syncd.config holds the
settings these build and the file's precedence; this module only reads tables."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loguru import logger

from syncd.config import (DEFAULT_MODELS, ENVIRONMENT, KEYS, PROTOCOLS, SINKS, LogSettings,
                          ModelSpec, OdooSettings, Settings, SinkSettings, SyncSettings)
from syncd.errors import ConfigError

_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

def settings_from(raw: Mapping[str, Any], env: Mapping[str, str], data_dir: str | None,
                  path: Path | None) -> Settings:
    """The settings from a parsed TOML file ``raw`` (read from ``path``), the environment and
    the ``--data-dir`` flag. Raises ConfigError naming the bad key."""
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
