"""Concurrency inside one pass (``[sync] workers`` > 1): the threads, what they may ask the sink,
and a rebuild's id range read in slices over several connections at once.

Workers only fetch. Everything that touches the sink (its writer, and the ``Stored`` questions a
pull asks) stays on the pass's own thread: a SQLite connection belongs to the thread that opened
it, and a PostgreSQL pass is one transaction on one connection. A pull running in a worker asks
through an ``Inbox`` that the pass's thread answers while it waits for that pull.

``Fleet``: every thread of a pass is started through it and joined by ``close`` (the daemon runs
for months: no thread may outlive its pass). A failing pass first aborts the client
(``OdooClient.abort``: requests in progress are cut, none starts), then closes the fleet.

``sliced_pages``: a rebuild's pages, in ascending id order, as one keyset scan would give them,
read by up to ``workers`` threads at once (see its docstring).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from syncd.errors import PassInterrupted
from syncd.odoo import OdooClient
from syncd.odoo.interrupt import waiting
from syncd.sync import keyset
from syncd.sync.keyset import PageSize
from syncd.sync.seam import Stored
from syncd.sync.state import ModelState

T = TypeVar("T")
Page = list[dict[str, Any]]
SLICES_PER_WORKER = 4  # more slices than workers: a dense slice does not hold the others up


def _abandoned() -> PassInterrupted:
    return PassInterrupted("abandoned: another part of the pass failed or stopped; nothing of "
                           "it was committed")


class Fleet:
    """The worker threads of one pass: started by ``start``, all stopped and joined by
    ``close``. ``workers``: requests at once at most (the client's ``connections``)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.cancelled = threading.Event()
        self._threads: list[threading.Thread] = []
        self._closers: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def start(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"syncd-{name}", daemon=True)
        with self._lock:
            if self.cancelled.is_set():
                raise _abandoned()
            self._threads.append(thread)
        thread.start()

    @property
    def started(self) -> bool:
        """Whether any thread was started (and so may still be at work)."""
        with self._lock:
            return bool(self._threads)

    def on_close(self, closer: Callable[[], None]) -> None:
        """``closer`` runs at ``close``, before the threads are joined (it wakes what they may
        be waiting for)."""
        with self._lock:
            self._closers.append(closer)

    def close(self) -> None:
        """Stop every thread and wait for each to end. Call ``OdooClient.abort`` first when the
        pass failed, so that none waits for an answer."""
        with self._lock:
            self.cancelled.set()
            closers, threads = list(self._closers), list(self._threads)
        for closer in closers:
            closer()
        for thread in threads:
            thread.join()
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]


