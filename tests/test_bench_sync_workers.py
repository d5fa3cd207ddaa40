"""A tiny run of scripts/bench_sync.py's `workers` profile (a server with N workers and a cost
per row examined), so it cannot rot: the figures are there and consistent, never how fast."""

from __future__ import annotations

from pathlib import Path

from tests.bench_run import run_bench


def test_the_workers_profile_runs_and_reports_round_trips(tmp_path: Path) -> None:
    stdout, report = run_bench(
        "bench_sync.py", ["--records", "1200", "--page-size", "50", "--repeats", "1",
                          "--changes", "10", "--naive-cap", "1200", "--paging-records", "0",
                          "--profiles", "workers", "--protocols", "json2",
                          "--server-workers", "2", "--row-cost-us", "20", "--login-cost", "0"],
        tmp_path / "bench.json")
    assert "full sync against the wire floor" in stdout
    groups = {(g["profile"], g["protocol"]): {r["pass"]: r for r in g["rows"]}
              for g in report["groups"]}
    assert set(groups) == {("workers", "json2"), ("workers", "naive")}
    rows = groups[("workers", "json2")]
    full, one = rows["full sync"], rows["full sync, workers 1"]
    assert full["fetched"] == one["fetched"] == 1200
    assert one["round_trips"] == one["requests"]  # one at a time
    assert full["round_trips"] < full["requests"]  # several at once
    assert full["rows_examined"] >= 1200
    naive = groups[("workers", "naive")]
    assert naive["naive full sync (1,200)"]["rows_examined"] > \
        naive["syncd full sync, xmlrpc (1,200)"]["rows_examined"]
    # Where the server pays per row examined, the naive client is held to the 10x target.
    judged = [t for t in report["targets"] if t["where"] == "workers, naive"]
    assert [(t["what"], t["held"]) for t in judged] == [("naive / syncd full sync", True)]
