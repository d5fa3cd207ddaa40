"""A test rig: an emulated Odoo over real HTTP, a data directory, and the real engine between them.

`Rig.expected(name)` is the oracle: what `search_read` with the model's domain returns from the
emulator's committed data. After every pass, `Rig.snapshot(name)` must equal it.

A rig's passes use `[sync] workers` as configured by default (`WORKERS`, syncd's default: models
pulled in parallel, rebuilds read in id slices) unless `make_rig(workers=...)` says otherwise;
a `meanwhile` hook runs under a lock, one call at a time, whichever worker thread asks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any


from syncd.consumer.load import records as stored_records
from syncd.settings import ModelSpec, OdooSettings, Settings, SinkSettings, SyncSettings, domain_as_list
from syncd.emulator import Emulator
from syncd.odoo.client import OdooClient
from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import make_sink, opened
from syncd.sync.report import PassReport
from syncd.sync.engine import run_pass, utc_now

PROTOCOLS = [("jsonrpc", 17), ("xmlrpc", 17), ("json2", 19)]
WORKERS = SyncSettings().workers  # the rigs' [sync] workers unless make_rig is told otherwise
# Every sink the guarantee suites run on. A new sink adds its kind here and a case to
# `sink_settings`; the default suite runs it on one transport, the full cross product is slow.
SINKS = ["json", "sqlite", "postgres"]


def cases() -> list[Any]:
    """(protocol, version, sink) for the guarantee suites: every transport on the JSON sink and
    every other sink on JSON-RPC by default; the rest of the cross product marked slow."""
    import pytest

    found: list[Any] = [pytest.param((p, v, "json"), id=f"{p}-{v}-json") for p, v in PROTOCOLS]
    for sink in SINKS[1:]:
        for n, (p, v) in enumerate(PROTOCOLS):
            marks = [pytest.mark.slow] if n else []
            found.append(pytest.param((p, v, sink), id=f"{p}-{v}-{sink}", marks=marks))
    return found


def sink_settings(kind: str, tmp_path: Path) -> SinkSettings:
    """Where a rig's sink writes (inside `tmp_path`, or a database the test fixture started)."""
    if kind == "json":
        return SinkSettings()
    if kind == "postgres":
        from tests import pg_server

        return SinkSettings(kind="postgres", dsn=pg_server.server().database_for(str(tmp_path)))
    if kind == "sqlite":
        return SinkSettings(kind="sqlite", path=tmp_path / "db" / "odoo.sqlite")
    raise ValueError(f"no test settings for sink {kind!r}")

CUSTOMERS = ModelSpec(name="customers", model="res.partner",
                      fields=("name", "email", "phone", "is_company", "parent_id", "write_date"))
COMPANIES = ModelSpec(name="companies", model="res.partner", fields=("name", "email"),
                      domain=(("is_company", "=", True),))
EVERYONE = ModelSpec(name="everyone", model="res.partner", fields=("name",),
                     include_archived=True)
PRODUCTS = ModelSpec(name="products", model="product.product",
                     fields=("name", "default_code", "list_price", "write_date"))


