"""JSON-RPC and JSON-2 bodies as Odoo writes them (odoo/http.py, web/controllers/json2.py).

JSON-RPC errors are HTTP 200 with `{"error": {"code": 200, "message": "Odoo Server Error",
"data": {name, message, arguments, context, debug}}}`; Odoo 19 sends `code` 0. JSON-2 answers the
bare result, and errors as a 4xx/5xx status with the `data` object alone as the body.
Datetimes become "YYYY-MM-DD HH:MM:SS" strings as Odoo's `json_default` makes them; `None`
stays `null` (unlike XML-RPC).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from syncd.emulator.faults import OdooFault


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, the way the emulator sends every JSON body."""
    return json.dumps(value, default=_default, ensure_ascii=False,
                      separators=(",", ":")).encode()


def loads(data: bytes) -> Any:
    """Parse a request body; raises ValueError on invalid JSON or encoding."""
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"body is not UTF-8: {exc}") from exc


def error_data(fault: OdooFault, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The serialized exception (`odoo.http.serialize_exception`)."""
    return {
        "name": fault.name,
        "message": fault.message,
        "arguments": [fault.message],
        "context": dict(context or {}),
        "debug": fault.debug,
    }


def rpc_result(request_id: Any, result: Any) -> bytes:
    return dumps({"jsonrpc": "2.0", "id": request_id, "result": result})


def rpc_error(request_id: Any, fault: OdooFault, *, version: int) -> bytes:
    """A JSON-RPC error envelope; `code` is 200 up to Odoo 18 and 0 from 19."""
    error = {
        "code": 0 if version >= 19 else 200,
        "message": "Odoo Server Error",
        "data": error_data(fault),
    }
    return dumps({"jsonrpc": "2.0", "id": request_id, "error": error})


def json2_error(fault: OdooFault, context: dict[str, Any] | None = None,
                arguments: list[Any] | None = None) -> bytes:
    """A JSON-2 error body; the HTTP status travels separately."""
    data = error_data(fault, context)
    if arguments is not None:
        data["arguments"] = arguments
    return dumps(data)
