"""The Odoo client: picks the protocol, logs in once, retries transient failures.

    with OdooClient(settings.odoo) as client:
        info = client.connect()                   # optional: the first call connects
        rows = client.search_read("res.partner", [["is_company", "=", True]], ["name"], order="id")

``connect`` asks the server's version (no credentials), picks the protocol and logs in exactly
once: Odoo writes a login-log row per authentication, so a client is meant to live for a pass or
for the whole process. ``resume(kept)`` starts instead from the ``handshake`` an earlier process
kept (no request at all); a kept uid that Odoo refuses (the user recreated, the password changed)
or a route gone (HTTP 404) makes the client connect once and retry that call, never more.
Protocol "auto" speaks JSON-2 on Odoo 19+ when an API key is configured (``/xmlrpc`` and
``/jsonrpc`` are deprecated there and go away in Odoo 22), else JSON-RPC.

Calls may come from several threads at once (``connections``, the pass's ``[sync] workers``),
each on a connection of its own of the one session; until the first answer of a pass (see
``begin_pass``) they go one at a time; ``abort`` (from any thread) makes every call in progress
or to come fail at once with ``PassInterrupted``, until the next pass. Every call is retried on
``TransientError`` within ``attempts`` tries and ``retry_budget`` seconds; Odoo faults, refused
credentials and other 4xx answers are raised at once. All of that is ``Connections``
(``syncd.odoo.connections``), which this client is built on. ``sleep`` and ``clock`` are
injected so tests never wait.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, TypeVar

from loguru import logger

from syncd.errors import AuthError, EndpointError, OdooError, TransientError, scrub
from syncd.odoo.connections import Connections
from syncd.odoo.handshake import Handshake, Identity
from syncd.odoo.http import Traffic, public_url
from syncd.odoo.retry import Backoff
from syncd.odoo.transport import Transport, make_transport
from syncd.settings import OdooSettings

T = TypeVar("T")
JSON2_SINCE = 19


@dataclass(frozen=True)
class ServerInfo:
    version: str  # as the server says it, e.g. "17.0-20240709", "saas~18.2+e"
    major: int  # 17 ("saas~18" -> 18)
    protocol: str  # the protocol in use
    uid: int
    lang: str = ""  # the lang every read passes: [odoo].lang, else the user's; "" if unknown


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


class OdooClient(Connections):
    """One logged-in session with Odoo: over one keep-alive connection, or over up to
    ``connections`` of them when several threads call at once (see the module docstring)."""

    def __init__(self, settings: OdooSettings, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, attempts: int = 5,
                 backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 rng: random.Random | None = None,
                 connect_timeout: float | None = None,
                 wall: Callable[[], float] = time.time) -> None:
        """``clock`` is a monotonic clock in seconds (it measures the retry budget); ``wall``
        the clock a handshake's age is told by (seconds since the epoch);
        ``connect_timeout``, when given, replaces ``settings.timeout`` while connecting (version
        and login), after which the connection gets ``settings.timeout`` back."""
        super().__init__(settings, sleep=sleep, clock=clock, attempts=attempts,
                         backoff=Backoff(backoff_base, backoff_cap, rng or random.Random()))
        self.connect_timeout = connect_timeout
        self.wall = wall
        self.info: ServerInfo | None = None
        self.traffic = Traffic()  # bytes on the wire over every connection this client opens
        self._transport: Transport | None = None  # the first connection: version, login
        self._connecting = threading.RLock()  # connect, resume and close, one at a time
        self._handshake: Handshake | None = None

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
        """Close every connection; a later call connects (and logs in) again."""
        with self._connecting:
            with self._lock:
                pool, self._pool, self._idle = self._pool, [], []
                if self._transport is not None and self._transport not in pool:
                    pool.append(self._transport)
                self._transport = None
                self._last_date = None
                self.info = None
                self._kept = False
            for transport in pool:
                transport.close()

    @property
    def handshake(self) -> dict[str, Any] | None:
        """What the last ``connect`` learned (or what ``resume`` started from), as plain JSON
        values for the caller to keep and hand to ``resume`` in a later process; None before
        either. Holds no secret."""
        return self._handshake.to_dict() if self._handshake is not None else None

    def resume(self, kept: object) -> bool:
        """Start from a handshake ``kept`` from an earlier process instead of connecting; no
        request is made. False, and nothing changes (the first call connects), when there is
        none or it is unusable: older than a day by ``wall`` (or from the future), or made for
        another url, database, username, ``protocol`` or ``lang`` setting, or with(out) an API
        key. True when resumed, or already connected."""
        with self._connecting:
            return self._resume(kept)

    def _resume(self, kept: object) -> bool:
        if self.info is not None:
            return True
        handshake = Handshake.from_dict(kept)
        if handshake is None:
            return False
        reason = handshake.stale(self._identity(), self.wall())
        if reason:
            logger.debug("odoo kept handshake not used: {reason}", reason=reason)
            return False
        transport = make_transport(handshake.protocol, self.settings, traffic=self.traffic)
        transport.resume(handshake.uid)
        with self._lock:
            self._transport = transport
            self._pool, self._idle = [transport], [transport]
        self._handshake = handshake
        self._kept = True
        self.info = ServerInfo(version=handshake.version, major=handshake.major,
                               protocol=handshake.protocol, uid=handshake.uid,
                               lang=handshake.lang)
        logger.debug("odoo resumed url={url} version={version} protocol={protocol} uid={uid} "
                     "lang={lang}", url=self._url(), version=handshake.version,
                     protocol=handshake.protocol, uid=handshake.uid, lang=handshake.lang or "-")
        return True

    def _identity(self) -> Identity:
        s = self.settings
        return Identity(url=self._url(), database=s.database, username=s.username,
                        wanted=s.protocol, lang_setting=s.lang, keyed=bool(s.api_key))

    def connect(self) -> ServerInfo:
        """Ask the version, choose the protocol, log in once. Idempotent while connected."""
        info = self.info
        if info is not None:
            return info
        with self._connecting:
            return self._connect()

    def _connect(self) -> ServerInfo:
        if self.info is not None:
            return self.info
        probed = self.wall()
        wanted = self.settings.protocol
        probe = make_transport(self._probe_protocol(wanted), self._connect_settings(),
                               traffic=self.traffic)
        try:
            version, probe = self._version(probe, wanted)
            major = major_version(version)
            protocol = self._choose(wanted, major)
            if protocol != probe.protocol:
                probe.close()
                probe = make_transport(protocol, self._connect_settings(),
                                       traffic=self.traffic)
            with self._lock:
                self._transport = probe
                self._busy.append(probe)  # an abort cuts a login too
            try:
                uid = self._retry("login", probe.login)
                self._answered(probe)
                lang = self.settings.lang or self._user_lang(probe)
            finally:
                with self._lock:
                    self._busy.remove(probe)
                    self._heard(probe)
            probe.set_timeout(self.settings.timeout)
        except BaseException:
            probe.close()
            self.close()
            raise
        with self._lock:
            self._pool, self._idle = [probe], [probe]
        self.info = ServerInfo(version=str(version.get("server_version") or major),
                               major=major, protocol=protocol, uid=uid, lang=lang)
        self._handshake = Handshake(identity=self._identity(), version=self.info.version,
                                    major=major, protocol=protocol, uid=uid, lang=lang,
                                    probed=probed)
        self._kept = False  # a login of this client: a refusal from now on is not staleness
        logger.debug("odoo connected url={url} version={version} protocol={protocol} uid={uid} "
                     "lang={lang}", url=self._url(), version=self.info.version,
                     protocol=protocol, uid=uid, lang=lang or "-")
        return self.info

    def _user_lang(self, transport: Transport) -> str:
        """The sync user's language, from ``res.users.context_get`` ("" if unknown).

        Needed because every call starts with an empty context, in which Odoo answers
        translated fields in the source language (en_US) whatever the user's preference. A
        fault (a server without the method, a restricted user) leaves the language unknown;
        a transient error that outlasts the retries fails the connect like any other call."""
        context = transport.user_context
        if context is None:
            try:
                context = self._retry("res.users.context_get",
                                      lambda: transport.call("res.users", "context_get", {}))
            except OdooError as exc:
                if isinstance(exc, TransientError):
                    raise
                logger.debug("odoo res.users.context_get failed; reading without a lang: {}", exc)
                return ""
        lang = context.get("lang") if isinstance(context, dict) else None
        return lang if isinstance(lang, str) else ""

    def _connect_settings(self) -> OdooSettings:
        if self.connect_timeout is None:
            return self.settings
        return replace(self.settings, timeout=self.connect_timeout)

    def _probe_protocol(self, wanted: str) -> str:
        if wanted == "auto":
            return "json2" if self.settings.api_key else "jsonrpc"
        return wanted

    def _version(self, probe: Transport, wanted: str) -> tuple[dict[str, Any], Transport]:
        """The server's version, and the transport that got it. With JSON-2 in view (auto mode
        with an API key, or protocol json2) it asks JSON-2's /web/version first (that route
        outlives /jsonrpc), falling back to JSON-RPC on servers without it: Odoo 16-18 answer
        /web/version 404 (docs/odoo-api.md §13), and a forced json2 then still learns the
        version, to say why it cannot be used."""
        try:
            return self._retry("version", probe.version), probe
        except TransientError:
            raise
        except OdooError:
            if wanted not in ("auto", "json2") or probe.protocol != "json2":
                raise
        probe.close()
        fallback = make_transport("jsonrpc", self._connect_settings(),
                                  traffic=self.traffic)
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
    # Each passes ``lang`` (ServerInfo.lang) in its context, under the caller's ``context``
    # (which wins on a clash): translated fields (product names) then come in that language.
    def search_read(self, model: str, domain: list[Any], fields: list[str], *,
                    limit: int | None = None, order: str | None = None,
                    context: dict[str, Any] | None = None,
                    retry: bool = True) -> list[dict[str, Any]]:
        """``retry=False``: one attempt, for a caller that answers a failure by asking less."""
        result = self.call(model, "search_read", {"domain": domain, "fields": fields,
                                                  "limit": limit, "order": order,
                                                  "context": self._context(context)},
                           retry=retry)
        return _expect(list, result, model, "search_read")

    def search(self, model: str, domain: list[Any], *, limit: int | None = None,
               order: str | None = None,
               context: dict[str, Any] | None = None) -> list[int]:
        result = self.call(model, "search", {"domain": domain, "limit": limit, "order": order,
                                             "context": self._context(context)})
        return _expect(list, result, model, "search")

    def search_count(self, model: str, domain: list[Any], *,
                     context: dict[str, Any] | None = None) -> int:
        result = self.call(model, "search_count", {"domain": domain,
                                                   "context": self._context(context)})
        return _expect(int, result, model, "search_count")

    def read(self, model: str, ids: list[int], fields: list[str], *,
             context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of ``ids`` that still exist (deleted ids are silently missing)."""
        result = self.call(model, "read", {"ids": ids, "fields": fields,
                                           "context": self._context(context)})
        return _expect(list, result, model, "read")

    def fields_get(self, model: str, attributes: list[str] | None = None, *,
                   context: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        result = self.call(model, "fields_get", {"attributes": attributes,
                                                 "context": self._context(context)})
        return _expect(dict, result, model, "fields_get")

    def _context(self, context: dict[str, Any] | None) -> dict[str, Any] | None:
        """The caller's context over ``{"lang": ...}``; None (left out) when both are empty.
        Connects first: the user's lang is learned while connecting."""
        lang = self.connect().lang
        merged = {**({"lang": lang} if lang else {}), **(context or {})}
        return merged or None

    def call(self, model: str, method: str, params: dict[str, Any], *,
             retry: bool = True) -> Any:
        """``model.method`` with named ``params``, retried unless ``retry`` is False; connects
        first if needed. Sends ``params`` as given: no lang is added here (the ORM methods
        above add it)."""
        self.connect()
        with self._turn():
            try:
                return self._call(model, method, params, retry)
            except (AuthError, EndpointError) as exc:
                if not self._kept:
                    raise
                # The kept handshake is stale: the uid is refused (the user recreated, the
                # password changed) or the route is gone (the server changed). Probe once, for
                # real, and try again; a refused login is then the usual refused-credentials
                # error. (Only the pass's first call can get here: it goes alone.)
                logger.info("odoo kept session no longer works ({error}); connecting again",
                            error=str(exc))
                self.close()
                self.connect()
                return self._call(model, method, params, retry)

    def _new_connection(self) -> Transport | None:
        if self.info is None:
            return None
        transport = make_transport(self.info.protocol, self.settings, traffic=self.traffic)
        transport.resume(self.info.uid)
        return transport


def _expect(kind: type[T], value: Any, model: str, method: str) -> T:
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise OdooError(f"{model}.{method}: unexpected answer of type {type(value).__name__}")
