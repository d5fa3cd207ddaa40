"""The configuration file's tables, checked key by key: unknown keys and wrong types are errors
that name the key (a typo must not silently sync the wrong thing). Each parser passes on only
the keys that are set: the defaults are the dataclasses' own (syncd.settings), and the checks
run on the built settings, defaults included. The ``[sink]`` table's keys beyond ``kind`` are
the chosen sink's: its package parses them (``KEYS`` and ``parse`` in syncd.sinks.<kind>)."""

from __future__ import annotations

import importlib
import re
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from loguru import logger

from syncd.errors import ConfigError
from syncd.settings import (DEFAULT_MODELS, PROTOCOLS, SINKS, LogSettings, ModelSpec,
                            OdooSettings, ServiceSettings, Settings, SinkSettings, SyncSettings,
                            get, listen_address)

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# Every key the file may hold, per table (the README's table is checked against this).
KEYS: dict[str, tuple[str, ...]] = {
    "odoo": ("url", "database", "username", "password", "api_key", "protocol", "timeout",
             "retry_budget", "lang"),
    "sync": ("data_dir", "interval", "page_size", "lookback", "reconcile_interval", "journal",
             "journal_max_bytes", "journal_keep", "workers", "memory_mb"),
    "log": ("file", "format", "rotation", "retention"),
    "sink": ("kind", "path", "dsn", "schema"),  # kind, then every sink's own (checked below)
    "service": ("metrics",),
    "models.<name>": ("model", "fields", "domain", "include_archived"),
}
ENVIRONMENT = {"ODOO_URL": "odoo.url", "ODOO_DB": "odoo.database",
               "ODOO_USERNAME": "odoo.username", "ODOO_PASSWORD": "odoo.password",
               "ODOO_API_KEY": "odoo.api_key", "SYNCD_DATA_DIR": "sync.data_dir",
               "SYNCD_PG_DSN": "sink.dsn"}
NUMBER = (int, float)


def settings_from(raw: Mapping[str, Any], env: Mapping[str, str], data_dir: str | None,
                  path: Path | None) -> Settings:
    """The settings from a parsed TOML file ``raw`` (read from ``path``), the environment and
    the ``--data-dir`` flag. Raises ConfigError naming the bad key."""
    check_keys(raw, {"odoo", "sync", "log", "sink", "service", "models"}, "")

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
    sink = _sink_settings(_table(raw, "sink"), env)
    service = _service_settings(_table(raw, "service"))

    models_raw = _table(raw, "models")
    models = tuple(_model_spec(name, spec) for name, spec in models_raw.items()) or DEFAULT_MODELS
    return Settings(odoo=odoo, sync=sync, log=log, sink=sink, service=service, models=models,
                    config_file=path)


def _table(raw: Mapping[str, Any], key: str, prefix: str = "") -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"[{prefix}{key}] must be a table")
    return value


def check_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    """ConfigError naming the first key of ``raw`` that is not ``allowed``."""
    for key in raw:
        if key not in allowed:
            place = f"[{where}] " if where else ""
            raise ConfigError(f"{place}unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")


def _odoo_settings(raw: Mapping[str, Any]) -> OdooSettings:
    check_keys(raw, set(KEYS["odoo"]), "odoo")
    given: dict[str, Any] = {}
    for key in ("url", "database", "username", "password", "api_key", "protocol", "lang"):
        if key in raw:
            given[key] = get(raw, key, str, "odoo")
    for key in ("timeout", "retry_budget"):
        if key in raw:
            given[key] = float(get(raw, key, NUMBER, "odoo"))
    odoo = OdooSettings(**given)
    url = odoo.url.rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(f"[odoo].url must start with http:// or https://, not {url!r}")
    protocols = ("auto", *PROTOCOLS)
    if odoo.protocol not in protocols:
        raise ConfigError(f"[odoo].protocol must be one of {', '.join(protocols)}, "
                          f"not {odoo.protocol!r}")
    if odoo.timeout <= 0:
        raise ConfigError("[odoo].timeout must be > 0")
    if odoo.retry_budget < 0:
        raise ConfigError("[odoo].retry_budget must be >= 0")
    return replace(odoo, url=url)


