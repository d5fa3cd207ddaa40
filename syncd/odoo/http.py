"""One persistent HTTP/1.1 connection to Odoo: keep-alive, TLS, proxies, timeouts.

Every network failure leaves here as a ``TransientError`` (refused, reset, timed out, truncated
body); an answer of any status comes back as an ``HttpResponse`` for the protocol to judge.
The exceptions, ``OdooError`` because retrying cannot fix them: a failed TLS certificate check,
a host name DNS says does not exist (a resolver that cannot answer now stays transient), and
https to a port that speaks plain HTTP (``WRONG_VERSION_NUMBER``: "use http://").

Surprises worth knowing:
- ``timeout`` bounds each socket operation (connect, each read), not the whole request: a
  server trickling bytes can take longer. Odoo workers are killed at 120 s anyway.
- A keep-alive socket the server closed while idle is detected before use, or (if the close
  races the request) the request is resent once on a fresh socket. Only a *reused* socket gets
  this; a fresh one failing is a real error. The requests are reads and logins, so a resend is
  harmless.
- Answers may come gzipped: Odoo's own server never compresses, but the reverse proxy most
  deployments put in front often does when asked, and JSON pages shrink about 7x. Every request
  says ``Accept-Encoding: gzip``; a ``Content-Encoding: gzip`` body is decoded here, and one that
  does not decode is a ``TransientError`` like a truncated one.
- Proxies come from the environment (``https_proxy``, ``http_proxy``, ``no_proxy``): HTTPS goes
  through a CONNECT tunnel, plain HTTP as absolute-URI requests to the proxy.
"""

from __future__ import annotations

import base64
import email.utils
import zlib
import http.client
import select
import socket
import ssl
import threading
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from syncd.version import __version__
from syncd.errors import OdooError, TransientError, scrub
from syncd.odoo.interrupt import waiting

USER_AGENT = f"syncd/{__version__}"
_RESENDABLE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
               ConnectionAbortedError)


class _Unanswered(Exception):
    """The connection broke before any byte of an answer: safe to resend on a reused socket."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    reason: str
    content_type: str  # lower-cased media type without parameters, "" when absent
    headers: dict[str, str]  # lower-cased names
    body: bytes


def public_url(url: str) -> str:
    """``url`` without any ``user:password@`` part, for messages and logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


@dataclass
class Traffic:
    """Bytes carried by one or more connections: the bodies of the requests sent and of the
    answers read in full, as on the wire (a gzip answer counts its compressed size). Headers,
    and answers cut short, are not counted. Several connections may share one (one client's
    transports, used by as many threads at once): each adds under the lock."""

    bytes_sent: int = 0
    bytes_received: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, sent: int = 0, received: int = 0) -> None:
        with self._lock:
            self.bytes_sent += sent
            self.bytes_received += received


