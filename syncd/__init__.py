"""syncd: keeps local copies of Odoo models current, without ever missing a change.

The library API (imported lazily, so ``import syncd`` stays cheap for the command line)::

    from syncd import load_settings, sync_once
    report = sync_once(load_settings("syncd.toml"))

The reading side is ``syncd.consumer`` (``load``, ``follow``), also reachable as
``syncd.consumer`` after ``import syncd``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from syncd.version import __version__

if TYPE_CHECKING:
    from syncd import consumer
    from syncd.config import load_settings
    from syncd.errors import ConfigError, OdooError, SyncdError
    from syncd.odoo import OdooClient
    from syncd.service.runner import run_daemon, sync_once
    from syncd.settings import ModelSpec, Settings
    from syncd.sync.engine import run_pass
    from syncd.sync.report import ModelReport, PassReport

_EXPORTS = {
    "ModelSpec": "syncd.settings", "Settings": "syncd.settings", "load_settings": "syncd.config",
    "ConfigError": "syncd.errors", "OdooError": "syncd.errors", "SyncdError": "syncd.errors",
    "OdooClient": "syncd.odoo", "run_daemon": "syncd.service.runner", "sync_once": "syncd.service.runner",
    "ModelReport": "syncd.sync.report", "PassReport": "syncd.sync.report",
    "run_pass": "syncd.sync.engine",
}
__all__ = ["ConfigError", "ModelReport", "ModelSpec", "OdooClient", "OdooError", "PassReport",
           "Settings", "SyncdError", "__version__", "consumer", "load_settings", "run_daemon",
           "run_pass", "sync_once"]


def __getattr__(name: str) -> Any:
    if name == "consumer":
        return importlib.import_module("syncd.consumer")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'syncd' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
