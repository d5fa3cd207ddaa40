"""The sink a configuration names (``[sink] kind``); each kind is one module of this package."""

from __future__ import annotations

from syncd.config import Settings
from syncd.errors import ConfigError
from syncd.sinks.base import Sink
from syncd.sinks.datadir import DataDir
from syncd.sinks.jsondir import JsonSink


def make_sink(settings: Settings) -> Sink:
    """A new, unopened sink for ``settings`` (nothing is connected or created yet)."""
    data_dir = DataDir(settings.sync.data_dir)
    kind = settings.sink.kind
    if kind == "json":
        return JsonSink(data_dir)
    if kind == "sqlite":
        from syncd.sinks.sqlite import SqliteSink

        return SqliteSink(settings.sink.path or data_dir.default_database,
                          journal=settings.sync.journal)
    raise ConfigError(f"[sink].kind = {kind!r} is not available in this build")
