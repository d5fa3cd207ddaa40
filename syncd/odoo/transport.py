"""The one interface to Odoo's wire protocols: XML-RPC, JSON-RPC and JSON-2, over HTTP.

A transport makes one attempt per call and raises syncd's errors (``TransientError`` for what
a retry may fix; see ``syncd.odoo.faults`` for the rest); ``OdooClient`` owns retries and policy.
``call`` takes Odoo's *named* parameters (domain, ids, fields, offset, limit, order, context,
allfields, attributes); ``None`` values are left out. XML-RPC and JSON-RPC send them through
``execute_kw`` with ``domain`` or ``ids`` as the first positional argument (Odoo 16 named the
domain ``args``, so it must never go by name) and the rest as keyword arguments; JSON-2 posts
them as the JSON body.

Surprises: XML-RPC cannot carry ``None``, and Odoo sends integers beyond 32 bits as floats over
it (ids and counts never get there; a big integer field value arrives as ``float``). Values are
otherwise identical across protocols (``false`` for empty, ``[id, name]`` for many2one,
``"YYYY-MM-DD HH:MM:SS"`` datetimes).
"""

from __future__ import annotations

import xmlrpc.client
from datetime import datetime
from typing import Any, Protocol
from xml.parsers.expat import ExpatError

import orjson

from syncd.errors import AuthError, EndpointError, OdooError, TransientError, scrub
from syncd.odoo.faults import Account, auth_error, fault_error
from syncd.odoo.http import HttpConnection, HttpResponse, Traffic
from syncd.odoo.retry import parse_retry_after
from syncd.settings import PROTOCOLS, OdooSettings

_JSON = {"Content-Type": "application/json", "Accept": "application/json"}
_POSITIONAL = ("domain", "ids")


class Transport(Protocol):
    protocol: str
    # The user's context (lang, tz, uid) when login learned it on the way (JSON-2's login is
    # res.users.context_get), else None.
    user_context: dict[str, Any] | None

    def version(self) -> dict[str, Any]:
        """Server version without authentication: "server_version" (str) and
        "server_version_info" (list)."""
        ...

    def login(self) -> int:
        """Authenticate once and return the uid; AuthError if refused."""
        ...

    def resume(self, uid: int) -> None:
        """Call as ``uid`` without logging in (a uid an earlier login returned)."""
        ...

    def call(self, model: str, method: str, params: dict[str, Any]) -> Any:
        """``model.method`` with named ``params``; one attempt."""
        ...

    def set_timeout(self, seconds: float) -> None:
        """Wait at most ``seconds`` per socket operation from now on."""
        ...

    @property
    def server_time(self) -> datetime | None:
        """Odoo's clock (its HTTP ``Date``, naive UTC) at the last answer; None if unknown."""
        ...

    def close(self) -> None: ...

    def abort(self) -> None:
        """From another thread: cut the request in progress, if any (it fails at once)."""
        ...


def make_transport(protocol: str, settings: OdooSettings, *,
                   traffic: Traffic | None = None) -> Transport:
    """The transport speaking ``protocol`` ("jsonrpc", "xmlrpc" or "json2") to ``settings.url``,
    adding the bytes it carries to ``traffic`` when given."""
    kinds: dict[str, type[XmlRpcTransport | JsonRpcTransport | Json2Transport]] = {
        "xmlrpc": XmlRpcTransport, "jsonrpc": JsonRpcTransport, "json2": Json2Transport}
    if protocol not in kinds:
        raise OdooError(f"unknown protocol {protocol!r} (use one of {', '.join(PROTOCOLS)})")
    return kinds[protocol](settings, traffic=traffic)


