"""One focused test per guarantee of the sync (README, "How incremental sync works, and why";
docs/odoo-api.md has the Odoo behaviour each defends against), against the emulator over real
HTTP."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from loguru import logger

from syncd.consumer.load import records as stored_records
from syncd.settings import ModelSpec
from syncd.sinks.datadir import ERROR_FILE, STATE_FILE, DataDir
from syncd.sinks.factory import make_sink, opened
from tests.sync_rig import (COMPANIES, CUSTOMERS, EVERYONE, PRODUCTS, PROTOCOLS, SINKS, Rig, cases,
                            make_rig, partner)


@pytest.fixture(params=cases())
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    protocol, version, sink = request.param
    r = make_rig(tmp_path, protocol, version, models=(CUSTOMERS, COMPANIES, EVERYONE, PRODUCTS),
                 page_size=50, reconcile_interval=0, sink=sink)
    yield r
    r.close()


def files(rig: Rig) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(rig.data_dir.glob("*.json"))}


# -- no missed change ----------------------------------------------------------------------------
def test_creates_writes_archives_and_domain_moves_arrive(rig: Rig) -> None:
    a = rig.db.create("res.partner", partner(None, 1))
    b = rig.db.create("res.partner", partner(None, 2, company=False, parent_id=a))
    p = rig.db.create("product.product", {"name": "Desk", "default_code": "D-1", "list_price": 10.0})
    assert rig.sync().ok
    rig.assert_in_sync("first pass")
    assert {r["id"] for r in rig.snapshot("companies")} == {a}

    rig.db.write("res.partner", b, {"email": "new@example.com", "is_company": True})  # enters
    rig.db.write("product.product", p, {"list_price": 12.5})
    rig.db.archive("res.partner", a)  # leaves customers and companies, stays in everyone
    assert rig.sync().ok
    rig.assert_in_sync("after writes")
    assert {r["id"] for r in rig.snapshot("companies")} == {b}
    assert [r["active"] for r in rig.snapshot("everyone") if r["id"] == a] == [False]

    rig.db.unarchive("res.partner", a)
    rig.db.write("res.partner", b, {"is_company": False})  # leaves the companies domain
    assert rig.sync().ok
    rig.assert_in_sync("after unarchive")
    assert {r["id"] for r in rig.snapshot("companies")} == {a}


def test_long_transaction_committing_behind_the_watermark(rig: Rig) -> None:
    rig.db.create("res.partner", partner(None, 1))
    assert rig.sync().ok
    tx = rig.db.transaction()
    late = tx.create("res.partner", partner(None, 2))  # stamped now, visible only at commit
    rig.db.clock.advance(120)
    rig.db.create("res.partner", partner(None, 3))  # moves the watermark past the tx stamp
    assert rig.sync().ok
    assert late not in {r["id"] for r in rig.snapshot("customers")}
    tx.commit()
    assert rig.sync().ok
    rig.assert_in_sync("after the late commit")
    assert late in {r["id"] for r in rig.snapshot("customers")}


def test_burst_larger_than_a_page_sharing_one_stamp(rig: Rig) -> None:
    ids = rig.db.import_records("res.partner", [partner(None, n) for n in range(237)])
    stamps = {r["write_date"] for r in rig.db.execute(
        "res.partner", "read", [ids], {"fields": ["write_date"]})}
    assert len(stamps) == 1
    assert rig.sync().ok
    rig.assert_in_sync("after the import")
    # The next burst lands in the same second as the watermark: still no loop, nothing missed.
    more = rig.db.import_records("res.partner", [partner(None, n) for n in range(300, 420)])
    before = rig.client.requests
    assert rig.sync().ok
    rig.assert_in_sync("after the second import")
    assert set(more) <= {r["id"] for r in rig.snapshot("customers")}
    assert rig.client.requests - before < 40  # bounded: pages, not a loop


SALEABLE = ModelSpec(name="saleable", model="product.product", fields=("name",),
                     domain=(("sale_ok", "=", True),))


@pytest.mark.parametrize("protocol, version", PROTOCOLS, ids=[f"{p}-{v}" for p, v in PROTOCOLS])
def test_template_changes_reach_the_products_that_show_them(tmp_path: Path, protocol: str,
                                                            version: int) -> None:
    """product.product shows name, list_price, sale_ok from its product.template, and Odoo
    moves the variant's write_date when the template's moves (a stored compute on
    product_tmpl_id.write_date, docs/odoo-api.md §10): renaming a product in Odoo's product form
    reaches the snapshot through the variants' own window, and so does a domain move, without
    following product.template (fields_get's `depends` says so)."""
    rig = make_rig(tmp_path, protocol, version, models=(PRODUCTS, SALEABLE),
                   reconcile_interval=10**9)
    try:
        desk, lamp = (rig.db.create("product.product", {"name": name, "list_price": price})
                      for name, price in (("Desk", 100.0), ("Lamp", 20.0)))
        template = {r["id"]: r["product_tmpl_id"][0] for r in rig.db.execute(
            "product.product", "read", [[desk, lamp]], {"fields": ["product_tmpl_id"]})}
        assert rig.sync().ok
        rig.db.clock.advance(1000)  # the variants' creation stamps leave every change window
        assert rig.sync().ok and rig.sync().ok
        before = {r["id"]: r for r in rig.snapshot("products")}

        rig.db.write("product.template", template[desk], {"name": "Standing desk",
                                                          "list_price": 120.0})
        rig.db.write("product.template", template[lamp], {"sale_ok": False})
        calls = rig.emulator.stats.calls("product.template", "search_read")
        assert rig.sync().ok
        rig.assert_in_sync("after template writes")
        after = {r["id"]: r for r in rig.snapshot("products")}
        assert after[desk]["name"] == "Standing desk" and after[desk]["list_price"] == 120.0
        assert after[desk]["write_date"] > before[desk]["write_date"]  # moved with the template
        assert [r["id"] for r in rig.snapshot("saleable")] == [desk]
        assert rig.emulator.stats.calls("product.template", "search_read") == calls  # not read

        requests = rig.client.requests
        report = rig.sync()  # nothing changed since: one request per model, no parent model
        assert report.ok and not any(m.written for m in report.models)
        assert rig.client.requests - requests == 2
    finally:
        rig.close()


USERS = ModelSpec(name="users", model="res.users", fields=("login", "name", "email"))


@pytest.mark.parametrize("protocol, version", PROTOCOLS, ids=[f"{p}-{v}" for p, v in PROTOCOLS])
def test_partner_changes_reach_the_users_that_show_them(tmp_path: Path, protocol: str,
                                                        version: int) -> None:
    """res.users shows name and email from its res.partner (_inherits), and a partner write
    leaves the user's write_date alone (docs/odoo-api.md §10): the pass follows res.partner,
    at one more small request per idle pass."""
    rig = make_rig(tmp_path, protocol, version, models=(USERS,), reconcile_interval=10**9)
    try:
        marc = rig.db.create("res.users", {"login": "marc", "name": "Marc Demo"})
        (row,) = rig.db.execute("res.users", "read", [[marc]], {"fields": ["partner_id"]})
        assert rig.sync().ok
        rig.db.clock.advance(1000)  # the user's own stamp leaves every change window
        assert rig.sync().ok and rig.sync().ok

        rig.db.write("res.partner", row["partner_id"][0], {"name": "Marc Renamed",
                                                           "email": "marc@example.com"})
        stamp = rig.db.tables["res.users"].rows[marc]["write_date"]
        assert rig.db.clock.now() - stamp >= timedelta(seconds=1000)  # the user's stays old
        assert rig.sync().ok
        rig.assert_in_sync("after the partner write")
        users = {r["id"]: r for r in rig.snapshot("users")}
        assert users[marc]["name"] == "Marc Renamed"
        assert users[marc]["email"] == "marc@example.com"

        requests = rig.client.requests
        report = rig.sync()  # idle: the users' window and res.partner's
        assert report.ok and not any(m.written for m in report.models)
        assert rig.client.requests - requests == 1 + 1
    finally:
        rig.close()


def test_a_parent_this_user_may_not_read_is_dropped_not_a_failing_pass(tmp_path: Path) -> None:
    from syncd.emulator import Database, Emulator
    from syncd.emulator.faults import OdooFault

    class Restricted(Database):  # the sync user reads users, not partners directly
        def execute(self, model, method, args, kwargs, *, uid=2):  # type: ignore[no-untyped-def]
            if model == "res.partner" and uid == 2 and method == "search_read":
                raise OdooFault("odoo.exceptions.AccessError",
                                "You are not allowed to access 'Contact' (res.partner) "
                                "records.")
            return super().execute(model, method, args, kwargs, uid=uid)

    rig = make_rig(tmp_path, models=(USERS,), emulator=Emulator(17, db=Restricted(version=17)))
    try:
        rig.db.create("res.users", {"login": "marc", "name": "Marc Demo"})
        logged: list[str] = []
        sink = logger.add(logged.append, level="WARNING", format="{message}")
        try:
            assert rig.sync().ok and rig.sync().ok
        finally:
            logger.remove(sink)
        assert [line for line in logged if "cannot watch res.partner" in line] == [
            logged[0]] and "AccessError" in logged[0]  # once, with Odoo's reason
        rig.db.create("res.users", {"login": "lisa", "name": "Lisa Demo"})
        assert rig.sync().ok
        rig.assert_in_sync("without the parent")
    finally:
        rig.close()


# -- deletions -----------------------------------------------------------------------------------
@pytest.mark.parametrize("sink", SINKS)
def test_deletions_disappear_within_the_reconcile_interval(tmp_path: Path, sink: str) -> None:
    clock = {"now": None}
    rig = make_rig(tmp_path, models=(CUSTOMERS,), reconcile_interval=3600, sink=sink)
    from syncd.sync.engine import utc_now

    start = utc_now()
    rig.now = lambda: clock["now"]
    try:
        ids = [rig.db.create("res.partner", partner(None, n)) for n in range(3)]
        clock["now"] = start
        assert rig.sync().ok
        rig.db.unlink("res.partner", ids[0])
        clock["now"] = start + timedelta(seconds=600)
        assert rig.sync().ok
        assert ids[0] in {r["id"] for r in rig.snapshot("customers")}  # not yet checked
        clock["now"] = start + timedelta(seconds=3601)
        assert rig.sync().ok
        rig.assert_in_sync("after the reconcile")
        assert ids[0] not in {r["id"] for r in rig.snapshot("customers")}
    finally:
        rig.close()


# -- server time, not local time -----------------------------------------------------------------
def test_skewed_clocks_and_a_non_utc_timezone_change_nothing(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    rig = make_rig(tmp_path, "json2", 19, models=(CUSTOMERS,), reconcile_interval=0)
    from syncd.sync.engine import utc_now

    rig.now = lambda: utc_now() + timedelta(hours=7)  # the local clock is 7 hours fast
    rig.db.clock.set_offset(-5 * 3600)  # and the server's is 5 hours behind real time
    try:
        rig.db.create("res.partner", partner(None, 1))
        assert rig.sync().ok
        state = orjson.loads((rig.data_dir / STATE_FILE).read_bytes())
        watermark = state["models"]["customers"]["watermark"]
        server_stamp = rig.snapshot("customers")[0]["write_date"]
        assert watermark == server_stamp  # the server's value, never the local clock
        tx = rig.db.transaction()
        late = tx.create("res.partner", partner(None, 2))
        rig.db.clock.advance(60)
        rig.db.create("res.partner", partner(None, 3))
        assert rig.sync().ok
        tx.commit()
        rig.db.write("res.partner", late, {"name": "renamed"})
        assert rig.sync().ok  # Odoo 19 rejects any timestamp that is not naive UTC
        rig.assert_in_sync("with skewed clocks")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
        rig.close()


# -- a failed pass changes nothing (but .syncd-error.json) ---------------------------------------
def stored(rig: Rig) -> dict[str, Any]:
    """What a reader of the rig's sink sees: every model's records and the committed state."""
    sink = make_sink(rig.settings)
    try:
        return {"state": sink.read_state().to_bytes(),
                **{spec.name: list(stored_records(sink, spec.name)) for spec in rig.settings.models}}
    finally:
        sink.close()


@pytest.mark.parametrize("sink", SINKS)
@pytest.mark.parametrize("kind", ["http_500", "http_503", "malformed", "html", "drop", "truncate"])
def test_a_failed_pass_changes_no_file(tmp_path: Path, kind: str, sink: str) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS), reconcile_interval=0, sink=sink)
    try:
        rig.db.create("res.partner", partner(None, 1))
        rig.db.create("product.product", {"name": "Chair", "list_price": 5.0})
        assert rig.sync().ok
        before, contents = files(rig), stored(rig)
        rig.db.create("res.partner", partner(None, 2))
        rig.db.create("product.product", {"name": "Table", "list_price": 50.0})
        # customers succeed first; products then fail on every retry.
        rig.emulator.faults.add(kind, times=1000, model="product.product")
        report = rig.sync()
        assert not report.ok and report.error
        assert "products" in report.error
        after = files(rig)
        assert orjson.loads(after.pop(ERROR_FILE))["error"] == report.error  # for `status`
        assert after == before  # and nothing else in the data directory
        assert stored(rig) == contents  # nor in the sink (customers were pulled, not committed)
        rig.emulator.faults.clear()
        assert rig.sync().ok
        rig.assert_in_sync("after recovery")
    finally:
        rig.close()


