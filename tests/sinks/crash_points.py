"""The crash-point sweep of the write path (run by tests/sinks/test_crash_points.py and
scripts/reliability.py).

A pass (`syncd once`, in tests/sinks/crash_child.py: a process of its own, forked by one that
has already imported what a pass imports) is killed with SIGKILL right after the K-th time it
reaches each step of the write path: a temp file opened, written, flushed, fsynced, replaced,
the directory fsynced, the journal appended and synced, the state written (its replace); on
SQLite before and after COMMIT; on PostgreSQL before and after COMMIT and at each row handed to
a COPY (the second pass rebuilds customers: its fields changed). Every occurrence of every step
is tried, from the same starting data directory (and PostgreSQL database, put back from a saved
copy). After each kill: every file readers read, every table, is the old or the new version byte
for byte (the journal: what readers see of it, up to the state's seq; PostgreSQL's
`syncd_changes` has no row past it), and one more pass gives exactly what an uninterrupted pass
gives.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from syncd.emulator import Emulator
from syncd.emulator.clock import Clock
from syncd.sinks.atomic import TEMP_MARK
from tests.sinks.crash_database import CrashDatabase

CHILD = Path(__file__).with_name("crash_child.py")
ROOT = Path(__file__).resolve().parents[2]
JSON_STEPS = ["temp opened", "temp written", "written", "fsynced", "replaced",
              "directory fsynced", "journal appended", "journal synced"]
SQLITE_STEPS = ["before COMMIT", "after COMMIT", "fsynced", "written"]
POSTGRES_STEPS = ["before COMMIT", "after COMMIT", "COPY row written"]
STEPS = {"json": JSON_STEPS, "sqlite": SQLITE_STEPS, "postgres": POSTGRES_STEPS}


@dataclass
class Sweep:
    kills: int = 0  # kills, or injected errors
    tolerated: int = 0  # injected errors the pass survived (a write it does not need)
    steps: dict[str, int] = field(default_factory=dict)  # step -> occurrences killed at
    failures: list[str] = field(default_factory=list)


def config(em: Emulator, data: Path, sink: str, database: CrashDatabase | None = None,
           customers: tuple[str, ...] = ("name", "email", "active")) -> str:
    sink_table = "" if sink == "json" else \
        f'[sink]\nkind = "sqlite"\npath = "{data / "odoo.sqlite"}"\n'
    if database is not None:
        sink_table = f'[sink]\nkind = "postgres"\ndsn = "{database.dsn}"\n'
    return (f'[odoo]\nurl = "{em.url}"\ndatabase = "{em.db.name}"\nusername = "{em.login}"\n'
            f'password = "{em.password}"\n[sync]\ndata_dir = "{data}"\njournal = true\n'
            f"reconcile_interval = 0\n[log]\nfile = false\n{sink_table}"
            f'[models.customers]\nmodel = "res.partner"\nfields = {list(customers)}\n'
            '[models.products]\nmodel = "product.product"\nfields = ["name", "list_price"]\n')


def child_env(conf: Path, *, in_place: bool = False, split_commit: bool = False,
              error: int = 0) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ODOO_", "SYNCD_", "CRASH_CHILD_"))}
    env.update(SYNCD_CONFIG=str(conf), PYTHONPATH=str(ROOT))
    if in_place:
        env["CRASH_CHILD_IN_PLACE"] = "1"
    if split_commit:
        env["CRASH_CHILD_SPLIT_COMMIT"] = "1"
    if error:
        env["CRASH_CHILD_ERRNO"] = str(error)
    return env


class Children:
    """Runs the passes of a sweep (tests/sinks/crash_child.py), each a process of its own, forked
    by one `crash_child.py --serve` that has already imported what a pass imports (a sweep runs
    hundreds: each would pay the interpreter's start-up and the imports, about 0.35 s of CPU).
    Called as `child(conf, step, k, ...)`, it answers as subprocess.run would: the exit code
    (-9 when the child SIGKILLed itself) and what the child wrote to stdout and stderr."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "children"
        self.dir.mkdir(parents=True, exist_ok=True)
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("ODOO_", "SYNCD_", "CRASH_CHILD_"))}
        env["PYTHONPATH"] = str(ROOT)
        with open(self.dir / "server.err", "wb") as errors:
            self.server = subprocess.Popen([sys.executable, str(CHILD), "--serve"], env=env,
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=errors, text=True)

    def __call__(self, conf: Path, step: str = "", k: int = 0, *, in_place: bool = False,
                 split_commit: bool = False, error: int = 0,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
        assert self.server.stdin is not None and self.server.stdout is not None
        out, err = self.dir / "stdout", self.dir / "stderr"
        args = [step or "none", str(k)]
        request = {"args": args, "stdout": str(out), "stderr": str(err),
                   "env": child_env(conf, in_place=in_place, split_commit=split_commit,
                                    error=error)}
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        ready, _, _ = select.select([self.server.stdout], [], [], timeout)
        if not ready:
            self.close()
            raise subprocess.TimeoutExpired([str(CHILD), *args], timeout)
        answer = self.server.stdout.readline()
        if not answer:
            raise RuntimeError("the crash-child server ended: "
                               + (self.dir / "server.err").read_text(errors="replace")[-2000:])
        return subprocess.CompletedProcess([str(CHILD), *args], json.loads(answer)["returncode"],
                                           out.read_text(errors="replace"),
                                           err.read_text(errors="replace"))

    def close(self) -> None:
        if self.server.stdin is not None:
            self.server.stdin.close()
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        if self.server.stdout is not None:
            self.server.stdout.close()

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def files(data: Path, database: CrashDatabase | None = None) -> dict[str, bytes]:
    """What readers read, by name: every file but temps and the lock (SQLite, PostgreSQL: the
    rows of every table)."""
    found: dict[str, bytes] = {}
    for path in sorted(data.iterdir()):
        if TEMP_MARK in path.name or "lock" in path.name or not path.is_file():
            continue
        if path.name.startswith("odoo.sqlite"):
            continue
        found[path.name] = path.read_bytes()
    if "last_sync.json" in found:
        found["last_sync.json"] = _without_signatures(found["last_sync.json"])
    sqlite = data / "odoo.sqlite"
    if sqlite.exists():
        import sqlite3

        db = sqlite3.connect(f"file:{sqlite}?mode=ro", uri=True)
        try:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "ORDER BY name").fetchall():
                rows = db.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()
                found[f"table {table}"] = repr(rows).encode()
        finally:
            db.close()
    if database is not None:
        found.update(database.tables())
    return found


