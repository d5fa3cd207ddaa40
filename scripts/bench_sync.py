"""Benchmark: what a full sync, an idle pass and an incremental pass cost, per protocol.

Prints figures, asserts nothing. "Idle, just after the import" is the worst case: a bulk import
sharing one stamp is inside the lookback window, so it is re-read (and digest-compared, not
rewritten) until Odoo's clock has moved past it; "steady state" is an idle pass after that. Everything runs in one process against the emulator over real
HTTP on 127.0.0.1, so ratios measured side by side in one run are meaningful; absolute seconds
depend on the machine (the emulator's own cost is included: it is a Python server).

    .venv/bin/python scripts/bench_sync.py                  # 100,000 partners
    .venv/bin/python scripts/bench_sync.py --records 1000000 --protocols jsonrpc

Also compares, on the same data, syncd's paging (id keyset inside a write_date window) with the
offset paging most Odoo scripts use, counting the rows the server had to examine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from syncd.settings import ModelSpec, OdooSettings, Settings, SyncSettings
from syncd.emulator import Emulator
from syncd.emulator.server import REAL_LOGIN_COST
from syncd.odoo.client import OdooClient
from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import opened
from syncd.sync.engine import run_pass

SPEC = ModelSpec(name="customers", model="res.partner",
                 fields=("name", "email", "phone", "is_company", "parent_id", "write_date"))


def build(version: int, records: int) -> Emulator:
    em = Emulator(version=version, login_cost=REAL_LOGIN_COST)  # as a real login costs
    chunk = 50_000
    for start in range(0, records, chunk):
        em.db.import_records("res.partner", [
            {"name": f"Partner {n}", "email": f"p{n}@example.com", "phone": f"+32 2 {n:07d}",
             "is_company": n % 3 == 0} for n in range(start, min(records, start + chunk))])
    em.start()
    return em


def settings_for(em: Emulator, protocol: str, data_dir: Path, page_size: int) -> Settings:
    odoo = OdooSettings(url=em.url, database=em.db.name, username=em.login, password=em.password,
                        api_key=em.api_key if protocol == "json2" else "", protocol=protocol)
    return Settings(odoo=odoo, sync=SyncSettings(data_dir=data_dir, page_size=page_size,
                                                 reconcile_interval=3600), models=(SPEC,))


def timed_pass(settings: Settings, client: OdooClient, em: Emulator) -> tuple[float, int, int]:
    em.stats.reset()
    started = time.perf_counter()
    with opened(settings) as sink:
        report = run_pass(settings, client, sink, DataDir(settings.sync.data_dir))
    seconds = time.perf_counter() - started
    assert report.ok, report.error
    return seconds, em.stats.requests, em.stats.bytes_sent


def bench_protocol(protocol: str, records: int, page_size: int, changes: int) -> None:
    version = 19 if protocol == "json2" else 17
    em = build(version, records)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_for(em, protocol, Path(tmp), page_size)
            with OdooClient(settings.odoo) as client:
                full = timed_pass(settings, client, em)
                after_import = timed_pass(settings, client, em)
                for _ in range(3):  # a daemon's interval passes; Odoo's clock shows it
                    em.db.clock.advance(300)
                    timed_pass(settings, client, em)
                idle = timed_pass(settings, client, em)
                ids = em.db.execute("res.partner", "search", [[]], {"limit": changes})
                for n, record_id in enumerate(ids):
                    em.db.write("res.partner", record_id, {"name": f"Renamed {n}"})
                incremental = timed_pass(settings, client, em)
                size = (Path(tmp) / "odoo_customers.json").stat().st_size
        rows = [("full sync", full), ("idle, just after the import", after_import),
                ("idle, steady state", idle), (f"{changes} changes", incremental)]
        print(f"\n{protocol} (Odoo {version}), {records:,} records, page_size {page_size}, "
              f"snapshot {size / 1e6:.1f} MB")
        for label, (seconds, requests, sent) in rows:
            rate = f"{records / seconds:,.0f} records/s" if label == "full sync" else ""
            print(f"  {label:<28} {seconds:8.3f} s  {requests:6d} requests  "
                  f"{sent / 1e6:8.2f} MB sent  {rate}")
        print(f"  steady idle pass / full sync time ratio: {idle[0] / full[0]:.4f}")
    finally:
        em.stop()


def bench_paging(records: int, page_size: int) -> None:
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
            if label == "id keyset":
                rows = db.execute("res.partner", "search_read",
                                  [[["write_date", ">=", "2000-01-01 00:00:00"], ["id", ">", cursor]]],
                                  {"fields": ["name"], "limit": page_size, "order": "id"})
            else:
                rows = db.execute("res.partner", "search_read",
                                  [[["write_date", ">=", "2000-01-01 00:00:00"]]],
                                  {"fields": ["name"], "limit": page_size, "offset": offset,
                                   "order": "id"})
            seen += len(rows)
            if len(rows) < page_size:
                break
            cursor, offset = rows[-1]["id"], offset + page_size
        results[label] = (time.perf_counter() - started, db.visits, seen)
    print(f"\npaging {records:,} records by {page_size} (server-side rows examined)")
    for label, (seconds, visits, seen) in results.items():
        print(f"  {label:<10} {seconds:8.3f} s  {visits:12,d} rows examined  {seen:,} returned")
    ratio = results["offset"][1] / max(results["id keyset"][1], 1)
    print(f"  offset / keyset rows examined: {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--protocols", nargs="+", default=["jsonrpc", "xmlrpc", "json2"])
    parser.add_argument("--paging-records", type=int, default=200_000)
    args = parser.parse_args()
    for protocol in args.protocols:
        bench_protocol(protocol, args.records, args.page_size, args.changes)
    bench_paging(args.paging_records, args.page_size)


if __name__ == "__main__":
    main()