def test_transient_errors_are_retried_within_the_pass(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS,))
    try:
        rig.db.create("res.partner", partner(None, 1))
        rig.emulator.faults.add("http_429", times=2, retry_after=1)
        rig.emulator.faults.add("http_502", times=1)
        assert rig.sync().ok
        rig.assert_in_sync()
    finally:
        rig.close()


# -- corrupt local files -------------------------------------------------------------------------
def test_corrupt_state_is_set_aside_and_everything_rebuilt(rig: Rig) -> None:
    ids = [rig.db.create("res.partner", partner(None, n)) for n in range(4)]
    assert rig.sync().ok
    corrupt_state(rig)
    rig.db.unlink("res.partner", ids[1])
    report = rig.sync()
    assert report.ok and all(m.full for m in report.models)  # everything rebuilt
    rig.assert_in_sync("after a corrupt state")
    if rig.settings.sink.kind == "json":
        assert list(rig.data_dir.glob(f"{STATE_FILE}.corrupt-*"))
    assert rig.sync().ok  # and no crash loop
    # The new state was read back (products has no records, hence no watermark: always full).
    assert not any(m.full for m in rig.reports[-1].models if m.name != "products")


def corrupt_state(rig: Rig) -> None:
    """Damage the committed state where the rig's sink keeps it."""
    kind = rig.settings.sink.kind
    if kind == "json":
        (rig.data_dir / STATE_FILE).write_bytes(b'{"last_sync": "2026-')
    elif kind == "sqlite":
        assert rig.settings.sink.path is not None
        with closing(sqlite3.connect(rig.settings.sink.path)) as db, db:
            assert db.execute("UPDATE syncd_state SET state = '{\"watermark\": 5'").rowcount
    elif kind == "postgres":
        import psycopg

        with psycopg.connect(rig.settings.sink.dsn, autocommit=True) as db:
            # jsonb is always valid JSON: the corruption is a state of the wrong shape.
            assert db.execute("UPDATE syncd_state SET state = '{\"watermark\": 5}' "
                              "WHERE name <> ''").rowcount
    else:
        raise AssertionError(f"no way to corrupt the state of sink {kind!r} yet")


