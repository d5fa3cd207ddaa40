"""Item 4 of the reliability issue: network and server faults from the emulator (HTTP 500, 502,
503, 429 with Retry-After, dropped connections, bodies cut short, malformed JSON/XML, an HTML
page from a proxy, answers slower than the timeout, credentials revoked mid-pass) at random over
many passes (tests/sync/fault_storm.py): each pass retries through them or fails with one line
changing nothing, and the pass after them converges. The same through the real command; and the
harness reports a writer that breaks the guarantee."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from syncd.emulator import Emulator
from syncd.sinks.datadir import ERROR_FILE
from tests.sync.fault_storm import KINDS, Revocation, storm
from tests.sync_rig import SINKS
from tests.test_cli import environment, odoo, one_error_line, syncd  # noqa: F401 - a fixture


def check(workdir: Path, sink: str, passes: int, seed: int, protocol: str = "jsonrpc",
          version: int = 17) -> None:
    result = storm(workdir, sink, passes=passes, seed=seed, protocol=protocol, version=version)
    print(f"{result.passes} passes, {result.succeeded} succeeded, {result.failed} failed "
          f"cleanly; faults fired {dict(result.fired)}; {result.requests} requests")
    assert result.failures == []
    assert set(result.fired) == {kind for kind, _ in KINDS}  # every kind tried
    assert result.succeeded and result.failed  # some retried through, some failed the pass


@pytest.mark.parametrize("sink", SINKS)
def test_faults_are_retried_or_fail_the_pass_cleanly_and_passes_converge(
        tmp_path: Path, sink: str) -> None:
    check(tmp_path, sink, 20, seed=17)


@pytest.mark.parametrize("protocol, version", [("xmlrpc", 17), ("json2", 19)])
def test_the_same_faults_on_the_other_protocols(tmp_path: Path, protocol: str,
                                                version: int) -> None:
    check(tmp_path, "json", 20, seed=18, protocol=protocol, version=version)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_longer_fault_storms(tmp_path: Path, seed: int) -> None:
    check(tmp_path, "json", 100, seed=seed)


def test_the_storm_catches_a_failed_pass_that_keeps_what_it_wrote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness can fail: a SQLite writer whose abort commits (the models written before
    the fault stay, a partial pass) is reported. Seed 20 fails passes on products after
    customers was written (most faults hit a pass's first request, which is customers')."""
    from syncd.sinks.sqlite.writer import SqlitePassWriter

    def commit_instead(self: SqlitePassWriter) -> None:
        db = self.sink.open_connection
        if db is not None and db.in_transaction:
            db.execute("COMMIT")

    monkeypatch.setattr(SqlitePassWriter, "abort", commit_instead)
    result = storm(tmp_path, "sqlite", passes=20, seed=20)
    assert any("a failed pass changed" in failure for failure in result.failures), \
        result.failures


def test_credentials_revoked_mid_pass_fail_the_command_with_one_line_changing_nothing(
        tmp_path: Path, odoo: Emulator) -> None:  # noqa: F811
    env = environment(tmp_path, odoo)
    assert syncd(tmp_path, env, "once").returncode == 0
    data = tmp_path / "data"
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    odoo.db.create("res.partner", {"name": "New", "email": "new@example.com"})
    odoo.db.create("product.product", {"name": "New product", "list_price": 1.0})
    revocation = Revocation(odoo.db)
    revocation.arm(1)  # the first query passes (the kept handshake: no login); then refused
    result = syncd(tmp_path, env, "once")
    assert revocation.fired
    assert result.returncode == 1
    line = one_error_line(result)
    assert "refused" in line and odoo.password not in line
    after = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    assert orjson.loads(after.pop(ERROR_FILE))["error"]
    assert after == before
    revocation.lift()
    assert syncd(tmp_path, env, "once").returncode == 0
    stored = orjson.loads((data / "odoo_products.json").read_bytes())
    assert "New product" in [r["name"] for r in stored]
