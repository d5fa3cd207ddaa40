"""A tiny run of scripts/bench_fresh.py, so the benchmark cannot rot: the emulator and the real
`syncd run` in processes of their own, two writes over XML-RPC, an idle interval. It checks the
figures are there and what an idle daemon pass asks (one window request per model, no login, no
handshake), never how fast anything was."""

from __future__ import annotations

from pathlib import Path

from tests.bench_run import run_bench


def test_the_freshness_benchmark_sees_every_change_and_counts_an_idle_pass(tmp_path: Path) -> None:
    stdout, report = run_bench(
        "bench_fresh.py", ["--changes", "2", "--interval", "1", "--mean-gap", "0.3",
                           "--customers", "40", "--products", "40", "--login-cost", "0",
                           "--idle-passes", "2", "--deadline", "30",
                           "--workdir", str(tmp_path / "work")],
        tmp_path / "fresh.json", timeout=120)
    assert "p95" in stdout
    assert report["latency"]["count"] == 2 and report["latency"]["missing"] == 0
    assert all(w["in_time"] and w["latency"] >= 0 for w in report["writes"])
    assert report["first_pass"]["logins"] == 1  # a fresh data directory: the daemon logs in once
    assert report["idle_passes"], "no idle pass observed"
    for idle in report["idle_passes"]:
        assert idle["calls"] == {"res.partner.search_read": 1, "product.product.search_read": 1}
        assert idle["logins"] == idle["handshake"] == 0
