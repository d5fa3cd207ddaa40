"""The JSON sink: one snapshot file per model and the state file, in the data directory.

A pass stages every changed snapshot (streamed into temporary files beside their targets),
then puts them in place, then writes the state file: a reader sees the previous or the new
complete file, and the state only moves once the snapshots it describes are in place. A file
whose signature is the one syncd last wrote is changed by copying its unchanged bytes; any
other (edited by hand, another layout) is read whole, validated and rewritten in syncd's layout.

With a journal (``journal = true``), each pass also appends what it changed to
``odoo_<name>.changes.jsonl`` (syncd.sinks.journal): the upserts and removals the merge actually
made (compared as bytes), or ``reset`` alone when the file was rebuilt or rewritten from a copy
syncd did not write. Commit order: the journal (fsynced), the snapshots, the state with each
model's last ``seq``.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from syncd.sinks.atomic import Staged
from syncd.sinks.base import Applied
from syncd.sinks.datadir import DataDir
from syncd.sinks.journal import Appending, Journal
from syncd.sinks.snapshot import (
    Layout,
    Rebuild,
    count_records,
    merge,
    read_records,
    record_id_of,
    signature,
    snapshot_ids,
)
from syncd.sync.changes import ChangeSet
from syncd.sync.state import ModelState, State, utc_now_text


class JournalSettings:
    """Whether and how the sink keeps change journals (``[sync] journal*``)."""

    def __init__(self, enabled: bool = False, max_bytes: int = 64 << 20, keep: int = 8) -> None:
        self.enabled = enabled
        self.max_bytes = max_bytes
        self.keep = keep


class JsonSink:
    """Snapshots ``odoo_<name>.json`` and ``last_sync.json`` in a data directory."""

    def __init__(self, data_dir: DataDir, journal: JournalSettings | None = None) -> None:
        self.data_dir = data_dir
        self.journal = journal or JournalSettings()

    def journal_of(self, name: str) -> Journal:
        return Journal(self.data_dir, name, max_bytes=self.journal.max_bytes,
                       keep=self.journal.keep)

    def _trusted(self, name: str, state: ModelState) -> bool:
        return state.snapshot_stat is not None \
            and signature(self.data_dir.snapshot(name)) == state.snapshot_stat

    # -- Stored --------------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        return self.data_dir.snapshot(name).exists()

    def changed_outside(self, name: str, state: ModelState) -> bool:
        return state.snapshot_stat is not None and not self._trusted(name, state)

    def stored_ids(self, name: str, state: ModelState) -> array[int]:
        return snapshot_ids(self.data_dir.snapshot(name), trusted=self._trusted(name, state))

    # -- Sink ----------------------------------------------------------------------------------
    def lock(self) -> AbstractContextManager[object]:
        return nullcontext()  # the data directory's own lock covers its files

    def close(self) -> None:
        pass

    def load_state(self) -> State:
        return self.data_dir.load_state()

    def read_state(self) -> State:
        return self.data_dir.read_state()

    def begin(self, at: str | None = None) -> JsonPassWriter:
        return JsonPassWriter(self, at)

    def set_aside(self, name: str) -> str | None:
        path = self.data_dir.snapshot(name)
        if not path.exists():
            return None
        return self.data_dir.set_aside(path).name

    def location(self, name: str) -> str:
        return str(self.data_dir.snapshot(name))

    def count(self, name: str, state: State) -> int | None:
        model = state.models.get(name)
        trusted = model is not None and self._trusted(name, model)
        return count_records(self.data_dir.snapshot(name), trusted=trusted)

    def records(self, name: str) -> Iterator[dict[str, Any]]:
        return read_records(self.data_dir.snapshot(name))


class JsonPassWriter:
    """Stages snapshot files; ``commit`` puts them in place, then writes the state file."""

    def __init__(self, sink: JsonSink, at: str | None) -> None:
        self.sink = sink
        self.at = at
        self.staged: dict[str, Staged] = {}
        self.written: set[str] = set()
        self.forgotten: set[str] = set()
        self.journals: dict[str, Appending] = {}

    def forget(self, name: str) -> None:
        self.forgotten.add(name)

    def write(self, change: ChangeSet) -> Applied:
        name = change.name
        path = self.sink.data_dir.snapshot(name)
        layout = Layout(change.fields)
        earlier = self.staged.pop(name, None)
        if earlier is not None:
            earlier.discard()
        self.written.discard(name)
        lines = self._journal(change)
        try:
            return self._write(change, path, layout, lines)
        except BaseException:
            if lines is not None:
                lines.rollback()
            raise

    def _journal(self, change: ChangeSet) -> Appending | None:
        """This pass's journal lines of the model, begun afresh (a retry starts over)."""
        earlier = self.journals.pop(change.name, None)
        if earlier is not None:
            earlier.rollback()
        if not self.sink.journal.enabled:
            return None
        journal = self.sink.journal_of(change.name)
        after = journal.resume(change.state.journal_seq)
        lines = journal.start(self.at or utc_now_text(), after)
        self.journals[change.name] = lines
        return lines

    def _write(self, change: ChangeSet, path: Path, layout: Layout,
               lines: Appending | None) -> Applied:
        name = change.name
        staged: Staged | None
        if change.rebuild is not None:
            rebuild = Rebuild(path)
            try:
                for record in change.rebuild:
                    record_id = record_id_of(record)
                    assert record_id is not None
                    rebuild.add(record_id, layout.line(record))
                staged = rebuild.finish()
            except BaseException:
                rebuild.discard()
                raise
            # A rebuild to the same bytes changes nothing (and the file is left alone).
            applied = Applied(changed=rebuild.records if staged is not None else 0, removed=0,
                              records=rebuild.records)
            if lines is not None and staged is not None:
                lines.reset()
        elif change.empty:
            return Applied(changed=0, removed=0, records=change.state.records)
        else:
            trusted = not change.distrusted and self.sink._trusted(name, change.state)
            merged = merge(path, layout, change.upserts, change.removals, trusted=trusted)
            staged = merged.staged
            if lines is not None and (staged is not None or change.distrusted):
                if not trusted:  # what the journal said last may not be what the file held
                    lines.reset()
                else:
                    for record_id, line in merged.lines:
                        if line is None:
                            lines.remove(record_id)
                        else:
                            lines.upsert(record_id, line)
            records = merged.records if merged.records is not None else \
                change.state.records + merged.inserted - merged.removed
            applied = Applied(changed=merged.changed, removed=merged.removed, records=records)
        if staged is not None:
            self.staged[name] = staged
        self.written.add(name)
        return applied

    def commit(self, state: State) -> None:
        """Sync the journals, replace the staged snapshots, record their signatures and each
        journal's last seq, write the state last."""
        try:
            for name in sorted(self.journals):
                self.journals[name].sync()
            for name in sorted(self.staged):
                self.staged.pop(name).commit()
        except BaseException:
            self.abort()
            raise
        for name in self.written:
            if name in state.models:
                state.models[name].snapshot_stat = signature(self.sink.data_dir.snapshot(name))
        for name, lines in self.journals.items():
            if name in state.models:
                state.models[name].journal_seq = lines.seq
        self.journals.clear()  # committed: an abort after this must not cut them
        self.sink.data_dir.stage_state(state).commit()
        for name in sorted(self.forgotten):  # after the state: a crash leaves only a file
            self.sink.data_dir.snapshot(name).unlink(missing_ok=True)

    def abort(self) -> None:
        for staged in self.staged.values():
            staged.discard()
        self.staged.clear()
        for lines in self.journals.values():
            lines.rollback()
        self.journals.clear()
