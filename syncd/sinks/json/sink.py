"""The JSON sink: one snapshot file per model and the state file, in the data directory.

A pass stages every changed snapshot (streamed into temporary files beside their targets),
then puts them in place, then writes the state file: a reader sees the previous or the new
complete file, and the state only moves once the snapshots it describes are in place. A failure
before the state is in place (a full disk at the second replace) puts back every snapshot
already replaced (``atomic.Replacing``) and cuts the journals: a failed pass changes nothing. A file
whose signature is the one syncd last wrote is changed by copying its unchanged bytes; any
other (edited by hand, another layout) is read whole, validated and rewritten in syncd's layout.

With a journal (``journal = true``), each pass also appends what it changed to
``odoo_<name>.changes.jsonl`` (syncd.sinks.json.journal): the upserts and removals the merge actually
made (compared as bytes), or ``reset`` alone when the file was rebuilt or rewritten from a copy
syncd did not write, or when the journal starts again after passes that kept none. Commit order:
the journal (fsynced), the snapshots, the state with each model's last ``seq`` (None for every
model while the journal is off).

Reading: the state file is the commit point, so its signature is the ``stamp``, and a watcher
on the data directory wakes ``wait`` when it is replaced.
"""

from __future__ import annotations

import os
import threading
from array import array
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from syncd.errors import CorruptFileError, SinkError
from syncd.sinks.atomic import Replacing, Staged
from syncd.sinks.datadir import DataDir
from syncd.sinks.json.journal import Appending, Journal, JournalReader
from syncd.sinks.json.snapshot import (Rebuild, count_records, merge, record_lines, signature,
                                       snapshot_ids)
