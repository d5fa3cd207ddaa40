"""Benchmark: how fresh `syncd run` keeps the copy, and what an idle daemon pass costs the server.

Prints a table and writes JSON; asserts nothing, but exits 1 when a change never reaches the
copy (within `--deadline` seconds) or the daemon dies. Three processes, as in production:

- the Odoo emulator (Odoo 17, `--customers` partners and `--products` products of demo data) in
  a child process of its own (`--serve`), on 127.0.0.1 over real HTTP, logging every request it
  serves (when it began and ended, the path, the model method or login) to a file;
- the real daemon, `syncd --config <file> run` (the console script beside this interpreter, so
  run it with `.venv/bin/python`), `--interval` seconds, the default models (customers and
  products), the `--sink` given (json, sqlite, or postgres with `--pg-dsn`);
- this process: it writes `--changes` records one at a time over XML-RPC, as an Odoo user's
  program would (`execute_kw(..., 'write', ...)`), at random moments (gaps drawn from an
  exponential distribution of mean `--mean-gap`, seeded by `--seed`, so no change is in step
  with the daemon's cadence), and follows the copy with syncd's own reader
  (`syncd.consumer.follow`, the way a consumer would).

Latency is from the write's commit (the moment its RPC answer is back: Odoo commits before it
answers) to the moment the follower yields the changed record with the written value. Then it
leaves the server alone for `--idle-passes` intervals and counts, from the emulator's request
log, what each daemon pass asked: on an idle pass, one window request per model and nothing
else (no login, no version or context handshake) is what syncd promises.

    .venv/bin/python scripts/bench_fresh.py                         # 60 changes at interval 5
    .venv/bin/python scripts/bench_fresh.py --sink sqlite --changes 30
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from datetime import timedelta
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # `python scripts/<this>.py` with any Python: syncd must import
    from repo_venv import use_repo_venv

    use_repo_venv()


MODELS = {"customers": ("res.partner", "phone"), "products": ("product.product", "default_code")}


# -- the emulator's process --------------------------------------------------------------------------
def serve(job: dict[str, Any]) -> None:
    """Serve an emulator with demo data until SIGTERM/SIGINT, logging each request to a file.

    The log is one JSON object per request, written when its answer has been sent:
    ``{"start", "end"}`` (time.time() on this machine), ``"path"``, ``"call"`` ("model.method"
    for an object call, "login" for common.login/authenticate, null for the other common/db
    calls such as version), ``"sent"`` (bytes of the answer)."""
    from syncd.emulator.demo_data import populate
    from syncd.emulator.injection import Stats
    from syncd.emulator.server import Emulator

    log = open(job["log"], "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life
    lock = threading.Lock()
    current = threading.local()

    class LoggingStats(Stats):
        def count_request(self, path: str, received: int) -> None:
            current.entry = {"start": time.time(), "path": path, "call": None}
            super().count_request(path, received)

        def count_call(self, model: str, method: str) -> None:
            getattr(current, "entry", {})["call"] = f"{model}.{method}"
            super().count_call(model, method)

        def count_login(self) -> None:
            getattr(current, "entry", {})["call"] = "login"
            super().count_login()

        def count_sent(self, sent: int) -> None:
            super().count_sent(sent)
            entry = getattr(current, "entry", None)
            if entry is None:
                return
            entry.update(end=time.time(), sent=sent)
            current.entry = None
            with lock:
                log.write(json.dumps(entry) + "\n")
                log.flush()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    em = Emulator(17, login_cost=job["login_cost"], admin_partner=True)
    # The demo data as an existing database's: stamped a day ago, far outside the daemon's
    # lookback, so a pass re-reads only what the benchmark changes (steady state, not the
    # passes just after an import, which re-read all of it).
    em.db.clock.freeze(em.db.clock.now() - timedelta(days=1))
    populate(em.db, customers=job["customers"], products=job["products"], seed=job["seed"])
    em.db.clock.unfreeze()
    em.stats = LoggingStats()  # before start(): the server counts into it
    url = em.start("127.0.0.1", 0)
    print(json.dumps({"url": url, "db": em.db.name, "login": em.login,
                      "password": em.password}), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        em.stop()
        log.close()


# -- this process ----------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated between the two nearest ranks."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entries.append(json.loads(line))
    return sorted(entries, key=lambda e: e["start"])


def passes_of(entries: list[dict[str, Any]], gap: float) -> list[list[dict[str, Any]]]:
    """The daemon's requests grouped into passes: a pass is a burst of requests, and bursts are
    `gap` seconds apart or more (the daemon waits most of an interval between passes)."""
    groups: list[list[dict[str, Any]]] = []
    for entry in entries:
        if groups and entry["start"] - groups[-1][-1]["end"] < gap:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    return groups


def describe(group: list[dict[str, Any]]) -> dict[str, Any]:
    calls: dict[str, int] = {}
    for entry in group:
        name = entry["call"] or f"{entry['path']} (common/db: version, context...)"
        calls[name] = calls.get(name, 0) + 1
    return {"requests": len(group), "calls": calls,
            "logins": sum(1 for e in group if e["call"] == "login"),
            "handshake": sum(1 for e in group if e["call"] is None or e["call"] == "login"),
            "server_ms": sum(e["end"] - e["start"] for e in group) * 1000,
            "span_ms": (group[-1]["end"] - group[0]["start"]) * 1000,
            "sent_bytes": sum(e["sent"] for e in group)}


def config_text(args: argparse.Namespace, server: dict[str, Any], data_dir: Path) -> str:
    text = json.dumps  # a JSON string is a TOML basic string (a Windows path's \\ included)
    lines = ["[odoo]", f"url = {text(server['url'])}", f"database = {text(server['db'])}",
             f"username = {text(server['login'])}", f"protocol = {text(args.protocol)}", "",
             "[sync]", f"data_dir = {text(str(data_dir))}", f"interval = {args.interval}", "",
             "[log]", "file = false", "", "[sink]", f"kind = {text(args.sink)}"]
    if args.sink == "postgres":
        lines.append(f"dsn = {text(args.pg_dsn)}")
    return "\n".join(lines) + "\n"


def syncd_command() -> list[str]:
    """The console script installed beside this interpreter (.venv/bin/syncd), else the module."""
    script = Path(sys.executable).parent / ("syncd.exe" if os.name == "nt" else "syncd")
    return [str(script)] if script.exists() else [sys.executable, "-m", "syncd"]


class Arrivals:
    """Follows the copy in a thread; records when each awaited (model, id, value) shows up."""

    def __init__(self, config: Path) -> None:
        from syncd import consumer
        self.follow = consumer.follow(str(config), list(MODELS))
        self.lock = threading.Lock()
        self.awaited: dict[tuple[str, int], tuple[str, threading.Event]] = {}
        self.seen: dict[tuple[str, int], float] = {}
        self.changes = 0
        self.error: BaseException | None = None
        self.follow.start()  # the baseline: what is stored now is no change
        self.thread = threading.Thread(target=self._run, name="follow", daemon=True)
        self.thread.start()

    def expect(self, name: str, record_id: int, value: str) -> threading.Event:
        event = threading.Event()
        with self.lock:
            self.awaited[(name, record_id)] = (value, event)
        return event

    def _run(self) -> None:
        field_of = {name: field for name, (_, field) in MODELS.items()}
        try:
            for change in self.follow:
                now = time.time()
                self.changes += 1
                with self.lock:
                    for record_id, record in {**change.added, **change.updated}.items():
                        key = (change.name, record_id)
                        hoped = self.awaited.get(key)
                        if hoped is not None and record.get(field_of[change.name]) == hoped[0]:
                            self.seen[key] = now
                            del self.awaited[key]
                            hoped[1].set()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc

    def stop(self) -> None:
        self.follow.stop()
        self.thread.join(timeout=10)


def wait_for_copy(config: Path, daemon: subprocess.Popen[bytes], timeout: float) -> None:
    """Until the daemon's first pass has stored every model (or it died, or `timeout`)."""
    from syncd import consumer
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit(f"syncd run exited with {daemon.returncode} before its first pass")
        try:
            if all(consumer.load(str(config), name) for name in MODELS):
                return
        except Exception:  # noqa: BLE001 - not there yet
            pass
        time.sleep(0.1)
    raise SystemExit(f"the daemon's first pass did not land within {timeout:g} s")