def test_corrupt_snapshot_is_set_aside_and_rebuilt(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS,), reconcile_interval=3600)
    try:
        for n in range(5):
            rig.db.create("res.partner", partner(None, n))
        assert rig.sync().ok
        path = rig.data_dir / "odoo_customers.json"
        path.write_bytes(path.read_bytes()[:40])  # truncated by someone else
        assert rig.sync().ok
        rig.assert_in_sync("after a corrupt snapshot")
        assert list(rig.data_dir.glob("odoo_customers.json.corrupt-*"))
    finally:
        rig.close()


# -- forced resync -----------------------------------------------------------------------------------
@pytest.mark.parametrize("sink", SINKS)
def test_a_forced_resync_rebuilds_and_drops_what_odoo_deleted(tmp_path: Path, sink: str) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS), reconcile_interval=10**9, sink=sink)
    try:
        ids = [rig.db.create("res.partner", partner(None, n)) for n in range(5)]
        assert rig.sync().ok
        rig.db.unlink("res.partner", ids[2])  # no reconcile is due: only a rebuild sees it
        assert rig.sync().ok and ids[2] in {r["id"] for r in rig.snapshot("customers")}
        output = make_sink(rig.settings)
        try:
            assert DataDir(rig.data_dir).request_resync(output, ["customers"],
                                                        ["customers", "products"])
        finally:
            output.close()
        report = rig.sync()
        assert report.ok and report.models[0].full  # (products, empty, has no watermark yet)
        rig.assert_in_sync("after a forced resync")
        assert not rig.sync().models[0].full  # the request was applied once
    finally:
        rig.close()


