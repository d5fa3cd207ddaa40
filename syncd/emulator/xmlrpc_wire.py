"""XML-RPC bodies as Odoo writes them (odoo/addons/base/controllers/rpc.py).

Odoo's marshaller differs from the stdlib one in ways clients notice: datetimes and dates go
out as `<string>` ("YYYY-MM-DD HH:MM:SS"), bytes as strings, control characters other than tab,
newline and carriage return are stripped from strings (XML 1.0 cannot carry them), and `None`
cannot be marshalled at all (allow_none=False). The ORM never hands `None` to the marshaller, so
the emulator sends `False` for it; integers beyond 32 bits go out as doubles, as Odoo's
`Integer.convert_to_read` makes them.

Faults: `/xmlrpc/2/*` answers integer codes (1 application error with a traceback, 2 UserError,
3 AccessDenied, 4 AccessError); the legacy `/xmlrpc/*` answers the historical string codes.
"""

from __future__ import annotations

import xmlrpc.client
from datetime import date, datetime
from typing import Any, Callable

from syncd.emulator.faults import OdooFault

# 0 to 31, excluding tab, newline and carriage return
_CONTROL_CHARACTERS = dict.fromkeys(set(range(32)) - {9, 10, 13})

_Write = Callable[[str], Any]


class OdooMarshaller(xmlrpc.client.Marshaller):
    """The stdlib marshaller with Odoo's overrides."""

    dispatch: dict[Any, Any] = dict(xmlrpc.client.Marshaller.dispatch)

    def dump_odoo_int(self, value: int, write: _Write) -> None:
        if xmlrpc.client.MININT <= value <= xmlrpc.client.MAXINT:
            xmlrpc.client.Marshaller.dump_long(self, value, write)
        else:
            xmlrpc.client.Marshaller.dump_double(self, float(value), write)

    def dump_odoo_str(self, value: str, write: _Write) -> None:
        xmlrpc.client.Marshaller.dump_unicode(self, value.translate(_CONTROL_CHARACTERS), write)

    def dump_odoo_bytes(self, value: bytes, write: _Write) -> None:
        self.dump_odoo_str(value.decode(), write)

    def dump_odoo_datetime(self, value: datetime, write: _Write) -> None:
        self.dump_odoo_str(value.strftime("%Y-%m-%d %H:%M:%S"), write)

    def dump_odoo_date(self, value: date, write: _Write) -> None:
        self.dump_odoo_str(value.strftime("%Y-%m-%d"), write)

    def dump_odoo_none(self, value: None, write: _Write) -> None:
        xmlrpc.client.Marshaller.dump_bool(self, False, write)

    dispatch[int] = dump_odoo_int
    dispatch[str] = dump_odoo_str
    dispatch[bytes] = dump_odoo_bytes
    dispatch[datetime] = dump_odoo_datetime
    dispatch[date] = dump_odoo_date
    dispatch[type(None)] = dump_odoo_none


def _document(body: str) -> bytes:
    return f'<?xml version="1.0"?>\n<methodResponse>\n{body}\n</methodResponse>\n'.encode()


def decode_call(data: bytes) -> tuple[str, list[Any]]:
    """(method, params) of a methodCall body.

    Raises what `xmlrpc.client.loads` raises (ExpatError, ...) so the fault names the same
    exception as Odoo's would."""
    params, method = xmlrpc.client.loads(data, use_datetime=True)
    if not method:
        raise ValueError("invalid XML-RPC request: no methodName")
    return method, list(params)


def encode_result(value: Any) -> bytes:
    """A methodResponse carrying one value."""
    return _document(OdooMarshaller(allow_none=False).dumps((value,)))


def encode_fault(fault: OdooFault, *, legacy: bool = False) -> bytes:
    """A methodResponse carrying `fault`: integer codes on /xmlrpc/2, string codes on /xmlrpc."""
    if legacy:
        code, text = legacy_fault(fault)
        # typeshed says int, but the legacy endpoint really sends string fault codes
        legacy_fault_ = xmlrpc.client.Fault(code, text)  # type: ignore[arg-type]
        body = OdooMarshaller(allow_none=False).dumps(legacy_fault_)
    else:
        body = OdooMarshaller(allow_none=False).dumps(
            xmlrpc.client.Fault(fault.xmlrpc_code, fault.fault_string()))
    return _document(body)


def legacy_fault(fault: OdooFault) -> tuple[str, str]:
    """(faultCode, faultString) of the historical `/xmlrpc/<service>` endpoint."""
    if fault.xmlrpc_code == 3:
        return "AccessDenied", fault.message
    if fault.xmlrpc_code == 4:
        return f"warning -- AccessError\n\n{fault.message}", ""
    if fault.xmlrpc_code == 2:
        kind = "MissingError" if fault.name.endswith(".MissingError") else "UserError"
        return f"warning -- {kind}\n\n{fault.message}", ""
    return fault.message, fault.fault_string()
