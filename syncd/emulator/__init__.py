"""An Odoo emulator for tests and demos: an in-memory ORM served over real HTTP.

It speaks XML-RPC, JSON-RPC and (on 19+) JSON-2 the way Odoo 16-19 do, and can inject faults
(latency, 5xx, 429, dropped or truncated responses, malformed bodies, proxy HTML pages).

The names below are imported lazily, so importing one submodule (say `syncd.emulator.clock`)
does not pull in the HTTP server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syncd.emulator.clock import Clock
    from syncd.emulator.faults import OdooFault
    from syncd.emulator.server import Emulator
    from syncd.emulator.store import Database

__all__ = ["Clock", "Database", "Emulator", "OdooFault"]

_HOMES = {"Clock": "clock", "Database": "store", "Emulator": "server", "OdooFault": "faults"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