def test_deleting_the_state_file_rebuilds_from_scratch(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS, PRODUCTS), reconcile_interval=86400)
    try:
        ids = [rig.db.create("res.partner", partner(None, n)) for n in range(3)]
        rig.db.create("product.product", {"name": "Lamp"})
        assert rig.sync().ok
        rig.db.unlink("res.partner", ids[0])
        (rig.data_dir / STATE_FILE).unlink()
        report = rig.sync()
        assert report.ok and all(m.full for m in report.models)
        assert ids[0] not in {r["id"] for r in rig.snapshot("customers")}
        rig.assert_in_sync("after the forced resync")
    finally:
        rig.close()


# -- cost and quiet passes -----------------------------------------------------------------------
def test_a_pass_without_changes_is_one_request_per_model_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rig = make_rig(tmp_path, models=(CUSTOMERS, COMPANIES, PRODUCTS), reconcile_interval=3600)
    try:
        for n in range(30):
            rig.db.create("res.partner", partner(None, n, company=n % 2 == 0))
            rig.db.create("product.product", {"name": f"Item {n}", "list_price": 9.5 + n})
        assert rig.sync().ok
        assert rig.sync().ok  # the lookback window now holds only known records
        stats = {p.name: p.stat().st_mtime_ns for p in rig.data_dir.glob("*.json")}
        loads: list[str] = []
        import syncd.sinks.json.sink as jsondir

        for name in ("merge", "snapshot_ids", "record_lines", "Difference", "Rebuild"):
            original = getattr(jsondir, name)
            monkeypatch.setattr(jsondir, name, lambda *a, _o=original, _n=name, **k:
                                loads.append(_n) or _o(*a, **k))
        before = rig.client.requests
        report = rig.sync()
        assert report.ok
        # One small request per model; none for product.template, whose writes move the
        # products' own write_date (docs/odoo-api.md §10).
        assert rig.client.requests - before == 3
        assert loads == []  # no snapshot was read or written
        snapshots = {p.name: p.stat().st_mtime_ns for p in rig.data_dir.glob("odoo_*.json")}
        assert snapshots == {k: v for k, v in stats.items() if k.startswith("odoo_")}
    finally:
        rig.close()


