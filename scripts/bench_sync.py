"""Benchmark: syncd side by side with the wire floor and a naive client, per transport and network.

Prints a table and writes JSON; asserts nothing. One emulator (Odoo 19, so every transport is
served) holds `--records` partners on 127.0.0.1; each measured client runs in a child process of
its own (`--child`), so its peak RSS is the client's alone (interpreter included) and the
client's CPU is not the server's. Per profile and transport, medians of `--repeats` (with the
min-max spread) of:

- full sync of a fresh data dir with `--workers` (syncd's `[sync] workers`): wall (inside the
  child, imports excluded), records/s, requests, the round trips waited for one after the other
  (the most requests that did not overlap), bytes on the wire (down/up), rows the server
  examined, peak RSS; and the same with `workers = 1` (requests one at a time), unless
  `--no-sequential`;
- the wire floor: the same rows in one raw `search_read` per model (login included), nothing
  else done with them;
- a no-change pass (requests, bytes, files rewritten) and its floor (log in, one
  `write_date >=` window query per model), also as a whole process (interpreter start included);
- k changes into N records (`--changes`, default 10 and 1,000);
- a naive client written the way the original cron script was (XML-RPC, `search_read` on
  `['|', ('create_date', '>', last), ('write_date', '>', last)]`, offset pages of 500, the whole
  JSON file loaded, merged by id, `json.dump(indent=2)`, `last` from this machine's clock),
  full and no-change, on its own emulator capped at `--naive-cap` records (offset paging is
  quadratic), next to syncd's full sync of the same records.

Profiles: `local` (no shaping), `remote` (`--latency` per request and a `--bandwidth` cap shared
by every connection, as a remote Odoo), each also `-gzip` (a compressing reverse proxy in
front), and `workers`: a server with `--server-workers` workers (at most that many requests at
once, as an Odoo in prefork mode) that spends `--row-cost-us` per row a query examines outside
the GIL, as its database would (the floor and the naive client run against the same server).
Every login costs what a real one does (`--login-cost`). Ratios within one run are what to
compare; absolute seconds depend on the machine (the emulator is a Python server, most of the
local time). Last, it prints each target with this run's figure and whether it was met (full
sync <= 1.25x the floor locally and <= 1.1x remote, fewer round trips than pages, below the
one-request floor on a server with workers, >= 10x the naive client where the server pays per
row, a no-change pass one request and <= 1.5x its floor); the JSON has them as `targets`. Two
kinds of figure are shown beside a target without being held to it (`held` false, "figure
only"): the full sync behind gzip against 1.1x, and the naive client where the server pays
nothing per row examined (`NOT_HELD` says why).

    .venv/bin/python scripts/bench_sync.py                          # 100,000 partners, all
    .venv/bin/python scripts/bench_sync.py --records 1000000 --protocols jsonrpc --profiles local
    .venv/bin/python scripts/bench_sync.py --profiles workers --server-workers 2 --row-cost-us 50

Also compares, on the same data, syncd's paging (id keyset inside a write_date window) with the
offset paging most Odoo scripts use, counting the rows the server had to examine.
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
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # `python scripts/<this>.py` with any Python: syncd must import
    from repo_venv import use_repo_venv

    use_repo_venv()

from syncd.emulator import Emulator
from syncd.emulator.server import REAL_LOGIN_COST
from syncd.settings import ModelSpec, OdooSettings, Settings, SyncSettings

SPEC = ModelSpec(name="customers", model="res.partner",
                 fields=("name", "email", "phone", "is_company", "parent_id", "write_date"))
VERSION = 19  # serves JSON-2 as well as XML-RPC and JSON-RPC
NAIVE_PAGE = 500
STAMP = "%Y-%m-%d %H:%M:%S"


# -- the children: each measures one client run and prints one JSON line ---------------------------
def settings_for(job: dict[str, Any]) -> Settings:
    odoo = OdooSettings(url=job["url"], database=job["db"], username=job["login"],
                        password=job["password"], api_key=job.get("api_key", ""),
                        protocol=job["protocol"])
    return Settings(odoo=odoo, sync=SyncSettings(data_dir=Path(job.get("data_dir", ".")),
                                                 page_size=job.get("page_size", 1000),
                                                 reconcile_interval=3600,
                                                 workers=job.get("workers", 1)), models=(SPEC,))


def child_syncd(job: dict[str, Any]) -> dict[str, Any]:
    from syncd.odoo.client import OdooClient
    from syncd.sinks.datadir import DataDir
    from syncd.sinks.factory import opened
    from syncd.sync.engine import run_pass
    settings = settings_for(job)
    started = time.perf_counter()
    with OdooClient(settings.odoo) as client, opened(settings) as sink:
        report = run_pass(settings, client, sink, DataDir(settings.sync.data_dir))
    if not report.ok:
        raise SystemExit(f"pass failed: {report.error}")
    return {"seconds": time.perf_counter() - started,
            "fetched": sum(m.fetched for m in report.models)}


def child_floor(job: dict[str, Any]) -> dict[str, Any]:
    """Log in and ask one `search_read` per model; the rows are dropped."""
    from syncd.odoo.client import OdooClient
    settings = settings_for(job)
    started = time.perf_counter()
    with OdooClient(settings.odoo) as client:
        rows = client.search_read(SPEC.model, job["domain"], job["fields"],
                                  context={"active_test": False})
    return {"seconds": time.perf_counter() - started, "fetched": len(rows)}


def child_naive(job: dict[str, Any]) -> dict[str, Any]:
    """The cron script syncd replaces, as it was written."""
    import xmlrpc.client
    started = time.perf_counter()
    state, out = Path(job["data_dir"]) / "last.txt", Path(job["data_dir"]) / "partners.json"
    now = datetime.now(UTC).strftime(STAMP)  # this machine's clock, not Odoo's
    last = state.read_text().strip() if state.exists() else None
    common = xmlrpc.client.ServerProxy(f"{job['url']}/xmlrpc/2/common")
    uid = common.login(job["db"], job["login"], job["password"])
    models = xmlrpc.client.ServerProxy(f"{job['url']}/xmlrpc/2/object")
    domain = [] if last is None else ["|", ("create_date", ">", last), ("write_date", ">", last)]
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = models.execute_kw(job["db"], uid, job["password"], SPEC.model, "search_read",
                                 [domain], {"fields": list(SPEC.fields), "offset": offset,
                                            "limit": NAIVE_PAGE})
        rows += page
        if len(page) < NAIVE_PAGE:
            break
        offset += NAIVE_PAGE
    data = json.loads(out.read_text()) if out.exists() else []
    by_id = {r["id"]: r for r in data}
    for row in rows:
        by_id[row["id"]] = row
    with out.open("w") as f:
        json.dump(list(by_id.values()), f, indent=2)
    state.write_text(now)
    return {"seconds": time.perf_counter() - started, "fetched": len(rows)}


CHILDREN = {"syncd": child_syncd, "floor": child_floor, "naive": child_naive}


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a
    child of the big parent would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(job: dict[str, Any]) -> None:
    result = CHILDREN[job["kind"]](job)
    result["rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


# -- the parent: the emulator, the runs, the table -------------------------------------------------
def build(records: int, login_cost: float) -> Emulator:
    em = Emulator(version=VERSION, login_cost=login_cost)
    chunk = 50_000
    for start in range(0, records, chunk):
        em.db.import_records("res.partner", [
            {"name": f"Partner {n}", "email": f"p{n}@example.com", "phone": f"+32 2 {n:07d}",
             "is_company": n % 3 == 0} for n in range(start, min(records, start + chunk))])
    em.start()
    return em


def files_of(data_dir: Path) -> dict[str, tuple[int, int, int]]:
    if not data_dir.exists():
        return {}
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.stat().st_size)
            for p in data_dir.iterdir() if p.is_file()}


def run_child(em: Emulator, job: dict[str, Any]) -> dict[str, Any]:
    """One measured client run: the child's own figures plus what the server saw."""
    job = {"url": em.url, "db": em.db.name, "login": em.login, "password": em.password,
           "api_key": em.api_key, **job}
    data_dir = Path(job.get("data_dir", "."))
    before = files_of(data_dir)
    em.stats.reset()
    em.db.reset_visits()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)],
                          capture_output=True, text=True, check=False)
    process = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"child {job['kind']} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    after = files_of(data_dir)
    result.update(process_seconds=process, requests=em.stats.requests,
                  round_trips=em.stats.round_trips(),
                  down_bytes=em.stats.bytes_sent, up_bytes=em.stats.bytes_received,
                  rows_examined=em.db.visits,
                  rewritten=sorted(n for n, sig in after.items() if before.get(n) != sig))
    return result