def _without_signatures(state: bytes) -> bytes:
    """The state file less the snapshots' file signatures (inode, times: they differ between
    two runs that write the same bytes). A torn state file stays as it is, and differs."""
    import orjson

    try:
        parsed = orjson.loads(state)
    except orjson.JSONDecodeError:
        return state
    for model in parsed.get("models", {}).values():
        model.pop("snapshot_stat", None)
    return orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)


def visible_journal(data: Path, name: str) -> list[bytes]:
    """The journal lines readers see: those up to the state's seq (the JSON sink)."""
    import orjson

    state = data / "last_sync.json"
    path = data / f"odoo_{name}.changes.jsonl"
    if not state.exists() or not path.exists():
        return []
    seq = orjson.loads(state.read_bytes())["models"][name].get("journal_seq") or 0
    return [line for line in path.read_bytes().splitlines(keepends=True)
            if line.endswith(b"\n") and orjson.loads(line)["seq"] <= seq]


def resumable(got: list[bytes], old: list[bytes], new: list[bytes]) -> bool:
    """A journal a follower stays exact with: the uninterrupted pass's lines, or the old ones
    and then one reset (a kill after a snapshot was replaced but before the state was: the next
    pass finds the snapshot newer than the state says and tells followers to reload it)."""
    import orjson

    if got == new:
        return True
    tail = [orjson.loads(line) for line in got[len(old):]]
    return got[:len(old)] == old and [entry["op"] for entry in tail] == ["reset"]


