"""Odoo's HTTP routes: which path speaks which protocol, and the answer to a request.

`Router.decode` turns one HTTP request into a `Call`: the RPC's model and method (known before
anything runs, so the fault plan can match on them) and a `run()` producing the `Reply`.
Routes: `/xmlrpc/2/<service>` and legacy `/xmlrpc/<service>` (POST), `/jsonrpc` (POST, JSON
body), `/web/webclient/version_info` (JSON-RPC) and, on 19+ only, `/web/version` and
`/json/version` (any method; Odoo 16-18 answer them 404, docs/odoo-api.md §13) and
`/json/2/<model>/<method>`. Other paths answer Werkzeug's 404 page; a known path with the wrong
HTTP method answers 405.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Callable

from syncd.emulator import json_wire, xmlrpc_wire
from syncd.emulator.faults import OdooFault
from syncd.emulator.services import Services, make_fault, unexpected_fault, web_version

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


@dataclass
class Reply:
    """One HTTP response before it is written."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """A decoded request: what it is about, and how to answer it."""

    protocol: str  # "xmlrpc", "jsonrpc", "json2" or "http"
    model: str | None
    method: str | None
    run: Callable[[], Reply]
    limit: int | None = None  # the rows a search asks for at most (None: no limit, or not one)


def werkzeug_page(status: int, title: str, text: str) -> Reply:
    """An error page the way Werkzeug renders one."""
    body = (f"<!doctype html>\n<html lang=en>\n<title>{status} {title}</title>\n"
            f"<h1>{title}</h1>\n<p>{text}</p>\n").encode()
    return Reply(status, body, HTML_TYPE)


def not_found() -> Reply:
    return werkzeug_page(404, "Not Found", "The requested URL was not found on the server. If "
                         "you entered the URL manually please check your spelling and try again.")


def method_not_allowed(allowed: str) -> Reply:
    reply = werkzeug_page(405, "Method Not Allowed",
                          "The method is not allowed for the requested URL.")
    reply.headers["Allow"] = allowed
    return reply


def _fixed(reply: Reply) -> Call:
    return Call("http", None, None, lambda: reply)


class Router:
    """Routes requests of one emulated server to its services."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.version = services.db.version

    def decode(self, verb: str, path: str, headers: Message, body: bytes) -> Call:
        if path in ("/web/version", "/json/version") and self.version >= 19:  # addons/rpc
            return _fixed(Reply(200, json_wire.dumps(web_version(self.version)), JSON_TYPE))
        if path.startswith("/json/2/") and self.version >= 19:
            return self._json2(verb, path, headers, body)
        if path.startswith("/xmlrpc/"):
            service = path.removeprefix("/xmlrpc/2/") if path.startswith("/xmlrpc/2/") \
                else path.removeprefix("/xmlrpc/")
            if not service or "/" in service:
                return _fixed(not_found())
            if verb != "POST":
                return _fixed(method_not_allowed("POST"))
            return self._xmlrpc(service, body, legacy=not path.startswith("/xmlrpc/2/"))
        if path in ("/jsonrpc", "/web/webclient/version_info"):
            if verb != "POST":
                return _fixed(method_not_allowed("POST"))
            return self._jsonrpc(path, headers, body)
        return _fixed(not_found())

    # XML-RPC ---------------------------------------------------------------------------------

    def _xmlrpc(self, service: str, body: bytes, *, legacy: bool) -> Call:
        def fault_reply(fault: OdooFault) -> Reply:
            return Reply(200, xmlrpc_wire.encode_fault(fault, legacy=legacy), XML_TYPE)

        try:
            method, params = xmlrpc_wire.decode_call(body)
        except Exception as exc:  # Odoo answers a parse error as an application fault
            fault = unexpected_fault(exc)
            return Call("xmlrpc", None, None, lambda: fault_reply(fault))
        model, target = Services.call_target(service, method, params)

        def run() -> Reply:
            try:
                result = self.services.dispatch(service, method, params)
            except OdooFault as fault:
                return fault_reply(fault)
            return Reply(200, xmlrpc_wire.encode_result(result), XML_TYPE)

        return Call("xmlrpc", model, target, run, _limit(params))

    # JSON-RPC --------------------------------------------------------------------------------

    def _jsonrpc(self, path: str, headers: Message, body: bytes) -> Call:
        if headers.get_content_type() not in ("application/json", "application/json-rpc"):
            return _fixed(werkzeug_page(
                400, "Bad Request", f"Request inferred type is compatible with ['http'] but "
                f"{path!r} is type='json'. Please verify the Content-Type request header."))
        try:
            request = json_wire.loads(body)
        except ValueError:
            return _fixed(Reply(400, b"Invalid JSON data", HTML_TYPE))
        if not isinstance(request, dict):
            return _fixed(Reply(400, b"Invalid JSON-RPC data", HTML_TYPE))
        request_id = request.get("id")
        params = request.get("params") or {}
        if path == "/web/webclient/version_info":
            params = {"service": "common", "method": "version", "args": []}
        service, method, args = params.get("service"), params.get("method"), params.get("args")
        model, target = (Services.call_target(service, method, args)
                         if isinstance(service, str) and isinstance(method, str)
                         and isinstance(args, list) else (None, None))

        def run() -> Reply:
            try:
                if not (isinstance(service, str) and isinstance(method, str)
                        and isinstance(args, list)):
                    raise TypeError("RPC.jsonrpc() missing required arguments: "
                                    "'service', 'method', and 'args'")
                result = self.services.dispatch(service, method, args)
            except OdooFault as fault:
                return Reply(200, json_wire.rpc_error(request_id, fault, version=self.version),
                             JSON_TYPE)
            except Exception as exc:
                return Reply(200, json_wire.rpc_error(request_id, unexpected_fault(exc),
                                                      version=self.version), JSON_TYPE)
            return Reply(200, json_wire.rpc_result(request_id, result), JSON_TYPE)

        return Call("jsonrpc", model, target, run,
                    _limit(args) if isinstance(args, list) else None)

    # JSON-2 ----------------------------------------------------------------------------------

    def _json2(self, verb: str, path: str, headers: Message, body: bytes) -> Call:
        parts = path.removeprefix("/json/2/").split("/")
        if len(parts) != 2 or not all(parts):
            return _fixed(not_found())
        model, method = parts

        def error(status: int, name: str, message: str, context: Any = None) -> Reply:
            fault = make_fault(name, message, status=status)
            ctx = context if isinstance(context, dict) else {}
            return Reply(status, json_wire.json2_error(fault, ctx, [message, status]), JSON_TYPE)

        def run() -> Reply:
            if headers.get_content_type() != "application/json":
                return error(415, "werkzeug.exceptions.UnsupportedMediaType",
                             "The server does not support the media type transmitted in the "
                             "request.")
            database = headers.get("X-Odoo-Database")
            if database is not None and database != self.services.db.name:
                return error(404, "werkzeug.exceptions.NotFound",
                             f"database {database!r} not found")
            scheme, _, key = (headers.get("Authorization") or "").partition(" ")
            uid = self.services.db.uid_for_api_key(key.strip()) \
                if scheme.lower() == "bearer" and key.strip() else None
            if not uid:
                return error(401, "werkzeug.exceptions.Unauthorized", "Invalid apikey")
            if verb != "POST":
                return error(405, "werkzeug.exceptions.MethodNotAllowed",
                             "The method is not allowed for the requested URL.")
            try:
                params = json_wire.loads(body) if body else {}
            except ValueError as exc:
                return error(400, "werkzeug.exceptions.BadRequest",
                             f"could not parse the body as json: {exc}")
            if not isinstance(params, dict):
                return error(400, "werkzeug.exceptions.BadRequest",
                             "could not parse the body, expecting a json object")
            try:
                result = self.services.json2(uid, model, method, params)
            except OdooFault as fault:
                context = params.get("context")
                return Reply(fault.http_status, json_wire.json2_error(
                    fault, context if isinstance(context, dict) else {}), JSON_TYPE)
            return Reply(200, json_wire.dumps(result), JSON_TYPE)

        try:
            asked = json_wire.loads(body) if body else {}
        except ValueError:
            asked = {}
        return Call("json2", model, method, run,
                    _json2_limit(asked.get("limit") if isinstance(asked, dict) else None))


def _limit(params: list[Any]) -> int | None:
    """The `limit` of an `execute_kw` call (its kwargs are the 7th argument)."""
    kwargs = params[6] if len(params) >= 7 and isinstance(params[6], dict) else {}
    return _json2_limit(kwargs.get("limit"))


def _json2_limit(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
