"""For tests that put a proxy between syncd and the emulator: relay one request upstream."""

from __future__ import annotations

import http.client
from collections.abc import Collection
from http.server import BaseHTTPRequestHandler


def relay(handler: BaseHTTPRequestHandler, host: str, port: int, path: str, body: bytes,
          drop: Collection[str] = ()) -> None:
    """Send the request `handler` is serving to `host:port` as `path` with `body` (minus the
    hop-by-hop headers and those named in `drop`, lower case), and answer with the reply."""
    skip = {"connection", "host", *drop}
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in skip}
    upstream = http.client.HTTPConnection(host, port, timeout=10)
    upstream.request(handler.command, path, body or None, headers)
    answer = upstream.getresponse()
    data = answer.read()
    upstream.close()
    handler.send_response(answer.status)
    for name, value in answer.getheaders():
        if name.lower() not in ("connection", "content-length", "server", "date"):
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