def split_params(params: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """execute_kw's (args, kwargs): domain or ids positional first, the rest by name."""
    kwargs = {k: v for k, v in params.items() if v is not None}
    args = [kwargs.pop(name) for name in _POSITIONAL if name in kwargs][:1]
    return args, kwargs


class _HttpTransport:
    protocol = ""

    def __init__(self, settings: OdooSettings, *, traffic: Traffic | None = None) -> None:
        self.settings = settings
        self.http = HttpConnection(settings.url, timeout=settings.timeout,
                                   secrets=settings.secrets(), traffic=traffic)
        self.account = Account(self.http.where, settings.database, settings.username,
                               settings.secrets())
        self.uid: int | None = None
        self.user_context: dict[str, Any] | None = None

    def set_timeout(self, seconds: float) -> None:
        self.http.set_timeout(seconds)

    @property
    def server_time(self) -> datetime | None:
        return self.http.last_date

    def close(self) -> None:
        self.http.close()

    def abort(self) -> None:
        self.http.abort()

    def resume(self, uid: int) -> None:
        self.uid = uid

    def _uid(self) -> int:
        if self.uid is None:
            raise OdooError("not logged in: call login() before call()")
        return self.uid

    def _check_status(self, response: HttpResponse, what: str) -> None:
        """Raise for HTTP statuses that no Odoo error body explains: 429 and gateway errors
        are transient, other failures are fatal unless the body parsed as an Odoo error first."""
        status = response.status
        if status in (429, 502, 503, 504):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise TransientError(f"HTTP {status} {response.reason} from {self.http.where} "
                                 f"({what})", retry_after=retry_after)

    def _bad_status(self, response: HttpResponse, what: str) -> OdooError:
        status = response.status
        message = f"HTTP {status} {response.reason} from {self.http.where} ({what})"
        if status >= 500:
            return TransientError(message + ": no Odoo error in the body")
        if status == 401:
            return auth_error(self.account, api_key=self.protocol == "json2")
        if status == 404 and self.http.prefix.split("/")[1:2] in (["web"], ["odoo"]):
            # A URL copied from the browser (/web, /odoo/contacts): the API is at the base.
            return EndpointError(message + f": {self.http.where} is a page of Odoo's web client, "
                             f"not its address: use the base URL {self.http.origin} (url = "
                             f"\"{self.http.origin}\", or ODOO_URL)")
        if status == 404:
            return EndpointError(message + f": is {self.http.where} an Odoo server"
                             f"{' 19 or later' if self.protocol == 'json2' else ''}?")
        return OdooError(message)

    def _unparsable(self, response: HttpResponse, what: str, error: Exception) -> TransientError:
        start = response.body.lstrip()[:9].lower()
        html = response.content_type == "text/html" or start.startswith((b"<html", b"<!doctype"))
        kind = "an HTML page (a proxy error?)" if html else "a malformed body"
        reason = scrub(str(error), self.account.secrets)[:200]
        return TransientError(f"HTTP {response.status} from {self.http.where} ({what}): got "
                              f"{kind}: {reason}")


class _ExecuteKwTransport(_HttpTransport):
    """XML-RPC and JSON-RPC: `common.version`, `common.login`, then `object.execute_kw` with
    the database, uid and password (or API key) on every call."""

    def version(self) -> dict[str, Any]:
        result = self._rpc("common", "version", [])
        if not isinstance(result, dict):
            raise TransientError(f"unexpected version answer from {self.http.where}")
        return result

    def login(self) -> int:
        s = self.settings
        uid = self._rpc("common", "login", [s.database, s.username, s.secret])
        if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
            raise auth_error(self.account)
        self.uid = uid
        return uid

    def call(self, model: str, method: str, params: dict[str, Any]) -> Any:
        args, kwargs = split_params(params)
        s = self.settings
        return self._rpc("object", "execute_kw",
                         [s.database, self._uid(), s.secret, model, method, args, kwargs],
                         call=f"{model}.{method}")

    def _rpc(self, service: str, method: str, args: list[Any], call: str = "") -> Any:
        raise NotImplementedError


class XmlRpcTransport(_ExecuteKwTransport):
    protocol = "xmlrpc"

    def _rpc(self, service: str, method: str, args: list[Any], call: str = "") -> Any:
        what = call or f"{service}.{method}"
        try:
            body = xmlrpc.client.dumps(tuple(args), method, encoding="utf-8", allow_none=False)
        except TypeError as exc:
            raise OdooError(f"{what}: cannot send over XML-RPC: {exc}") from None
        response = self.http.request("POST", f"/xmlrpc/2/{service}", body.encode("utf-8"),
                                     {"Content-Type": "text/xml"})
        self._check_status(response, what)
        try:
            params, _ = xmlrpc.client.loads(response.body, use_builtin_types=True)
        except xmlrpc.client.Fault as fault:
            raise fault_error(self.account, "", str(fault.faultString), code=fault.faultCode,
                              call=call) from None
        except (ExpatError, xmlrpc.client.ResponseError, ValueError, TypeError) as exc:
            if response.status != 200:
                raise self._bad_status(response, what) from None
            raise self._unparsable(response, what, exc) from None
        if response.status != 200:
            raise self._bad_status(response, what)
        return params[0] if params else None


class JsonRpcTransport(_ExecuteKwTransport):
    protocol = "jsonrpc"

    def __init__(self, settings: OdooSettings, *, traffic: Traffic | None = None) -> None:
        super().__init__(settings, traffic=traffic)
        self._next_id = 0

    def _rpc(self, service: str, method: str, args: list[Any], call: str = "") -> Any:
        what = call or f"{service}.{method}"
        self._next_id += 1
        payload = {"jsonrpc": "2.0", "method": "call", "id": self._next_id,
                   "params": {"service": service, "method": method, "args": args}}
        response = self.http.request("POST", "/jsonrpc", orjson.dumps(payload), _JSON)
        self._check_status(response, what)
        try:
            answer = orjson.loads(response.body)
            if not isinstance(answer, dict) or not ("result" in answer or "error" in answer):
                raise ValueError("not a JSON-RPC response object")
        except ValueError as exc:
            if response.status != 200:
                raise self._bad_status(response, what) from None
            raise self._unparsable(response, what, exc) from None
        error = answer.get("error")
        if error is not None:
            data = error.get("data") if isinstance(error, dict) else None
            data = data if isinstance(data, dict) else {}
            message = str(data.get("message") or (error.get("message") if isinstance(error, dict)
                                                  else error) or "")
            raise fault_error(self.account, str(data.get("name") or ""), message,
                              code=error.get("code") if isinstance(error, dict) else None,
                              call=call)
        if response.status != 200:
            raise self._bad_status(response, what)
        return answer["result"]


class Json2Transport(_HttpTransport):
    """Odoo 19+'s JSON-2: the API key as bearer token, one transaction per call, statuses for
    errors. Needs ``api_key``; the password is never sent."""

    protocol = "json2"

    def version(self) -> dict[str, Any]:
        response = self.http.request("GET", "/web/version", None, {"Accept": "application/json"})
        self._check_status(response, "/web/version")
        if response.status != 200:
            raise self._bad_status(response, "/web/version")
        try:
            answer = orjson.loads(response.body)
            return {"server_version": str(answer["version"]),
                    "server_version_info": list(answer["version_info"])}
        except (ValueError, KeyError, TypeError) as exc:
            raise self._unparsable(response, "/web/version", exc) from None

    def login(self) -> int:
        if not self.settings.api_key:
            raise AuthError("JSON-2 needs an API key: set [odoo].api_key or ODOO_API_KEY")
        context = self._post("res.users", "context_get", {})
        uid = context.get("uid") if isinstance(context, dict) else None
        if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
            raise auth_error(self.account, api_key=True)
        self.uid = uid
        self.user_context = context
        return uid

    def call(self, model: str, method: str, params: dict[str, Any]) -> Any:
        self._uid()
        return self._post(model, method, {k: v for k, v in params.items() if v is not None})

    def _post(self, model: str, method: str, body: dict[str, Any]) -> Any:
        what = f"{model}.{method}"
        headers = {**_JSON, "Authorization": f"bearer {self.settings.api_key}"}
        if self.settings.database:
            headers["X-Odoo-Database"] = self.settings.database
        response = self.http.request("POST", f"/json/2/{model}/{method}", orjson.dumps(body),
                                     headers)
        self._check_status(response, what)
        try:
            answer = orjson.loads(response.body)
        except ValueError as exc:
            if response.status != 200:
                raise self._bad_status(response, what) from None
            raise self._unparsable(response, what, exc) from None
        if response.status == 200:
            return answer
        if isinstance(answer, dict) and isinstance(answer.get("name"), str):
            name, message = answer["name"], str(answer.get("message") or "")
            if response.status == 401:
                raise auth_error(self.account, api_key=True)
            raise fault_error(self.account, name, message, code=response.status, call=what)
        raise self._bad_status(response, what)
