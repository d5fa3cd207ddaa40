"""Loading a model's stored records, from a configuration, on whichever sink it names.

``load(config, "customers")`` reads through ``make_sink(settings).records(name)``, so it works
the same on the JSON files and on a database sink. A JSON snapshot is replaced atomically, so a
file opened once is always whole; on a platform or a share where a replace can still catch a
reader half-way (it sees the file change under it and fails to parse it), the read is retried
from the start on the new file, a few times, before the error is raised.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncd.config import Settings, load_settings
from syncd.errors import CorruptFileError
from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import make_sink
from syncd.sinks.snapshot import signature

ATTEMPTS = 5

Config = str | Path | Settings


def settings_of(config: Config | None = None) -> Settings:
    """``Settings`` as given, or read from a configuration file path (None: the usual search:
    ``$SYNCD_CONFIG``, ``./syncd.toml``, the platform config dir; environment applied)."""
    if isinstance(config, Settings):
        return config
    return load_settings(str(config) if config is not None else None)


@dataclass
class Loaded:
    """The records of one model by id, and the journal ``seq`` they are at least as new as
    (None without a journal): follow from it (``follow(..., seq={name: loaded.seq})``)."""

    records: dict[int, dict[str, Any]]
    seq: int | None


def load(config: Config | None, name: str) -> dict[int, dict[str, Any]]:
    """The stored records of model ``name`` by id ({} when nothing is stored yet)."""
    return load_at(config, name).records


def load_at(config: Config | None, name: str) -> Loaded:
    """``load``, with the journal ``seq`` to resume following from. The state is read before
    the records: the records are then at least that new (the state is written last), so
    replaying the journal from that ``seq`` may repeat changes already in them, never miss one.
    """
    settings = settings_of(config)
    sink = make_sink(settings)
    try:
        state = sink.read_state()
        model = state.models.get(name)
        seq = model.journal_seq if model is not None and settings.sync.journal else None
        return Loaded(_records(settings, sink.records, name), seq)
    finally:
        sink.close()


def _records(settings: Settings, read: Any, name: str) -> dict[int, dict[str, Any]]:
    path = DataDir(settings.sync.data_dir).snapshot(name)
    for attempt in range(ATTEMPTS):
        before = signature(path) if settings.sink.kind == "json" else None
        try:
            found: Iterator[dict[str, Any]] = read(name)
            return {record["id"]: record for record in found}
        except (CorruptFileError, OSError):
            if before is None or signature(path) == before or attempt == ATTEMPTS - 1:
                raise  # not a file replaced while it was read: a real error
    raise AssertionError("unreachable")  # pragma: no cover
