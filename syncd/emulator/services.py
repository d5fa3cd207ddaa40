"""Odoo's RPC services (common, object, db) and the JSON-2 call, above the wire formats.

Mirrors odoo/service/{common,model,db}.py: `common.login`/`authenticate` answer a uid or False
(never a fault) on bad credentials; `object.execute_kw` checks the database, then the
credentials (fault "Access Denied"), then runs the model method. An unknown database fails
like PostgreSQL does, with an OperationalError traceback. Anything unexpected becomes an
application error carrying a real traceback, as Odoo's `serialize_exception` does.
"""

from __future__ import annotations

import time

import sys
import traceback
from typing import Any

from syncd.emulator.faults import OdooFault
from syncd.emulator.injection import Stats
from syncd.emulator.store import Database

# api.model methods: JSON-2 refuses `ids` for them; everything else is a record method.
MODEL_METHODS = frozenset({
    "search", "search_read", "search_count", "fields_get", "context_get", "name_search",
    "default_get", "create", "read_group", "web_search_read", "check_access_rights",
})

_ODOO_PATH = "/usr/lib/python3/dist-packages/odoo"


# The build date packaged servers append to `release.version` ("17.0-20240709" is what a real
# 17.0 answers); `server_version_info` and `server_serie` keep the bare series. Plausible
# nightly dates per major, after each release (docs/odoo-api.md §13).
BUILDS = {16: "20240709", 17: "20240709", 18: "20241010", 19: "20250918"}


def release_version(version: int) -> str:
    """`odoo.release.version` of a packaged server of that major version."""
    return f"{version}.0-{BUILDS[version]}"


def version_info(version: int) -> dict[str, Any]:
    """`common.version()` of the given major version (odoo.service.common.RPC_VERSION_1)."""
    return {
        "server_version": release_version(version),
        "server_version_info": [version, 0, 0, "final", 0, ""],
        "server_serie": f"{version}.0",
        "protocol_version": 1,
    }


def web_version(version: int) -> dict[str, Any]:
    """`GET /web/version` body (addons/rpc/controllers, Odoo 19+)."""
    return {"version_info": [version, 0, 0, "final", 0, ""], "version": release_version(version)}


def make_fault(name: str, message: str, *, code: int = 1, status: int = 500,
               debug: str | None = None) -> OdooFault:
    """An OdooFault raised by the service layer itself (not by the ORM)."""
    if debug is None:
        debug = (
            "Traceback (most recent call last):\n"
            f'  File "{_ODOO_PATH}/http.py", line 1790, in _serve_db\n'
            "    return service_model.retrying(self._serve_ir_http, self.env)\n"
            f'  File "{_ODOO_PATH}/service/model.py", line 133, in retrying\n'
            "    result = func()\n"
            f"{name}: {message}\n"
        )
    return OdooFault(name, message, xmlrpc_code=code, http_status=status, debug=debug)


def unexpected_fault(exc: BaseException) -> OdooFault:
    """Wrap an exception that is not an OdooFault the way Odoo serializes it."""
    kind = type(exc)
    name = f"{kind.__module__}.{kind.__qualname__}"
    debug = "".join(traceback.format_exception(kind, exc, exc.__traceback__))
    return make_fault(name, str(exc), debug=debug)


def access_denied() -> OdooFault:
    return make_fault("odoo.exceptions.AccessDenied", "Access Denied", code=3, status=401)


def unknown_database(name: str) -> OdooFault:
    message = (f'connection to server at "localhost" (127.0.0.1), port 5432 failed: '
               f'FATAL:  database "{name}" does not exist\n')
    return make_fault("psycopg2.OperationalError", message)


