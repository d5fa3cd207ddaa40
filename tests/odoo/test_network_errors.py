"""Network errors that cannot heal are one human line and no retries (`syncd once`, the command
line run in this process: tests/in_process.py); connection refused keeps its retries."""

from __future__ import annotations

import socket
from pathlib import Path

from syncd.emulator import Emulator
from tests.in_process import cli
from tests.test_cli import environment, one_error_line

RETRIED = "odoo transient error"


def config(tmp_path: Path) -> None:
    # A small budget: should a retry happen after all, the test still ends soon. One second
    # still leaves room for a retry (the first pause is at most 0.5 s).
    (tmp_path / "syncd.toml").write_text("[odoo]\nretry_budget = 1\n[log]\nfile = false\n")


def test_an_unknown_host_is_one_line_without_retries(tmp_path: Path) -> None:
    config(tmp_path)
    env = environment(tmp_path, ODOO_URL="http://odoo.invalid:8069", ODOO_DB="odoo",
                      ODOO_USERNAME="sync", ODOO_PASSWORD="x")
    result = cli(tmp_path, env, "once")
    assert result.returncode == 1
    line = one_error_line(result)
    assert "host odoo.invalid not found" in line and "gaierror" not in line, line
    assert RETRIED not in result.stderr


def test_https_to_a_plain_http_port_says_use_http(tmp_path: Path, emulator) -> None:  # type: ignore[no-untyped-def]
    odoo: Emulator = emulator(17)
    config(tmp_path)
    plain = odoo.url.rstrip("/")
    env = environment(tmp_path, odoo, ODOO_URL=plain.replace("http://", "https://"))
    result = cli(tmp_path, env, "once")
    assert result.returncode == 1
    line = one_error_line(result)
    assert f"does not speak TLS here: use {plain}" in line and "SSLError" not in line, line
    assert RETRIED not in result.stderr


def test_connection_refused_is_still_retried(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config(tmp_path)
    env = environment(tmp_path, ODOO_URL=f"http://127.0.0.1:{port}", ODOO_DB="odoo",
                      ODOO_USERNAME="sync", ODOO_PASSWORD="x")
    result = cli(tmp_path, env, "once")
    assert result.returncode == 1
    assert RETRIED in result.stderr and "Connection refused" in one_error_line(result)


def test_a_url_pasted_from_the_browser_names_the_base_url(tmp_path: Path,
                                                          emulator) -> None:  # type: ignore[no-untyped-def]
    odoo: Emulator = emulator(17)
    config(tmp_path)
    base = odoo.url.rstrip("/")
    for path in ("/web", "/odoo/contacts"):
        env = environment(tmp_path, odoo, ODOO_URL=base + path + "#action=123")
        result = cli(tmp_path, env, "once")
        assert result.returncode == 1
        line = one_error_line(result)
        assert f"{base}{path} is a page of Odoo's web client, not its address: use the base " \
            f"URL {base}" in line, line