def compare(data: Path, old: dict[str, bytes], new: dict[str, bytes], old_journals: dict[str, list[bytes]],
            new_journals: dict[str, list[bytes]], database: CrashDatabase | None = None) -> list[str]:
    now = files(data, database)
    wrong = []
    for name in sorted(old.keys() | new.keys() | now.keys()):
        if name.endswith(".changes.jsonl"):
            model = name[len("odoo_"):-len(".changes.jsonl")]
            if visible_journal(data, model) not in (old_journals[model], new_journals[model]):
                wrong.append(f"{name}: readers see neither the old nor the new journal")
            continue
        if now.get(name) not in (old.get(name), new.get(name)):
            wrong.append(f"{name}: neither the old nor the new version")
    if database is not None:
        wrong += [f"syncd_changes: {n} rows of {model} past the committed state's journal_seq"
                  for model, n in database.journal_beyond_state().items()]
    return wrong


def odoo() -> Emulator:
    clock = Clock(start=datetime(2030, 1, 2, 3, 0, 0))
    em = Emulator(clock=clock)
    for n in range(40):
        em.db.create("res.partner", {"name": f"Customer {n}", "email": f"c{n}@example.com"})
    for n in range(15):
        em.db.create("product.product", {"name": f"Product {n}", "list_price": 1.0 + n})
    em.start()
    return em


def change(em: Emulator) -> None:
    """What Odoo does between the two passes: writes, creates, an archive, a deletion."""
    em.db.clock.advance(30)
    partners = em.db.execute("res.partner", "search", [[]], {"order": "id"})
    em.db.write("res.partner", partners[:5], {"email": "changed@example.com"})
    em.db.create("res.partner", {"name": "New customer", "email": False})
    em.db.archive("res.partner", partners[6])
    em.db.unlink("res.partner", partners[7])
    products = em.db.execute("product.product", "search", [[]], {"order": "id"})
    em.db.write("product.product", products[:2], {"list_price": 99.0})
    em.db.clock.advance(30)


def prepared(workdir: Path, em: Emulator, sink: str, child: Children,
             database: CrashDatabase | None = None) -> tuple[Path, Path, Path]:
    """(config, base, work): `base` is the data directory after a first pass with Odoo changed
    since (the old versions; the database saved), `work` the same after an uninterrupted second
    pass (the new). On PostgreSQL the second pass has one more customer field: it rebuilds
    customers (a COPY into a new table, swapped in at COMMIT) and updates products in place."""
    workdir.mkdir(parents=True, exist_ok=True)
    base, work = workdir / "base", workdir / "work"
    conf = workdir / "syncd.toml"
    conf.write_text(config(em, work, sink, database))
    first = child(conf)
    assert first.returncode == 0, first.stderr
    change(em)
    shutil.copytree(work, base)
    old = files(base)
    if database is not None:
        old.update(database.tables())
        database.save()
        conf.write_text(config(em, work, sink, database, ("name", "email", "active", "phone")))
    second = child(conf)
    assert second.returncode == 0, second.stderr
    assert files(work, database) != old
    return conf, base, work


