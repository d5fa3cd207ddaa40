"""Fault injection and traffic counters of the emulator's HTTP side.

A `FaultPlan` holds rules added by tests (`plan.add("http_502", times=2, model="res.partner")`);
the server asks it, once per request and after decoding the body, which faults fire. A rule
matches by path prefix and/or the RPC's model and method (all given filters must match) and
fires `times` times, then it is spent. With `above=n` it fires only on calls asking for more than
`n` rows (a `limit` above n, or none): a page too big for the server. Several latency rules may fire on one request (their
delays add up); after them at most one failing rule fires, the oldest that matches.

`Link` shapes every answer as the network to a remote server would: `latency` seconds added to
each request (a round trip), a `bandwidth` cap in bytes per second on what the server sends
(one link: answers sent at the same time share it), and `gzip`, a compressing reverse proxy in
front; all off by default, settable while serving (`em.link.latency = 0.04`).

`Capacity` makes the server one with a number of workers, as an Odoo in prefork mode: at most
`workers` requests handled at once (the others wait for a free one), and `row_cost` seconds per
row a query examined (`Database.visits`: what PostgreSQL reads), spent outside every lock (so
outside the GIL), as the database server would spend it in a process of its own. Off by default
(no limit, no cost), settable while serving (`em.capacity.workers = 2`).

`Stats` counts what the server saw: requests (total, per path, per (model, method)), login
calls, bytes in and out, deprecated-endpoint calls on 19+, and the round trips a client waited
for one after the other (`round_trips`). All counters are thread-safe and the accessors return
copies.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = frozenset({
    "latency", "http_500", "http_502", "http_503", "http_504", "http_429",
    "drop", "truncate", "malformed", "html",
})


@dataclass
class FaultRule:
    """One planned fault: what it is, which requests it matches, how many more times it fires."""

    kind: str
    times: int
    path: str | None = None
    model: str | None = None
    method: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, path: str, model: str | None, method: str | None,
                limit: int | None = None) -> bool:
        """True when every filter given on the rule agrees with the request."""
        above = self.params.get("above")
        if above is not None and limit is not None and limit <= int(above):
            return False
        if self.path is not None and not path.startswith(self.path):
            return False
        if self.model is not None and self.model != model:
            return False
        return self.method is None or self.method == method


class FaultPlan:
    """The faults the server will inject; empty means the server behaves like Odoo."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, kind: str, *, times: int = 1, path: str | None = None,
            model: str | None = None, method: str | None = None, **params: Any) -> None:
        """Plan `kind` for the next `times` matching requests.

        Parameters by kind: any kind `above` (see the module's docstring); latency `seconds`; http_429 `retry_after` (seconds, sent as the
        Retry-After header); html `status` (default 502).
        """
        if kind not in FAULT_KINDS:
            known = ", ".join(sorted(FAULT_KINDS))
            raise ValueError(f"unknown fault kind {kind!r}; known: {known}")
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        if kind == "latency" and float(params.get("seconds", 0)) < 0:
            raise ValueError("latency seconds must not be negative")
        with self._lock:
            self._rules.append(FaultRule(kind, times, path, model, method, dict(params)))

    def clear(self) -> None:
        """Forget every planned fault, spent or not."""
        with self._lock:
            self._rules.clear()

    def pending(self) -> list[FaultRule]:
        """Copies of the rules that still have firings left, in the order they were added."""
        with self._lock:
            return [FaultRule(r.kind, r.times, r.path, r.model, r.method, dict(r.params))
                    for r in self._rules]

    def take(self, path: str, model: str | None, method: str | None,
             limit: int | None = None) -> list[FaultRule]:
        """Consume and return the rules firing on this request: latencies first, then at most
        one failure."""
        fired: list[FaultRule] = []
        failure: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(path, model, method, limit):
                    continue
                if rule.kind == "latency":
                    fired.append(rule)
                elif failure is None:
                    failure = rule
            if failure is not None:
                fired.append(failure)
            for rule in fired:
                rule.times -= 1
            self._rules = [r for r in self._rules if r.times > 0]
        return fired