def summary(label: str, runs: list[dict[str, Any]], records: int | None = None) -> dict[str, Any]:
    """Medians (and min-max) of the repeats of one measurement."""
    def med(key: str) -> float:
        return float(statistics.median(r[key] for r in runs))
    seconds = [r["seconds"] for r in runs]
    row = {"pass": label, "repeats": len(runs), "seconds": med("seconds"),
           "seconds_min": min(seconds), "seconds_max": max(seconds),
           "process_seconds": med("process_seconds"), "requests": med("requests"),
           "round_trips": med("round_trips"),
           "down_bytes": med("down_bytes"), "up_bytes": med("up_bytes"),
           "rows_examined": med("rows_examined"), "rss_mb": med("rss_mb"),
           "fetched": med("fetched"), "rewritten": runs[-1]["rewritten"]}
    if records:
        row["records_per_s"] = records / row["seconds"]
    return row


def settle(em: Emulator, protocol: str, data_dir: Path, page_size: int, workers: int) -> None:
    """Move Odoo's clock past the lookback and let a pass see it: what follows is steady state."""
    em.db.clock.advance(400)
    run_child(em, syncd_job(protocol, data_dir, page_size, workers))


def syncd_job(protocol: str, data_dir: Path, page_size: int, workers: int) -> dict[str, Any]:
    return {"kind": "syncd", "protocol": protocol, "data_dir": str(data_dir),
            "page_size": page_size, "workers": workers}


