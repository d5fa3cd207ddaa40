"""Loading a model's stored records, from a configuration, on whichever sink it names.

``load(config, "customers")`` reads the sink's canonical lines (``Reader.lines``) and decodes
each once, so it works the same on the JSON files and on a database sink. Every sink hands out
one committed pass; where a replace can still catch a reader half-way (a platform or a share
on which a JSON file seen changing under it fails to parse), the read is retried from the
start when the sink's stamp moved meanwhile, a few times, before the error is raised.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from loguru import logger

from syncd.config import load_settings
from syncd.errors import CorruptFileError, SinkError
from syncd.settings import Settings
from syncd.sinks.factory import opened
from syncd.sync.seam import Reader

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
    (None without a journal): follow from it (``follow(..., seq={name: loaded.seq})``).
    Unpacks as a pair: ``records, seq = load_at(config, name)``."""

    records: dict[int, dict[str, Any]]
    seq: int | None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.records, self.seq))


def load(config: Config | None, name: str) -> dict[int, dict[str, Any]]:
    """The stored records of model ``name`` by id ({} when nothing is stored yet)."""
    return load_at(config, name).records


def load_at(config: Config | None, name: str) -> Loaded:
    """``load``, with the journal ``seq`` to resume following from (on every sink with
    ``[sync] journal = true``). The model's head is read before its records: the records are
    then at least that new, so replaying the journal from that ``seq`` may repeat a change
    already in them, never miss one."""
    settings = settings_of(config)
    if name not in {spec.name for spec in settings.models}:
        # A [models.X] table replaces the default models: what a pass no longer syncs stops
        # changing, silently for a reader but for this.
        logger.warning("model {model} is not in the configuration's [models.*] tables: no "
                       "pass updates its stored copy (list it under [models.{model}] to keep "
                       "it current)", model=name)
    with opened(settings) as sink:
        return read_at(sink, name)


def read_at(reader: Reader, name: str) -> Loaded:
    """``load_at`` on an open sink."""
    for attempt in range(ATTEMPTS):
        before = reader.stamp()
        head = reader.heads().get(name)
        try:
            records = records_of(reader, name)
        except (CorruptFileError, SinkError, OSError):
            if reader.stamp() == before or attempt == ATTEMPTS - 1:
                raise  # not a copy replaced while it was read: a real error
            continue
        return Loaded(records, head.seq if head is not None else None)
    raise AssertionError("unreachable")  # pragma: no cover


def records_of(reader: Reader, name: str) -> dict[int, dict[str, Any]]:
    """The stored records of ``name`` by id, each line decoded once."""
    return {record["id"]: record for record in records(reader, name)}


def records(reader: Reader, name: str) -> Iterator[dict[str, Any]]:
    """The stored records of ``name`` in id order, decoded one at a time."""
    for record_id, line in reader.lines(name):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise CorruptFileError(f"{reader.location(name)}: id {record_id}: the record is "
                                   f"not JSON ({exc})") from None
        if not isinstance(record, dict):
            raise CorruptFileError(f"{reader.location(name)}: id {record_id}: the record is "
                                   "not a JSON object")
        yield record
