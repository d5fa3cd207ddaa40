"""sd_notify against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.service.notify import Notifier

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs AF_UNIX")


class Listener:
    """What systemd does: a bound datagram socket that collects notifications."""

    def __init__(self, address: str) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(address)
        self.socket.settimeout(5)

    def receive(self) -> str:
        return self.socket.recv(4096).decode("utf-8")

    def pending(self) -> list[str]:
        self.socket.setblocking(False)
        messages = []
        try:
            while True:
                messages.append(self.socket.recv(4096).decode("utf-8"))
        except BlockingIOError:
            return messages
        finally:
            self.socket.settimeout(5)


@pytest.fixture
def socket_path() -> Iterator[Path]:
    # tmp_path may exceed the 108-byte limit of AF_UNIX paths; a fresh mkdtemp() under /tmp does not.
    directory = tempfile.mkdtemp(prefix="sdn")
    try:
        yield Path(directory) / "notify"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def listener(socket_path: Path) -> Iterator[Listener]:
    listening = Listener(str(socket_path))
    yield listening
    listening.socket.close()


def test_messages_arrive_with_the_right_text(socket_path: Path, listener: Listener) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(socket_path)})
    assert notifier.enabled
    notifier.ready("customers 3, products 2")
    notifier.status("line one\nline two")
    notifier.watchdog()
    notifier.stopping()
    assert listener.receive() == "READY=1\nSTATUS=customers 3, products 2"
    # A newline would smuggle a second assignment into the datagram: it is flattened.
    assert listener.receive() == "STATUS=line one line two"
    assert listener.receive() == "WATCHDOG=1"
    assert listener.receive() == "STOPPING=1"
    notifier.close()


def test_ready_without_status_is_just_ready(socket_path: Path, listener: Listener) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(socket_path)})
    notifier.ready()
    notifier.extend_timeout(2.5)
    assert listener.receive() == "READY=1"
    assert listener.receive() == "EXTEND_TIMEOUT_USEC=2500000"
    notifier.close()


@pytest.mark.skipif(not os.path.exists("/proc/self/net/unix"), reason="abstract sockets are Linux")
def test_abstract_socket_name() -> None:
    name = f"syncd-test-{os.getpid()}-{id(object())}"
    listening = Listener("\0" + name)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        notifier.ready("up")
        assert listening.receive() == "READY=1\nSTATUS=up"
        notifier.close()
    finally:
        listening.socket.close()


def test_no_socket_is_a_no_op(socket_path: Path, listener: Listener) -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    notifier.ready("x")
    notifier.stopping()
    assert listener.pending() == []


def test_never_raises_when_the_socket_is_gone(socket_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(socket_path)})  # nothing bound there
    notifier.ready("x")
    notifier.watchdog()
    listening = Listener(str(socket_path))  # systemd comes back: sending works again
    try:
        notifier.status("back")
        assert listening.receive() == "STATUS=back"
    finally:
        listening.socket.close()
    os.unlink(socket_path)
    notifier.stopping()  # gone again: still no exception
    notifier.close()


def test_watchdog_interval_from_environment() -> None:
    pid = str(os.getpid())
    assert Notifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval == 30.0
    assert Notifier({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": pid}).watchdog_interval == 0.5
    # Meant for another process (we inherited its environment): not ours to ping.
    assert Notifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}).watchdog_interval is None
    assert Notifier({"WATCHDOG_USEC": "nonsense"}).watchdog_interval is None
    assert Notifier({"WATCHDOG_USEC": "0"}).watchdog_interval is None
