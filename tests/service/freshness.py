"""Freshness (run by tests/service/test_freshness.py and scripts/reliability.py).

`syncd run` (the real command, JSON sink) runs at a short interval while a writer changes a
record of Odoo at random moments, each time to a value never used before; a watcher reads the
snapshot file in a loop and notes when each value lands. Figures: the change-to-file latency of
every change (p50, p95, max), changes never seen, and then, with Odoo left alone, the requests
each idle pass makes (counted by the emulator, passes counted from the daemon's log lines).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from syncd.emulator import Emulator
from tests.service.kills import ROOT, SYNCD


@dataclass
class Freshness:
    interval: float
    latencies: list[float] = field(default_factory=list)  # seconds, one per change seen
    unseen: int = 0
    idle_passes: int = 0
    idle_requests: int = 0
    problems: list[str] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0

    @property
    def requests_per_idle_pass(self) -> float:
        return self.idle_requests / self.idle_passes if self.idle_passes else 0.0


def config(em: Emulator, tmp: Path, interval: float) -> str:
    return (f'[odoo]\nurl = "{em.url}"\ndatabase = "{em.db.name}"\nusername = "{em.login}"\n'
            f'password = "{em.password}"\n[sync]\ndata_dir = "{tmp / "data"}"\n'
            f"interval = {interval}\n[log]\nfile = false\n"
            '[models.customers]\nmodel = "res.partner"\nfields = ["name", "email"]\n'
            '[models.products]\nmodel = "product.product"\nfields = ["name", "list_price"]\n')


def measure(tmp: Path, *, changes: int = 30, interval: float = 0.2, idle_passes: int = 10,
            seed: int = 1, deadline: float = 30.0) -> Freshness:
    """`changes` changes at random gaps (0 to 3 intervals); then `idle_passes` passes with no
    change. `deadline`: seconds a change may take to land before it counts as unseen."""
    rng = random.Random(seed)
    result = Freshness(interval)
    em = Emulator()
    ids = [em.db.create("res.partner", {"name": f"Customer {n}", "email": f"c{n}@example.com"})
           for n in range(200)]
    for n in range(20):
        em.db.create("product.product", {"name": f"Product {n}", "list_price": n})
    em.start()
    conf = tmp / "syncd.toml"
    conf.write_text(config(em, tmp, interval))
    snapshot = tmp / "data" / "odoo_customers.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ODOO_", "SYNCD_"))}
    env.update(SYNCD_CONFIG=str(conf), PYTHONPATH=str(ROOT), XDG_STATE_HOME=str(tmp / "state"))
    passes: list[tuple[float, int]] = []  # (when, emulator requests so far), one per pass
    daemon = subprocess.Popen([SYNCD, "run"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)

    def count_passes() -> None:
        assert daemon.stderr is not None
        for line in daemon.stderr:
            if "model=products " in line:  # the last model of each pass
                passes.append((time.monotonic(), em.stats.requests))

    counter = threading.Thread(target=count_passes, daemon=True)
    counter.start()
    try:
        if not _until(lambda: len(passes) >= 1, deadline):
            result.problems.append("the daemon's first pass never ended")
            return result
        for n in range(changes):
            time.sleep(rng.uniform(0, 3 * interval))  # the writer's random moment
            token = f"fresh-{n}@example.com"
            written = time.monotonic()
            em.db.write("res.partner", rng.choice(ids), {"email": token})
            needle = token.encode()
            if _until(lambda: needle in _read(snapshot), deadline):
                result.latencies.append(time.monotonic() - written)
            else:
                result.unseen += 1
        start = len(passes) + 1  # a pass under way may still carry the last change
        if not _until(lambda: len(passes) >= start + idle_passes, deadline + idle_passes * 2):
            result.problems.append(f"fewer than {idle_passes} idle passes ended")
        else:
            result.idle_passes = idle_passes
            result.idle_requests = passes[start + idle_passes - 1][1] - passes[start - 1][1]
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
            result.problems.append("the daemon did not stop on SIGTERM")
        em.stop()
    return result


def _read(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return b""
    orjson.loads(data)  # whole (a torn read would raise, and fail the measure)
    return data


def _until(condition: Callable[[], bool], deadline: float) -> bool:
    """Poll `condition` (a callable) every 5 ms until it holds (True) or `deadline` seconds
    pass (False): the watcher's loop, and its resolution."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True
