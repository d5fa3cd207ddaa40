"""The HTTP/1.1 request handler: reads a request, counts it, applies planned faults, answers.

Like Odoo's own HTTP server, it closes the connection after every answer (`Connection: close`,
docs/odoo-api.md §20); with `keep_alive` (as behind a proxy that pools connections) it keeps
HTTP/1.1 connections open. Content-Length is on every response. Faults follow the
plan: latency waits on the server's stop event (so `stop()` cuts it short, and the connection is
then dropped); drop closes the socket without a byte; truncate sends the headers of the real
answer and half its body; malformed sends 200 with a broken body of the protocol's content type;
http_5xx/http_429 answer a short plain-text error; html answers an nginx error page.

Odoo's own server never compresses. With `link.gzip` (as behind an nginx with `gzip on`) an answer
of at least `GZIP_MIN_LENGTH` bytes to a request that accepts gzip is sent gzipped
(`Content-Encoding: gzip`, `Vary: Accept-Encoding`); a truncated answer is then cut in the
compressed bytes, as a proxy would cut it. The `Link` (latency, bandwidth) delays each answer
before it is written; the delay waits on the stop event like planned latency. The `Capacity`
(workers, row cost) bounds how many calls run at once and charges each for the rows it
examined, after the database lock is released.
"""

from __future__ import annotations

import email.utils
import gzip
import socket
import time
from datetime import UTC
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Event, Lock
from typing import Any
from urllib.parse import urlsplit

from syncd.emulator.injection import Capacity, FaultPlan, FaultRule, Link, Stats
from syncd.emulator.routes import HTML_TYPE, JSON_TYPE, XML_TYPE, Call, Reply, Router


GZIP_MIN_LENGTH = 256  # nginx's gzip_min_length is 20; tiny answers are not worth it
GZIP_LEVEL = 1  # nginx's default gzip_comp_level


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