def test_a_field_this_odoo_lacks_is_reported_once_and_left_out(tmp_path: Path) -> None:
    spec = ModelSpec(name="customers", model="res.partner", fields=("name", "mobile", "nope"))
    # Odoo 19 has no res.partner.mobile any more (docs/odoo-api.md §12)
    rig = make_rig(tmp_path, "jsonrpc", 19, models=(spec,), reconcile_interval=0)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING")
    try:
        rig.db.create("res.partner", {"name": "A"})
        assert rig.sync().ok
        rig.db.create("res.partner", {"name": "B"})
        assert rig.sync().ok
        warned = [line for line in lines if "missing_fields" in line]
        assert len(warned) == 1 and "mobile" in warned[0] and "nope" in warned[0]
        assert rig.snapshot("customers")[0].keys() == {"id", "name"}
    finally:
        logger.remove(sink)
        rig.close()


def test_snapshot_bytes_are_the_same_whatever_the_protocol(tmp_path: Path) -> None:
    from syncd.emulator import Emulator

    outputs = []
    for protocol in ("jsonrpc", "xmlrpc"):
        em = Emulator(version=17)
        em.db.clock.freeze(datetime(2026, 1, 1, 12, 0, 0, 123456))
        for n in range(5):
            em.db.create("res.partner", partner(None, n, name=f"Ünïcødé {n}"))
        rig = make_rig(tmp_path / protocol, protocol, models=(CUSTOMERS,), emulator=em)
        try:
            assert rig.sync().ok
            outputs.append((rig.data_dir / "odoo_customers.json").read_bytes())
        finally:
            rig.close()
    assert outputs[0] == outputs[1]
    assert "Ünïcødé".encode() in outputs[0]