def bench_group(em: Emulator, protocol: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    records, repeats, page, workers = args.records, args.repeats, args.page_size, args.workers
    fields = ["id", *SPEC.fields]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        full, sequential, floor = [], [], []
        for n in range(repeats):  # interleaved: a load spike hits each about alike
            data_dir = Path(tmp) / f"full{n}"
            full.append(run_child(em, syncd_job(protocol, data_dir, page, workers)))
            if not args.no_sequential and workers != 1:
                sequential.append(run_child(em, syncd_job(protocol, Path(tmp) / f"seq{n}",
                                                          page, 1)))
            floor.append(run_child(em, {"kind": "floor", "protocol": protocol, "domain": [],
                                        "fields": fields}))
        rows.append(summary("full sync", full, records))
        if sequential:
            rows.append(summary("full sync, workers 1", sequential, records))
        rows.append(summary("wire floor (one search_read)", floor, records))
        settle(em, protocol, data_dir, page, workers)
        settle(em, protocol, data_dir, page, workers)
        idle = [run_child(em, syncd_job(protocol, data_dir, page, workers))
                for _ in range(repeats)]
        rows.append(summary("no change", idle))
        window = em.db.clock.now().strftime(STAMP)
        idle_floor = [run_child(em, {"kind": "floor", "protocol": protocol,
                                     "domain": [["write_date", ">=", window]],
                                     "fields": ["write_date"]}) for _ in range(repeats)]
        rows.append(summary("no-change floor (one window query)", idle_floor))
        for k in args.changes:
            k = min(k, records)
            runs = []
            for n in range(repeats):
                settle(em, protocol, data_dir, page, workers)
                ids = em.db.execute("res.partner", "search", [[]], {"limit": k, "order": "id"})
                for record_id in ids:
                    em.db.write("res.partner", record_id, {"name": f"Renamed {n} {record_id}"})
                runs.append(run_child(em, syncd_job(protocol, data_dir, page, workers)))
            rows.append(summary(f"{k:,} changes", runs))
    return rows


def bench_naive(em: Emulator, args: argparse.Namespace) -> list[dict[str, Any]]:
    records = min(args.records, args.naive_cap)
    full, idle, ours = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeats):
            data_dir = Path(tmp) / f"naive{n}"
            data_dir.mkdir()
            full.append(run_child(em, {"kind": "naive", "data_dir": str(data_dir)}))
            idle.append(run_child(em, {"kind": "naive", "data_dir": str(data_dir)}))
            ours.append(run_child(em, syncd_job("xmlrpc", Path(tmp) / f"ours{n}",
                                                args.page_size, args.workers)))
    return [summary(f"naive full sync ({records:,})", full, records),
            summary(f"naive no change ({records:,})", idle),
            summary(f"syncd full sync, xmlrpc ({records:,})", ours, records)]


