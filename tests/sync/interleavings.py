"""An exhaustive interleavings checker for guarantee 1 (no missed change), in a bounded scope.

The parts are real: the emulator over HTTP on 127.0.0.1 (its frozen clock, its transactions
stamped with the clock at BEGIN, its HTTP ``Date`` from that clock), the real engine and pull
(``run_pass``, the window logic of ``syncd.sync.window``) and the JSON sink in a temp directory.
What the checker owns is the schedule: the emulator calls it before it executes each request
(through its fault-plan hook), and there it runs the transactions' steps and moves the clock.

One execution: records ``r1``, ``r2`` exist; the client is connected; then ``passes`` passes
run, the first a full sync and the others in place (or, by default, a full sync runs before the
scope and its passes are all in place). Each transaction writes its records (one
value per write, unique, so a stored value names the commit it came from) and may begin and
commit at any step boundary. After each pass, every record must hold a value at least as new as
the newest commit made before that pass started by a transaction no longer than ``lookback``
(the contract's bound; longer ones are run but owe nothing).

Every schedule of the scope is run, by stateless search: a run records the choices it made and
the number of options at each; the next run replays the longest prefix with an untried option.

Reductions (each keeps every distinct behaviour of the scope):
* A write is staged inside its transaction and invisible until COMMIT, so the writes run right
  after BEGIN; BEGIN itself reads only the clock, so it commutes with every request and only
  its clock value matters.
* Nothing between a pass's start and its first request asks the server or reads its clock, so
  steps placed there are placed before the pass starts (the stronger obligation).
* Within one step boundary, transactions already open may commit first, then new ones begin
  (and may commit at once), in both orders only when they write a common record.
Bounds: the clock moves only at step boundaries (by an amount of ``advances``), so a BEGIN
carries the clock of the next request; at most two transactions.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger

from syncd.settings import ModelSpec
from syncd.emulator import Emulator
from syncd.emulator.clock import Clock
from syncd.emulator.injection import FaultPlan, FaultRule
from syncd.emulator.store import Database
from syncd.odoo.client import OdooClient
from syncd.sinks import atomic
from syncd.sync import window
from tests.sync_rig import Rig, make_rig

MODEL = ModelSpec(name="customers", model="res.partner", fields=("name", "write_date"))
START = datetime(2024, 1, 1, 12, 0, 0, 300000)  # a fraction of a second: truncation matters
RECORDS = ("r1", "r2")


@dataclass(frozen=True)
class Scope:
    """What the checker enumerates. ``writes``: per transaction, the records it writes."""

    writes: tuple[tuple[str, ...], ...] = (("r1",), ("r1",))
    passes: int = 3
    advances: tuple[float, ...] = (0.0, 1.0)
    lookback: float = 1.0
    margin: float | None = 0.0  # window.CLOCK_MARGIN for the run; None: as shipped
    # False: a full sync before the scope, so the scope's passes are all in place
    full_sync_in_scope: bool = False


@dataclass
class Outcome:
    explored: int = 0
    excluded: int = 0  # executions with a transaction longer than lookback (checked for the rest)
    violations: list[str] = field(default_factory=list)


class _StepHook(FaultPlan):
    """A fault plan that injects no fault but runs ``on_request`` before each request executes."""

    def __init__(self) -> None:
        super().__init__()
        self.on_request: Callable[[str | None], None] | None = None

    def take(self, path: str, model: str | None, method: str | None,
             limit: int | None = None) -> list[FaultRule]:
        if self.on_request is not None:
            self.on_request(method)
        return []


class _Choices:
    """Stateless search: replay a prefix of choices, then take option 0; ``next`` moves to the
    following schedule (the last choice point with an untried option)."""

    def __init__(self) -> None:
        self.prefix: list[int] = []
        self.made: list[tuple[int, int]] = []  # (chosen, options)

    def choose(self, options: int) -> int:
        depth = len(self.made)
        chosen = self.prefix[depth] if depth < len(self.prefix) else 0
        assert chosen < options, "a replayed schedule diverged: the system is not deterministic"
        self.made.append((chosen, options))
        return chosen

    def next(self) -> bool:
        while self.made:
            chosen, options = self.made.pop()
            if chosen + 1 < options:
                self.prefix = [c for c, _ in self.made] + [chosen + 1]
                self.made = []
                return True
        return False


@dataclass
class _Tx:
    index: int
    records: tuple[str, ...]
    tx: Any = None
    begun_at: datetime | None = None
    committed_at: datetime | None = None
    commit_order: int = 0  # 1, 2, ... in commit order; 0 until committed
    committed_before_pass: int = 0  # the pass whose start followed the commit

    def value(self, record: str) -> str:
        return f"t{self.index}-{record}"


class _Execution:
    def __init__(self, scope: Scope, choices: _Choices, base: Rig, hook: _StepHook,
                 data_dir: Path) -> None:
        self.scope, self.choices, self.hook = scope, choices, hook
        self.clock = Clock(start=START)
        self.db = Database(name=base.db.name, version=base.emulator.version, clock=self.clock)
        self.ids = {name: self.db.create("res.partner", {"name": f"{name}-0"})
                    for name in RECORDS}
        self.clock.advance(10)
        _serve(base.emulator, self.db)
        settings = replace(base.settings, sync=replace(base.settings.sync, data_dir=data_dir))
        self.rig = Rig(emulator=base.emulator, settings=settings,
                       client=OdooClient(settings.odoo, sleep=lambda s: None))
        self.txs = [_Tx(i + 1, records) for i, records in enumerate(scope.writes)]
        self.passes_started = 0
        self.first_request = False
        self.log: list[str] = []
        self.commits = 0

    def run(self) -> list[str]:
        """The violations of this schedule (empty when guarantee 1 held)."""
        violations: list[str] = []
        with self.rig.client:
            self.rig.client.connect()
            if not self.scope.full_sync_in_scope:
                report = self.rig.sync()
                assert report.ok, report.error
                self.clock.advance(1)
            self.hook.on_request = self._request
            try:
                for number in range(1, self.scope.passes + 1):
                    self._boundary()
                    self.passes_started = number
                    self.first_request = True
                    report = self.rig.sync()
                    if not report.ok:
                        violations.append(f"pass {number} failed: {report.error}")
                        break
                    violations += self._check(number)
            finally:
                self.hook.on_request = None
        return [f"{v} [schedule: {'; '.join(self.log)}]" for v in violations]

    def long(self) -> bool:
        return any(t.committed_at is not None and t.begun_at is not None
                   and (t.committed_at - t.begun_at).total_seconds() > self.scope.lookback
                   for t in self.txs)

    def _request(self, method: str | None) -> None:
        if self.first_request:  # merged with the pass's start (see the module docstring)
            self.first_request = False
            self.log.append(f"{method}")
            return
        self._boundary()
        self.log.append(f"{method}")

    def _boundary(self) -> None:
        """The clock moves, then open transactions may commit, then new ones may begin (and
        commit at once). A transaction cannot begin while another open one writes a common
        record: in PostgreSQL its write would wait for the row lock and then fail with a
        serialization error (Odoo runs REPEATABLE READ), so in Odoo a row's stamps follow its
        commits. The emulator has no row locks; the schedule respects them."""
        advance = self.scope.advances[self.choices.choose(len(self.scope.advances))]
        if advance:
            self.clock.advance(advance)
            self.log.append(f"+{advance:g}s")
        for t in self.txs:
            if t.tx is not None and t.committed_at is None and self.choices.choose(2):
                self._commit(t)
        plans = self._plans([t for t in self.txs if t.tx is None and not self._blocked(t)])
        for t, steps in plans[self.choices.choose(len(plans))]:
            self._begin(t)
            if steps == 2:
                self._commit(t)

    def _plans(self, fresh: list[_Tx]) -> list[list[tuple[_Tx, int]]]:
        """What the transactions not yet begun may do here, each distinct outcome once:
        (transaction, 1 = begin or 2 = begin and commit) in the order they run."""
        if len(fresh) == 2 and set(fresh[0].records) & set(fresh[1].records):
            plans: list[list[tuple[_Tx, int]]] = [[]]
            for first, second in (fresh, fresh[::-1]):
                plans.append([(first, 1)])  # the other is then blocked
                plans += [[(first, 2)] + ([(second, k)] if k else []) for k in range(3)]
            return plans
        plans = [[]]
        for t in fresh:
            plans = [plan + ([(t, k)] if k else []) for plan in plans for k in range(3)]
        return plans

    def _blocked(self, t: _Tx) -> bool:
        return any(other.tx is not None and other.committed_at is None
                   and set(other.records) & set(t.records) for other in self.txs)

    def _begin(self, t: _Tx) -> None:
        t.tx = self.db.transaction()
        t.begun_at = self.clock.now()
        for record in t.records:
            t.tx.write("res.partner", self.ids[record], {"name": t.value(record)})
        self.log.append(f"T{t.index} begin")

    def _commit(self, t: _Tx) -> None:
        t.tx.commit()
        self.commits += 1
        t.committed_at = self.clock.now()
        t.commit_order = self.commits
        t.committed_before_pass = self.passes_started + 1
        self.log.append(f"T{t.index} commit")

    def _check(self, number: int) -> list[str]:
        stored = {row["id"]: row["name"] for row in self.rig.snapshot(MODEL.name)}
        order = {t.value(r): t.commit_order for t in self.txs if t.commit_order for r in t.records}
        found: list[str] = []
        for record in RECORDS:
            owed = [t for t in self.txs if t.commit_order and record in t.records
                    and t.committed_before_pass <= number
                    and (t.committed_at - t.begun_at).total_seconds() <= self.scope.lookback]
            value = stored.get(self.ids[record])
            if value is None:
                found.append(f"after pass {number}: {record} missing")
                continue
            if value != f"{record}-0" and value not in order:
                found.append(f"after pass {number}: {record} holds {value!r}, never committed")
            if owed:
                newest = max(owed, key=lambda t: t.commit_order)
                if order.get(value, 0) < newest.commit_order:
                    found.append(f"after pass {number}: {record} holds {value!r}, not "
                                 f"{newest.value(record)!r} committed before the pass began")
        return found


def _serve(emulator: Emulator, db: Database) -> None:
    """Point a running emulator at another database (one server for every execution)."""
    server = emulator._server
    assert server is not None
    server.router.services.db = db
    emulator.db = db


@contextmanager
def _quiet_and_fast(scope: Scope) -> Iterator[None]:
    """No log output and no fsync (durability is not what this checker is about), and the
    scope's clock margin."""
    saved_fsync, saved_margin = atomic.os.fsync, window.CLOCK_MARGIN
    logger.disable("syncd")
    atomic.os.fsync = lambda fd: None  # type: ignore[assignment]
    if scope.margin is not None:
        window.CLOCK_MARGIN = scope.margin
    try:
        yield
    finally:
        atomic.os.fsync = saved_fsync  # type: ignore[assignment]
        window.CLOCK_MARGIN = saved_margin
        logger.enable("syncd")


def explore(scope: Scope, workdir: Path, *, limit: int | None = None,
            enough: int = 20) -> Outcome:
    """Run every schedule of ``scope`` (at most ``limit``, and no more once ``enough``
    violations are found); return what was found."""
    outcome = Outcome()
    hook = _StepHook()
    emulator = Emulator(keep_alive=True)
    emulator.faults = hook
    base = make_rig(workdir, models=(MODEL,), emulator=emulator, lookback=scope.lookback)
    choices = _Choices()
    try:
        with _quiet_and_fast(scope):
            while True:
                data = workdir / "run"
                shutil.rmtree(data, ignore_errors=True)
                execution = _Execution(scope, choices, base, hook, data)
                found = execution.run()
                outcome.explored += 1
                outcome.excluded += execution.long()
                outcome.violations += found
                if len(outcome.violations) >= enough or not choices.next():
                    break
                if limit is not None and outcome.explored >= limit:
                    break
    finally:
        base.close()
    return outcome