def run(args: argparse.Namespace, work: Path) -> tuple[dict[str, Any], int]:
    rng = random.Random(args.seed)
    log_path, data_dir, config = work / "requests.jsonl", work / "data", work / "syncd.toml"
    server_job = {"log": str(log_path), "customers": args.customers, "products": args.products,
                  "seed": args.seed, "login_cost": args.login_cost}
    emulator = subprocess.Popen([sys.executable, __file__, "--serve", json.dumps(server_job)],
                                stdout=subprocess.PIPE, text=True)
    daemon: subprocess.Popen[bytes] | None = None
    arrivals: Arrivals | None = None
    daemon_log = (work / "syncd-run.log").open("wb")
    try:
        assert emulator.stdout is not None
        ready = emulator.stdout.readline()
        if not ready:
            raise SystemExit("the emulator's process ended before serving")
        server = json.loads(ready)
        # This process's own session, before the daemon starts: a login and the ids to write.
        common = xmlrpc.client.ServerProxy(f"{server['url']}/xmlrpc/2/common")
        rpc = xmlrpc.client.ServerProxy(f"{server['url']}/xmlrpc/2/object")
        uid = common.login(server["db"], server["login"], server["password"])
        ids = {name: rpc.execute_kw(server["db"], uid, server["password"], model, "search", [[]])
               for name, (model, _) in MODELS.items()}
        config.write_text(config_text(args, server, data_dir), encoding="utf-8")
        env = {**os.environ, "ODOO_PASSWORD": server["password"]}
        for key in ("SYNCD_CONFIG", "SYNCD_DATA_DIR", "ODOO_URL", "ODOO_DB", "ODOO_USERNAME",
                    "ODOO_API_KEY"):
            env.pop(key, None)
        daemon_started = time.time()
        daemon = subprocess.Popen([*syncd_command(), "--config", str(config), "run"],
                                  stdout=daemon_log, stderr=subprocess.STDOUT, env=env)
        wait_for_copy(config, daemon, args.deadline + 60)
        first_pass_landed = time.time()
        arrivals = Arrivals(config)

        # The changes: one write at a time, at random moments, each awaited concurrently.
        picks = [(name, record_id) for name in MODELS for record_id in ids[name]]
        chosen = rng.sample(picks, min(args.changes, len(picks)))
        writes: list[dict[str, Any]] = []
        for n, (name, record_id) in enumerate(chosen):
            time.sleep(min(rng.expovariate(1 / args.mean_gap), 4 * args.mean_gap))
            model, field = MODELS[name]
            value = f"+1 555 {n:04d} {rng.randrange(10**6):06d}" if field == "phone" \
                else f"FRESH-{n:04d}-{rng.randrange(10**6):06d}"
            event = arrivals.expect(name, record_id, value)
            sent = time.time()
            rpc.execute_kw(server["db"], uid, server["password"], model, "write",
                           [[record_id], {field: value}])
            writes.append({"model": name, "id": record_id, "value": value, "sent": sent,
                           "committed": time.time(), "event": event})
            if daemon.poll() is not None:
                raise SystemExit(f"syncd run exited with {daemon.returncode}")
        for write in writes:
            write["event"].wait(max(0.0, write["committed"] + args.deadline - time.time()))
        changes_done = time.time()

        # The idle passes: nothing written for a while; what did each pass ask?
        time.sleep(args.idle_passes * args.interval + min(args.interval, 1.0))
        idle_until = time.time()
        if daemon.poll() is not None:
            raise SystemExit(f"syncd run exited with {daemon.returncode}")
    finally:
        if arrivals is not None:
            arrivals.stop()
        for process in (daemon, emulator):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (daemon, emulator):
            if process is not None:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        daemon_log.close()

    log = [e for e in read_log(log_path) if e["start"] >= daemon_started]
    ours = [e for e in log if e["call"] is not None and e["call"].endswith(".write")]
    theirs = [e for e in log if e not in ours]
    groups = passes_of(theirs, gap=min(args.interval / 2, 1.0))
    margin = 0.2
    idle = [describe(g) for g in groups
            if g[0]["start"] > changes_done + margin and g[-1]["end"] < idle_until - margin]
    busy = [describe(g) for g in groups if first_pass_landed < g[0]["start"] < changes_done]
    for write in writes:
        arrived = arrivals.seen.get((write["model"], write["id"])) if arrivals else None
        write["latency"] = None if arrived is None else arrived - write["committed"]
        write["in_time"] = write["latency"] is not None and write["latency"] <= args.deadline
        write["rpc_ms"] = (write["committed"] - write["sent"]) * 1000
        del write["event"]
    latencies = [w["latency"] for w in writes if w["latency"] is not None]
    missing = [w for w in writes if not w["in_time"]]  # never seen, or seen after the deadline
    result = {
        "latency": {"count": len(latencies), "missing": len(missing),
                    "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
                    "max": max(latencies, default=math.nan),
                    "write_rpc_ms_median": statistics.median(w["rpc_ms"] for w in writes)
                    if writes else math.nan},
        "first_pass": describe(groups[0]) if groups else None,
        "busy_passes": busy,
        "idle_passes": idle,
        "writes": writes,
        "follower_changes": arrivals.changes if arrivals else 0,
    }
    if arrivals is not None and arrivals.error is not None:
        result["follower_error"] = repr(arrivals.error)
    return result, (1 if missing or (arrivals and arrivals.error) else 0)