@dataclass
class _Question:
    ask: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class Inbox:
    """Questions from worker threads answered on the pass's own thread (``serve``). Closing it
    answers every pending and later question with PassInterrupted."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._pending: deque[_Question] = deque()
        self._closed = False

    def ask(self, question: Callable[[], T]) -> T:
        """From a worker: ``question()`` run on the serving thread; its value or its error."""
        item = _Question(question)
        with self._lock:
            if self._closed:
                raise _abandoned()
            self._pending.append(item)
            self._lock.notify_all()
        item.done.wait()
        if item.error is not None:
            raise item.error
        value: T = item.value
        return value

    def serve(self, until: threading.Event) -> None:
        """On the pass's thread: answer questions until ``until`` is set (its setter calls
        ``wake``). A stop (signal) may abandon the wait."""
        while True:
            with self._lock:
                while not self._pending and not until.is_set():
                    with waiting():
                        self._lock.wait()
                if not self._pending:
                    return
                item = self._pending.popleft()
            try:
                item.value = item.ask()
            except BaseException as exc:  # noqa: BLE001 - handed to the thread that asked
                item.error = exc
            item.done.set()

    def wake(self) -> None:
        with self._lock:
            self._lock.notify_all()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pending, self._pending = self._pending, deque()
            self._lock.notify_all()
        for item in pending:
            item.error = _abandoned()
            item.done.set()


class StoredFromWorker:
    """``Stored`` for a pull running in a worker: ``exists`` as answered when the pass began
    (before any model was written: only this pull's own model could change it), the rest asked
    of the pass's thread."""

    def __init__(self, stored: Stored, inbox: Inbox, exists: dict[str, bool]) -> None:
        self._stored = stored
        self._inbox = inbox
        self._exists = exists

    def exists(self, name: str) -> bool:
        if name in self._exists:
            return self._exists[name]
        return self._inbox.ask(lambda: self._stored.exists(name))

    def changed_outside(self, name: str, state: ModelState) -> bool:
        return self._inbox.ask(lambda: self._stored.changed_outside(name, state))

    def stored_ids(self, name: str, state: ModelState) -> Any:
        return self._inbox.ask(lambda: self._stored.stored_ids(name, state))


# -- a rebuild in slices ---------------------------------------------------------------------------
def sliced_pages(client: OdooClient, model: str, domain: list[Any], fields: list[str], *,
                 context: dict[str, Any], page_size: int, check_stop: Callable[[], None],
                 fleet: Fleet) -> Iterator[Page]:
    """Every row matching ``domain``, in pages of ascending ids, as ``keyset.pages`` gives them.

    The first page is read alone: a model that fits in it costs that one request, as without
    workers. After a full first page, one more request finds the highest id, and the ids between
    are cut into slices of about equal expected pages (the first page's density tells how many
    ids a page spans), at most ``SLICES_PER_WORKER`` per worker; the last slice is open above,
    so rows added meanwhile past the highest id are read as a single scan would read them.
    Slices are read by keyset paging (``id > cursor AND id <= end``), each by one of the
    fleet's ``workers`` threads, which take them in id order; pages are handed over in id
    order. At most ``workers + 1`` pages are held ahead of the consumer (read, or being read); a
    thread whose slice is not the one being consumed waits for room, the one being consumed
    never waits for room when the consumer has nothing of it."""
    sizer = PageSize(page_size)
    scan = keyset.pages(client, model, domain, fields, context=context, page_size=sizer,
                        check_stop=check_stop)
    first = next(scan, None)
    if first is None:
        return
    yield first
    if len(first) < sizer.asked:
        return  # the whole model was one page
    start = first[-1]["id"]
    top = keyset.last_id(client, model, domain, context=context)
    bounds = plan_slices(first[0]["id"], start, len(first), top, sizer.size, fleet.workers)
    if len(bounds) < 2:
        yield from keyset.pages(client, model, domain, fields, context=context,
                                page_size=sizer, check_stop=check_stop, start=start)
        return

    def read(lo: int, hi: int | None) -> Iterator[Page]:
        return keyset.pages(client, model, domain, fields, context=context, page_size=sizer,
                            check_stop=check_stop, start=lo, upper=hi)

    slices = _Slices(bounds, read, fleet, model)
    try:
        yield from slices.pages(check_stop)
    finally:
        slices.cancel()


def plan_slices(first_id: int, start: int, rows: int, top: int | None, page: int,
                workers: int) -> list[tuple[int, int | None]]:
    """Slices ``(lo, hi]`` of the ids after ``start`` up to ``top``, the last one open above
    (hi None). A first page of ``rows`` rows spanning ids ``first_id..start`` tells how many
    ids a page of ``page`` rows spans; a slice spans a whole number of such pages (so that its
    last page ends at its bound, with no request to learn it is done, when ids are dense).
    Fewer than two slices: read the rest as one scan."""
    if top is None or top <= start or rows <= 0:
        return []
    ids_per_page = max(1.0, (start - first_id + 1) * page / rows)
    expected = (top - start) / ids_per_page  # pages left
    count = min(SLICES_PER_WORKER * workers, math.ceil(expected))
    if count < 2:
        return []
    span = max(1, round(math.ceil(expected / count) * ids_per_page))
    bounds: list[tuple[int, int | None]] = []
    lo = start
    while lo + span < top:
        bounds.append((lo, lo + span))
        lo += span
    bounds.append((lo, None))
    return bounds


@dataclass
class _Slice:
    lo: int
    hi: int | None
    pages: deque[Page] = field(default_factory=deque)
    reading: bool = False  # a page of it is being read
    done: bool = False


class _Slices:
    """The slices of one rebuild, their readers and the consumer's order (see sliced_pages)."""

    def __init__(self, bounds: list[tuple[int, int | None]],
                 read: Callable[[int, int | None], Iterator[Page]], fleet: Fleet,
                 model: str) -> None:
        self.slices = [_Slice(lo, hi) for lo, hi in bounds]
        self.read = read
        # pages held ahead of the consumer, being read included: one more at most for the slice
        # being consumed when it has nothing (workers + 1 in all)
        self.limit = fleet.workers
        self.held = 0
        self.head = 0  # the slice being consumed
        self.claimed = 0  # slices handed to readers so far (in id order)
        self.error: BaseException | None = None
        self.cancelled = False
        self.changed = threading.Condition()
        self.fleet = fleet
        fleet.on_close(self.cancel)
        for number in range(min(fleet.workers, len(self.slices))):
            fleet.start(f"slice-{model}-{number}", self._reader)

    def pages(self, check_stop: Callable[[], None]) -> Iterator[Page]:
        """The pages in id order (on the consumer's thread)."""
        while True:
            check_stop()
            with self.changed:
                while True:
                    if self.error is not None:
                        raise self.error
                    if self.cancelled:
                        raise _abandoned()
                    if self.head >= len(self.slices):
                        return
                    current = self.slices[self.head]
                    if current.pages:
                        page = current.pages.popleft()
                        self.held -= 1
                        self.changed.notify_all()
                        break
                    if current.done:
                        self.head += 1
                        self.changed.notify_all()
                        continue
                    with waiting():  # a stop may abandon it
                        self.changed.wait()
            yield page

    def cancel(self) -> None:
        with self.changed:
            self.cancelled = True
            self.changed.notify_all()

    def _room(self, index: int) -> bool:
        if self.held < self.limit:
            return True
        current = self.slices[index]
        return index == self.head and not current.pages and not current.reading

    def _reader(self) -> None:
        try:
            while True:
                with self.changed:
                    if self.cancelled or self.error is not None \
                            or self.claimed >= len(self.slices):
                        return
                    index = self.claimed
                    self.claimed += 1
                part = self.slices[index]
                scan = self.read(part.lo, part.hi)
                while True:
                    with self.changed:
                        while not self.cancelled and self.error is None and not self._room(index):
                            self.changed.wait()
                        if self.cancelled or self.error is not None:
                            return
                        self.held += 1
                        part.reading = True
                    page = next(scan, None)
                    with self.changed:
                        part.reading = False
                        if page is None:
                            self.held -= 1
                            part.done = True
                        else:
                            part.pages.append(page)
                        self.changed.notify_all()
                    if page is None:
                        break
        except BaseException as exc:  # noqa: BLE001 - the consumer raises it
            with self.changed:
                if self.error is None and not self.cancelled:
                    self.error = exc
                self.changed.notify_all()