def shape(em: Emulator, profile: str, args: argparse.Namespace) -> None:
    remote = profile.startswith("remote")
    em.link.latency = args.latency if remote else 0.0
    em.link.bandwidth = args.bandwidth * 1e6 / 8 if remote else 0.0
    em.link.gzip = profile.endswith("-gzip")
    workers = profile == "workers"
    em.capacity.workers = args.server_workers if workers else 0
    em.capacity.row_cost = args.row_cost_us / 1e6 if workers else 0.0


def profile_title(profile: str, args: argparse.Namespace) -> str:
    if profile == "workers":
        return (f"workers ({args.server_workers} server workers, {args.row_cost_us:g} us per "
                f"row examined)")
    return profile


def print_group(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(f"  {'pass':<40} {'wall s (min-max)':>22} {'process s':>9} {'rec/s':>9} {'req':>6} "
          f"{'trips':>6} {'MB down':>8} {'MB up':>6} {'examined':>10} {'RSS MB':>7}  rewritten")
    for r in rows:
        spread = f"{r['seconds']:.3f} ({r['seconds_min']:.3f}-{r['seconds_max']:.3f})"
        rate = f"{r['records_per_s']:,.0f}" if "records_per_s" in r else ""
        print(f"  {r['pass']:<40} {spread:>22} {r['process_seconds']:9.2f} {rate:>9} "
              f"{r['requests']:6.0f} {r['round_trips']:6.0f} {r['down_bytes'] / 1e6:8.2f} "
              f"{r['up_bytes'] / 1e6:6.2f} {r['rows_examined']:10,.0f} {r['rss_mb']:7.1f}  "
              f"{len(r['rewritten'])}")
    by = {r["pass"]: r for r in rows}
    if "full sync" in by and "wire floor (one search_read)" in by:
        ratio = by["full sync"]["seconds"] / by["wire floor (one search_read)"]["seconds"]
        print(f"  full sync / wire floor: {ratio:.2f}x")
        if "full sync, workers 1" in by:
            ratio = by["full sync, workers 1"]["seconds"] / \
                by["wire floor (one search_read)"]["seconds"]
            print(f"  full sync with workers 1 / wire floor: {ratio:.2f}x")
    if "no change" in by and "no-change floor (one window query)" in by:
        idle, floor = by["no change"], by["no-change floor (one window query)"]
        print(f"  no change / its floor: {idle['seconds'] / floor['seconds']:.2f}x in the child, "
              f"{idle['process_seconds'] / floor['process_seconds']:.2f}x as whole processes")
    naive = [r for r in rows if r["pass"].startswith("naive full")]
    ours = [r for r in rows if r["pass"].startswith("syncd full")]
    if naive and ours:
        print(f"  naive / syncd full sync: {naive[0]['seconds'] / ours[0]['seconds']:.1f}x")


def print_summary(groups: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """One line per profile and protocol: full sync against its floor, requests, round trips."""
    print(f"\nfull sync against the wire floor ({args.records:,} records, page_size "
          f"{args.page_size}: {args.records / args.page_size:,.0f} pages; workers {args.workers})")
    print(f"  {'profile, protocol':<28} {'full sync s':>11} {'floor s':>8} {'ratio':>6} "
          f"{'workers 1':>9} {'ratio':>6} {'requests':>8} {'trips':>6}")
    for group in groups:
        by = {r["pass"]: r for r in group["rows"]}
        if group["protocol"] == "naive":
            naive = next(r for p, r in by.items() if p.startswith("naive full"))
            ours = next(r for p, r in by.items() if p.startswith("syncd full"))
            print(f"  {group['profile'] + ', naive':<28} {ours['seconds']:11.2f} "
                  f"{naive['seconds']:8.2f} {ours['seconds'] / naive['seconds']:6.2f}  "
                  f"(naive / syncd: {naive['seconds'] / ours['seconds']:.1f}x on "
                  f"{naive['fetched']:,.0f} records; examined {naive['rows_examined']:,.0f} "
                  f"vs {ours['rows_examined']:,.0f})")
            continue
        full, floor = by["full sync"], by["wire floor (one search_read)"]
        one = by.get("full sync, workers 1")
        seq = f"{one['seconds']:9.2f} {one['seconds'] / floor['seconds']:6.2f}" if one else \
            f"{'':9} {'':6}"
        print(f"  {group['profile'] + ', ' + group['protocol']:<28} {full['seconds']:11.2f} "
              f"{floor['seconds']:8.2f} {full['seconds'] / floor['seconds']:6.2f} {seq} "
              f"{full['requests']:8.0f} {full['round_trips']:6.0f}")


# The targets this benchmark is held to (ratios within one run); see README "Performance".
FULL_LOCAL, FULL_REMOTE, IDLE, NAIVE = 1.25, 1.10, 1.5, 10.0
# Two kinds of figure are printed beside a target without being held to it, and why:
NOT_HELD = {
    # The 1.1x is asked of the remote profile, where bytes decide. Behind gzip the bytes shrink
    # 12x and round trips decide: a page costs a round trip whatever its size, `page_size` caps
    # a page and `workers` the pages in flight, so at the defaults 100 pages need about 30 round
    # trips where the floor needs 3-4 (README "Performance").
    "gzip": "the 1.1x is for the remote profile; behind gzip round trips decide",
    # Offset paging is slow because the server examines every row its OFFSET skips; a profile
    # where examining a row costs the server nothing hides exactly that, so the 10x is judged
    # on the profile that charges for it, as a database does.
    "naive": "judged where the server pays per row examined, as a database does",
}


def targets(groups: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each target with the figure this run measured and whether it was met."""
    found: list[dict[str, Any]] = []

    def check(where: str, what: str, figure: float, limit: float, met: bool,
              note: str = "", held: bool = True) -> None:
        found.append({"where": where, "what": what, "figure": round(figure, 3),
                      "limit": limit, "met": met, "held": held, "note": note})

    for group in groups:
        profile, protocol = group["profile"], group["protocol"]
        by = {r["pass"]: r for r in group["rows"]}
        where = f"{profile}, {protocol}"
        if protocol == "naive":
            naive = next(r for p, r in by.items() if p.startswith("naive full"))
            ours = next(r for p, r in by.items() if p.startswith("syncd full"))
            ratio = naive["seconds"] / ours["seconds"]
            per_row = profile == "workers"
            check(where, "naive / syncd full sync", ratio, NAIVE, ratio >= NAIVE,
                  "" if per_row else NOT_HELD["naive"], held=per_row)
            continue
        full, floor = by["full sync"], by["wire floor (one search_read)"]
        ratio = full["seconds"] / floor["seconds"]
        if profile.startswith("local"):
            check(where, "full sync / wire floor", ratio, FULL_LOCAL, ratio <= FULL_LOCAL)
        elif profile.startswith("remote"):
            check(where, "full sync / wire floor", ratio, FULL_REMOTE, ratio <= FULL_REMOTE,
                  "" if profile == "remote" else NOT_HELD["gzip"], held=profile == "remote")
            pages = args.records / args.page_size
            check(where, "round trips / pages", full["round_trips"] / pages, 1.0,
                  full["round_trips"] < pages)
        else:
            check(where, "full sync / one-request floor", ratio, 1.0, ratio < 1.0)
        idle, idle_floor = by["no change"], by["no-change floor (one window query)"]
        whole = idle["process_seconds"] / idle_floor["process_seconds"]
        check(where, "no change / its floor (whole processes)", whole, IDLE, whole <= IDLE)
        check(where, "requests of a no-change pass", idle["requests"], 1, idle["requests"] <= 1)
    return found


def print_targets(found: list[dict[str, Any]]) -> None:
    print("\ntargets")
    for t in found:
        bound = "<=" if t["what"].startswith(("full sync / wire", "no change", "requests")) \
            else (">=" if t["what"].startswith("naive") else "<")
        verdict = ("met" if t["met"] else "NOT MET") if t["held"] else "figure only"
        note = f" ({t['note']})" if t["note"] else ""
        print(f"  {t['where']:<28} {t['what']:<42} {t['figure']:8.2f} {bound} {t['limit']:<5g} "
              f"{verdict}{note}")
    held = [t for t in found if t["held"]]
    missed = sum(not t["met"] for t in held)
    shown = len(found) - len(held)
    print(f"  {len(held) - missed} of {len(held)} targets met" + (
        f", {missed} NOT MET" if missed else "") + f"; {shown} figure{'s' * (shown != 1)} "
        "shown beside a target without being held to it")


def bench_paging(records: int, page_size: int) -> dict[str, Any]:
    """Rows the server examines: id keyset (syncd) vs offset paging, over the same records."""
    em = Emulator(version=17)
    em.db.import_records("res.partner", [{"name": f"P{n}"} for n in range(records)])
    db = em.db
    results = {}
    for label in ("id keyset", "offset"):
        db.reset_visits()
        started = time.perf_counter()
        cursor, offset, seen = 0, 0, 0
        while True:
            domain: list[Any] = [["write_date", ">=", "2000-01-01 00:00:00"]]
            kwargs: dict[str, Any] = {"fields": ["name"], "limit": page_size, "order": "id"}
            if label == "id keyset":
                domain.append(["id", ">", cursor])
            else:
                kwargs["offset"] = offset
            rows = db.execute("res.partner", "search_read", [domain], kwargs)
            seen += len(rows)
            if len(rows) < page_size:
                break
            cursor, offset = rows[-1]["id"], offset + page_size
        results[label] = {"seconds": time.perf_counter() - started, "examined": db.visits,
                          "returned": seen}
    print(f"\npaging {records:,} records by {page_size} (server-side rows examined)")
    for label, r in results.items():
        print(f"  {label:<10} {r['seconds']:8.3f} s  {r['examined']:12,d} rows examined  "
              f"{r['returned']:,} returned")
    ratio = results["offset"]["examined"] / max(results["id keyset"]["examined"], 1)
    print(f"  offset / keyset rows examined: {ratio:.1f}x")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--changes", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--protocols", nargs="+", default=["jsonrpc", "xmlrpc", "json2"])
    parser.add_argument("--profiles", nargs="+",
                        default=["local", "remote", "remote-gzip", "workers"],
                        choices=["local", "local-gzip", "remote", "remote-gzip", "workers"])
    parser.add_argument("--workers", type=int, default=SyncSettings().workers,
                        help="syncd's [sync] workers (default: syncd's default)")
    parser.add_argument("--no-sequential", action="store_true",
                        help="skip the full sync with workers 1")
    parser.add_argument("--server-workers", type=int, default=2,
                        help="workers of the server in the workers profile (2: a small Odoo)")
    parser.add_argument("--row-cost-us", type=float, default=50.0,
                        help="server microseconds per row examined in the workers profile")
    parser.add_argument("--latency", type=float, default=0.04, help="seconds per request (remote)")
    parser.add_argument("--bandwidth", type=float, default=50.0, help="Mbit/s (remote)")
    parser.add_argument("--login-cost", type=float, default=REAL_LOGIN_COST)
    parser.add_argument("--naive-cap", type=int, default=20_000)
    parser.add_argument("--paging-records", type=int, default=200_000, help="0: skip")
    parser.add_argument("--json", type=Path, default=Path("bench_sync.json"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(json.loads(args.child))
        return
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0],
               "platform": sys.platform, "uname": " ".join(os.uname())}
    print(f"{args.records:,} partners, page_size {args.page_size}, workers {args.workers}, "
          f"medians of {args.repeats}, login {args.login_cost:g} s; remote: "
          f"{args.latency * 1000:g} ms per request, {args.bandwidth:g} Mbit/s; "
          f"{machine['cpus']} CPUs, Python {machine['python']}, load {os.getloadavg()[0]:.1f}")
    out: dict[str, Any] = {"args": {k: (str(v) if isinstance(v, Path) else v)
                                    for k, v in vars(args).items() if k != "child"},
                           "machine": machine, "groups": []}
    em = build(args.records, args.login_cost)
    naive_em = build(min(args.records, args.naive_cap), args.login_cost)
    try:
        for profile in args.profiles:
            shape(em, profile, args)
            for protocol in args.protocols:
                rows = bench_group(em, protocol, args)
                print_group(f"{profile_title(profile, args)}, {protocol}", rows)
                out["groups"].append({"profile": profile, "protocol": protocol, "rows": rows})
            shape(naive_em, profile, args)
            rows = bench_naive(naive_em, args)
            print_group(f"{profile_title(profile, args)}, naive client vs syncd", rows)
            out["groups"].append({"profile": profile, "protocol": "naive", "rows": rows})
    finally:
        em.stop()
        naive_em.stop()
    print_summary(out["groups"], args)
    out["targets"] = targets(out["groups"], args)
    print_targets(out["targets"])
    out["load"] = os.getloadavg()
    if args.paging_records:
        out["paging"] = bench_paging(args.paging_records, args.page_size)
    args.json.write_text(json.dumps(out, indent=1))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