def _sync_settings(raw: Mapping[str, Any]) -> SyncSettings:
    check_keys(raw, set(KEYS["sync"]), "sync")
    given: dict[str, Any] = {}
    if "data_dir" in raw:
        data_dir = get(raw, "data_dir", str, "sync")
        if not data_dir:
            raise ConfigError("[sync].data_dir must not be empty")
        given["data_dir"] = Path(data_dir).expanduser()
    for key in ("interval", "lookback", "reconcile_interval"):
        if key in raw:
            given[key] = float(get(raw, key, NUMBER, "sync"))
    for key in ("page_size", "journal_max_bytes", "journal_keep", "workers", "memory_mb"):
        if key in raw:
            given[key] = get(raw, key, int, "sync")
    if "journal" in raw:
        given["journal"] = get(raw, "journal", bool, "sync")
    sync = SyncSettings(**given)
    for key, low, sign in (("interval", 0, ">"), ("page_size", 1, ">="), ("lookback", 0, ">="),
                           ("reconcile_interval", 0, ">="), ("journal_max_bytes", 1024, ">="),
                           ("journal_keep", 1, ">="), ("workers", 1, ">="),
                           ("memory_mb", 1, ">=")):
        value = getattr(sync, key)
        if value < low or (sign == ">" and value == low):
            raise ConfigError(f"[sync].{key} must be {sign} {low}")
    return sync


def _sink_settings(raw: Mapping[str, Any], env: Mapping[str, str]) -> SinkSettings:
    """``kind``, then the keys of that sink, which its own package checks."""
    kind = get(raw, "kind", str, "sink") if "kind" in raw else SinkSettings.kind
    if kind not in SINKS:
        raise ConfigError(f"[sink].kind must be one of {', '.join(SINKS)}, not {kind!r}")
    sink = importlib.import_module(f"syncd.sinks.{kind}")
    own: tuple[str, ...] = sink.KEYS
    check_keys(raw, set(KEYS["sink"]), "sink")
    for key in raw:
        if key != "kind" and key not in own:
            raise ConfigError(f"[sink].{key} is not a key of kind {kind!r} (its keys: "
                              f"{', '.join(('kind', *own))})")
    table = dict(raw)
    if "dsn" in own and env.get("SYNCD_PG_DSN"):
        table["dsn"] = env["SYNCD_PG_DSN"]
    given: dict[str, Any] = sink.parse(table)
    return SinkSettings(kind=kind, **given)


def _service_settings(raw: Mapping[str, Any]) -> ServiceSettings:
    check_keys(raw, set(KEYS["service"]), "service")
    given: dict[str, Any] = {}
    if "metrics" in raw:
        given["metrics"] = get(raw, "metrics", str, "service").strip()
    service = ServiceSettings(**given)
    if service.metrics:
        listen_address(service.metrics, "[service].metrics")
    return service


def _log_settings(raw: Mapping[str, Any]) -> LogSettings:
    check_keys(raw, set(KEYS["log"]), "log")
    given: dict[str, Any] = {}
    if "file" in raw:
        value = get(raw, "file", (bool, str), "log")
        given["file"] = Path(value).expanduser() if isinstance(value, str) else value
    for key in ("format", "rotation", "retention"):
        if key in raw:
            given[key] = get(raw, key, str, "log")
    log = LogSettings(**given)
    if log.format not in ("text", "json"):
        raise ConfigError(f"[log].format must be text or json, not {log.format!r}")
    for key, value, forms in (("rotation", log.rotation, ROTATION_FORMS),
                              ("retention", log.retention, RETENTION_FORMS)):
        if not _loguru_accepts(key, value):
            raise ConfigError(f"[log].{key} cannot be {value!r} (use {forms})")
    return log


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
    check_keys(raw, set(KEYS["models.<name>"]), where)
    model = get(raw, "model", str, where) if "model" in raw else ""
    if not model:
        raise ConfigError(f"[{where}].model is required (e.g. model = \"res.partner\")")
    if "fields" not in raw:
        raise ConfigError(f"[{where}].fields is required (a list of field names)")
    fields = get(raw, "fields", list, where)
    if not all(isinstance(f, str) and f for f in fields):
        raise ConfigError(f"[{where}].fields must be a list of field names")
    given: dict[str, Any] = {}
    if "domain" in raw:
        domain = get(raw, "domain", list, where)
        _check_domain(domain, where)
        given["domain"] = tuple(_freeze(term) for term in domain)
    if "include_archived" in raw:
        given["include_archived"] = get(raw, "include_archived", bool, where)
    names = tuple(dict.fromkeys(f for f in fields if f != "id"))
    return ModelSpec(name=name, model=model, fields=names, **given)


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
