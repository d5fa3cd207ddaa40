"""OdooFault: an error raised inside an Odoo call, as the server will render it per protocol.

The constructors below reproduce the texts of Odoo 17's own exceptions (odoo/service/model.py,
odoo/osv/expression.py, odoo/models.py); XML-RPC carries them as
code 1 (traceback text), 2 (UserError: the message), 3 (AccessDenied), 4 (AccessError).
"""

from __future__ import annotations

_ODOO = "/usr/lib/python3/dist-packages/odoo"


def _short(name: str) -> str:
    """How a traceback's last line names the exception class (builtins are bare)."""
    return name.removeprefix("builtins.")


class OdooFault(Exception):
    """An error Odoo raises inside a call; the server renders it per protocol."""

    def __init__(self, name: str, message: str, *, xmlrpc_code: int = 1, http_status: int = 500,
                 debug: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.xmlrpc_code = xmlrpc_code
        self.http_status = http_status
        self.debug = debug if debug is not None else (
            "Traceback (most recent call last):\n"
            f'  File "{_ODOO}/service/model.py", line 156, in retrying\n'
            "    result = func()\n"
            f'  File "{_ODOO}/service/model.py", line 62, in execute_kw\n'
            "    return execute(db, uid, obj, method, *args, **kw or {})\n"
            f'  File "{_ODOO}/api.py", line 466, in call_kw\n'
            "    result = _call_kw_model(method, model, args, kwargs)\n"
            f"{_short(name)}: {message}\n")

    def fault_string(self) -> str:
        """XML-RPC faultString: the traceback for application errors, else the bare message."""
        return self.debug if self.xmlrpc_code == 1 else self.message

    def __repr__(self) -> str:
        return f"OdooFault({self.name!r}, {self.message!r})"


def value_error(message: str, *, status: int = 500) -> OdooFault:
    return OdooFault("builtins.ValueError", message, http_status=status)


def bad_argument(message: str, kind: str = "ValueError") -> OdooFault:
    """Arguments Odoo cannot use (wrong type, malformed domain): 422 on JSON-2."""
    return OdooFault(f"builtins.{kind}", message, http_status=422)


def invalid_field(model: str, field: str) -> OdooFault:
    return value_error(f"Invalid field {field!r} on model {model!r}")


def unknown_model(model: str) -> OdooFault:
    return OdooFault("odoo.exceptions.UserError", f"Object {model} doesn't exist",
                     xmlrpc_code=2, http_status=404)


def unknown_method(model: str, method: str) -> OdooFault:
    return OdooFault("builtins.AttributeError",
                     f"The method '{method}' does not exist on the model '{model}'",
                     http_status=404)


def private_method(method: str) -> OdooFault:
    return OdooFault("odoo.exceptions.AccessError",
                     f"Private methods (such as {method}) cannot be called remotely.",
                     xmlrpc_code=4, http_status=403)


def no_access(model: str, description: str) -> OdooFault:
    """ir.model.access refusing a read no group is granted (odoo/addons/base/models/
    ir_model.py `check`), e.g. on an abstract model, which has no access rules."""
    return OdooFault("odoo.exceptions.AccessError",
                     f"You are not allowed to access '{description}' ({model}) records.\n\n"
                     "No group currently allows this operation.\n\n"
                     "Contact your administrator to request access if necessary.",
                     xmlrpc_code=4, http_status=403)


def missing_record(model: str, ids: list[int]) -> OdooFault:
    return OdooFault("odoo.exceptions.MissingError",
                     "Record does not exist or has been deleted.\n"
                     f"(Record: {model}({', '.join(map(str, ids))},), User: 2)",
                     xmlrpc_code=2, http_status=404)


def bad_timestamp(literal: str) -> OdooFault:
    """PostgreSQL refusing a datetime literal (Odoo 16-18 pass the string through)."""
    return OdooFault("psycopg2.errors.InvalidDatetimeFormat",
                     "invalid input syntax for type timestamp")