@dataclass
class Link:
    """The network between client and server: per-request latency and a send bandwidth cap."""

    latency: float = 0.0  # seconds added to every request
    bandwidth: float = 0.0  # bytes per second the server sends at most; 0 = unlimited
    gzip: bool = False  # gzip answers to clients that accept it, as a proxy in front would
    _busy_until: float = field(default=0.0, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def delay(self, sent: int) -> float:
        """Seconds an answer of `sent` bytes takes on this link, beyond the server's own time:
        the latency, and its turn on the link (answers sent at once go one after the other, so
        that several connections share the bandwidth, as on one real link)."""
        if self.bandwidth <= 0:
            return self.latency
        with self._lock:
            now = time.monotonic()
            self._busy_until = max(now, self._busy_until) + sent / self.bandwidth
            return self.latency + (self._busy_until - now)


@dataclass
class Capacity:
    """The server's workers and the cost of a row (see the module's docstring)."""

    workers: int = 0  # requests handled at once at most; 0 = no limit
    row_cost: float = 0.0  # seconds per row examined
    peak: int = field(default=0, compare=False)  # the most requests handled at once so far
    _busy: int = field(default=0, repr=False, compare=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False,
                                          compare=False)

    @contextmanager
    def slot(self, stopping: threading.Event) -> Iterator[bool]:
        """Hold one of the workers while handling a request (waiting for a free one); yields
        False when the server stops meanwhile."""
        with self._changed:
            while self.workers > 0 and self._busy >= self.workers and not stopping.is_set():
                self._changed.wait(0.05)
            if stopping.is_set():
                free = False
            else:
                free = True
                self._busy += 1
                self.peak = max(self.peak, self._busy)
        if not free:
            yield False
            return
        try:
            yield True
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify()


class Stats:
    """Traffic counters; `reset()` zeroes them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: Counter[str] = Counter()
        self._calls: Counter[tuple[str, str]] = Counter()
        self._requests = 0
        self._logins = 0
        self._deprecated = 0
        self._received = 0
        self._sent = 0
        self._spans: list[tuple[float, float]] = []  # (received, answered), monotonic seconds

    def reset(self) -> None:
        with self._lock:
            self._paths.clear()
            self._calls.clear()
            self._requests = self._logins = self._deprecated = 0
            self._received = self._sent = 0
            self._spans.clear()

    def count_span(self, begun: float, ended: float) -> None:
        """One request handled from `begun` to `ended` (time.monotonic)."""
        with self._lock:
            self._spans.append((begun, ended))

    @property
    def spans(self) -> list[tuple[float, float]]:
        """(received, answered) of every request, in monotonic seconds."""
        with self._lock:
            return list(self._spans)

    def round_trips(self) -> int:
        """The most requests that ran one after the other, none overlapping (earliest end
        first): the round trips a client waited for in sequence; as many as the requests when
        it sent them one at a time, fewer when it sent several at once."""
        with self._lock:
            spans = sorted(self._spans, key=lambda span: span[1])
        count, free = 0, float("-inf")
        for begun, ended in spans:
            if begun >= free:
                count += 1
                free = ended
        return count

    def count_request(self, path: str, received: int) -> None:
        """One HTTP request (any path, any outcome) of `received` bytes, headers included."""
        with self._lock:
            self._requests += 1
            self._paths[path] += 1
            self._received += received

    def count_call(self, model: str, method: str) -> None:
        """One model method call, whichever protocol carried it."""
        with self._lock:
            self._calls[(model, method)] += 1

    def count_login(self) -> None:
        """One `login` or `authenticate` call (each writes a login-log row on real Odoo)."""
        with self._lock:
            self._logins += 1

    def count_deprecated(self) -> None:
        """One call on /xmlrpc or /jsonrpc on a version that deprecates them (19+)."""
        with self._lock:
            self._deprecated += 1

    def count_sent(self, sent: int) -> None:
        with self._lock:
            self._sent += sent

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    @property
    def logins(self) -> int:
        with self._lock:
            return self._logins

    @property
    def deprecated_calls(self) -> int:
        with self._lock:
            return self._deprecated

    @property
    def bytes_received(self) -> int:
        with self._lock:
            return self._received

    @property
    def bytes_sent(self) -> int:
        with self._lock:
            return self._sent

    @property
    def by_path(self) -> dict[str, int]:
        with self._lock:
            return dict(self._paths)

    @property
    def by_call(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._calls)

    def calls(self, model: str, method: str | None = None) -> int:
        """Calls of `model.method`, or of every method of `model` when `method` is None."""
        with self._lock:
            return sum(n for (m, name), n in self._calls.items()
                       if m == model and (method is None or name == method))
