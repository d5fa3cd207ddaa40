"""The Odoo client: picks the protocol, logs in once, retries transient failures.

    with OdooClient(settings.odoo) as client:
        info = client.connect()                   # optional: the first call connects
        rows = client.search_read("res.partner", [["id", ">", 0]], ["name"], order="id")

``connect`` asks the server's version (no credentials), picks the protocol and logs in exactly
once: Odoo writes a login-log row per authentication, so a client is meant to live for a pass or
for the whole process. Protocol "auto" speaks JSON-2 on Odoo 19+ when an API key is configured
(``/xmlrpc`` and ``/jsonrpc`` are deprecated there and go away in Odoo 22), else JSON-RPC.

Every call is retried on ``TransientError`` (network errors, 429, 502-504, truncated or
unparsable answers) with capped exponential backoff and full jitter, honouring ``Retry-After``;
after ``attempts`` tries the last error is raised with that context. Odoo faults, refused
credentials and other 4xx answers are raised at once. ``sleep`` is injected so tests never wait.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from loguru import logger

from syncd.config import OdooSettings
from syncd.errors import OdooError, TransientError
from syncd.odoo.http import public_url, scrub
from syncd.odoo.interrupt import waiting
from syncd.odoo.retry import Backoff
from syncd.odoo.transport import Transport, make_transport

T = TypeVar("T")
JSON2_SINCE = 19


@dataclass(frozen=True)
class ServerInfo:
    version: str  # e.g. "17.0", "saas~18.2"
    major: int  # 17 ("saas~18" -> 18)
    protocol: str  # the protocol in use
    uid: int


def major_version(info: dict[str, Any]) -> int:
    """The major version from ``common.version()``; "saas~18" counts as 18; 0 if unknown."""
    parts = info.get("server_version_info") or []
    for candidate in (parts[0] if parts else None, info.get("server_version")):
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            return candidate
        match = re.search(r"(\d+)", str(candidate or ""))
        if match:
            return int(match.group(1))
    return 0


class OdooClient:
    """One logged-in session with Odoo over one keep-alive connection. Not thread-safe."""

    def __init__(self, settings: OdooSettings, *, sleep: Callable[[float], None] = time.sleep,
                 attempts: int = 5, backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self.sleep = sleep
        self.attempts = max(1, attempts)
        self.backoff = Backoff(backoff_base, backoff_cap, rng or random.Random())
        self.info: ServerInfo | None = None
        self.requests = 0  # RPC attempts, retries included (transparent resends are not)
        self._transport: Transport | None = None
        self._pass_clock: datetime | None = None
        self._pass_open = False

    def __repr__(self) -> str:
        return (f"OdooClient(url={self._url()!r}, "
                f"database={self.settings.database!r}, user={self.settings.username!r})")

    def _url(self) -> str:
        return scrub(public_url(self.settings.url), self.settings.secrets())

    def __enter__(self) -> OdooClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; a later call connects (and logs in) again."""
        if self._transport is not None:
            self._transport.close()
        self._transport = None
        self.info = None

    @property
    def server_time(self) -> datetime | None:
        """Odoo's clock (its HTTP Date header, naive UTC) at the last answer; None if unknown.

        A hint, never a watermark: the pass uses it to place its change window (a lookback
        before the previous pass began), not to compare with any `write_date`."""
        http = getattr(self._transport, "http", None)
        date = getattr(http, "last_date", None)
        return date if isinstance(date, datetime) else None

    def begin_pass(self) -> None:
        """A pass starts: ``pass_clock`` becomes the ``Date`` of the next answer (no request is
        made for it: the login's answer in a one-shot run, the first query's in a daemon)."""
        self._pass_clock = None
        self._pass_open = True

    @property
    def pass_clock(self) -> datetime | None:
        """Odoo's clock at the first answer since ``begin_pass``: every query of the pass runs
        after it. None until then, or when the server sends no ``Date``."""
        return self._pass_clock

    def _answered(self) -> None:
        if self._pass_open and self._pass_clock is None:
            self._pass_clock = self.server_time

    def connect(self) -> ServerInfo:
        """Ask the version, choose the protocol, log in once. Idempotent while connected."""
        if self.info is not None:
            return self.info
        wanted = self.settings.protocol
        probe = make_transport(self._probe_protocol(wanted), self.settings)
        try:
            version, probe = self._version(probe, wanted)
            major = major_version(version)
            protocol = self._choose(wanted, major)
            if protocol != probe.protocol:
                probe.close()
                probe = make_transport(protocol, self.settings)
            self._transport = probe
            uid = self._retry("login", probe.login)
            self._answered()
        except BaseException:
            probe.close()
            self.close()
            raise
        self.info = ServerInfo(version=str(version.get("server_version") or major),
                               major=major, protocol=protocol, uid=uid)
        logger.debug("odoo connected url={} version={} protocol={} uid={}",
                     self._url(), self.info.version,
                     protocol, uid)
        return self.info

    def _probe_protocol(self, wanted: str) -> str:
        if wanted == "auto":
            return "json2" if self.settings.api_key else "jsonrpc"
        return wanted

    def _version(self, probe: Transport, wanted: str) -> tuple[dict[str, Any], Transport]:
        """The server's version, and the transport that got it. In auto mode with an API key
        it asks JSON-2's /web/version first (that route outlives /jsonrpc), falling back to
        JSON-RPC on servers without it."""
        try:
            return self._retry("version", probe.version), probe
        except TransientError:
            raise
        except OdooError:
            if wanted != "auto" or probe.protocol != "json2":
                raise
        probe.close()
        fallback = make_transport("jsonrpc", self.settings)
        try:
            return self._retry("version", fallback.version), fallback
        except BaseException:
            fallback.close()
            raise

    def _choose(self, wanted: str, major: int) -> str:
        has_key = bool(self.settings.api_key)
        if wanted == "auto":
            return "json2" if major >= JSON2_SINCE and has_key else "jsonrpc"
        if wanted == "json2" and major < JSON2_SINCE:
            raise OdooError(f"protocol json2 needs Odoo {JSON2_SINCE} or later; this server is "
                            f"Odoo {major or 'of unknown version'} (use protocol auto, jsonrpc "
                            "or xmlrpc)")
        if wanted == "json2" and not has_key:
            raise OdooError("protocol json2 needs an API key: set [odoo].api_key or ODOO_API_KEY "
                            "(or use protocol auto, jsonrpc or xmlrpc)")
        return wanted

    # -- the ORM methods the sync uses ------------------------------------------------------------
    def search_read(self, model: str, domain: list[Any], fields: list[str], *,
                    limit: int | None = None, order: str | None = None,
                    context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        result = self.call(model, "search_read", {"domain": domain, "fields": fields,
                                                  "limit": limit, "order": order,
                                                  "context": context})
        return _expect(list, result, model, "search_read")

    def search(self, model: str, domain: list[Any], *, limit: int | None = None,
               order: str | None = None,
               context: dict[str, Any] | None = None) -> list[int]:
        result = self.call(model, "search", {"domain": domain, "limit": limit, "order": order,
                                             "context": context})
        return _expect(list, result, model, "search")

    def search_count(self, model: str, domain: list[Any], *,
                     context: dict[str, Any] | None = None) -> int:
        result = self.call(model, "search_count", {"domain": domain, "context": context})
        return _expect(int, result, model, "search_count")

    def read(self, model: str, ids: list[int], fields: list[str], *,
             context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``ids`` that still exist (deleted ids are silently missing)."""
        result = self.call(model, "read", {"ids": ids, "fields": fields, "context": context})
        return _expect(list, result, model, "read")

    def fields_get(self, model: str,
                   attributes: list[str] | None = None) -> dict[str, dict[str, Any]]:
        result = self.call(model, "fields_get", {"attributes": attributes})
        return _expect(dict, result, model, "fields_get")

    def call(self, model: str, method: str, params: dict[str, Any]) -> Any:
        """``model.method`` with named ``params``, retried; connects first if needed."""
        self.connect()
        transport = self._transport
        assert transport is not None
        result = self._retry(f"{model}.{method}", lambda: transport.call(model, method, params))
        self._answered()
        return result

    def _retry(self, what: str, attempt: Callable[[], T]) -> T:
        for number in range(self.attempts):
            self.requests += 1
            try:
                return attempt()
            except TransientError as exc:
                if number + 1 >= self.attempts:
                    raise TransientError(f"{exc} (gave up after {self.attempts} attempts)",
                                         retry_after=exc.retry_after) from None
                delay = self.backoff.delay(number, exc.retry_after)
                logger.warning("odoo transient error call={} attempt={}/{} retry_in={:.1f}s "
                               "error={}", what, number + 1, self.attempts, delay, exc)
                with waiting():  # a stop may abandon it (syncd.odoo.interrupt)
                    self.sleep(delay)
        raise AssertionError("unreachable")


def _expect(kind: type[T], value: Any, model: str, method: str) -> T:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise OdooError(f"{model}.{method}: unexpected answer of type {type(value).__name__}")
