"""`syncd watch`: the reference consumer. Prints one line per snapshot change as it lands.

Snapshots are replaced atomically (a rename over the old file), so a consumer reacts to
"moved to" and "created/modified" events for ``odoo_*.json`` and always reads a whole file.
"""

from __future__ import annotations

import hashlib
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import TextIO

import orjson
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from syncd.errors import SyncdError
from syncd.sinks.datadir import DataDir


def fingerprint_records(path: Path) -> dict[int, str] | None:
    """id -> digest of each record, or None when the file is missing or unreadable."""
    try:
        records = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(records, list):
        return None
    return {r["id"]: hashlib.blake2b(orjson.dumps(r, option=orjson.OPT_SORT_KEYS),
                                     digest_size=8).hexdigest()
            for r in records if isinstance(r, dict) and isinstance(r.get("id"), int)}


class SnapshotWatcher(FileSystemEventHandler):
    def __init__(self, data_dir: Path, out: TextIO) -> None:
        self.data_dir = data_dir
        self.out = out
        self.lock = threading.Lock()
        self.known: dict[str, dict[int, str]] = {}
        owner = DataDir(data_dir)
        for name in owner.snapshot_names():
            path = owner.snapshot(name)
            self.known[path.name] = fingerprint_records(path) or {}

    def on_any_event(self, event: FileSystemEvent) -> None:
        target = getattr(event, "dest_path", "") or event.src_path
        path = Path(str(target))
        if event.event_type in ("created", "modified", "moved") and DataDir.is_snapshot(path):
            self.changed(path)

    def changed(self, path: Path) -> None:
        with self.lock:
            current = fingerprint_records(path)
            if current is None:
                return
            before = self.known.get(path.name, {})
            if current == before and path.name in self.known:
                return
            self.known[path.name] = current
            added = len(current.keys() - before.keys())
            removed = len(before.keys() - current.keys())
            changed = sum(1 for k in current.keys() & before.keys() if current[k] != before[k])
            stamp = datetime.now().strftime("%H:%M:%S")
            model = DataDir.name_of(path)
            self.out.write(f"{stamp} {model}: {len(current)} records "
                           f"(+{added} added, ~{changed} changed, -{removed} removed)\n")
            self.out.flush()


def watch(data_dir: Path, *, stop: threading.Event | None = None, out: TextIO | None = None) -> int:
    """Block until `stop` is set (or SIGINT/SIGTERM), printing a line per snapshot change.

    A missing data directory is an error (SyncdError), not created: waiting on a mistyped
    ``--data-dir`` would print nothing, ever. Only ``odoo_*.json`` counts: the state, the lock,
    ``.syncd-error.json`` and set-aside files never make a line."""
    stream = out or sys.stdout
    if not data_dir.is_dir():
        raise SyncdError(f"no data directory at {data_dir} (run 'syncd once' first, or check "
                         "--data-dir / sync.data_dir / SYNCD_DATA_DIR)")
    done = stop or threading.Event()
    handler = SnapshotWatcher(data_dir, stream)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
    observer = Observer()
    observer.schedule(handler, str(data_dir), recursive=False)
    observer.start()
    stream.write(f"watching {data_dir} ({len(handler.known)} snapshot files); Ctrl+C to stop\n")
    stream.flush()
    try:
        while not done.wait(0.5):
            pass
    finally:
        observer.stop()
        observer.join(timeout=5)
    return 0