@dataclass
class Rig:
    emulator: Emulator
    settings: Settings
    client: OdooClient
    now: Any = field(default=utc_now)
    reports: list[PassReport] = field(default_factory=list)

    @property
    def db(self) -> Any:
        return self.emulator.db

    @property
    def data_dir(self) -> Path:
        return self.settings.sync.data_dir

    def sync(self, meanwhile: Callable[[], None] | None = None) -> PassReport:
        """One pass; `meanwhile` runs before each page request, as Odoo changing during it (one
        call at a time, from whichever thread asks for a page)."""
        hook = threading.Lock()

        def should_stop() -> bool:
            if meanwhile is not None:
                with hook:
                    meanwhile()
            return False
        with opened(self.settings) as sink:
            report = run_pass(self.settings, self.client, sink, DataDir(self.data_dir),
                              now=self.now, should_stop=should_stop)
        self.reports.append(report)
        return report

    def spec(self, name: str) -> ModelSpec:
        return next(s for s in self.settings.models if s.name == name)

    def snapshot(self, name: str) -> list[dict[str, Any]]:
        """The stored records of `name`, through the configured sink, in id order."""
        sink = make_sink(self.settings)
        try:
            return list(stored_records(sink, name))
        finally:
            sink.close()

    def expected(self, name: str) -> list[dict[str, Any]]:
        spec = self.spec(name)
        fields = list(spec.fields)
        if spec.include_archived and "active" not in fields:
            fields.append("active")
        rows = self.db.execute(spec.model, "search_read", [domain_as_list(spec.domain)],
                               {"fields": fields, "order": "id",
                                "context": {"active_test": not spec.include_archived}})
        return [{"id": r["id"], **{f: r[f] for f in fields}} for r in rows]

    def assert_in_sync(self, context: str = "") -> None:
        for spec in self.settings.models:
            got, want = self.snapshot(spec.name), self.expected(spec.name)
            if got != want:
                got_ids = {r["id"]: r for r in got}
                want_ids = {r["id"]: r for r in want}
                missing = sorted(want_ids.keys() - got_ids.keys())[:10]
                extra = sorted(got_ids.keys() - want_ids.keys())[:10]
                differ = [i for i in want_ids.keys() & got_ids.keys()
                          if want_ids[i] != got_ids[i]][:5]
                raise AssertionError(
                    f"{context} {spec.name}: snapshot differs from Odoo: missing ids {missing}, "
                    f"extra ids {extra}, differing {[(want_ids[i], got_ids[i]) for i in differ]}")

    def close(self) -> None:
        self.client.close()
        self.emulator.stop()


def make_rig(tmp_path: Path, protocol: str = "jsonrpc", version: int = 17, *,
             models: tuple[ModelSpec, ...] = (CUSTOMERS, PRODUCTS), page_size: int = 1000,
             lookback: float = 300, reconcile_interval: float = 3600,
             emulator: Emulator | None = None, sink: str = "json",
             workers: int | None = None) -> Rig:
    em = emulator or Emulator(version=version)
    url = em.start()
    odoo = OdooSettings(url=url, database=em.db.name, username=em.login, password=em.password,
                        api_key=em.api_key if protocol == "json2" else "", protocol=protocol,
                        timeout=10)
    settings = Settings(odoo=odoo,
                        sync=SyncSettings(data_dir=tmp_path / "data", interval=1,
                                          page_size=page_size, lookback=lookback,
                                          reconcile_interval=reconcile_interval,
                                          workers=WORKERS if workers is None else workers),
                        sink=sink_settings(sink, tmp_path), models=models)
    client = OdooClient(settings.odoo, sleep=lambda s: None)
    return Rig(emulator=em, settings=settings, client=client)


def seeded_rig(tmp_path: Path, *, sink: str = "json", journal: bool, partners: int,
               seed: int) -> Rig:
    """A rig of customers only (deletions checked every pass) on ``sink``, with ``partners``
    partners synced once: the fixture of the journal and reader suites."""
    import random

    rig = make_rig(tmp_path, models=(CUSTOMERS,), reconcile_interval=0, sink=sink)
    with_settings(rig, journal=journal)
    rng = random.Random(seed)
    for n in range(partners):
        rig.db.create("res.partner", partner(rng, n))
    assert rig.sync().ok
    return rig


def with_settings(rig: Rig, **sync: Any) -> None:
    rig.settings = replace(rig.settings, sync=replace(rig.settings.sync, **sync))


def partner(rng: Any, n: int, company: bool = True, **extra: Any) -> dict[str, Any]:
    values = {"name": f"Partner {n}", "email": f"p{n}@example.com", "is_company": company,
              "phone": f"+32 2 555 {n:04d}"}
    values.update(extra)
    return values


def churn(rig: Rig, rng: Any, step: int, *, first_id: int = 1000, writes: int = 3,
          field: str = "name") -> None:
    """Odoo changes a little between two passes: one partner created, `writes` written (their
    `field`), one deleted; each pass then has something to add, update and remove."""
    ids = sorted(r["id"] for r in rig.expected("customers"))
    rig.db.create("res.partner", partner(rng, first_id + step))
    for record_id in rng.sample(ids, writes):
        value = f"renamed {step} {record_id}" if field == "name" else \
            f"e{step}.{record_id}@example.com"
        rig.db.write("res.partner", [record_id], {field: value})
    rig.db.unlink("res.partner", [rng.choice(ids)])


def fixed(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
