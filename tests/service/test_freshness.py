"""Item 9 of the reliability issue: freshness. `syncd run` at a short interval while Odoo
changes at random moments (tests/service/freshness.py): every change lands in the snapshot
within about one interval plus the pass, and an idle pass costs one request per model."""

from __future__ import annotations

from pathlib import Path

from tests.service.freshness import measure


def test_changes_land_within_about_an_interval_and_idle_passes_are_cheap(tmp_path: Path) -> None:
    # 0.1 s, half reliability.py's interval: the same property, in half the time (the writer's
    # random moments are 0 to 3 intervals apart).
    result = measure(tmp_path, changes=15, interval=0.1, idle_passes=5)
    print(f"latency p50 {result.percentile(50):.3f} s, p95 {result.percentile(95):.3f} s, "
          f"max {max(result.latencies):.3f} s; {result.requests_per_idle_pass:g} requests "
          "per idle pass")
    assert result.problems == [] and result.unseen == 0
    assert len(result.latencies) == 15
    # An interval, the pass itself, the watcher's 5 ms: a generous bound for a loaded machine.
    assert max(result.latencies) < result.interval + 5
    assert result.requests_per_idle_pass <= 2  # one search_read per model, nothing more