def sweep(workdir: Path, sink: str, *, limit: int | None = None, steps: list[str] | None = None,
          in_place: bool = False, split_commit: bool = False) -> Sweep:
    """Kill a pass at every occurrence of every step (at most `limit` per step). `in_place`
    (a file rewritten in place), `split_commit` (PostgreSQL: each model committed on its own):
    the child's write path is broken on purpose (the tests that the sweep can fail)."""
    result = Sweep()
    database = CrashDatabase(str(workdir)) if sink == "postgres" else None
    em = odoo()
    child = Children(workdir)
    try:
        conf, base, work = prepared(workdir, em, sink, child, database)
        new = files(work, database)
        if database is not None:
            database.restore()
        old = files(base, database)
        names = ["customers", "products"]
        old_journals = {n: visible_journal(base, n) for n in names}
        new_journals = {n: visible_journal(work, n) for n in names}
        for step in steps or STEPS[sink]:
            k = 0
            while limit is None or k < limit:
                k += 1
                shutil.rmtree(work)
                shutil.copytree(base, work)
                if database is not None:
                    database.restore()
                killed = child(conf, step, k, in_place=in_place, split_commit=split_commit)
                if killed.returncode == 0:
                    break  # the pass reached this step fewer than k times
                if killed.returncode != -signal.SIGKILL:
                    result.failures.append(f"{step} #{k}: exit {killed.returncode} "
                                           f"{killed.stderr.strip()[-300:]}")
                    break
                result.kills += 1
                result.steps[step] = k
                where = f"killed after {step} #{k}"
                result.failures += [f"{where}: {w}" for w in
                                    compare(work, old, new, old_journals, new_journals,
                                            database)]
                again = child(conf)
                if again.returncode != 0:
                    result.failures.append(f"{where}: the next pass failed: {again.stderr}")
                    continue
                after = files(work, database)
                differ = sorted(n for n in new.keys() | after.keys()
                                if n != "last_sync.json" and "syncd_meta" not in n
                                and "syncd_state" not in n and not n.endswith(".jsonl")
                                and after.get(n) != new.get(n))
                differ += [f"journal of {n}" for n in names
                           if not resumable(visible_journal(work, n), old_journals[n],
                                            new_journals[n])]
                if differ:
                    result.failures.append(f"{where}: one more pass did not converge: {differ}")
    finally:
        child.close()
        em.stop()
    return result


WRITE_ERROR_STEPS = ["written", "fsynced", "replaced"]


def write_errors(workdir: Path, errors: tuple[int, ...], *, limit: int | None = None) -> Sweep:
    """Fail the K-th write, fsync or replace of a pass with each errno of `errors` (JSON sink):
    the pass exits 1 with one line naming the error, every file is as it was byte for byte
    (the error file aside; snapshots already replaced are put back, the journal cut), no temp
    file is left, and the next pass converges."""
    result = Sweep()
    em = odoo()
    child = Children(workdir)
    try:
        conf, base, work = prepared(workdir, em, "json", child)
        old, new = files(base), files(work)
        for error in errors:
            for step in WRITE_ERROR_STEPS:
                k = 0
                while limit is None or k < limit:
                    k += 1
                    shutil.rmtree(work)
                    shutil.copytree(base, work, copy_function=shutil.copy2)
                    failed = child(conf, step, k, error=error)
                    if "crash-child: injected" not in failed.stderr:
                        break  # the pass reached this step fewer than k times
                    where = f"{os.strerror(error)} at {step} #{k}"
                    result.kills += 1
                    result.steps[step] = k
                    lines = [line for line in failed.stderr.strip().splitlines()
                             if not line.startswith("crash-child:")]
                    now = files(work)
                    now.pop(".syncd-error.json", None)
                    if failed.returncode == 0:
                        result.tolerated += 1
                        if now != new:
                            result.failures.append(f"{where}: a pass that succeeded despite "
                                                   "the error wrote something else")
                        continue
                    if failed.returncode != 1 or len(lines) != 1 or "Traceback" in failed.stderr \
                            or os.strerror(error) not in lines[0]:
                        result.failures.append(f"{where}: exit {failed.returncode}, "
                                               f"stderr {failed.stderr.strip()[-300:]!r}")
                    wrong = sorted(n for n in old.keys() | now.keys() if now.get(n) != old.get(n))
                    if wrong:  # a failed pass changes nothing (guarantee 5)
                        result.failures.append(f"{where}: files changed: {wrong}")
                    temps = [p.name for p in work.iterdir() if TEMP_MARK in p.name]
                    if temps:
                        result.failures.append(f"{where}: temp files left: {temps}")
                    again = child(conf)
                    if again.returncode != 0:
                        result.failures.append(f"{where}: the next pass failed: {again.stderr}")
                    elif any(files(work).get(n) != new.get(n) for n in new
                             if n.startswith("odoo_") and n.endswith(".json")):
                        result.failures.append(f"{where}: the next pass did not converge")
    finally:
        child.close()
        em.stop()
    return result