_MALFORMED = {
    "xmlrpc": (XML_TYPE, b'<?xml version="1.0"?>\n<methodResponse>\n<params>\n<param><value><arr'),
    "jsonrpc": (JSON_TYPE, b'{"jsonrpc":"2.0","id":1,"result":[{"id":1,"name":"Az'),
    "json2": (JSON_TYPE, b'[{"id":1,"name":"Az'),
    "http": (JSON_TYPE, b'{"version_info":[1'),
}


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that remembers its open connections so `close_all` can end them."""

    daemon_threads = True
    block_on_close = False
    # Odoo's threaded server is werkzeug's (a listen backlog of 128), its prefork server listens
    # with 8 per worker. socketserver's default of 5 drops the connects of a client with more
    # requests at once than that while the accept loop waits for the GIL: each dropped SYN
    # costs the client a 1 s retransmission, which no Odoo would charge.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], router: Router, faults: FaultPlan,
                 stats: Stats, link: Link | None = None,
                 capacity: Capacity | None = None) -> None:
        self.router = router
        self.faults = faults
        self.stats = stats
        self.stopping = Event()
        self.send_date = True
        self.keep_alive = False
        self.link = link if link is not None else Link()
        self.capacity = capacity if capacity is not None else Capacity()
        self._connections: set[socket.socket] = set()
        self._lock = Lock()
        super().__init__(address, RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        """Cut every open connection (idle keep-alive ones included)."""
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the peer


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Werkzeug/3.0.1"
    sys_version = "Python/3.11"
    server: EmulatorHTTPServer

    def server_date(self) -> str:
        """The Date header from the emulated server's clock (skewed or frozen as tests set it),
        as a real server's Date comes from its own clock."""
        moment = self.server.router.services.db.clock.now().replace(tzinfo=UTC)
        return email.utils.format_datetime(moment, usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the emulator never writes access logs to stderr."""

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        begun = time.monotonic()
        self._answering: float | None = None
        try:
            self._handle()
        finally:
            ended = self._answering if self._answering is not None else time.monotonic()
            self.server.stats.count_span(begun, ended)

    def _handle(self) -> None:
        server = self.server
        path = urlsplit(self.path).path
        body = self._read_body()
        if body is None:
            return
        head = len(getattr(self, "raw_requestline", b"")) + len(self.headers.as_bytes())
        received = head + len(body)
        server.stats.count_request(path, received)
        if server.router.version >= 19 and (path.startswith("/xmlrpc/") or path == "/jsonrpc"):
            server.stats.count_deprecated()
        call = server.router.decode(self.command, path, self.headers, body)
        fired = server.faults.take(path, call.model, call.method, call.limit)
        for rule in fired:
            delay = float(rule.params.get("seconds", 0)) if rule.kind == "latency" else 0.0
            if delay and server.stopping.wait(delay):
                self._drop()
                return
        failure = next((rule for rule in fired if rule.kind != "latency"), None)
        if failure is None:
            reply = self._run(call)
            if reply is not None:
                self._send(reply)
        else:
            self._fail(failure, call)

    def _run(self, call: Call) -> Reply | None:
        """Run a call on one of the server's workers, charged for the rows it examined; None
        (the connection dropped) when the server stops meanwhile."""
        server = self.server
        capacity = server.capacity
        with capacity.slot(server.stopping) as working:
            if not working:
                self._drop()
                return None
            db = server.router.services.db
            db.take_visits()
            reply = call.run()
            cost = db.take_visits() * capacity.row_cost
            if cost > 0 and server.stopping.wait(cost):
                self._drop()
                return None
        return reply

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._send(Reply(411, b"Length Required", HTML_TYPE))
            self.close_connection = True
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._send(Reply(400, b"Bad Content-Length", HTML_TYPE))
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _fail(self, rule: FaultRule, call: Call) -> None:
        kind = rule.kind
        if kind == "drop":
            self._drop()
        elif kind == "truncate":
            reply = call.run()
            self._send(reply, truncated=True)
        elif kind == "malformed":
            content_type, body = _MALFORMED[call.protocol]
            self._send(Reply(200, body, content_type))
        elif kind == "html":
            status = int(rule.params.get("status", 502))
            self._send(Reply(status, _nginx_page(status), "text/html"))
        else:
            status = int(kind.removeprefix("http_"))
            reason = _reason(status)
            headers = {}
            if status == 429 and "retry_after" in rule.params:
                headers["Retry-After"] = str(rule.params["retry_after"])
            self._send(Reply(status, f"{status} {reason}\n".encode(), "text/plain", headers))

    def _accepts_gzip(self) -> bool:
        """True when the request's Accept-Encoding lists gzip with a non-zero q."""
        for item in (self.headers.get("Accept-Encoding") or "").split(","):
            name, _, params = item.partition(";")
            if name.strip().lower() in ("gzip", "x-gzip", "*"):
                q = params.strip().removeprefix("q=").strip() if "q=" in params else "1"
                try:
                    return float(q) > 0
                except ValueError:
                    return False
        return False

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone

    def _send(self, reply: Reply, *, truncated: bool = False) -> None:
        """Write `reply`; `truncated`: announce the full length but send only half the body
        (as encoded) and close."""
        reason = _reason(reply.status)
        body = reply.body
        encoded: list[str] = []
        if self.server.link.gzip and len(body) >= GZIP_MIN_LENGTH and self._accepts_gzip():
            body = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
            encoded = ["Content-Encoding: gzip", "Vary: Accept-Encoding"]
        lines = [f"{self.protocol_version} {reply.status} {reason}",
                 f"Server: {self.version_string()}",
                 *([f"Date: {self.server_date()}"] if self.server.send_date else []),
                 f"Content-Type: {reply.content_type}",
                 f"Content-Length: {len(body)}", *encoded]
        lines += [f"{name}: {value}" for name, value in reply.headers.items()]
        if truncated or not self.server.keep_alive:
            self.close_connection = True
        if self.close_connection:
            lines.append("Connection: close")
        if truncated:
            body = body[:len(body) // 2]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if self.command != "HEAD":
            data += body
        # Counted before writing: a client that has read the answer must find it counted.
        self.server.stats.count_sent(len(data))
        delay = self.server.link.delay(len(data))
        if delay and self.server.stopping.wait(delay):
            self._drop()
            return
        self._answering = time.monotonic()  # the client may send its next request from here on
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        if truncated:
            self._drop()


def _nginx_page(status: int) -> bytes:
    title = f"{status} {_reason(status)}"
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n").encode()