class Services:
    """The RPC services of one database, as `dispatch_rpc` routes them."""

    def __init__(self, db: Database, stats: Stats, login_cost: float = 0.0) -> None:
        self.db = db
        self.stats = stats
        self.login_cost = login_cost

    @staticmethod
    def call_target(service: str, method: str, params: list[Any]) -> tuple[str | None, str]:
        """(model, method) a call is about, for fault matching and counters: the model method
        for object calls, the service method (model None) for the others."""
        if service == "object" and method in ("execute_kw", "execute") and len(params) >= 5:
            model, name = params[3], params[4]
            if isinstance(model, str) and isinstance(name, str):
                return model, name
        return None, method

    def dispatch(self, service: str, method: str, params: list[Any]) -> Any:
        """Run one RPC; raises OdooFault for every failure, as Odoo's dispatch_rpc would."""
        try:
            if service == "common":
                return self._common(method, params)
            if service == "object":
                return self._object(method, params)
            if service == "db":
                return self._db(method, params)
            raise KeyError(service)
        except OdooFault:
            raise
        except Exception as exc:  # every other failure is an application error with traceback
            raise unexpected_fault(exc) from exc

    def _check_database(self, name: Any) -> None:
        if name != self.db.name:
            raise unknown_database(str(name))

    def _common(self, method: str, params: list[Any]) -> Any:
        if method == "version":
            return version_info(self.db.version)
        if method == "about":
            extended = bool(params[0]) if params else False
            info = "See http://openerp.com"
            return [info, release_version(self.db.version)] if extended else info
        if method in ("login", "authenticate"):
            if method == "login":
                db_name, login, password = params[:3]
            else:
                db_name, login, password, _user_agent_env = params[:4]
            self.stats.count_login()
            self._check_database(db_name)
            if self.login_cost > 0:
                time.sleep(self.login_cost)  # password hashing and 7 queries (docs §16)
            if not password and self.db.version == 18:
                # 18's res.users.apikeys._check_credentials asserts a key (seen on 18.0);
                # 17 and 19 answer False
                raise make_fault("builtins.AssertionError", "scope and key required")
            uid = self.db.authenticate(str(login), str(password))
            return uid if uid else False
        raise Exception(f"Method not found: {method}")

    def _object(self, method: str, params: list[Any]) -> Any:
        db_name, uid, password = params[0], int(params[1]), params[2]
        self._check_database(db_name)
        if not self.db.check_credentials(uid, str(password)):
            raise access_denied()
        if method == "execute_kw":
            model, name, args = params[3], params[4], params[5]
            kwargs = params[6] if len(params) > 6 and params[6] else {}
        elif method == "execute":
            model, name, args, kwargs = params[3], params[4], list(params[5:]), {}
        else:
            raise NameError(f"Method not available {method}")
        self.stats.count_call(model, name)
        return self.db.execute(model, name, list(args), dict(kwargs), uid=uid)

    def _db(self, method: str, params: list[Any]) -> Any:
        if method == "list":
            return [self.db.name]
        if method == "server_version":
            return release_version(self.db.version)
        if method == "db_exist":
            return bool(params) and params[0] == self.db.name
        raise KeyError(f"exp_{method}")

    def json2(self, uid: int, model: str, method: str, body: dict[str, Any]) -> Any:
        """One `/json/2/<model>/<method>` call on behalf of `uid` (already authenticated)."""
        params = dict(body)
        ids = params.pop("ids", None)
        self.stats.count_call(model, method)
        if method in MODEL_METHODS:
            if ids:
                raise make_fault("werkzeug.exceptions.UnprocessableEntity",
                                 f"cannot call {model}.{method} with ids", status=422)
            args: list[Any] = []
        else:
            args = [list(ids) if isinstance(ids, (list, tuple)) else ([ids] if ids else [])]
        try:
            return self.db.execute(model, method, args, params, uid=uid)
        except OdooFault as fault:
            # JSON-2 looks the model and method up itself and answers werkzeug's NotFound
            if fault.name == "odoo.exceptions.UserError" and fault.http_status == 404:
                raise make_fault("werkzeug.exceptions.NotFound",
                                 f"the model {model!r} does not exist", status=404) from None
            if fault.name == "builtins.AttributeError" and fault.http_status == 404:
                raise make_fault("werkzeug.exceptions.NotFound", fault.message,
                                 status=404) from None
            raise
        except TypeError as exc:  # bad named arguments: Odoo binds the signature first, 422
            raise make_fault("werkzeug.exceptions.UnprocessableEntity", str(exc), status=422,
                             debug="".join(traceback.format_exception(*sys.exc_info()))) from exc
        except Exception as exc:
            raise unexpected_fault(exc) from exc
