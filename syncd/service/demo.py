"""`syncd demo`: the built-in Odoo emulator with demo data, and the daemon syncing from it.

A new user sees syncd work with no Odoo at hand: the emulator serves generated customers and
products on 127.0.0.1, a background thread changes a few records every few seconds (renames,
price changes, new contacts, archives, deletions), and the daemon's incremental passes land in
the data directory. Ctrl+C stops everything cleanly.

The surprise it guards against: the demo is often tried in the directory where syncd is set up
for real. It therefore never uses the configured data directory, only ``./syncd-demo`` or one
given with ``--data-dir``, and it writes only into a directory that is missing, empty, or marked
by an earlier demo (a ``.syncd-demo`` file); anything else is refused before the emulator starts.
A marker rather than a look at ``last_sync.json``: real snapshots whose state file was deleted,
or any other files, are protected as well.
"""

from __future__ import annotations

import random
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from syncd.emulator import Emulator
from syncd.emulator.demo_data import churn, populate
from syncd.errors import ConfigError
from syncd.service.runner import run_daemon
from syncd.settings import (
    DEFAULT_MODELS,
    OdooSettings,
    Settings,
    SinkSettings,
    SyncSettings,
)
from syncd.sinks.datadir import DataDir
from syncd.sync.report import PassReport

CHURN_EVERY = 3.0
RECONCILE_EVERY = 30.0  # the demo deletes records: show them leaving within seconds, not an hour
DEFAULT_DEMO_DIR = Path("syncd-demo")


def claim_demo_dir(data_dir: Path) -> None:
    """Make `data_dir` the demo's: create it, or accept it when empty or marked by an earlier
    demo, and mark it. ConfigError (exit 2) for any other directory, naming what is in it."""
    owner = DataDir(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"demo: {data_dir} is not a directory")
    if data_dir.is_dir() and not owner.demo_marker.exists():
        found = owner.entries()
        if found:
            shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
            raise ConfigError(f"demo: {data_dir} already holds files not made by a demo "
                              f"({shown}); the demo writes only into a new or empty directory: "
                              "give one with --data-dir")
    data_dir.mkdir(parents=True, exist_ok=True)
    owner.demo_marker.write_text("made by `syncd demo`: its snapshots hold fake data\n",
                                   encoding="utf-8")


def run_demo(settings: Settings, *, data_dir: Path = DEFAULT_DEMO_DIR, seconds: float = 0,
             interval: float = 5, version: int = 17, customers: int = 800,
             products: int = 2000, sink: str = "json") -> int:
    """The demo in `data_dir` (see claim_demo_dir); only the log settings of `settings` are
    used: the Odoo, the sync settings and the models are the demo's own. ``sink``: ``json``
    (snapshot files) or ``sqlite`` (``<data_dir>/odoo.sqlite``)."""
    claim_demo_dir(data_dir)
    stop = threading.Event()
    emulator = Emulator(version=version)
    # The demo data was "imported" yesterday, as in a real database; only the churn is live.
    clock = emulator.db.clock
    clock.freeze(clock.now() - timedelta(days=1))
    populate(emulator.db, customers=customers, products=products, seed=0)
    clock.unfreeze()
    url = emulator.start()
    demo = replace(
        settings,
        odoo=OdooSettings(url=url, database=emulator.db.name, username=emulator.login,
                          password=emulator.password,
                          api_key=emulator.api_key if version >= 19 else ""),
        sync=SyncSettings(data_dir=data_dir, interval=interval, reconcile_interval=RECONCILE_EVERY),
        sink=SinkSettings(kind=sink),
        models=DEFAULT_MODELS,
    )
    database = DataDir(data_dir).default_database
    say(f"syncd demo: an Odoo {version} emulator is serving {customers} customers and "
        f"{products} products at {url} (database {emulator.db.name}, "
        f"login {emulator.login} / {emulator.password})")
    say(f"syncing customers and products into {data_dir} every {interval:g} s (deletions "
        f"checked every {RECONCILE_EVERY:g} s); changing a few records every {CHURN_EVERY:g} s; "
        "Ctrl+C to stop")
    if sink == "sqlite":
        say(f"query them from another terminal: sqlite3 {database} "
            "'SELECT id, name, email FROM odoo_customers LIMIT 5'")
    else:
        say(f"watch them change from another terminal: {command_name()} --data-dir {data_dir} "
            "watch")

    def change_records() -> None:
        rng = random.Random(1)
        while not stop.wait(CHURN_EVERY):
            for line in churn(emulator.db, rng, n=3):
                say(f"  odoo: {line}")

    def on_pass(report: PassReport) -> None:
        if not report.ok:
            say(f"pass failed: {report.error}")
            return
        parts = [f"{m.name} {m.records} records ({'full sync' if m.full else 'incremental'}: "
                 f"{m.changed} changed, {m.removed} removed)" for m in report.models]
        say(f"pass done in {report.seconds:.2f}s: " + "; ".join(parts))

    changer = threading.Thread(target=change_records, name="demo-churn", daemon=True)
    changer.start()
    if seconds > 0:
        timer = threading.Timer(seconds, stop.set)
        timer.daemon = True
        timer.start()
    try:
        return run_daemon(demo, stop=stop, on_pass=on_pass)
    finally:
        stop.set()
        emulator.stop()
        say(f"demo stopped; the tables stay in {database}" if sink == "sqlite"
            else f"demo stopped; the snapshots stay in {data_dir}")


def command_name() -> str:
    """How the user can call this syncd again (the venv's script when run from demo.sh)."""
    argv0 = Path(sys.argv[0])
    if argv0.name in ("syncd", "syncd.exe") and argv0.parent != Path():
        try:
            return str(argv0.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(argv0)
    return "syncd"


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
