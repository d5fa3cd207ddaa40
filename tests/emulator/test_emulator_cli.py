"""`python -m syncd.emulator` in a subprocess: prints where it serves, answers, stops on signals."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import xmlrpc.client
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start(*args: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd.emulator", "--port", "0", "--customers", "5",
         "--products", "5", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    lines: queue.Queue[str] = queue.Queue()

    def pump(stream: IO[str]) -> None:
        for line in stream:
            lines.put(line)

    assert proc.stdout is not None
    threading.Thread(target=pump, args=(proc.stdout,), daemon=True).start()
    return proc, lines


def read_banner(lines: queue.Queue[str]) -> str:
    """Everything printed up to the 'Press Ctrl+C' line, within a deadline."""
    deadline = time.monotonic() + 30
    text = ""
    while "Press Ctrl+C" not in text:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no banner in time; got {text!r}"
        try:
            text += lines.get(timeout=remaining)
        except queue.Empty:
            break
    return text


def stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    proc.send_signal(signum)
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.stderr is not None
    return code, proc.stderr.read()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_and_exits_0_on_signal(signum: int) -> None:
    proc, lines = start()
    try:
        banner = read_banner(lines)
        url = next(word for word in banner.split() if word.startswith("http://127.0.0.1:"))
        assert not url.endswith(":0") and not url.endswith(":8069")
        assert "database:  odoo" in banner and "login:     admin" in banner
        assert "password:  admin" in banner and "api key:   syncd-emulator-api-key" in banner
        assert "XML-RPC" in banner and "JSON-RPC" in banner and "JSON-2" not in banner
        version = xmlrpc.client.ServerProxy(url + "/xmlrpc/2/common").version()
        assert version["server_version_info"][0] == 17
        started = time.monotonic()
        code, errors = stop(proc, signum)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0
    assert time.monotonic() - started < 5
    assert "Traceback" not in errors


def test_version_19_serves_json2_with_churn() -> None:
    proc, lines = start("--version", "19", "--churn", "0.05", "--database", "acme")
    try:
        banner = read_banner(lines)
        url = next(word for word in banner.split() if word.startswith("http://127.0.0.1:"))
        assert "JSON-2" in banner and "database:  acme" in banner and "churn every 0.05 s" in banner
        common = xmlrpc.client.ServerProxy(url + "/xmlrpc/2/common")
        assert common.version()["server_serie"] == "19.0"
        assert common.login("acme", "admin", "admin") == 2
        code, errors = stop(proc, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, errors
    assert "Traceback" not in errors


def test_keep_alive_is_an_option_and_closing_the_default() -> None:
    from syncd.emulator.__main__ import parse_arguments

    assert parse_arguments([]).keep_alive is False
    assert parse_arguments(["--keep-alive"]).keep_alive is True