from syncd.sinks.json.snapshot_read import Difference
from syncd.sinks.record import Layout, record_id_of
from syncd.sync.changes import ChangeSet
from syncd.sync.seam import Applied, Entry, Head
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
        self._readers: dict[str, JournalReader] = {}
        self._seen: tuple[Hashable, State] | None = None  # the state as of a stamp
        self._observer: Any = None
        self._events = ""
        self._fired = threading.Event()
        self._target: threading.Event | None = None

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
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            if observer is not threading.current_thread():
                observer.join(timeout=5)

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

    def where(self) -> str:
        return str(self.data_dir.path)

    def location(self, name: str) -> str:
        return str(self.data_dir.snapshot(name))

    def count(self, name: str, state: State) -> int | None:
        model = state.models.get(name)
        trusted = model is not None and self._trusted(name, model)
        return count_records(self.data_dir.snapshot(name), trusted=trusted)

    # -- Reader --------------------------------------------------------------------------------
    def stamp(self) -> Hashable:
        """The state file's signature (inode, size, times): it is replaced by every commit.
        SinkError when the data directory does not exist."""
        try:
            st = os.stat(self.data_dir.state_file)
        except FileNotFoundError:
            if not self.data_dir.path.is_dir():
                raise SinkError(f"no data directory at {self.data_dir.path} (run 'syncd once' "
                                "first, or check --data-dir / sync.data_dir / SYNCD_DATA_DIR)")
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _state_at(self) -> State:
        """The committed state, read again only when its stamp moved."""
        stamp = self.stamp()
        if self._seen is None or self._seen[0] != stamp:
            self._seen = (stamp, self.data_dir.read_state())
        return self._seen[1]

    def heads(self) -> dict[str, Head]:
        """Each model of the state whose snapshot exists; its version is the snapshot file's
        signature (a pass that rewrites it replaces it)."""
        heads = {}
        for name, model in self._state_at().models.items():
            version = signature(self.data_dir.snapshot(name))
            if version is not None:
                heads[name] = Head(model.journal_seq, version)
        return heads

    def lines(self, name: str) -> Iterator[tuple[int, bytes]]:
        # The layout only matters for a file syncd did not write (it is re-encoded in it).
        try:
            model = self._state_at().models.get(name)
        except (SinkError, CorruptFileError):
            model = None
        return record_lines(self.data_dir.snapshot(name), Layout(model.fields if model else ()))

    def changes(self, name: str, after: int, upto: int) -> Iterator[Entry]:
        reader = self._readers.get(name)
        if reader is None:
            reader = self._readers[name] = JournalReader(self.data_dir, name)
        return reader.entries(after, upto)

    def wait(self, timeout: float, wake: threading.Event, *, events: str = "native") -> bool:
        """Woken when the state file is replaced (watchdog: ``native`` inotify and the like,
        ``polling`` for network shares, ``none``: only the timeout)."""
        if events != "none" and self._observer is None and self.data_dir.path.is_dir():
            self._watch(events)
        self._target = wake
        try:
            if self._fired.is_set():
                wake.set()
            wake.wait(timeout)
        finally:
            self._target = None
        fired = self._fired.is_set()
        self._fired.clear()
        return fired

    def _watch(self, events: str) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        sink, state_file = self, self.data_dir.state_file.name

        class Wake(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type not in ("moved", "created", "closed", "deleted"):
                    return  # opened, closed_no_write, modified: a reader's, or half-way
                target = Path(str(getattr(event, "dest_path", "") or event.src_path))
                if target.name == state_file:
                    sink._fired.set()
                    waiting = sink._target
                    if waiting is not None:
                        waiting.set()

        observer: Any = PollingObserver(timeout=0.1) if events == "polling" else Observer()
        observer.schedule(Wake(), str(self.data_dir.path), recursive=False)
        observer.start()
        self._observer = observer


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
        """This pass's journal lines of the model, begun afresh (a retry starts over). A journal
        that starts again after passes that kept none begins with ``reset``, alone: what changed
        meanwhile is not in it, so a reader that resumes from an older ``seq`` must reload."""
        earlier = self.journals.pop(change.name, None)
        if earlier is not None:
            earlier.rollback()
        if not self.sink.journal.enabled:
            return None
        journal = self.sink.journal_of(change.name)
        after = journal.resume(change.state.journal_seq)
        lines = journal.start(self.at or utc_now_text(), after)
        self.journals[change.name] = lines
        if change.state.journal_seq is None and self.sink.exists(change.name):
            lines.reset()
        return lines

    def _write(self, change: ChangeSet, path: Path, layout: Layout,
               lines: Appending | None) -> Applied:
        name = change.name
        staged: Staged | None
        if change.rebuild is not None:
            rebuild = Rebuild(path)
            before = Difference(path, layout)
            try:
                compare, add = before.add, rebuild.add
                for record, encoded in change.rebuild:
                    record_id = record_id_of(record)
                    assert record_id is not None
                    compare(record_id, encoded)
                    add(record_id, encoded)
                staged = rebuild.finish()
            except BaseException:
                before.close()
                rebuild.discard()
                raise
            # Counted against the previous copy: a rebuild to the same bytes changes nothing
            # (and the file is left alone).
            changed, removed = before.finish()
            if staged is None:
                changed = removed = 0
            applied = Applied(changed=changed, removed=removed, records=rebuild.records)
            if lines is not None and staged is not None and lines.seq == lines.after:
                lines.reset()
        elif change.empty:
            return Applied(changed=0, removed=0, records=change.state.records)
        else:
            trusted = not change.distrusted and self.sink._trusted(name, change.state)
            # The journal takes the merge's changes as it makes them (a change set may be the
            # whole table: nothing of it is gathered in memory).
            told = _journal_changes(lines) \
                if lines is not None and lines.seq == lines.after and trusted else None
            merged = merge(path, layout, change.upserts, change.removals, trusted=trusted,
                           changes=told)
            staged = merged.staged
            if lines is not None and told is None and lines.seq == lines.after \
                    and not trusted and (staged is not None or change.distrusted):
                lines.reset()  # what the journal said last may not be what the file held
            records = merged.records if merged.records is not None else \
                change.state.records + merged.inserted - merged.removed
            applied = Applied(changed=merged.changed, removed=merged.removed, records=records)
        if staged is not None:
            self.staged[name] = staged
        self.written.add(name)
        return applied

    def commit(self, state: State) -> None:
        """Sync the journals, replace the staged snapshots, record their signatures and each
        journal's last seq, write the state last. A failure on the way puts every snapshot
        already replaced back and cuts the journals: a failed pass changes nothing."""
        replacing = Replacing()  # a failure before the state is in place puts every file back
        try:
            for name in sorted(self.journals):
                self.journals[name].sync()
            for name in sorted(self.staged):
                replacing.replace(self.staged.pop(name))
            for name in self.written:
                if name in state.models:
                    state.models[name].snapshot_stat = \
                        signature(self.sink.data_dir.snapshot(name))
            for name, model in state.models.items():
                lines = self.journals.get(name)
                model.journal_seq = lines.seq if lines is not None else \
                    (model.journal_seq if self.sink.journal.enabled else None)
            self.sink.data_dir.stage_state(state).commit()
        except BaseException:
            replacing.restore()
            self.abort()
            raise
        self.journals.clear()  # committed: nothing after this may cut them
        replacing.drop()
        for name in sorted(self.forgotten):  # after the state: a crash leaves only a file
            self.sink.data_dir.snapshot(name).unlink(missing_ok=True)

    def abort(self) -> None:
        for staged in self.staged.values():
            staged.discard()
        self.staged.clear()
        for lines in self.journals.values():
            lines.rollback()
        self.journals.clear()


def _journal_changes(lines: Appending) -> Callable[[int, bytes | None], None]:
    """What a merge tells the journal: an upsert with its line, or a removal (None)."""
    def told(record_id: int, line: bytes | None) -> None:
        if line is None:
            lines.remove(record_id)
        else:
            lines.upsert(record_id, line)
    return told
