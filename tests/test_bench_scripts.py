"""Tiny runs of the benchmark scripts without a smoke test of their own (bench_sync.py and
bench_fresh.py have theirs), run as a user runs them, so they cannot rot: each exits 0 and
prints its figures, and what the figures must show whatever the speed holds. (bench_postgres.py
had rotted: it still called bench_write_path's configuration the way it was before the sink
kind became one of its arguments.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import pg_server
from tests.bench_run import ROOT, run_bench, run_script


@pytest.mark.parametrize("sinks", [("json", "sqlite"), ("postgres",)],
                         ids=["files", "postgres"])
def test_bench_follow_reads_no_copy_per_event(tmp_path: Path, sinks: tuple[str, ...]) -> None:
    """An event costs the change, not the table: the follower reads no whole copy for it, on
    every sink (a follower that reloads the table on each event reads one per event)."""
    if "postgres" in sinks:
        pg_server.server()  # skips, or fails under SYNCD_REQUIRE_POSTGRES=1, without one
    stdout, rows = run_bench("bench_follow.py", ["--sizes", "500", "2000", "--sinks", *sinks,
                                                 "--events", "2"], tmp_path / "follow.json")
    assert isinstance(rows, list)
    assert sorted((r["sink"], r["records"]) for r in rows) == \
        sorted((s, n) for s in sinks for n in (500, 2000))
    for row in rows:
        assert row["copies_read_per_event"] == 0, row
        assert row["event_wall"] > 0 and row["peak_rss_mb"] > 0
        if row["sink"] == "postgres":  # woken by LISTEN, not by polling
            assert row["notify_ms"]["p50"] >= 0
    for sink in sinks:
        assert re.search(rf"^{sink}: event wall at 2,000 / at 500 = [\d.]+x$", stdout, re.MULTILINE)


def test_bench_matcher_finds_what_the_emails_were_made_from() -> None:
    stdout = run_script("bench_matcher.py", "--customers", "800", "--products", "800",
                        "--emails", "40")
    assert "40 emails" in stdout
    found = re.search(r"found: customer or its company (\d+)%, product .* (\d+)%", stdout)
    assert found, stdout
    # Seeded emails made from records the index holds: the rules find nearly all of them.
    assert int(found[1]) >= 90 and int(found[2]) >= 90, stdout


def test_bench_write_path_runs_every_pass_on_both_file_sinks() -> None:
    stdout = run_script("bench_write_path.py", "--records", "1500")
    assert "failed" not in stdout, stdout
    for label in ("full sync (old) [json]", "all changed [json]", "all changed [sqlite]"):
        assert re.search(rf"^{re.escape(label)}\s+peak RSS\s+[\d.]+ MB", stdout,
                         re.MULTILINE), stdout


def test_bench_postgres_compares_the_postgres_sink_with_json() -> None:
    pg_server.server()
    stdout = run_script("bench_postgres.py", "--records", "1500")
    for label in ("json: full sync", "json: 10 changes", "postgres: full sync",
                  "postgres: 10 changes"):
        assert re.search(rf"^{label}\s+CPU\s+[\d.]+ s\s+wall", stdout, re.MULTILINE), stdout
    assert re.search(r"PostgreSQL / JSON: [\d.]+x", stdout), stdout


@pytest.mark.parametrize("script", ["bench_sync.py", "bench_follow.py", "bench_fresh.py",
                                    "bench_matcher.py", "bench_postgres.py",
                                    "bench_write_path.py"])
def test_a_benchmark_runs_with_a_python_where_syncd_does_not_import(script: str) -> None:
    """`python scripts/bench_sync.py`, as the README says it: a bare `python` has neither syncd
    nor its dependencies (here: no site-packages at all, `-S`), so the script runs itself again
    with the repository's .venv instead of failing on its first import."""
    bare = getattr(sys, "_base_executable", sys.executable)
    probe = subprocess.run([bare, "-S", "-c", "import orjson"], capture_output=True, check=False)
    assert probe.returncode != 0  # the interpreter below really lacks syncd's dependencies
    done = subprocess.run([bare, "-S", str(ROOT / "scripts" / script), "--help"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"usage: {script}"), done.stdout[:500]
