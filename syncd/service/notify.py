"""sd_notify: tell systemd the service is ready, what it is doing, and that it is alive.

The protocol is one AF_UNIX datagram per message to ``$NOTIFY_SOCKET`` (a path, or an abstract
socket name when it starts with ``@``). Outside systemd (no ``NOTIFY_SOCKET``, or Windows) every
call is a no-op. Surprise worth knowing: a notifier must never take the daemon down, so sending
swallows every OSError (socket gone, systemd restarting, buffer full) and logs it at DEBUG only.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping

from loguru import logger

from syncd.errors import one_line


class Notifier:
    """sd_notify over $NOTIFY_SOCKET (AF_UNIX datagram; abstract namespace when it starts with '@');
    a no-op without it. Never raises. Thread-safe: one socket, sends serialised by a lock."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + raw[1:] if raw.startswith("@") else raw
        self.enabled: bool = bool(raw) and hasattr(socket, "AF_UNIX")
        self.watchdog_interval: float | None = _watchdog_interval(env)
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()

    def ready(self, status: str = "") -> None:
        """READY=1 (with STATUS= in the same datagram when given): start-up is complete."""
        self.send("READY=1" + (f"\nSTATUS={one_line(status)}" if status else ""))

    def status(self, text: str) -> None:
        """STATUS=: the one line `systemctl status` shows."""
        self.send(f"STATUS={one_line(text)}")

    def watchdog(self) -> None:
        """WATCHDOG=1: still alive (systemd restarts the service if these stop for WatchdogSec)."""
        self.send("WATCHDOG=1")

    def extend_timeout(self, seconds: float) -> None:
        """EXTEND_TIMEOUT_USEC=: still starting (or stopping), give us `seconds` more from now."""
        self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")

    def stopping(self) -> None:
        """STOPPING=1: shutting down on purpose."""
        self.send("STOPPING=1")

    def send(self, message: str) -> None:
        """Send one raw sd_notify message ("KEY=value" lines). No-op when disabled; never raises."""
        if not self.enabled:
            return
        with self._lock:
            try:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._socket.setblocking(False)  # a full socket buffer must not stall a pass
                self._socket.sendto(message.encode("utf-8"), self._address)
            except OSError as exc:
                logger.debug("sd_notify failed message={message!r} error={error}",
                             message=message.split("=")[0], error=str(exc))
                self._close_locked()

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._socket is not None:
            try:
                self._socket.close()
            except OSError:
                pass
            self._socket = None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    # systemd sets WATCHDOG_PID so a child that inherits the environment does not ping for us.
    pid = env.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1_000_000 if usec > 0 else None
