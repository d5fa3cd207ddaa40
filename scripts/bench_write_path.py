"""Benchmark: peak memory and CPU of `syncd once` on a big model, per kind of pass.

Prints figures, asserts nothing. The emulator runs in its own process (so its memory is not
counted); each pass is a real `syncd once` measured with `/usr/bin/time -v` (peak RSS, user +
system CPU of the whole process, interpreter start-up included):

  full sync            a new data directory, every record fetched and written
  after the import     the pass right after a bulk import: every row is still inside the
                       lookback window, so it is re-read and compared (not rewritten)
  10 changes           ten records written in Odoo since the last pass
  deletion check due   the same, with reconcile_interval = 0 (ids compared with the server)
  idle                 nothing changed
  all changed          every record rewritten in Odoo since the last pass (a mass update or an
                       import after the first sync): the whole table is one change set, merged
                       in place (a rebuild would stream; this is the pass that must not hold it)

``--only all-changed`` runs just a full sync of old records, then the all-changed pass;
``--memory-mb N`` sets ``[sync] memory_mb`` (the change set's memory budget) in the
configuration. Each pass runs once per sink (``--sinks json,sqlite`` by default), side by side: each sink has
its own data directory and sees the same Odoo changes.

    .venv/bin/python scripts/bench_write_path.py                 # 1,000,000 partners
    .venv/bin/python scripts/bench_write_path.py --records 100000 --sinks sqlite
    .venv/bin/python scripts/bench_write_path.py --only all-changed --sinks json
"""

from __future__ import annotations

import argparse
import shutil
import re
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from datetime import timedelta
from pathlib import Path

if __name__ == "__main__":  # `python scripts/<this>.py` with any Python: syncd must import
    from repo_venv import use_repo_venv

    use_repo_venv()


SYNCD = str(Path(sys.executable).with_name("syncd"))
FIELDS = '["name", "email", "phone", "is_company", "parent_id", "write_date"]'


def serve(records: int, old: bool) -> None:
    """The emulator's process: import `records` partners (stamped a day ago when `old`), serve."""
    from syncd.emulator import Emulator

    emulator = Emulator(version=17)
    clock = emulator.db.clock
    if old:
        clock.freeze(clock.now() - timedelta(days=1))
    for start in range(0, records, 50_000):
        emulator.db.import_records("res.partner", [
            {"name": f"Partner {n}", "email": f"p{n}@example.com", "phone": f"+32 2 {n:07d}",
             "is_company": n % 3 == 0} for n in range(start, min(records, start + 50_000))])
    if old:
        clock.unfreeze()
    print(emulator.start(), flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    emulator.stop()


def start_emulator(records: int, old: bool) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(records)]
                            + (["--old"] if old else []),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


MEMORY_MB: int | None = None  # --memory-mb: [sync] memory_mb, when given


def config(directory: Path, url: str, reconcile: int, sink: str) -> Path:
    path = directory / f"syncd-{sink}-{reconcile}.toml"
    budget = f"memory_mb = {MEMORY_MB}\n" if MEMORY_MB is not None else ""
    path.write_text(f'[odoo]\nurl = "{url}"\ndatabase = "odoo"\nusername = "admin"\n'
                    f'password = "admin"\nprotocol = "jsonrpc"\n'
                    f'[sync]\ndata_dir = "{directory / sink}"\nreconcile_interval = {reconcile}\n'
                    f'{budget}'
                    f'[log]\nfile = false\n[sink]\nkind = "{sink}"\n'
                    f'[models.customers]\nmodel = "res.partner"\nfields = {FIELDS}\n')
    return path


def sizes(directory: Path) -> str:
    """What a sink stored: the snapshot and state files, or the database file."""
    database = directory / "odoo.sqlite"
    if database.exists():
        return f"database {database.stat().st_size / 1e6:.0f} MB"
    return (f"snapshot {(directory / 'odoo_customers.json').stat().st_size / 1e6:.0f} MB, state "
            f"{(directory / 'last_sync.json').stat().st_size / 1e6:.1f} MB")