def report(args: argparse.Namespace, result: dict[str, Any], load: tuple[float, ...]) -> None:
    lat = result["latency"]
    print(f"syncd run, interval {args.interval:g} s, {args.sink} sink, {args.protocol}; "
          f"emulated Odoo 17 with {args.customers:,} customers and {args.products:,} products "
          f"on 127.0.0.1; {args.changes} changes (mean gap {args.mean_gap:g} s, seed {args.seed}); "
          f"{os.cpu_count()} CPUs, load average {load[0]:.2f} at start")
    print(f"\nchange-to-copy latency (write's commit to the follower seeing it), "
          f"{lat['count']} of {args.changes} arrived:")
    print(f"  p50 {lat['p50']:.2f} s   p95 {lat['p95']:.2f} s   max {lat['max']:.2f} s   "
          f"(the write's own RPC: {lat['write_rpc_ms_median']:.1f} ms median)")
    for label, passes in (("idle passes", result["idle_passes"]),
                          ("passes while changing", result["busy_passes"])):
        if not passes:
            print(f"\n{label}: none observed")
            continue
        requests = [p["requests"] for p in passes]
        print(f"\n{label}: {len(passes)}; requests per pass: min {min(requests)}, "
              f"median {statistics.median(requests):g}, max {max(requests)}; logins "
              f"{sum(p['logins'] for p in passes)}; handshake calls "
              f"{sum(p['handshake'] for p in passes)}; server time per pass "
              f"{statistics.median(p['server_ms'] for p in passes):.1f} ms median")
        calls: dict[str, int] = {}
        for p in passes:
            for name, n in p["calls"].items():
                calls[name] = calls.get(name, 0) + n
        for name, n in sorted(calls.items()):
            print(f"  {name}: {n / len(passes):g} per pass")
    first = result["first_pass"]
    if first:
        print(f"\nfirst pass (full sync, with login): {first['requests']} requests, calls "
              f"{first['calls']}")
    for write in result["writes"]:
        if not write["in_time"]:
            when = "never arrived" if write["latency"] is None \
                else f"arrived {write['latency']:.1f} s after its commit, past the deadline"
            print(f"{write['model']} {write['id']} {write['value']!r}: {when}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--interval", type=float, default=5.0, help="the daemon's [sync] interval")
    parser.add_argument("--mean-gap", type=float, default=3.0,
                        help="mean seconds between two writes (exponential)")
    parser.add_argument("--idle-passes", type=int, default=3,
                        help="intervals left idle at the end, to count what a pass asks")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--products", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--protocol", choices=("jsonrpc", "xmlrpc"), default="jsonrpc")
    parser.add_argument("--sink", choices=("json", "sqlite", "postgres"), default="json")
    parser.add_argument("--pg-dsn", default=os.environ.get("SYNCD_PG_DSN", ""),
                        help="libpq DSN for --sink postgres (default $SYNCD_PG_DSN)")
    parser.add_argument("--login-cost", type=float, default=0.45,
                        help="server seconds per login, as a real Odoo 17 (0.45)")
    parser.add_argument("--deadline", type=float, default=60.0,
                        help="seconds after its commit a change must have arrived by")
    parser.add_argument("--workdir", type=Path, help="keep the run's files here (default: a "
                        "temporary directory, removed)")
    parser.add_argument("--json", type=Path, default=Path("bench_fresh.json"))
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(json.loads(args.serve))
        return 0
    if args.sink == "postgres" and not args.pg_dsn:
        parser.error("--sink postgres needs --pg-dsn (or SYNCD_PG_DSN)")
    load_start = os.getloadavg()
    if args.workdir:
        if args.workdir.exists():
            shutil.rmtree(args.workdir)
        args.workdir.mkdir(parents=True)
        result, code = run(args, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="bench_fresh") as tmp:
            result, code = run(args, Path(tmp))
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0],
               "uname": " ".join(os.uname()), "load_start": load_start,
               "load_end": os.getloadavg()}
    report(args, result, load_start)
    out = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                    if k not in ("serve", "pg_dsn")},
           "machine": machine, **result}
    args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"\nload average at the end {machine['load_end'][0]:.2f}; wrote {args.json}")
    if code:
        print(f"error: {result['latency']['missing']} change(s) did not reach the copy within "
              f"{args.deadline:g} s" + (f"; follower: {result['follower_error']}"
                                        if "follower_error" in result else ""), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