class HttpConnection:
    """A keep-alive connection to the server of ``url`` (its path is kept as a prefix); it adds
    the bytes it carries to ``traffic`` (a new Traffic of its own by default)."""

    def __init__(self, url: str, *, timeout: float, secrets: Sequence[str] = (),
                 traffic: Traffic | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OdooError(f"not an http(s) URL: {scrub(public_url(url), secrets)!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        netloc = self.host if ":" not in self.host else f"[{self.host}]"
        default_port = (443 if self.https else 80)
        self.origin = f"{parts.scheme}://{netloc}" + ("" if self.port == default_port else f":{self.port}")
        self.proxy, self._proxy_auth, proxy_password = _proxy_for(parts.scheme, self.host)
        self._secrets = tuple(s for s in (*secrets, proxy_password, self._proxy_auth) if s)
        self._conn: http.client.HTTPConnection | None = None
        self.traffic = traffic if traffic is not None else Traffic()
        # The server's clock (HTTP Date header, naive UTC, whole seconds) at its last answer.
        self.last_date: datetime | None = None

    @property
    def where(self) -> str:
        """The server as shown in messages: origin and path prefix, never credentials."""
        return self.origin + self.prefix

    def set_timeout(self, seconds: float) -> None:
        """Use ``seconds`` per socket operation from now on, on the open socket too."""
        self.timeout = seconds
        if self._conn is not None:
            self._conn.timeout = seconds
            if self._conn.sock is not None:
                self._conn.sock.settimeout(seconds)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def abort(self) -> None:
        """From another thread: cut the exchange in progress, if any (its reads and writes fail
        at once, as a TransientError in the thread that makes them, which then closes)."""
        conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # not connected any more

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> HttpResponse:
        """Send one request for ``path`` (below the URL's prefix) and read the whole answer."""
        all_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip",
                       **(headers or {})}
        if self._proxy_auth and not self.https:
            all_headers["Proxy-Authorization"] = self._proxy_auth
        target = self.prefix + path
        if self.proxy is not None and not self.https:
            target = self.origin + target  # plain HTTP through a proxy: absolute-URI form
        reused = self._drop_if_stale()
        for attempt in (1, 2):
            try:
                with waiting():  # a stop may abandon it (syncd.odoo.interrupt)
                    return self._exchange(method, target, body, all_headers)
            except _Unanswered:
                self.close()
                if attempt == 2 or not reused:
                    raise self._transient(method, path,
                                          "the server closed the connection") from None
                # The server closed an idle keep-alive socket as we reused it: once more, fresh.
            except BaseException:  # an error or a stop mid-exchange: the socket's state is unknown
                self.close()
                raise
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            host, port = self.proxy if self.proxy is not None else (self.host, self.port)
            conn: http.client.HTTPConnection
            if self.https:
                conn = http.client.HTTPSConnection(host, port, timeout=self.timeout,
                                                   context=ssl.create_default_context())
                if self.proxy is not None:
                    tunnel = {"Proxy-Authorization": self._proxy_auth} if self._proxy_auth else None
                    conn.set_tunnel(self.host, self.port, headers=tunnel)
            else:
                conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
            self._conn = conn
        return self._conn

    def _drop_if_stale(self) -> bool:
        """True if an open socket will be reused; closes one the server already closed."""
        conn = self._conn
        if conn is None or conn.sock is None:
            return False
        try:
            readable, _, _ = select.select([conn.sock], [], [], 0)
        except (OSError, ValueError):
            readable = [conn.sock]
        if readable:  # an idle socket only becomes readable when the peer closed it
            self.close()
            return False
        return True

    def _exchange(self, method: str, target: str, body: bytes | None,
                  headers: dict[str, str]) -> HttpResponse:
        conn = self._connection()
        try:
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
            except _RESENDABLE:
                raise _Unanswered() from None
            self.traffic.add(sent=len(body or b""))
            data = response.read()
            self.traffic.add(received=len(data))
        except _Unanswered:
            raise
        except ssl.SSLCertVerificationError as exc:
            raise OdooError(f"TLS certificate check failed for {self.where}: "
                            f"{scrub(exc.verify_message or str(exc), self._secrets)}") from None
        except (TimeoutError, socket.timeout):
            raise self._transient(method, target, f"no answer within {self.timeout:g} s") from None
        except socket.gaierror as exc:
            raise self._unresolved(exc) from None
        except ssl.SSLError as exc:
            if exc.reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST"):
                plain = "http://" + self.where.removeprefix("https://")
                raise OdooError(f"the server at {self.where} does not speak TLS here: use "
                                f"{plain}") from None
            raise self._transient(method, target, f"TLS error: {exc.reason or exc}") from None
        except http.client.IncompleteRead as exc:
            raise self._transient(method, target, f"truncated body ({len(exc.partial)} bytes of "
                                  f"{len(exc.partial) + (exc.expected or 0)})") from None
        except (OSError, http.client.HTTPException) as exc:
            reason = scrub(f"{type(exc).__name__}: {exc}".rstrip(": "), self._secrets)
            raise self._transient(method, target, reason) from None
        if response.will_close:
            self.close()
        encoding = (response.headers.get("Content-Encoding") or "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            data = self._gunzip(method, target, data)
        elif encoding not in ("", "identity"):
            raise self._transient(method, target, f"an answer in an encoding not asked for "
                                  f"({encoding[:40]})")
        self.last_date = _http_date(response.headers.get("Date")) or self.last_date
        content_type = (response.headers.get_content_type() or "").lower() \
            if response.headers.get("Content-Type") else ""
        return HttpResponse(status=response.status, reason=response.reason or "",
                            content_type=content_type,
                            headers={k.lower(): v for k, v in response.headers.items()},
                            body=data)

    def _unresolved(self, exc: socket.gaierror) -> OdooError:
        """A name that does not resolve: final (``OdooError``) when DNS says it does not exist,
        transient when the resolver could not answer (no network yet, at boot)."""
        host = self.proxy[0] if self.proxy is not None else self.host
        what = "proxy host" if self.proxy is not None else "host"
        if exc.errno == socket.EAI_AGAIN:
            return TransientError(f"{what} {host} cannot be resolved now (DNS: "
                                  f"{exc.strerror}); retrying")
        return OdooError(f"{what} {host} not found (DNS: {exc.strerror}): check the URL")

    def _gunzip(self, method: str, target: str, data: bytes) -> bytes:
        decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            plain = decoder.decompress(data)
        except zlib.error as exc:
            raise self._transient(method, target, f"undecodable gzip body: {exc}") from None
        if not decoder.eof:
            raise self._transient(method, target, f"truncated gzip body ({len(data)} bytes)")
        return plain

    def _transient(self, method: str, path: str, reason: str) -> TransientError:
        shown = path if path.startswith(("http://", "https://")) else self.origin + path
        return TransientError(scrub(f"{method} {shown}: {reason}", self._secrets))


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _proxy_for(scheme: str, host: str) -> tuple[tuple[str, int] | None, str, str]:
    """(proxy host, port) for ``scheme`` per the environment, or None; the Proxy-Authorization
    value and the proxy password ("" when the proxy URL carries no credentials)."""
    proxies = urllib.request.getproxies()
    proxy_url = proxies.get(scheme)
    if not proxy_url or urllib.request.proxy_bypass(host):
        return None, "", ""
    if "://" not in proxy_url:
        proxy_url = "http://" + proxy_url
    parts = urlsplit(proxy_url)
    if not parts.hostname:
        return None, "", ""
    auth = ""
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    address = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return address, auth, unquote(parts.password or "")