def measure(label: str, cfg: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-v", SYNCD, "--config", str(cfg), "-q", "once"],
                            capture_output=True, text=True)
    wall = time.monotonic() - started
    if result.returncode != 0:
        print(f"{label}: failed: {result.stderr.strip().splitlines()[-1:]}")
        return
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)[1])
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", result.stderr)[1])
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", result.stderr)[1])
    print(f"{label:<28} peak RSS {rss / 1024:7.1f} MB   CPU {user + system:6.2f} s "
          f"(user {user:.2f}, sys {system:.2f})   wall {wall:6.2f} s", flush=True)


def write_ten(url: str) -> None:
    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
    uid = common.login("odoo", "admin", "admin")
    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object")
    ids = models.execute_kw("odoo", uid, "admin", "res.partner", "search", [[]], {"limit": 10,
                                                                               "order": "id"})
    for n, record_id in enumerate(ids):
        models.execute_kw("odoo", uid, "admin", "res.partner", "write",
                          [[record_id], {"name": f"Changed {n} {time.time()}"}])


def write_all(url: str, records: int, batch: int = 50_000) -> None:
    """Rewrite every partner (a new phone number each), ``batch`` ids per write."""
    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
    uid = common.login("odoo", "admin", "admin")
    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)
    ids = models.execute_kw("odoo", uid, "admin", "res.partner", "search", [[]], {"order": "id"})
    assert len(ids) == records, (len(ids), records)
    for start in range(0, len(ids), batch):
        models.execute_kw("odoo", uid, "admin", "res.partner", "write",
                          [ids[start:start + batch], {"phone": f"+32 9 {start:07d}"}])


def all_changed(records: int, sinks: list[str], work: Path) -> None:
    """Old records synced, then every one of them rewritten: one in-place pass changes all."""
    proc, url = start_emulator(records, old=True)
    try:
        for sink in sinks:
            measure(f"full sync (old) [{sink}]", config(work, url, 3600, sink))
        write_all(url, records)
        for sink in sinks:
            measure(f"all changed [{sink}]", config(work, url, 3600, sink))
            print(f"{'':<28} {sizes(work / sink)}")
    finally:
        proc.communicate("")


def main() -> int:
    global MEMORY_MB
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--sinks", default="json,sqlite", help="comma-separated sink kinds")
    parser.add_argument("--only", choices=["all-changed"],
                        help="run only this scenario (after its full sync)")
    parser.add_argument("--memory-mb", type=int, help="[sync] memory_mb for every pass")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--old", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.old)
        return 0
    sinks = [kind for kind in args.sinks.split(",") if kind]
    MEMORY_MB = args.memory_mb
    print(f"{args.records:,} partners; emulator in its own process; `syncd once` per pass; "
          f"sinks {', '.join(sinks)}"
          + (f"; memory_mb = {MEMORY_MB}" if MEMORY_MB is not None else ""))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.only == "all-changed":
            all_changed(args.records, sinks, work)
            return 0
        proc, url = start_emulator(args.records, old=False)
        try:
            for sink in sinks:
                measure(f"full sync [{sink}]", config(work, url, 3600, sink))
                print(f"{'':<28} {sizes(work / sink)}")
            for sink in sinks:
                measure(f"after the import [{sink}]", config(work, url, 3600, sink))
        finally:
            proc.communicate("")
        for sink in sinks:
            shutil.rmtree(work / sink)
        proc, url = start_emulator(args.records, old=True)
        try:
            for sink in sinks:
                measure(f"full sync (old) [{sink}]", config(work, url, 3600, sink))
            write_ten(url)
            for sink in sinks:
                measure(f"10 changes [{sink}]", config(work, url, 3600, sink))
            write_ten(url)
            for sink in sinks:
                measure(f"deletion check due [{sink}]", config(work, url, 0, sink))
            for sink in sinks:
                measure(f"idle [{sink}]", config(work, url, 3600, sink))
        finally:
            proc.communicate("")
        for sink in sinks:
            shutil.rmtree(work / sink)
        all_changed(args.records, sinks, work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
