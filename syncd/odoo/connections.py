"""The connections of one Odoo session, shared by the threads of a pass: how calls take turns,
how a pass's first answer lets them run at once, how ``abort`` cuts them, and how each call is
retried. ``OdooClient`` (``syncd.odoo.client``) is built on ``Connections``; it adds the
protocol choice, the login and the ORM methods.

One login, several connections. Odoo writes a login-log row per authentication, so the client
logs in once, on its first connection; every other connection is opened on demand with that
session's uid (``Transport.resume``: no login request). A call takes an idle connection, or
opens one while fewer than ``connections`` are open (the pass's ``[sync] workers``), or waits
for the next one freed. With 1 (the default) every call goes over the one keep-alive connection,
one at a time.

One call at a time until the pass's first answer. ``begin_pass`` opens a pass; ``pass_clock`` is
then Odoo's clock (its ``Date`` header) at the first answer that follows, and the next pass's
change window starts a lookback before it (``syncd.sync.window``): that holds only if every query
of the pass ran after that moment. So until that answer has come the pass's calls go one at a
time: the first goes, the others wait for its answer, or for its failure, after which one of
them goes in its place. A thread about to decide on the clock before making any call waits the
same way (``await_first_answer``).

Abort. A failed or stopped pass calls ``abort`` (from any thread) before joining its workers:
every exchange in flight is cut (``Transport.abort``), and every call to come, every wait for a
connection or for the first answer, and every retry's pause (``_pause``) ends at once with
``PassInterrupted``, until the next ``begin_pass``. No worker is left waiting on the network or
in a pause: a signal (``syncd.odoo.interrupt``) could cut only the main thread's.

Retries. Every call is retried on ``TransientError`` (network errors, 429, 502-504, truncated or
unparsable answers) with capped exponential backoff and full jitter (``syncd.odoo.retry``),
honouring ``Retry-After``, within two bounds: at most ``attempts`` tries, and at most
``retry_budget`` seconds from the first attempt's start (see ``_retry``). Then the last error is
raised with that context; nothing here logs it as an error (the caller reports it, once), and
each retry is an INFO line, so ``-q`` stays silent when a retry fixed the problem. Odoo faults,
refused credentials and other 4xx answers are raised at once. ``sleep`` and ``clock`` are
injected so tests never wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from loguru import logger

from syncd.errors import OdooError, PassInterrupted, TransientError
from syncd.odoo.interrupt import waiting
from syncd.odoo.retry import Backoff
from syncd.odoo.transport import Transport
from syncd.settings import OdooSettings

T = TypeVar("T")


class Connections:
    """The connections of one session and the turns its calls take (see the module docstring).
    A subclass opens the first connection (``_pool``, ``_idle``) and says how to open more
    (``_new_connection``)."""

    def __init__(self, settings: OdooSettings, *, sleep: Callable[[float], None],
                 clock: Callable[[], float], attempts: int, backoff: Backoff) -> None:
        self.settings = settings
        self.sleep = sleep
        self.clock = clock
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.requests = 0  # RPC attempts, retries included (transparent resends are not)
        self.connections = 1  # calls at once at most ([sync] workers), each on its own connection
        self._lock = threading.Lock()  # the pool, the counters, the pass's first answer
        self._changed = threading.Condition(self._lock)  # a connection freed, a first answer
        self._pool: list[Transport] = []  # every open connection, the first one included
        self._idle: list[Transport] = []
        self._busy: list[Transport] = []  # in use by a call (``abort`` cuts them)
        self._last_date: datetime | None = None
        self._pass_clock: datetime | None = None
        self._pass_open = False
        self._first_answered = False  # this pass has had an answer: its calls may run at once
        self._first_in_flight = False  # a call of this pass is waiting for the first answer
        self._aborted = threading.Event()
        self._kept = False  # the uid came from a kept handshake, and no answer has proved it yet

    def _new_connection(self) -> Transport | None:
        """A new connection of the session, with its uid (no login); None when not connected.
        Called with ``_lock`` held."""
        raise NotImplementedError

    def abort(self) -> None:
        """From any thread: every call in progress (its exchange is cut) or to come fails at
        once with PassInterrupted, retries and their pauses included, until ``begin_pass``."""
        self._aborted.set()
        with self._lock:
            busy = list(self._busy)
            self._changed.notify_all()
        for transport in busy:
            transport.abort()

    @property
    def server_time(self) -> datetime | None:
        """Odoo's clock (its HTTP Date header, naive UTC) at the last answer; None if unknown.

        A hint, never a watermark: the pass uses it to place its change window (a lookback
        before the previous pass began), not to compare with any `write_date`."""
        return self._last_date

    def begin_pass(self) -> None:
        """A pass starts: ``pass_clock`` becomes the ``Date`` of the next answer (no request is
        made for it: the login's answer in a one-shot run, the first query's in a daemon).
        Calls from several threads go one at a time until that answer has come."""
        with self._lock:
            self._pass_clock = None
            self._pass_open = True
            self._first_answered = False
            self._first_in_flight = False
            self._aborted.clear()

    @property
    def pass_clock(self) -> datetime | None:
        """Odoo's clock at the first answer since ``begin_pass``: every query of the pass runs
        after it. None until then, or when the server sends no ``Date``."""
        return self._pass_clock

    def await_first_answer(self) -> None:
        """Wait until this pass has had an answer (at once outside a pass, or when it has):
        a thread about to decide on ``pass_clock`` or ``server_time`` decides as if its calls
        came after the pass's first ones. PassInterrupted when the pass is aborted meanwhile."""
        with self._lock:
            while self._pass_open and not self._first_answered:
                self._check_aborted()
                with waiting():
                    self._changed.wait()

    def _answered(self, transport: Transport) -> None:
        """``transport`` has had an answer: its Date is Odoo's clock now, and the pass's first
        answer lets the other calls of the pass go. The kept uid works: a later refusal is not
        staleness."""
        with self._lock:
            self._heard(transport)
            if self._pass_open and self._pass_clock is None:
                self._pass_clock = self._last_date
            if self._pass_open and not self._first_answered:
                self._first_answered = True
                self._changed.notify_all()
            self._kept = False

    def _heard(self, transport: Transport) -> None:
        date = transport.server_time
        if date is not None:
            self._last_date = date

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """Around one call: until the pass has had an answer, one call at a time."""
        first = self._await_first_answer()
        try:
            yield
        finally:
            if first:
                with self._lock:
                    self._first_in_flight = False
                    self._changed.notify_all()

    def _await_first_answer(self) -> bool:
        """Until the pass has had an answer, one call at a time: True for the call that goes
        (the others wait for its answer, or for its failure and then one of them goes)."""
        with self._lock:
            while self._pass_open and not self._first_answered and self._first_in_flight:
                self._check_aborted()
                with waiting():
                    self._changed.wait()
            if self._pass_open and not self._first_answered:
                self._first_in_flight = True
                return True
            return False

    def _call(self, model: str, method: str, params: dict[str, Any], retry: bool) -> Any:
        with self._connection() as transport:
            result = self._retry(f"{model}.{method}",
                                 lambda: transport.call(model, method, params),
                                 attempts=None if retry else 1)
            self._answered(transport)
        return result

    @contextmanager
    def _connection(self) -> Iterator[Transport]:
        """A connection of the session for one call: an idle one, a new one while fewer than
        ``connections`` are open, else the next one freed."""
        with self._lock:
            while True:
                self._check_aborted()
                if self._idle:
                    transport = self._idle.pop()
                    break
                if len(self._pool) < self.connections:
                    opened = self._new_connection()
                    if opened is not None:
                        transport = opened
                        self._pool.append(transport)
                        break
                if not self._pool:
                    raise OdooError("not connected")  # closed by another thread meanwhile
                with waiting():
                    self._changed.wait()
            self._busy.append(transport)
        try:
            yield transport
        finally:
            with self._lock:
                self._busy.remove(transport)
                self._heard(transport)
                if transport in self._pool:  # not closed meanwhile
                    self._idle.append(transport)
                self._changed.notify()

    def _check_aborted(self) -> None:
        if self._aborted.is_set():
            raise PassInterrupted("abandoned: another part of the pass failed or stopped; "
                                  "nothing of it was committed")

    def _retry(self, what: str, attempt: Callable[[], T], *, attempts: int | None = None) -> T:
        """``attempt()``, retried on TransientError within the attempt cap and the budget.

        The budget (``settings.retry_budget`` seconds, 0 = no retries) runs from the first
        attempt's start. A retry starts only if its pause plus an attempt as long as the last
        one still ends within the budget; so a pause the server asks for (Retry-After) longer
        than what is left is not waited for: the request fails at once. The surprise: a server
        that turns slow mid-way can overrun the budget by one attempt (at most ``timeout`` per
        socket operation), since an attempt in flight is never cut short.
        """
        budget = max(self.settings.retry_budget, 0.0)
        started = self.clock()
        attempts = self.attempts if attempts is None else attempts
        for number in range(attempts):
            self._check_aborted()
            with self._lock:
                self.requests += 1
            begun = self.clock()
            try:
                return attempt()
            except TransientError as exc:
                now = self.clock()
                spent, last = now - started, now - begun
                delay = self.backoff.delay(number, exc.retry_after)
                out_of_budget = budget <= 0 or spent + delay + last > budget
                if number + 1 >= attempts or out_of_budget:
                    asked = (f"; the server asked to wait {delay:g} s more"
                             if out_of_budget and exc.retry_after is not None else "")
                    reason = (f"gave up after {number + 1} attempt{'s' if number else ''}: "
                              f"retries took {spent:.1f} s of the {budget:g} s retry "
                              f"budget{asked}")
                else:
                    # INFO, not WARNING: a retry that works is routine, and -q (cron) must not
                    # mail for it; a retry that fails is reported once, by our caller.
                    logger.info("odoo transient error call={call} attempt={attempt}/{attempts} "
                                "retry_in={retry_in:.1f}s error={error}", call=what,
                                attempt=number + 1, attempts=attempts, retry_in=delay,
                                error=str(exc))
                    with waiting():  # a stop may abandon it (syncd.odoo.interrupt)
                        self._pause(delay)
                    continue
                raise TransientError(f"{exc} ({reason})", retry_after=exc.retry_after) from None
        raise AssertionError("unreachable")

    def _pause(self, seconds: float) -> None:
        """A retry's pause: ``sleep`` as injected; the real one ends early on ``abort`` (a
        worker thread's pause cannot be cut by a signal as the main thread's is)."""
        if self.sleep is time.sleep:
            if self._aborted.wait(seconds):
                self._check_aborted()
        else:
            self.sleep(seconds)
            self._check_aborted()
