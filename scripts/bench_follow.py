"""Cost of one change landing for a follower (what `syncd watch` does per event), at N records.

Writes an N-record snapshot in syncd's layout, takes a follower's baseline, then replaces the
snapshot with one where 100 records changed, and times the follower's check; reports the
seconds per event and the process's peak RSS. Usage: bench_follow.py [N] (default 300000)."""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from syncd.config import ModelSpec, Settings, SyncSettings
from syncd.consumer.follow import Follow
from syncd.sinks.json.snapshot import Rebuild
from syncd.sinks.record import Layout

FIELDS = ("name", "email", "phone", "is_company", "parent_id", "write_date")


def write(path: Path, count: int, tag: int) -> None:
    layout, rebuild = Layout(FIELDS), Rebuild(path)
    for n in range(1, count + 1):
        name = f"Partner {n}" + (f" v{tag}" if n % (count // 100) == 0 else "")
        rebuild.add(n, layout.line({"id": n, "name": name, "email": f"p{n}@example.com",
                                    "phone": "+32 2 555 0000", "is_company": True,
                                    "parent_id": False, "write_date": "2026-01-01 00:00:00"}))
    staged = rebuild.finish()
    assert staged is not None
    staged.commit()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = Settings(sync=SyncSettings(data_dir=data),
                            models=(ModelSpec(name="customers", model="res.partner",
                                              fields=FIELDS),))
        write(data / "odoo_customers.json", count, 0)
        follower = Follow(settings, records=False, observer="none").start()
        print(f"{count} records; after the baseline: peak RSS {peak_mb():.0f} MB")
        for tag in (1, 2, 3):
            write(data / "odoo_customers.json", count, tag)
            started = time.perf_counter()
            changes = follower.check()
            seconds = time.perf_counter() - started
            assert len(changes) == 1 and len(changes[0].updated) == 100
            print(f"event {tag}: {seconds:.2f} s, peak RSS {peak_mb():.0f} MB")
        follower.stop()


if __name__ == "__main__":
    main()
