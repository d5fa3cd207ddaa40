"""The state of a data directory: per model, where its next pull starts and what it holds.

Every sink commits it with the data it describes (the JSON sink as ``last_sync.json``, written
last; a database sink in its own tables, in the pass's transaction). Losing it forces a full
resync: every model starts again from nothing. What is sent to Odoo comes from Odoo's own values:
the next window starts at ``settled`` (a lookback and a skew margin before the previous pass
began on Odoo's clock, see syncd.sync.window) or, without that clock, a lookback before the
newest stamp seen (``watermark``, otherwise only reported). The ``utc_now_text`` times are this
machine's clock, for people and ``status`` only.

It is serialised as compact, key-sorted JSON with ``"version": 2``: the digests of the rows in the
change window are packed (see syncd.sync.digests), so a million of them cost megabytes. A
version 1 file (indented, digests as a mapping of hex strings) is read as it is and written back
in the new layout by the next pass, without a resync. Unknown keys are ignored on load so an
older syncd can read a newer file.
``handshake`` is what the Odoo client learned when it last connected (version, protocol, uid,
lang; never a secret), so the next process can ``resume`` from it instead of logging in; a
value of any other shape is dropped, not corruption.
A file with neither ``version`` nor ``models`` (the old cron script's ``{"last_sync": ...}``)
reads as no state: no syncd pass has succeeded there yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from syncd.errors import CorruptFileError
from syncd.sync.digests import MARKS, Digests

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
VERSION = 2


def utc_now_text(now: datetime | None = None) -> str:
    """Naive UTC ``YYYY-MM-DD HH:MM:SS`` of the local clock (a naive ``now`` is taken as UTC).

    Informational only, never a watermark: the local clock may be off by hours.
    """
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TIME_FORMAT)


@dataclass
class Parent:
    """A model whose rows supply values this model shows (`_inherits`, related fields) and
    whose writes do not move our `write_date` (docs/odoo-api.md §10), so the pass watches
    theirs."""

    link: str  # our many2one to it, e.g. "partner_id"
    model: str  # e.g. "res.partner"
    fields: list[str] = field(default_factory=list)  # its fields we show, e.g. ["name"]
    seen: Digests = field(default_factory=Digests)  # mark per parent id in the window

    def copy(self) -> Parent:
        return Parent(link=self.link, model=self.model, fields=list(self.fields),
                      seen=self.seen.copy())

    def to_dict(self) -> dict[str, Any]:
        return {"link": self.link, "model": self.model, "fields": list(self.fields),
                "seen": self.seen.to_json()}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Parent:
        entry = _typed(data, dict, where)
        parent = cls(link=_typed(entry.get("link"), str, f"{where}.link"),
                     model=_typed(entry.get("model"), str, f"{where}.model"))
        parent.fields = [_typed(v, str, f"{where}.fields[]")
                         for v in _typed(entry.get("fields", []), list, f"{where}.fields")]
        parent.seen = Digests.from_json(entry.get("seen", {}), f"{where}.seen")
        return parent


@dataclass
class ModelState:
    """What syncd remembers about one configured model between passes."""

    model: str = ""
    fingerprint: str = ""
    # The language the snapshot was read in ("" unknown; None: a state from before it was kept)
    lang: str | None = None
    watermark: str | None = None
    fields: list[str] = field(default_factory=list)
    missing_fields: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)  # Odoo type of each fetched field
    records: int = 0
    recent: Digests = field(default_factory=Digests)  # marks of the rows in the change window
    marks: int = MARKS  # the scheme of ``recent`` (syncd.sync.digests; absent from a file: 1)
    last_success: str | None = None
    last_reconcile: str | None = None
    full_resync: bool = False
    snapshot_stat: str | None = None  # "size:mtime_ns" of the snapshot we last wrote or saw
    settled: str | None = None  # server time before which every committed change has been read
    parents: list[Parent] = field(default_factory=list)
    # The last committed line of the model's change journal (None: no journal written with this
    # state; the next pass continues from the journal file's own last line).
    journal_seq: int | None = None

    def copy(self) -> ModelState:
        """A deep copy: a pull works on its own copy, so a failed pass leaves the old state."""
        return replace(self, fields=list(self.fields), missing_fields=list(self.missing_fields),
                       types=dict(self.types),
                       recent=self.recent.copy(), parents=[p.copy() for p in self.parents])

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "fingerprint": self.fingerprint,
            "lang": self.lang,
            "watermark": self.watermark,
            "fields": list(self.fields),
            "missing_fields": list(self.missing_fields),
            "types": dict(sorted(self.types.items())),
            "records": self.records,
            "recent": self.recent.to_json(),
            "marks": self.marks,
            "last_success": self.last_success,
            "last_reconcile": self.last_reconcile,
            "full_resync": self.full_resync,
            "snapshot_stat": self.snapshot_stat,
            "settled": self.settled,
            "parents": [parent.to_dict() for parent in self.parents],
            "journal_seq": self.journal_seq,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> ModelState:
        """Raises ValueError with a message naming ``where`` on a wrong shape."""
        state = cls()
        for name in ("model", "fingerprint"):
            if name in data:
                setattr(state, name, _typed(data[name], str, f"{where}.{name}"))
        for name in ("lang", "watermark", "last_success", "last_reconcile", "snapshot_stat",
                     "settled"):
            if data.get(name) is not None:
                setattr(state, name, _typed(data[name], str, f"{where}.{name}"))
        for name in ("fields", "missing_fields"):
            if name in data:
                values = _typed(data[name], list, f"{where}.{name}")
                setattr(state, name, [_typed(v, str, f"{where}.{name}[]") for v in values])
        if "types" in data:
            types = _typed(data["types"], dict, f"{where}.types")
            state.types = {_typed(k, str, f"{where}.types"): _typed(v, str, f"{where}.types[{k}]")
                           for k, v in types.items()}
        if "records" in data:
            state.records = _typed(data["records"], int, f"{where}.records")
        # Marks kept before ``marks`` existed are of scheme 1.
        state.marks = _typed(data.get("marks", 1 if "recent" in data else MARKS), int,
                             f"{where}.marks")
        if data.get("journal_seq") is not None:
            state.journal_seq = _typed(data["journal_seq"], int, f"{where}.journal_seq")
        if "full_resync" in data:
            state.full_resync = _typed(data["full_resync"], bool, f"{where}.full_resync")
        if "recent" in data:
            state.recent = Digests.from_json(data["recent"], f"{where}.recent")
        state.parents = [Parent.from_dict(entry, f"{where}.parents[]")
                         for entry in _typed(data.get("parents", []), list, f"{where}.parents")]
        return state


@dataclass
class State:
    """The whole state file: the last clean pass and one ModelState per config table name."""

    last_sync: str | None = None
    models: dict[str, ModelState] = field(default_factory=dict)
    # OdooClient.handshake as of the last clean pass (plain values; syncd.odoo.handshake)
    handshake: dict[str, Any] | None = None

    @classmethod
    def load(cls, path: Path) -> State:
        """Read the state file; missing gives a fresh State (full resync of everything).

        Raises CorruptFileError naming the file if it is not valid JSON of the expected shape.
        """
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls()
        return cls.load_bytes(raw, path)

    @classmethod
    def load_bytes(cls, raw: bytes, where: Path | str) -> State:
        """The state in ``raw`` (as ``to_bytes`` makes it, or a version 1 file); CorruptFileError
        naming ``where`` on anything else."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise CorruptFileError(f"{where}: not valid JSON ({exc})") from None
        try:
            return cls._from_dict(data)
        except ValueError as exc:
            raise CorruptFileError(f"{where}: {exc}") from None

    @classmethod
    def _from_dict(cls, data: object) -> State:
        top = _typed(data, dict, "top level")
        state = cls()
        if top.get("last_sync") is not None:
            state.last_sync = _typed(top["last_sync"], str, "last_sync")
        if "version" not in top and "models" not in top:
            # Not syncd's: the cron script syncd replaces kept only {"last_sync": ...} here. Its
            # time says nothing about syncd's copies: no pass of ours has succeeded yet.
            return cls()
        if isinstance(top.get("handshake"), dict):
            state.handshake = top["handshake"]
        models = _typed(top.get("models", {}), dict, "models")
        for name, entry in models.items():
            where = f"models.{name}"
            state.models[name] = ModelState.from_dict(_typed(entry, dict, where), where)
        return state

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS) + b"\n"

    def request_resync(self, requested: list[str], names: list[str]) -> None:
        """Forget the watermarks of ``requested`` (every one of ``names`` when empty), so the
        next pass rebuilds them; names not in ``names`` are ignored."""
        for name in requested or names:
            if name in names:
                model = self.model(name)
                model.full_resync = True
                model.watermark = None

    def model(self, name: str) -> ModelState:
        """The state of config table ``name``, created empty (no watermark) if absent."""
        if name not in self.models:
            self.models[name] = ModelState()
        return self.models[name]

    def to_dict(self) -> dict[str, Any]:
        """JSON-shaped (``recent`` keys as strings), as saved and as ``status --json`` shows."""
        data: dict[str, Any] = {
            "version": VERSION,
            "last_sync": self.last_sync,
            "models": {name: m.to_dict() for name, m in sorted(self.models.items())},
        }
        if self.handshake is not None:
            data["handshake"] = self.handshake
        return data


def _typed(value: Any, kind: type, where: str) -> Any:
    # bool is an int subclass; a record count of `true` is corruption, not 1.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{where} should be {kind.__name__}, got {type(value).__name__}")
    return value
