"""Prometheus metrics of the daemon (``[service] metrics = "host:port"``), off by default.

``run`` records each pass here after it ends and serves ``/metrics`` from a thread of its own;
``once`` serves nothing (a one-shot process is gone before a scrape). The registry is this
object's, never prometheus_client's global one. prometheus_client is the optional extra
``syncd[metrics]``: without it, a configured address is a configuration error.

The surprise: a pass cut short by a stop is not recorded (the daemon does not count it either),
and ``syncd_seconds_since_last_success`` counts from the daemon's start until its first good
pass, so an alert on it also fires for a daemon that never succeeds.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from syncd.errors import ConfigError
from syncd.odoo.client import OdooClient
from syncd.sync.report import PassReport

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

KEY = "[service].metrics"
# Seconds: an idle pass on a near server is a fraction of a second, a first full sync of a big
# model can take many minutes.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                    1800.0, 3600.0)


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:
        # syncd is installed from its clone, not from a package index: name the extra there,
        # and the package itself for this very interpreter (as the postgres sink does).
        raise ConfigError(f"{KEY} needs prometheus_client, not installed: in the clone, "
                          ".venv/bin/pip install -e '.[metrics]' (or "
                          f"{sys.executable} -m pip install 'prometheus_client>=0.17'); "
                          "or leave [service].metrics empty") from None
    return prometheus_client


class Metrics:
    """The daemon's metrics, served at ``http://<address>/metrics`` while ``serving()``.

    ``clock`` is monotonic seconds (it measures the time since the last good pass). ``address``
    is (host, port); port 0 picks a free one, read back from ``port`` once serving.
    """

    def __init__(self, address: tuple[str, int], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        prometheus = _prometheus()
        self.address = address
        self.port = address[1]
        self.registry: CollectorRegistry = prometheus.CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._started = clock()
        self._last_success: float | None = None
        self._requests = 0
        self._sent = 0
        self._received = 0
        on = {"registry": self.registry}
        self.passes = prometheus.Counter(
            "syncd_passes", "Passes that ended, successful or failed (a pass cut short by a "
            "stop is not counted)", **on)
        self.failures = prometheus.Counter(
            "syncd_pass_failures", "Passes that failed (nothing of them was committed)", **on)
        self.records = prometheus.Gauge(
            "syncd_records", "Records in the stored copy of each configured model, after the "
            "last good pass", ["model"], **on)
        self.since_success = prometheus.Gauge(
            "syncd_seconds_since_last_success", "Seconds since the last good pass ended (since "
            "the daemon started, before its first)", **on)
        self.since_success.set_function(self.seconds_since_last_success)
        self.requests = prometheus.Counter(
            "syncd_odoo_requests", "Requests to Odoo (RPC calls, retries included)", **on)
        self.bytes_sent = prometheus.Counter(
            "syncd_odoo_bytes_sent", "Bytes of request bodies sent to Odoo", **on)
        self.bytes_received = prometheus.Counter(
            "syncd_odoo_bytes_received", "Bytes of answer bodies received from Odoo, as carried "
            "(compressed when the server sends gzip)", **on)
        self.duration = prometheus.Histogram(
            "syncd_pass_duration_seconds", "How long each pass took, successful or failed",
            buckets=DURATION_BUCKETS, **on)
        self._app = prometheus.make_wsgi_app(self.registry)

    def seconds_since_last_success(self) -> float:
        return self._clock() - (self._last_success if self._last_success is not None
                                else self._started)

    def observe(self, report: PassReport, client: OdooClient) -> None:
        """Record a pass that ended (``report``) and the client's requests and bytes so far."""
        self._count_traffic(client)
        if report.interrupted:
            return
        self.passes.inc()
        self.duration.observe(report.seconds)
        if not report.ok:
            self.failures.inc()
            return
        self._last_success = self._clock()
        for model in report.models:
            self.records.labels(model=model.name).set(model.records)

    def _count_traffic(self, client: OdooClient) -> None:
        # The client's counters only grow: add what they grew by since the last pass.
        traffic = client.traffic
        self.requests.inc(client.requests - self._requests)
        self.bytes_sent.inc(traffic.bytes_sent - self._sent)
        self.bytes_received.inc(traffic.bytes_received - self._received)
        self._requests, self._sent = client.requests, traffic.bytes_sent
        self._received = traffic.bytes_received

    @contextmanager
    def serving(self) -> Iterator[Metrics]:
        """Serve ``/metrics`` from a background thread until the block ends. A port that cannot
        be listened on (in use, not allowed) is a ConfigError naming the key."""
        host, port = self.address
        try:
            server = make_server(host, port, self._app, server_class=_server_class(host),
                                 handler_class=_QuietHandler)
        except OSError as exc:
            raise ConfigError(f"{KEY}: cannot listen on {host}:{port}: "
                              f"{exc.strerror or exc}") from None
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a scrape in progress never holds the daemon's exit


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


def _server_class(host: str) -> type[WSGIServer]:
    return _ThreadingServer6 if ":" in host else _ThreadingServer


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Every scrape would be a line on stderr: the daemon's log says what matters."""