@pytest.mark.parametrize("client", ["daemon", "once"])
def test_a_bulk_import_is_re_read_by_at_most_one_pass(tmp_path: Path, client: str) -> None:
    """Each pass learns Odoo's clock from its own first answer (the login's under `once`, the
    first query's in a daemon that stays logged in), so the window of the pass after next has
    moved past an import: only the next pass re-reads it (compared, not rewritten)."""
    rig = make_rig(tmp_path, models=(CUSTOMERS,), reconcile_interval=3600)
    try:
        rig.db.import_records("res.partner", [partner(None, n) for n in range(500)])
        assert rig.sync().ok
        fetched = []
        for _ in range(4):
            rig.db.clock.advance(400)  # a pass every interval; no transaction is that long
            if client == "once":
                rig.client.close()  # `once` logs in again: its first answer is the login
            report = rig.sync()
            assert report.ok and not report.models[0].written
            fetched.append(report.models[0].fetched)
        assert fetched == [500, 0, 0, 0]
        late = rig.db.transaction()
        stamped = late.create("res.partner", partner(None, 900))
        rig.db.clock.advance(200)
        rig.db.create("res.partner", partner(None, 901))
        assert rig.sync().ok
        late.commit()  # 200 s behind the watermark: still inside the lookback
        report = rig.sync()
        assert report.ok and report.models[0].fetched <= 3
        assert stamped in {r["id"] for r in rig.snapshot("customers")}
        rig.assert_in_sync("after a quiet period")
    finally:
        rig.close()


def test_a_server_ignoring_the_id_keyset_fails_the_pass_instead_of_looping(tmp_path: Path) -> None:
    from syncd.emulator import Database, Emulator

    class Careless(Database):  # a proxy or module that drops the `id >` term
        def execute(self, model, method, args, kwargs, *, uid=2):  # type: ignore[no-untyped-def]
            if method == "search_read" and args:
                args = [[t for t in args[0] if not (isinstance(t, list) and t[0] == "id")]]
            return super().execute(model, method, args, kwargs, uid=uid)

    em = Emulator(17, db=Careless(version=17))
    rig = make_rig(tmp_path, models=(CUSTOMERS,), page_size=5, emulator=em)
    try:
        for n in range(12):
            rig.db.create("res.partner", partner(None, n))
        report = rig.sync()
        assert not report.ok and "not paging further" in (report.error or "")
        assert not (rig.data_dir / "odoo_customers.json").exists()
    finally:
        rig.close()



@pytest.mark.parametrize("sink", SINKS)
@pytest.mark.parametrize("kind", ["full", "incremental"])
@pytest.mark.parametrize("send_date", [True, False], ids=["server-date", "no-date-header"])
def test_writes_committed_during_a_long_pass_are_caught_by_the_next(
        tmp_path: Path, kind: str, send_date: bool, sink: str) -> None:
    """A pass that outlasts `lookback` (a full sync of a big model, a large catch-up) sees rows
    stamped long after it started. The next pass must still re-read from before that pass
    began, not from `lookback` before the newest stamp it saw, or a write to a page it had
    already read is lost for good. With or without Odoo's clock (the HTTP Date header)."""
    from syncd.emulator import Emulator
    from syncd.sync.engine import run_pass

    rig = make_rig(tmp_path, models=(CUSTOMERS,), page_size=10, lookback=300,
                   reconcile_interval=3600, emulator=Emulator(17, send_date=send_date), sink=sink)
    try:
        ids = rig.db.import_records("res.partner", [partner(None, n) for n in range(30)])
        if kind == "incremental":
            assert rig.sync().ok
        before = rig.emulator.stats.calls("res.partner", "search_read")
        if kind == "full" and not send_date:
            before += 1  # without Odoo's clock, a probe for the newest stamp comes first
        changed: list[bool] = []

        def meanwhile() -> bool:  # asked before each request for a page
            if not changed and rig.emulator.stats.calls("res.partner", "search_read") == before + 1:
                # Page 1 is read; Odoo changes one of its records, and the pass runs on.
                rig.db.write("res.partner", ids[0], {"name": "renamed during the pass"})
                rig.db.clock.advance(1000)
                rig.db.write("res.partner", ids[-1], {"name": "renamed much later"})
                changed.append(True)
            return False

        with opened(rig.settings) as sink:
            report = run_pass(rig.settings, rig.client, sink, DataDir(rig.data_dir),
                              should_stop=meanwhile)
        assert report.ok and changed
        first = {r["id"]: r["name"] for r in rig.snapshot("customers")}
        assert first[ids[0]] == "Partner 0"  # its page was read before the write
        assert first[ids[-1]] == "renamed much later"  # so the watermark is far ahead
        assert rig.sync().ok
        rig.assert_in_sync("after a pass that outlasted the lookback")
    finally:
        rig.close()
