"""What one pass landing costs a follower (``syncd.consumer.follow``), on every sink, at N records.

For each sink and size: a store of N partners is written through the sink's own pass writer
(journal on), a follower in a process of its own takes its baseline, then passes that change 10
records each land and the follower's look is timed: CPU and wall seconds per event, and the
follower process's peak RSS. Also the cost of an idle look (nothing landed: one stamp), and on
PostgreSQL the time from a pass's COMMIT to the follower's event while it waits on ``LISTEN``.

The point is the shape: the cost of an event is the change's, not the table's, so the 1M row
is within 1.5x of the 100k row on every sink.

    python scripts/bench_follow.py                 # 100,000 and 1,000,000 records, every sink
    python scripts/bench_follow.py --sizes 20000 --sinks json sqlite --events 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

if __name__ == "__main__":  # `python scripts/<this>.py` with any Python: syncd must import
    from repo_venv import use_repo_venv

    use_repo_venv()

from syncd.settings import ModelSpec, Settings, SinkSettings, SyncSettings  # noqa: E402
from syncd.consumer.follow import Follow  # noqa: E402
from syncd.sinks.factory import make_sink  # noqa: E402
from syncd.sync.changes import ChangeSet, RebuildReason  # noqa: E402
from syncd.sync.record import Layout  # noqa: E402
from syncd.sync.report import ModelReport  # noqa: E402
from syncd.sync.seam import Sink  # noqa: E402
from syncd.sync.upserts import Upserts  # noqa: E402

FIELDS = ("name", "email", "phone", "is_company", "parent_id", "write_date")
CHANGED = 10


def record(n: int, tag: int = 0) -> dict[str, Any]:
    return {"id": n, "name": f"Partner {n}" + (f" v{tag}" if tag else ""),
            "email": f"p{n}@example.com", "phone": "+32 2 555 0000", "is_company": True,
            "parent_id": False, "write_date": "2026-01-01 00:00:00"}


def settings_of(kind: str, data: Path, dsn: str) -> Settings:
    sink = SinkSettings(kind=kind, dsn=dsn if kind == "postgres" else "",
                        path=data / "odoo.sqlite" if kind == "sqlite" else None)
    return Settings(sync=SyncSettings(data_dir=data, journal=True), sink=sink,
                    models=(ModelSpec(name="customers", model="res.partner", fields=FIELDS),))


def commit(sink: Sink, count: int, tag: int) -> None:
    """One pass: the whole store (tag 0) or CHANGED records rewritten in place."""
    state = sink.load_state()
    model = state.model("customers")
    model.model, model.fields = "res.partner", FIELDS
    change = ChangeSet(name="customers", fields=FIELDS, state=model,
                       report=ModelReport(name="customers", model="res.partner"))
    if tag == 0:
        layout = Layout(FIELDS)
        change.rebuild = ((r, layout.line(r)) for r in (record(n) for n in range(1, count + 1)))
        change.reasons = [RebuildReason.FIRST_SYNC]
    else:
        step = count // CHANGED
        change.upserts = Upserts.of(FIELDS, (record(n, tag) for n in range(step, count + 1, step)))
    writer = sink.begin(at="2026-01-01 00:00:00")
    applied = writer.write(change)
    model.records = applied.records
    state.last_sync = "2026-01-01 00:00:00"
    writer.commit(state)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def follower_process(kind: str, data: str, dsn: str, listen: bool) -> None:
    """The follower side: commands on stdin ("look", "quit"), one JSON line per answer."""
    settings = settings_of(kind, Path(data), dsn)
    follower = Follow(settings, records=True, observer="native" if listen else "none")
    started = time.perf_counter()
    follower.start()
    print(json.dumps({"baseline": time.perf_counter() - started, "rss": peak_mb()}), flush=True)
    if listen:  # wait on the sink (LISTEN) and say when each change arrives
        def relay() -> None:
            for change in follower:
                print(json.dumps({"event": time.time(), "updated": len(change.updated)}),
                      flush=True)
        threading.Thread(target=relay, daemon=True).start()
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        cpu, wall = time.process_time(), time.perf_counter()
        changes = follower.check()
        answer = {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
                  "updated": sum(len(c.updated) for c in changes), "rss": peak_mb(),
                  "reads": follower.reads}
        print(json.dumps(answer), flush=True)
    follower.stop()


class Follower:
    def __init__(self, kind: str, data: Path, dsn: str, listen: bool = False) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--follower", kind, str(data), dsn, str(int(listen))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.first = self.read()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the follower process ended")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def look(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("look\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def measure(kind: str, count: int, events: int, dsn: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = settings_of(kind, data, dsn)
        sink = make_sink(settings)
        try:
            commit(sink, count, 0)
            follower = Follower(kind, data, dsn)
            idle = [follower.look() for _ in range(5)]
            looks = []
            for tag in range(1, events + 1):
                commit(sink, count, tag)
                answer = follower.look()
                assert answer["updated"] == CHANGED, answer
                looks.append(answer)
            follower.close()
            row = {"sink": kind, "records": count,
                   "event_cpu": statistics.median(a["cpu"] for a in looks),
                   "event_wall": statistics.median(a["wall"] for a in looks),
                   "idle_wall": statistics.median(a["wall"] for a in idle),
                   "copies_read_per_event": looks[-1]["reads"] - idle[-1]["reads"],
                   "baseline_s": follower.first["baseline"], "peak_rss_mb": looks[-1]["rss"]}
            if kind == "postgres":
                row["notify_ms"] = latency(sink, data, dsn, count, events)
            return row
        finally:
            sink.close()


def latency(sink: Sink, data: Path, dsn: str, count: int, events: int) -> dict[str, float]:
    """COMMIT to the follower's event, while it waits on LISTEN (ms: p50, p95, max)."""
    follower = Follower("postgres", data, dsn, listen=True)
    samples = []
    for tag in range(100, 100 + max(events, 20)):
        commit(sink, count, tag)
        committed = time.time()
        answer = follower.read()
        samples.append((answer["event"] - committed) * 1000)
    follower.close()
    samples.sort()
    return {"p50": statistics.median(samples),
            "p95": samples[max(0, round(0.95 * len(samples)) - 1)], "max": samples[-1]}


