"""``syncd match``: the files given, then (``--watch DIR``) each new email that lands in DIR.

Which files count: ``*.eml`` in DIR (not below it); in a maildir's ``new/`` (DIR is named
``new`` and has ``cur/`` and ``tmp/`` beside it) every file not starting with ``.``, since
maildir names carry no extension. Files already there at the start are not matched.

When a file counts as arrived: renamed within DIR, or closed after writing (inotify's
close-write, Linux): at once. A file that only appears (moved in from another directory, as a
maildir delivery from ``tmp/`` does: watchdog reports that as "created") or is written where
no close is reported (other platforms) is read once no event has touched it for ``SETTLE``
seconds. A file is matched again only when its size or mtime changed.

Index freshness: before each email, and every ``refresh_every`` seconds while idle, the data
version (``syncd.consumer.matcher.data_version``: one read of the sink's state) is compared with
the one the index was built from; when a pass has changed the data since, the index is rebuilt.
A failed rebuild (the sink unreachable, a file being replaced) keeps the old index and is
retried at the next check. The whole loop runs in the calling thread: watchdog's thread only
queues paths.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any, TextIO

from loguru import logger
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from syncd.consumer.index import Index
from syncd.consumer.matcher import (
    check_models,
    data_version,
    load_index,
    match_email,
    render_json,
    render_text,
)
from syncd.errors import ConfigError, SyncdError
from syncd.settings import Settings
from syncd.sinks.factory import make_sink

SETTLE = 0.5  # seconds without an event before a file that only appeared is read
_READY = frozenset({"moved", "closed"})  # the file is complete
_MAYBE = frozenset({"created", "modified"})  # complete once it settles (never "opened":
# reading a file reports it too)


def is_maildir_new(directory: Path) -> bool:
    parent = directory.parent
    return directory.name == "new" and (parent / "cur").is_dir() and (parent / "tmp").is_dir()


class _Arrivals(FileSystemEventHandler):
    """Queues the path of each file that arrives in ``directory`` and counts as an email."""

    def __init__(self, directory: Path, queue: SimpleQueue[tuple[bool, Path] | None]) -> None:
        self.directory = directory.resolve()
        self.every_file = is_maildir_new(directory)
        self.queue = queue

    def counts(self, path: Path) -> bool:
        if path.parent.resolve() != self.directory or path.name.startswith("."):
            return False
        return self.every_file or path.suffix.lower() == ".eml"

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if event.is_directory or kind not in _READY | _MAYBE:
            return
        path = Path(str(event.dest_path if kind == "moved" else event.src_path))
        if self.counts(path):
            self.queue.put((kind in _READY, path))


class LiveIndex:
    """An index rebuilt by ``load`` whenever ``version`` (cheap) says the data moved."""

    def __init__(self, load: Callable[[], Index], version: Callable[[], object]) -> None:
        self.load = load
        self.version = version
        self.built_from = version()
        self.index = load()

    def refresh(self) -> bool:
        """Rebuild if the data changed since the last build; True when it did. A failure is
        logged and leaves the old index (retried next time)."""
        try:
            now = self.version()
            if now == self.built_from:
                return False
            index = self.load()
        except (SyncdError, OSError) as exc:
            logger.warning("matcher index not refreshed, keeping the old one: {}", exc)
            return False
        self.index, self.built_from = index, now
        logger.info("matcher index rebuilt: customers={customers} products={products}",
                    customers=len(index.customer_names), products=len(index.product_names))
        return True


def watch_inbox(directory: Path, live: LiveIndex, handle: Callable[[Path, Index], None], *,
                stop: threading.Event | None = None, refresh_every: float = 2.0,
                ready: Callable[[], None] | None = None) -> int:
    """Call ``handle(path, index)`` for each email arriving in ``directory`` until ``stop`` is
    set or SIGINT/SIGTERM comes (exit 0). ``ready`` is called once the watch is in place."""
    queue: SimpleQueue[tuple[bool, Path] | None] = SimpleQueue()
    done = stop or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        def on_signal(signum: int, frame: object) -> None:
            done.set()
            queue.put(None)  # SimpleQueue.put is safe in a signal handler (reentrant)

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    observer = Observer()
    observer.schedule(_Arrivals(directory, queue), str(directory), recursive=False)
    observer.start()
    seen: dict[Path, tuple[int, int]] = {}
    pending: dict[Path, float] = {}  # appeared, not known complete: path -> last event

    def arrived(path: Path) -> None:
        pending.pop(path, None)
        try:
            status = path.stat()
        except FileNotFoundError:
            return  # gone again (a mail client moved it on): nothing to match
        stamp = (status.st_size, status.st_mtime_ns)
        if seen.get(path) != stamp:
            seen[path] = stamp
            live.refresh()
            handle(path, live.index)

    try:
        if ready is not None:
            ready()
        while not done.is_set():
            now = time.monotonic()
            for path in [p for p, at in pending.items() if now - at >= SETTLE]:
                arrived(path)
            wait = min([refresh_every] + [at + SETTLE - now for at in pending.values()])
            try:
                item = queue.get(timeout=max(wait, 0.01))
            except Empty:
                if not pending:
                    live.refresh()
                continue
            if item is not None:
                complete, path = item
                if complete:
                    arrived(path)
                else:
                    pending[path] = time.monotonic()
    finally:
        observer.stop()
        observer.join(timeout=5)
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0


def run_match(settings: Settings, files: list[str], *, watch: Path | None = None,
              as_json: bool = False, customers: str = "customers", products: str = "products",
              out: TextIO | None = None, err: TextIO | None = None,
              stop: threading.Event | None = None) -> int:
    """``syncd match``: one result per file, in the order given, then (``watch``) one per email
    arriving in that directory. Exit 0 when every file was read, 1 when one could not be (an
    error line for it; the others are still matched); ConfigError (exit 2) for usage."""
    stdout, stderr = out or sys.stdout, err or sys.stderr
    if not files and watch is None:
        raise ConfigError("match needs FILE.eml arguments or --watch DIR")
    if watch is not None and not watch.is_dir():
        raise ConfigError(f"--watch: no directory at {watch}")
    check_models(settings, customers, products)

    def emit(path: str, raw: bytes, index: Index) -> None:
        match = match_email(raw, index, label=path)
        stdout.write(render_json(match) if as_json else render_text(match))
        stdout.flush()

    def read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except OSError as exc:
            stderr.write(f"syncd: error: cannot read {path}: {exc.strerror or exc}\n")
            stderr.flush()
            return None

    with closing(make_sink(settings)) as sink:
        names = (customers, products)
        live = LiveIndex(lambda: load_index(sink, *names), lambda: data_version(sink, names))
        failed = False
        for name in files:
            raw = read(Path(name))
            failed = failed or raw is None
            if raw is not None:
                emit(name, raw, live.index)
        if watch is not None:
            def handle(path: Path, index: Index) -> None:
                raw = read(path)
                if raw is not None:
                    emit(str(path), raw, index)

            def ready() -> None:
                stderr.write(f"watching {watch} for new emails ({len(live.index.customer_names)}"
                             f" customers, {len(live.index.product_names)} products); "
                             "Ctrl+C to stop\n")
                stderr.flush()

            watch_inbox(watch, live, handle, stop=stop, ready=ready)
    return 1 if failed else 0
