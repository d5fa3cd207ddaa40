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

import threading
from array import array
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

    def stored_ids(self, name: str, state: ModelState) -> array[int]:
        return self._inbox.ask(lambda: self._stored.stored_ids(name, state))


# -- a rebuild in slices ---------------------------------------------------------------------------
def sliced_pages(client: OdooClient, model: str, domain: list[Any], fields: list[str], *,
                 context: dict[str, Any], page_size: int, check_stop: Callable[[], None],
                 fleet: Fleet) -> Iterator[Page]:
    """Every row matching ``domain``, in pages of ascending ids, as ``keyset.pages`` gives them.

    The first page is read alone: a model that fits in it costs that one request, as without
    workers. After a full first page, one more request finds the highest id, and the ids after
    the first page are handed out in slices ``id > lo AND id <= hi`` of about one page of rows
    each (``_Frontier``: the first page's density, then what each slice's first page shows, so a
    gap is crossed in a few empty slices and a dense stretch gets narrow ones); past the highest
    id, one last slice open above, so rows added meanwhile past it are read as a single scan
    would read them. Each slice is read by keyset paging (the same checks) by one of the fleet's
    ``workers`` threads, which take the slices in id order; the pages are handed over in id
    order. At most ``workers`` pages are held ahead of the consumer (read or being read), and one
    more for the slice being consumed when the consumer has nothing of it: a thread waits for
    room, the one reading the lowest slice first."""
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
    span = (start - first[0]["id"] + 1) * sizer.size // len(first)  # ids a page spans
    frontier = _Frontier(start, top if top is not None else start, span)

    def read(lo: int, hi: int | None) -> Iterator[Page]:
        return keyset.pages(client, model, domain, fields, context=context, page_size=sizer,
                            check_stop=check_stop, start=lo, upper=hi)

    slices = _Slices(frontier, read, lambda: sizer.size, fleet, model)
    try:
        yield from slices.pages(check_stop)
    finally:
        slices.cancel()


class _Frontier:
    """The ids not yet handed to a reader: the next slice begins at ``start`` and spans ``span``
    ids, learnt from the pages read (about one page of rows a slice). Once a slice would reach
    ``top`` (the highest id when the rebuild began), the last one is open above."""

    def __init__(self, start: int, top: int, span: int) -> None:
        self.start = start
        self.top = top
        self.span = max(1, span)
        self.exhausted = False  # the open slice was handed out: nothing after it

    def next(self) -> tuple[int, int | None] | None:
        if self.exhausted:
            return None
        lo = self.start
        if lo + self.span >= self.top:
            self.exhausted = True
            return lo, None
        self.start = lo + self.span
        return lo, self.start

    def learn(self, lo: int, hi: int | None, rows: int, limit: int, last: int | None) -> None:
        """A slice's first page came: ``rows`` rows (a page holds ``limit``), the last ``last``.
        A full page that ended before the slice's end: a page spans fewer ids than a slice, so
        slices narrow to what it spanned; an empty slice (a gap): four times wider; else as
        wide as one page of rows at the density seen (at most four times wider)."""
        if hi is None:
            return
        span = hi - lo
        if rows >= limit and last is not None and last < hi:
            self.span = max(1, last - lo)
        elif rows == 0:
            self.span = span * 4
        else:
            self.span = min(span * 4, max(1, span * limit // rows))


@dataclass
class _Slice:
    lo: int
    hi: int | None
    pages: deque[Page] = field(default_factory=deque)
    reading: bool = False  # a page of it is being read
    done: bool = False


class _Slices:
    """The slices of one rebuild, their readers and the consumer's order (see sliced_pages)."""

    def __init__(self, frontier: _Frontier, read: Callable[[int, int | None], Iterator[Page]],
                 page_limit: Callable[[], int], fleet: Fleet, model: str) -> None:
        self.frontier = frontier
        self.slices: list[_Slice] = []
        self.read = read
        self.page_limit = page_limit
        self.limit = fleet.workers  # pages held ahead of the consumer, being read included
        self.held = 0
        self.head = 0  # the slice being consumed
        self.waiting: set[int] = set()  # slices whose readers wait for room
        self.error: BaseException | None = None
        self.cancelled = False
        self.changed = threading.Condition()
        fleet.on_close(self.cancel)
        for number in range(fleet.workers):
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
                        if self.frontier.exhausted:
                            return
                    else:
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
        current = self.slices[index]
        if index == self.head and not current.pages and not current.reading:
            return True  # the consumer waits for this very slice
        return self.held < self.limit and index == min(self.waiting)

    def _stopped(self) -> bool:
        return self.cancelled or self.error is not None

    def _reader(self) -> None:
        try:
            while True:
                with self.changed:
                    bounds = None if self._stopped() else self.frontier.next()
                    if bounds is None:
                        self.changed.notify_all()  # the consumer may be waiting for the end
                        return
                    index = len(self.slices)
                    part = _Slice(*bounds)
                    self.slices.append(part)
                scan = self.read(part.lo, part.hi)
                first = True
                while True:
                    with self.changed:
                        self.waiting.add(index)
                        while not self._stopped() and not self._room(index):
                            self.changed.wait()
                        self.waiting.discard(index)
                        self.changed.notify_all()  # the next lowest may have room too
                        if self._stopped():
                            return
                        self.held += 1
                        part.reading = True
                    page = next(scan, None)
                    with self.changed:
                        part.reading = False
                        if first:
                            first = False
                            self.frontier.learn(part.lo, part.hi, len(page or ()),
                                                self.page_limit(),
                                                page[-1]["id"] if page else None)
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
