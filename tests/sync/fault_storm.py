"""Network and server faults, at random, over many passes (run by tests/sync/test_fault_storm.py
and scripts/reliability.py).

Between passes Odoo changes (creates, writes, deletions) and a few faults are planned on the
emulator's HTTP side: HTTP 500/502/503, 429 with Retry-After, a dropped connection, a body cut
short, malformed JSON or XML, an HTML page from a proxy, an answer slower than the client's
timeout, and credentials revoked mid-pass (the password and API key stop working at the K-th
request that checks them). Some are few enough for the client's retries to absorb, some are not.
Every kind fires in any run of len(KINDS) passes. After each pass: a pass that succeeded stored exactly what Odoo holds; a pass that failed
reported one line and changed nothing a reader sees (every file but `.syncd-error.json`, every
stored row, the state). When the faults stop, one pass converges.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from syncd.consumer.load import records as stored_records
from syncd.odoo.client import OdooClient
from syncd.sinks.datadir import ERROR_FILE
from syncd.sinks.factory import make_sink
from tests.sync_rig import CUSTOMERS, PRODUCTS, Rig, make_rig

# (kind, emulator parameters); "revoked" is not an HTTP fault but the credentials' check.
KINDS: list[tuple[str, dict[str, Any]]] = [
    ("http_500", {}), ("http_502", {}), ("http_503", {}), ("http_429", {"retry_after": 2}),
    ("drop", {}), ("truncate", {}), ("malformed", {}), ("html", {}),
    ("latency", {"seconds": 0.6}), ("revoked", {}),
]
TIMEOUT = 0.25  # the client's per-request timeout: a "latency" answer comes after it
ATTEMPTS = 5  # the client's default: this many failures of one request fail the pass


@dataclass
class Storm:
    passes: int = 0
    succeeded: int = 0
    failed: int = 0
    faulted: int = 0  # passes with at least one fault fired
    fired: Counter[str] = field(default_factory=Counter)  # kind -> times it fired
    requests: int = 0
    failures: list[str] = field(default_factory=list)  # broken guarantees


class Revocation:
    """Makes the emulator refuse the user's password and API key from the `after`-th
    credentials check on (each RPC on XML-RPC/JSON-RPC, each request on JSON-2), until lifted:
    a password changed or an API key deleted while a pass runs."""

    def __init__(self, db: Any) -> None:
        self.check: Callable[[int, str], bool] = db.check_credentials
        self.left: int | None = None
        self.fired = 0
        db.check_credentials = self._check

    def arm(self, after: int) -> None:
        self.left = after

    def lift(self) -> None:
        self.left = None

    def _check(self, uid: int, secret: str) -> bool:
        if self.left is not None:
            if self.left <= 0:
                self.fired += 1
                return False
            self.left -= 1
        return self.check(uid, secret)


def rig_for(workdir: Path, sink: str, protocol: str = "jsonrpc", version: int = 17) -> Rig:
    """A rig whose client times out after TIMEOUT and does not really sleep between retries."""
    rig = make_rig(workdir, protocol, version, models=(CUSTOMERS, PRODUCTS), page_size=20,
                   reconcile_interval=0, sink=sink)
    rig.client.close()
    rig.settings = replace(rig.settings, odoo=replace(rig.settings.odoo, timeout=TIMEOUT))
    rig.client = OdooClient(rig.settings.odoo, sleep=lambda s: None, attempts=ATTEMPTS)
    return rig


def seen(rig: Rig) -> dict[str, Any]:
    """What readers see: the data directory's files but the error file, the stored rows and
    state through the sink."""
    found: dict[str, Any] = {p.name: p.read_bytes() for p in sorted(rig.data_dir.glob("*"))
                             if p.is_file() and p.name != ERROR_FILE and ".syncd-tmp" not in p.name
                             and "lock" not in p.name and not p.name.startswith("odoo.sqlite")}
    sink = make_sink(rig.settings)
    try:
        found["state"] = sink.read_state().to_bytes()
        for spec in rig.settings.models:
            found[spec.name] = list(stored_records(sink, spec.name))
    finally:
        sink.close()
    return found


def change(rig: Rig, rng: random.Random) -> None:
    """Odoo between two passes: a few creates, writes and deletions."""
    rig.db.clock.advance(rng.choice([1, 5, 30]))
    for model, values in (("res.partner", lambda n: {"name": f"Partner {n}",
                                                     "email": f"p{n}@example.com"}),
                          ("product.product", lambda n: {"name": f"Product {n}",
                                                         "list_price": float(n)})):
        ids = rig.db.execute(model, "search", [[]], {"order": "id"})
        for _ in range(rng.randint(0, 25)):
            rig.db.create(model, values(rng.randint(1, 10**6)))
        if ids:
            picked = rng.sample(ids, min(len(ids), rng.randint(0, 10)))
            if picked:
                rig.db.write(model, picked, {"name": f"Renamed {rng.randint(1, 10**6)}"})
            if rng.random() < 0.3:
                rig.db.unlink(model, [rng.choice(ids)])


def plan(rig: Rig, rng: random.Random, revocation: Revocation, first: int) -> dict[str, int]:
    """The next pass's faults, kind -> times planned: KINDS[first] on any request (so every
    kind fires in a run of len(KINDS) passes), then up to two more at random."""
    planned: dict[str, int] = {}
    for n in range(1 + rng.choice([0, 0, 1, 2])):
        kind, params = KINDS[first] if n == 0 else rng.choice(KINDS)
        if kind == "revoked":
            revocation.arm(rng.randint(0, 3 if n == 0 else 8))
            planned[kind] = 1
            continue
        times = rng.choice([1, 2, ATTEMPTS + 5]) if kind != "latency" else rng.choice([1, 2])
        model = None if n == 0 else rng.choice([None, "res.partner", "product.product"])
        rig.emulator.faults.add(kind, times=times, model=model, **params)
        planned[kind] = planned.get(kind, 0) + times
    return planned


def storm(workdir: Path, sink: str = "json", *, passes: int = 30, seed: int = 0,
          protocol: str = "jsonrpc", version: int = 17) -> Storm:
    rng = random.Random(seed)
    result = Storm()
    rig = rig_for(workdir, sink, protocol, version)
    revocation = Revocation(rig.db)
    try:
        change(rig, rng)
        if not rig.sync().ok:
            result.failures.append("the first pass, without faults, failed")
            return result
        for n in range(passes):
            change(rig, rng)
            before = seen(rig)
            planned = plan(rig, rng, revocation, n % len(KINDS))
            requests = rig.emulator.stats.requests
            report = rig.sync()
            result.requests += rig.emulator.stats.requests - requests
            left = Counter({r.kind: r.times for r in rig.emulator.faults.pending()})
            fired = Counter({kind: times - left.get(kind, 0) for kind, times in planned.items()
                             if kind != "revoked"})
            if revocation.fired:
                fired["revoked"] = 1
            rig.emulator.faults.clear()
            revocation.lift()
            revocation.fired = 0
            result.fired += fired
            result.passes += 1
            result.faulted += bool(+fired)
            where = f"pass {n + 1} (faults {dict(+fired)})"
            if report.ok:
                result.succeeded += 1
                try:
                    rig.assert_in_sync(where)
                except AssertionError as exc:
                    result.failures.append(f"{where}: succeeded but stored {exc}")
                continue
            result.failed += 1
            error = report.error or ""
            if not error or "\n" in error.strip() or "Traceback" in error:
                result.failures.append(f"{where}: error is not one line: {error[:300]!r}")
            after = seen(rig)
            if after != before:
                differ = sorted(k for k in before.keys() | after.keys()
                                if before.get(k) != after.get(k))
                result.failures.append(f"{where}: a failed pass changed {differ}")
        if not rig.sync().ok:
            result.failures.append("the pass after the faults stopped failed")
        else:
            try:
                rig.assert_in_sync("after the faults stopped")
            except AssertionError as exc:
                result.failures.append(str(exc))
    finally:
        rig.close()
    return result
