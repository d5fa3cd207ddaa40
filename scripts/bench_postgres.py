"""Benchmark: the PostgreSQL sink beside the JSON sink, `syncd once` per pass.

Prints figures, asserts nothing. As scripts/bench_write_path.py (whose emulator process it
uses): the emulator serves N partners from its own process; each pass is a real `syncd once`
under `/usr/bin/time -v` (CPU and peak RSS of the syncd process, interpreter start-up included;
the PostgreSQL server's own CPU is not in it, but its work is in the wall time). The server is
a throw-away PostgreSQL cluster (tests/pg_server.py: Unix socket only, fsync off).

  full sync    a new data directory / an empty database: every record fetched and written
  10 changes   ten records written in Odoo since the last pass

    .venv/bin/python scripts/bench_postgres.py                  # 1,000,000 partners
    .venv/bin/python scripts/bench_postgres.py --records 100000
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

if __name__ == "__main__":  # `python scripts/<this>.py` with any Python: syncd must import
    from repo_venv import use_repo_venv

    use_repo_venv()

import bench_write_path as base  # noqa: E402  (its emulator process and write_ten)
from tests.pg_server import PgServer  # noqa: E402


def measure(label: str, cfg: Path) -> tuple[float, float]:
    """(CPU seconds of syncd, wall seconds) of one `syncd once`, printed."""
    started = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-v", base.SYNCD, "--config", str(cfg), "-q",
                             "once"], capture_output=True, text=True)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"{label}: failed: {result.stderr.strip().splitlines()[-1:]}")
    found = {key: float(re.search(rf"{key} \(\w+\): ([\d.]+)", result.stderr)[1])  # type: ignore[index]
             for key in ("Maximum resident set size", "User time", "System time")}
    cpu = found["User time"] + found["System time"]
    print(f"{label:<24} CPU {cpu:7.2f} s   wall {wall:7.2f} s   peak RSS "
          f"{found['Maximum resident set size'] / 1024:7.1f} MB", flush=True)
    return cpu, wall


def config(directory: Path, url: str, kind: str, dsn: str) -> Path:
    """bench_write_path's configuration for sink `kind`, with the server's DSN for PostgreSQL."""
    path = base.config(directory, url, 3600, kind)
    if kind == "postgres":
        text = path.read_text().replace('kind = "postgres"\n',
                                        f'kind = "postgres"\ndsn = "{dsn}"\n')
        path.write_text(text)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"{args.records:,} partners; emulator in its own process; `syncd once` per pass")
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp:
        work = Path(tmp)
        # Not inside `work`: the server runs as the postgres account, which must reach its dir.
        server = PgServer(Path(tempfile.mkdtemp(prefix="syncd-bench-pg-")))
        server.start()
        proc, url = base.start_emulator(args.records, old=True)
        figures: dict[str, tuple[float, float]] = {}
        try:
            for kind in ("json", "postgres"):
                place = work / kind
                place.mkdir()
                cfg = config(place, url, kind, server.dsn("postgres"))
                figures[f"{kind} full"] = measure(f"{kind}: full sync", cfg)
                base.write_ten(url)
                figures[f"{kind} ten"] = measure(f"{kind}: 10 changes", cfg)
                shutil.rmtree(place / kind)  # the data directory
        finally:
            proc.communicate("")
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)
        ratio = figures["postgres full"][1] / figures["json full"][1]
        print(f"full sync wall time, PostgreSQL / JSON: {ratio:.2f}x (target 1.5x); "
              f"10 changes into PostgreSQL: CPU {figures['postgres ten'][0]:.2f} s "
              "(target < 0.5 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
