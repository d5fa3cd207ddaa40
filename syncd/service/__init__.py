"""Running syncd: the daemon loop, the data-directory lock, systemd notifications, logging,
progress, ``status``/``check`` and the demo. Public face: ``sync_once`` and ``run_daemon``.

Exported lazily: the pass (``syncd.sync.engine``) imports ``syncd.sinks.lock``, and an eager
import of the runner here would import the half-initialised engine back (an import cycle that
broke ``import syncd.sync`` in a fresh interpreter)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syncd.service.runner import run_daemon, sync_once

__all__ = ["run_daemon", "sync_once"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'syncd.service' has no attribute {name!r}")
    return getattr(importlib.import_module("syncd.service.runner"), name)
