"""The settings and their defaults: every default is stated once, here, on its dataclass.

A leaf module (it imports nothing of syncd but the error tree), so every layer may use it; the
configuration file's loader (syncd.config) only overrides what the file, the environment or a
flag sets. ``get`` is the one type check of a configured value, for the loader's tables and for
each sink's own ``[sink]`` keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncd.errors import ConfigError

PROTOCOLS = ("jsonrpc", "xmlrpc", "json2")  # the wire protocols; [odoo].protocol adds "auto"
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
    # requests at once at most: models pulled in parallel, a rebuild read in id slices (1: one
    # request at a time, as before workers existed); see README "Performance"
    workers: int = 4
    memory_mb: int = 100  # changed records a pass holds in memory (shared by the models pulled
    # at once); past it they spill
    # A test seam: the same budget in bytes, overriding memory_mb (no configuration key).
    memory_bytes: int | None = field(default=None, repr=False)

    @property
    def memory_budget(self) -> int:
        """Bytes of changed records one model's pull holds in memory before spilling them (the
        engine divides the pass's budget between the models it pulls at once)."""
        return self.memory_bytes if self.memory_bytes is not None else self.memory_mb << 20


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


@dataclass(frozen=True)
class ServiceSettings:
    """What ``run`` offers those who watch it. ``metrics``: ``host:port`` where it serves
    Prometheus metrics (``[::1]:9184`` for IPv6); empty for none. ``once`` never serves them."""

    metrics: str = ""

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """``metrics`` as (host, port); None when empty. ConfigError naming the key when it is
        not ``host:port`` with a port from 1 to 65535."""
        if not self.metrics:
            return None
        return listen_address(self.metrics, "[service].metrics")


def listen_address(text: str, key: str) -> tuple[str, int]:
    """``host:port`` (or ``[v6 host]:port``) as (host, port); ConfigError naming ``key``."""
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        host = ""  # an IPv6 host needs its brackets, or the port is ambiguous
    if not colon or not host or any(c.isspace() for c in host) or not (port.isascii() and port.isdigit()) \
            or not 1 <= int(port) <= 65535:
        raise ConfigError(f'{key} must be "host:port" with a port from 1 to 65535 '
                          f'(e.g. "127.0.0.1:9184"), not {text!r}')
    return host, int(port)


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
    service: ServiceSettings = ServiceSettings()
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


def domain_as_list(domain: tuple[Any, ...]) -> list[Any]:
    """The domain in the JSON/XML-RPC shape Odoo expects (lists, not tuples)."""
    return [list(_thaw(t)) if isinstance(t, tuple) else t for t in domain]


def _thaw(term: tuple[Any, ...]) -> list[Any]:
    return [list(_thaw(t)) if isinstance(t, tuple) else t for t in term]


def get(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``raw[key]`` (which must be set), checked to be of ``kind``: ConfigError naming
    ``[where].key`` otherwise."""
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
    if kinds == (int,):
        return "a whole number"  # 1.5 is a number, but not one such a key takes
    names = {str: "a string", int: "a number", float: "a number", bool: "true or false",
             list: "a list"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))