def postgres_dsn(keep: list[Any]) -> str:
    from tests.pg_server import PgServer

    server = PgServer(Path(tempfile.mkdtemp(prefix="syncd-bench-pg-")))
    server.start()
    keep.append(server)
    server.sql("postgres", "CREATE DATABASE bench")
    return server.dsn("bench")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--follower":
        follower_process(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--sinks", nargs="+", default=["json", "sqlite", "postgres"])
    parser.add_argument("--events", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    servers: list[Any] = []
    rows = []
    try:
        dsn = postgres_dsn(servers) if "postgres" in args.sinks else ""
        for kind in args.sinks:
            for count in args.sizes:
                if kind == "postgres":
                    for server in servers:  # a fresh database per size
                        server.sql("postgres", "DROP DATABASE IF EXISTS bench")
                        server.sql("postgres", "CREATE DATABASE bench")
                row = measure(kind, count, args.events, dsn)
                rows.append(row)
                extra = ""
                if "notify_ms" in row:
                    n = row["notify_ms"]
                    extra = f"  COMMIT->event p50 {n['p50']:.0f} ms p95 {n['p95']:.0f} ms"
                print(f"{kind:8} {count:>9,} records: event {row['event_cpu'] * 1000:.2f} ms "
                      f"CPU {row['event_wall'] * 1000:.2f} ms wall, copies read "
                      f"{row['copies_read_per_event']}, idle look {row['idle_wall'] * 1000:.2f} "
                      f"ms, baseline {row['baseline_s']:.1f} s, follower peak RSS "
                      f"{row['peak_rss_mb']:.0f} MB{extra}", flush=True)
        for kind in args.sinks:
            mine = sorted((r for r in rows if r["sink"] == kind), key=lambda r: r["records"])
            if len(mine) > 1:
                ratio = mine[-1]["event_wall"] / max(mine[0]["event_wall"], 1e-9)
                print(f"{kind}: event wall at {mine[-1]['records']:,} / at "
                      f"{mine[0]['records']:,} = {ratio:.2f}x")
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
