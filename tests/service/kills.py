"""Random kills (run by tests/service/test_random_kills.py and scripts/reliability.py).

`syncd run` (the real command) is SIGKILLed at random moments of its passes, again and again,
while Odoo changes between the runs; a reader process (tests/service/kill_reader.py) reads
every stored copy in a loop, and a follower process (tests/service/kill_follower.py) applies
every change it gets to its own copy, and is itself killed at random and resumed from its saved
`seq`. At the end one more pass runs; then the stored copy must equal Odoo, and the follower's
copy the stored one.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from syncd.consumer.load import load, settings_of
from syncd.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SYNCD = str(Path(sys.executable).with_name("syncd"))
FIELDS = ["name", "email", "active"]


@dataclass
class Kills:
    kills: int = 0
    follower_kills: int = 0
    reads: int = 0
    torn: int = 0
    stored_divergence: int = 0  # records of the stored copy differing from Odoo after the end
    follower_divergence: int = 0  # records of the follower's copy differing from the stored
    follower_records: int = 0  # records the follower was handed (changes and reloads)
    follower_phantoms: int = 0  # of those, records that Odoo never held
    problems: list[str] = field(default_factory=list)


def config(em: Emulator, tmp: Path, sink: str, dsn: str, journal: bool) -> str:
    sink_table = {"json": "", "sqlite": f'[sink]\nkind = "sqlite"\npath = "{tmp / "odoo.sqlite"}"\n',
                  "postgres": f'[sink]\nkind = "postgres"\ndsn = "{dsn}"\n'}[sink]
    return (f'[odoo]\nurl = "{em.url}"\ndatabase = "{em.db.name}"\nusername = "{em.login}"\n'
            f'password = "{em.password}"\n[sync]\ndata_dir = "{tmp / "data"}"\n'
            f"interval = 0.05\nreconcile_interval = 0\njournal = {str(journal).lower()}\n"
            f"page_size = 40\n[log]\nfile = false\n{sink_table}"
            f'[models.customers]\nmodel = "res.partner"\nfields = {orjson.dumps(FIELDS).decode()}\n'
            '[models.products]\nmodel = "product.product"\nfields = ["name", "list_price"]\n')


def churn(em: Emulator, rng: random.Random, serial: int) -> None:
    db = em.db
    partners = db.execute("res.partner", "search", [[]], {"context": {"active_test": False}})
    for _ in range(rng.randint(1, 25)):
        op = rng.random()
        if op < 0.35 or not partners:
            partners.append(db.create("res.partner", {"name": f"P{serial}-{rng.random():.6f}",
                                                      "email": f"{serial}@example.com"}))
        elif op < 0.75:
            db.write("res.partner", rng.choice(partners), {"email": f"w{rng.random():.6f}"})
        elif op < 0.85:
            target = rng.choice(partners)
            db.write("res.partner", target, {"active": rng.random() < 0.5})
        elif len(partners) > 20:
            gone = partners.pop(rng.randrange(len(partners)))
            db.unlink("res.partner", gone)
    products = db.execute("product.product", "search", [[]], {})
    if products and rng.random() < 0.5:
        db.write("product.product", rng.choice(products), {"list_price": rng.randint(1, 999)})


def truth(em: Emulator, name: str) -> dict[int, dict[str, Any]]:
    model, fields = ("res.partner", FIELDS) if name == "customers" else \
        ("product.product", ["name", "list_price"])
    rows = em.db.execute(model, "search_read", [[]], {"fields": fields, "order": "id"})
    return {r["id"]: {"id": r["id"], **{f: r[f] for f in fields}} for r in rows}


def differ(a: dict[int, Any], b: dict[int, Any]) -> int:
    return sum(1 for i in a.keys() | b.keys() if a.get(i) != b.get(i))


def spawn(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(list(args), env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_kills(tmp: Path, sink: str, *, kills: int, journal: bool = True, seed: int = 1,
              dsn: str = "", longest: float = 1.5) -> Kills:
    """Kill `syncd run` `kills` times at random moments (up to `longest` seconds after start)."""
    rng = random.Random(seed)
    result = Kills()
    em = Emulator()
    for n in range(150):
        em.db.create("res.partner", {"name": f"Customer {n}", "email": f"c{n}@example.com"})
    for n in range(30):
        em.db.create("product.product", {"name": f"Product {n}", "list_price": n})
    em.start()
    conf = tmp / "syncd.toml"
    conf.write_text(config(em, tmp, sink, dsn, journal))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ODOO_", "SYNCD_"))}
    env.update(SYNCD_CONFIG=str(conf), PYTHONPATH=str(ROOT), XDG_STATE_HOME=str(tmp / "state"))
    stop, out = tmp / "stop", tmp / "follower.json"
    reader = spawn(sys.executable, str(HERE / "kill_reader.py"), str(conf), str(stop), env=env)
    follower = None
    try:
        once = subprocess.run([SYNCD, "-q", "once"], env=env, capture_output=True, text=True)
        assert once.returncode == 0, once.stderr
        held = {name: set() for name in ("customers", "products")}  # every version Odoo held
        _remember(em, held)
        follower = spawn(sys.executable, str(HERE / "kill_follower.py"), str(conf), str(out),
                         env=env)
        for n in range(kills):
            churn(em, rng, n)
            _remember(em, held)
            daemon = spawn(SYNCD, "-q", "run", env=env)
            try:
                daemon.wait(timeout=rng.uniform(0.05, longest))  # the random moment
                result.problems.append(f"syncd run ended by itself: {daemon.stderr.read()}")
            except subprocess.TimeoutExpired:
                daemon.send_signal(signal.SIGKILL)
                daemon.wait()
                result.kills += 1
            if rng.random() < 0.3:
                follower.send_signal(signal.SIGKILL)
                follower.wait()
                result.follower_kills += 1
                follower = spawn(sys.executable, str(HERE / "kill_follower.py"), str(conf),
                                 str(out), env=env)
        once = subprocess.run([SYNCD, "-q", "once"], env=env, capture_output=True, text=True)
        if once.returncode != 0:
            result.problems.append(f"the pass after the kills failed: {once.stderr}")
        settings = settings_of(str(conf))
        names = [spec.name for spec in settings.models]
        stored = {name: load(settings, name) for name in names}
        result.stored_divergence = sum(differ(stored[n], truth(em, n)) for n in names)
        deadline = time.monotonic() + 30
        while True:  # the follower catches up: poll its saved copy with a deadline
            copies = _copies(out)
            result.follower_divergence = sum(differ(copies.get(n, {}), stored[n]) for n in names)
            if result.follower_divergence == 0 or time.monotonic() > deadline \
                    or follower.poll() is not None:
                break
            time.sleep(0.05)  # polling a file with a deadline, not waiting for time to pass
        if follower.poll() is not None:
            result.problems.append(f"the follower died: {follower.stderr.read()[-500:]}")
        result.follower_records, result.follower_phantoms = _phantoms(
            out.with_name(out.name + ".seen"), held)
    finally:
        stop.touch()
        if follower is not None and follower.poll() is None:
            follower.send_signal(signal.SIGKILL)
            follower.wait()
        output, errors = reader.communicate(timeout=60)
        em.stop()
    try:
        figures = orjson.loads(output)
        result.reads, result.torn = figures["reads"], figures["torn"]
        result.problems += [f"torn read: {e}" for e in figures["examples"]]
    except orjson.JSONDecodeError:
        result.problems.append(f"the reader failed: {errors[-500:]}")
    return result


def _copies(out: Path) -> dict[str, dict[int, Any]]:
    try:
        saved = orjson.loads(out.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {}
    return {name: {int(i): r for i, r in copy.items()} for name, copy in saved["copies"].items()}


def _remember(em: Emulator, held: dict[str, set[bytes]]) -> None:
    """Add every record as Odoo holds it now (Odoo changes only between runs of syncd, so
    every committed pass stored one of these states)."""
    for name in held:
        held[name].update(orjson.dumps(r, option=orjson.OPT_SORT_KEYS)
                          for r in truth(em, name).values())


def _phantoms(seen: Path, held: dict[str, set[bytes]]) -> tuple[int, int]:
    """(records the follower was handed, those that no state of Odoo had); a torn last line,
    from a kill of the follower mid-append, is skipped."""
    count = checked = 0
    for line in seen.read_bytes().splitlines() if seen.exists() else []:
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        checked += 1
        if orjson.dumps(entry["record"], option=orjson.OPT_SORT_KEYS) not in held[entry["name"]]:
            count += 1
    return checked, count
