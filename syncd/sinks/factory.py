"""The sink a configuration names (``[sink] kind``); each kind is one module of this package."""

from __future__ import annotations

import sys

from collections.abc import Iterator
from contextlib import contextmanager

from syncd.errors import ConfigError
from syncd.settings import Settings
from syncd.sinks.datadir import DataDir
from syncd.sinks.json.sink import JournalSettings, JsonSink
from syncd.sync.seam import Sink


def make_sink(settings: Settings) -> Sink:
    """A new, unopened sink for ``settings`` (nothing is connected or created yet)."""
    data_dir = DataDir(settings.sync.data_dir)
    kind = settings.sink.kind
    if kind == "json":
        sync = settings.sync
        return JsonSink(data_dir, JournalSettings(sync.journal, sync.journal_max_bytes,
                                                  sync.journal_keep))
    if kind == "postgres":
        try:
            import psycopg  # noqa: F401  (the optional extra syncd[postgres])
        except ImportError:
            # syncd is installed from its clone, not from a package index: name the extra there,
            # and the package itself for this very interpreter.
            raise ConfigError('[sink].kind = "postgres" needs psycopg, not installed: in the '
                              "clone, .venv/bin/pip install -e '.[postgres]' (or "
                              f"{sys.executable} -m pip install 'psycopg[binary]')") from None
        from syncd.sinks.postgres.sink import PostgresSink

        return PostgresSink(settings.sink, journal=settings.sync.journal)
    if kind == "sqlite":
        from syncd.sinks.sqlite.sink import SqliteSink

        return SqliteSink(settings.sink.path or data_dir.default_database,
                          journal=settings.sync.journal)
    raise ConfigError(f"[sink].kind = {kind!r} is not available in this build")


@contextmanager
def opened(settings: Settings) -> Iterator[Sink]:
    """The sink for ``settings``, closed on the way out (no lock taken: a writer also takes the
    data directory's lock and ``Sink.lock``, as ``syncd.service.runner.writing`` does)."""
    sink = make_sink(settings)
    try:
        yield sink
    finally:
        sink.close()
