"""For tests that watch what goes between syncd and the emulator: a proxy's relay of one
request upstream, and a count of the connections opened."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Collection
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest


def count_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The addresses of every socket opened from now on, in order."""
    opened: list[Any] = []
    real = socket.create_connection

    def counting(*args: Any, **kwargs: Any) -> socket.socket:
        opened.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counting)
    return opened


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
