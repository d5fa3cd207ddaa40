"""`[service] metrics`: the daemon serves Prometheus metrics over real HTTP, scraped here while
a real daemon runs against the emulator. Each pass's `on_pass` holds the daemon until the test
has scraped, so the figures are those of a known number of passes."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from syncd.errors import ConfigError
from syncd.service.metrics import Metrics
from syncd.service.runner import run_daemon
from syncd.sync.report import PassReport
from tests.sync_rig import Rig, make_rig, partner

WAIT = 30.0  # seconds a pass may take before the test gives up on it


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, by (name, sorted labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


class HeldDaemon:
    """`run_daemon` in a thread, stopping after each pass until `next_pass()` lets it go on."""

    def __init__(self, rig: Rig, metrics: Metrics) -> None:
        self.done: queue.Queue[PassReport] = queue.Queue()
        self.go: queue.Queue[None] = queue.Queue()
        self.stop = threading.Event()
        self.result: list[int | BaseException] = []

        def on_pass(report: PassReport) -> None:
            self.done.put(report)
            self.go.get(timeout=WAIT)

        def run() -> None:
            try:
                self.result.append(run_daemon(rig.settings, stop=self.stop, on_pass=on_pass,
                                              metrics=metrics))
            except BaseException as exc:  # noqa: BLE001 - shown by the test
                self.result.append(exc)

        self.thread = threading.Thread(target=run, name="daemon-under-test", daemon=True)
        self.thread.start()

    def first_pass(self) -> PassReport:
        return self.done.get(timeout=WAIT)

    def next_pass(self) -> PassReport:
        self.go.put(None)
        return self.done.get(timeout=WAIT)

    def close(self) -> None:
        self.stop.set()
        self.go.put(None)
        self.thread.join(WAIT)
        assert self.result == [0]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = make_rig(tmp_path)
    # No retries: a server error fails the pass at once (a retry would sleep for real).
    rig.settings = replace(rig.settings, odoo=replace(rig.settings.odoo, retry_budget=0),
                           sync=replace(rig.settings.sync, interval=0.05))
    for n in range(30):
        rig.db.create("res.partner", partner(None, n))
    rig.db.create("product.product", {"name": "Chair", "list_price": 10.0})
    try:
        yield rig
    finally:
        rig.close()


def test_the_daemon_serves_its_passes_failures_records_and_traffic(rig: Rig) -> None:
    clock = FakeClock()
    metrics = Metrics(("127.0.0.1", 0), clock=clock)
    daemon = HeldDaemon(rig, metrics)
    try:
        assert daemon.first_pass().ok
        clock.now += 42.5
        seen = scrape(metrics.port)
        assert seen[("syncd_passes_total", ())] == 1
        assert seen[("syncd_pass_failures_total", ())] == 0
        for name in ("customers", "products"):
            stored = len(rig.snapshot(name))
            assert stored == len(rig.expected(name)) > 0
            assert seen[("syncd_records", (("model", name),))] == stored
        assert seen[("syncd_seconds_since_last_success", ())] == 42.5
        assert seen[("syncd_odoo_requests_total", ())] >= 3  # version, login, a read per model
        assert seen[("syncd_odoo_bytes_received_total", ())] > 1000
        assert seen[("syncd_odoo_bytes_sent_total", ())] > 0
        assert seen[("syncd_pass_duration_seconds_count", ())] == 1

        rig.db.create("res.partner", partner(None, 99))
        assert daemon.next_pass().ok
        requests = seen[("syncd_odoo_requests_total", ())]
        seen = scrape(metrics.port)
        assert seen[("syncd_passes_total", ())] == 2
        assert seen[("syncd_records", (("model", "customers"),))] == 31
        assert seen[("syncd_seconds_since_last_success", ())] == 0
        assert seen[("syncd_odoo_requests_total", ())] > requests

        rig.emulator.faults.add("http_500", times=100, model="res.partner")
        clock.now += 7
        assert not daemon.next_pass().ok
        seen = scrape(metrics.port)
        assert seen[("syncd_passes_total", ())] == 3
        assert seen[("syncd_pass_failures_total", ())] == 1
        assert seen[("syncd_records", (("model", "customers"),))] == 31  # the last good pass's
        assert seen[("syncd_seconds_since_last_success", ())] == 7
        assert seen[("syncd_pass_duration_seconds_count", ())] == 3
        assert seen[("syncd_pass_duration_seconds_bucket", (("le", "+Inf"),))] == 3
    finally:
        rig.emulator.faults.clear()
        daemon.close()
    with pytest.raises(OSError):  # the server went with the daemon
        scrape(metrics.port)


def test_a_port_in_use_is_a_configuration_error_naming_the_key(rig: Rig) -> None:
    first = Metrics(("127.0.0.1", 0))
    with first.serving():
        with pytest.raises(ConfigError, match=r"^\[service\]\.metrics: cannot listen on "):
            run_daemon(rig.settings, metrics=Metrics(("127.0.0.1", first.port)))


def test_without_prometheus_client_a_metrics_address_exits_2_naming_the_extra(
        tmp_path: Path) -> None:
    (tmp_path / "syncd.toml").write_text(
        '[odoo]\ndatabase = "d"\nusername = "u"\npassword = "p"\n'
        '[service]\nmetrics = "127.0.0.1:9184"\n')
    blocked = ("import sys; sys.modules['prometheus_client'] = None; "
               "from syncd.cli import main; sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", blocked, "run"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("syncd: error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert "[service].metrics needs prometheus_client" in errors[0]
    assert "pip install -e '.[metrics]'" in errors[0]
