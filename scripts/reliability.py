#!/usr/bin/env python3
"""Reliability: try syncd's guarantees hard and print the figures, one per line.

    .venv/bin/python scripts/reliability.py --short     # a few minutes (CI)
    .venv/bin/python scripts/reliability.py --long      # the figures at full size
    .venv/bin/python scripts/reliability.py --short --check interleavings

Each check prints ``<figure>: <value>`` lines and says whether its guarantee held; the script
exits 1 when any guarantee failed (the failing figure's line ends in ``FAILED``), 0 otherwise.
Every pass runs syncd's default ``[sync] workers`` (printed first): the rigs' passes and the
``syncd`` processes pull models in parallel and read rebuilds in id slices (the interleavings
scope has one model of two records, so its passes still send one request at a time).
The checks are the suite's own harnesses (tests/), run at the size chosen here:

  interleavings  every ordering of two transactions and three passes in a bounded scope
                 (tests/sync/interleavings.py); guarantee 1, no missed change
  crash-points   `syncd once` SIGKILLed after each step of the write path, every occurrence
                 (--short: the first 3 of each step), on the JSON and SQLite sinks, and on
                 PostgreSQL before and after COMMIT and at each row handed to a COPY
                 (tests/sinks/crash_points.py); old or new file (table) byte for byte, no journal
                 row past the committed state, next pass converges
  write-errors   ENOSPC (and EIO in --long) instead of a pass's writes, fsyncs and replaces:
                 one error line, every file as before, next pass converges
  bad-input      the bad-input matrix (tests/test_bad_input.py, the journal's torn and foreign
                 tails in tests/sinks/test_json_journal.py), run by pytest
  random-kills   `syncd run` SIGKILLed at random (--short: 30 per sink, 15 with the journal and
                 15 without; --long: 200 per sink and journal setting) with a reader and a
                 follower (killed and resumed too) alongside (tests/service/kills.py)
  faults         network and server faults from the emulator (HTTP 500/502/503, 429, dropped
                 connections, bodies cut short, malformed answers, an HTML proxy page, answers
                 slower than the timeout, credentials revoked mid-pass) over 60 passes per sink
                 and protocol (--long 500) (tests/sync/fault_storm.py): each pass retries
                 through or fails with one line changing nothing; the passes converge
  secrets        credentials in no output, log, status, state, journal or row
                 (tests/test_secrets.py), run by pytest
  freshness      `syncd run` every 0.2 s while a writer changes records at random moments (30
                 changes, --long 200; tests/service/freshness.py): change-to-file latency
                 p50/p95/max, changes never seen, requests per idle pass
  two-writers    a second `once` while `syncd run` holds the sink (idle or mid-pass) refused
                 with one line on every sink, a SIGKILLed holder's lock taken over, and Windows
                 replace contention simulated (tests/service/test_two_writers.py,
                 tests/service/test_lock.py, tests/sinks/test_replace_contention.py), by pytest
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Figure:
    name: str
    value: object
    held: bool = True  # False: a guarantee failed

    def line(self) -> str:
        return f"{self.name}: {self.value}" + ("" if self.held else "  FAILED")


Check = Callable[[bool, Path, "int | None"], Iterator[Figure]]


def interleavings(long: bool, workdir: Path, limit: int | None) -> Iterator[Figure]:
    from tests.sync.interleavings import Scope, explore

    scopes = [("small", Scope())]
    if long:
        scopes += [("full sync", Scope(full_sync_in_scope=True)),
                   ("full sync, two writes each", Scope(writes=(("r1", "r2"), ("r2", "r1")),
                                                        full_sync_in_scope=True)),
                   ("fractional clock", Scope(advances=(0.0, 0.6, 1.0))),
                   ("shipped clock margin", Scope(margin=None, advances=(0.0, 1.0, 61.0)))]
    for label, scope in scopes:
        outcome = explore(scope, workdir, limit=limit)
        yield Figure(f"interleavings explored ({label})", outcome.explored)
        yield Figure(f"interleavings missing a committed change ({label})",
                     len(outcome.violations), held=not outcome.violations)
        for violation in outcome.violations[:3]:
            print(f"  {violation}", file=sys.stderr)


def postgres_missing() -> str:
    """Why no PostgreSQL server can be started here ("" when one can): a check says so in its
    figure instead of failing on it."""
    from tests import pg_server

    try:
        pg_server.server()
    except BaseException as exc:  # noqa: BLE001 - pytest.skip: no PostgreSQL here
        return f"not run: {exc}"
    return ""


def crash_points(long: bool, workdir: Path, limit: int | None) -> Iterator[Figure]:
    from tests.sinks.crash_points import sweep

    for sink in ("json", "sqlite", "postgres"):
        if sink == "postgres" and (missing := postgres_missing()):
            yield Figure(f"crash points killed ({sink})", missing)
            continue
        result = sweep(workdir / sink, sink, limit=limit if limit is not None else
                       (None if long else 3))
        yield Figure(f"crash points killed ({sink})", result.kills)
        yield Figure(f"crash points leaving a file neither old nor new, or not converging "
                     f"({sink})", len(result.failures), held=not result.failures)
        for failure in result.failures[:3]:
            print(f"  {failure}", file=sys.stderr)


def write_errors(long: bool, workdir: Path, limit: int | None) -> Iterator[Figure]:
    import errno

    from tests.sinks.crash_points import write_errors as inject

    result = inject(workdir, (errno.ENOSPC, errno.EIO) if long else (errno.ENOSPC,),
                    limit=limit if limit is not None else (None if long else 3))
    yield Figure("write errors injected (ENOSPC" + (", EIO" if long else "") + ")", result.kills)
    yield Figure("write errors tolerated by a pass that still wrote the new files",
                 result.tolerated)
    yield Figure("write errors mishandled (error line, a file changed, temps, next pass)",
                 len(result.failures), held=not result.failures)
    for failure in result.failures[:3]:
        print(f"  {failure}", file=sys.stderr)


def random_kills(long: bool, workdir: Path, limit: int | None) -> Iterator[Figure]:
    from tests.service.kills import run_kills
    from tests.sync_rig import SINKS

    # Per sink: --short 30 (15 with the journal, 15 without), to fit CI; --long 200 each.
    kills = limit if limit is not None else (200 if long else 15)
    for sink in SINKS:
        for journal in (True, False):
            label = f"{sink}, {'journal' if journal else 'no journal'}"
            dsn = ""
            if sink == "postgres":
                from tests import pg_server

                try:
                    dsn = pg_server.server().database_for(f"kills-{journal}")
                except BaseException as exc:  # noqa: BLE001 - pytest.skip: no PostgreSQL here
                    yield Figure(f"random kills ({label})", f"not run: {exc}")
                    continue
            tmp = workdir / f"{sink}-{journal}"
            tmp.mkdir()
            result = run_kills(tmp, sink, kills=kills, journal=journal, dsn=dsn)
            yield Figure(f"random kills of syncd run ({label})", result.kills)
            yield Figure(f"follower kills ({label})", result.follower_kills)
            yield Figure(f"reads while killing ({label})", result.reads)
            yield Figure(f"torn reads ({label})", result.torn, held=result.torn == 0)
            yield Figure(f"stored records differing from Odoo after one more pass ({label})",
                         result.stored_divergence, held=result.stored_divergence == 0)
            yield Figure(f"follower records differing from the stored copy ({label})",
                         result.follower_divergence, held=result.follower_divergence == 0)
            yield Figure(f"records handed to the follower that Odoo never held ({label}; of "
                         f"{result.follower_records})", result.follower_phantoms,
                         held=result.follower_phantoms == 0)
            if result.problems:
                yield Figure(f"other problems ({label})", "; ".join(result.problems)[:300],
                             held=False)


def faults(long: bool, workdir: Path, limit: int | None) -> Iterator[Figure]:
    from tests.sync.fault_storm import storm

    passes = limit if limit is not None else (500 if long else 60)
    runs = [("json", "jsonrpc", 17), ("sqlite", "jsonrpc", 17), ("postgres", "jsonrpc", 17),
            ("json", "xmlrpc", 17), ("json", "json2", 19)]
    for seed, (sink, protocol, version) in enumerate(runs):
        label = f"{sink}, {protocol}"
        if sink == "postgres" and (missing := postgres_missing()):
            yield Figure(f"fault passes ({label})", missing)
            continue
        tmp = workdir / f"{sink}-{protocol}"
        tmp.mkdir()
        result = storm(tmp, sink, passes=passes, seed=seed, protocol=protocol, version=version)
        yield Figure(f"passes under faults ({label})", result.passes)
        yield Figure(f"faults fired ({label})", sum(result.fired.values()))
        yield Figure(f"faults fired by kind ({label})",
                     ", ".join(f"{kind} {n}" for kind, n in sorted(result.fired.items())))
        yield Figure(f"passes that retried through ({label})", result.succeeded)
        yield Figure(f"passes that failed with one line, changing nothing ({label})",
                     result.failed)
        yield Figure(f"passes mishandling a fault: a change, a wrong copy, not converging "
                     f"({label})", len(result.failures), held=not result.failures)
        for failure in result.failures[:3]:
            print(f"  {failure}", file=sys.stderr)


def freshness(long: bool, workdir: Path, limit: int | None) -> Iterator[Figure]:
    from tests.service.freshness import measure

    changes = limit if limit is not None else (200 if long else 30)
    result = measure(workdir, changes=changes, interval=0.2, idle_passes=20)
    yield Figure("changes made while syncd run went every 0.2 s", changes)
    yield Figure("changes never seen in the snapshot", result.unseen, held=result.unseen == 0)
    for p in (50, 95):
        yield Figure(f"change-to-file latency p{p} (s)", f"{result.percentile(p):.3f}")
    yield Figure("change-to-file latency max (s)", f"{max(result.latencies or [0.0]):.3f}")
    yield Figure("requests per idle pass (2 models)", f"{result.requests_per_idle_pass:g}",
                 held=0 < result.requests_per_idle_pass <= 2)
    if result.problems:
        yield Figure("freshness problems", "; ".join(result.problems), held=False)


def suite(label: str, *paths: str) -> Check:
    """A check that runs test files of the suite (each case a guarantee held or not)."""
    def check(long: bool, workdir: Path, limit: int | None) -> Iterator[Figure]:
        import re
        import subprocess

        marks = "slow or not slow" if long else "not slow"
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 "-m", marks, *paths], cwd=ROOT, capture_output=True,
                                text=True)
        summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
        counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|error)",
                                                         summary)}
        yield Figure(f"{label} cases held", counts.get("passed", 0))
        broken = counts.get("failed", 0) + counts.get("error", 0)
        yield Figure(f"{label} cases failed", broken, held=broken == 0 and result.returncode == 0)
    return check


CHECKS: dict[str, Check] = {
    "interleavings": interleavings,
    "crash-points": crash_points,
    "write-errors": write_errors,
    "bad-input": suite("bad input", "tests/test_bad_input.py", "tests/sinks/test_json_journal.py"),
    "secrets": suite("secrets", "tests/test_secrets.py"),
    "two-writers": suite("two writers, stale locks and replace contention",
                         "tests/service/test_two_writers.py", "tests/service/test_lock.py",
                         "tests/sinks/test_replace_contention.py"),
    "random-kills": random_kills,
    "faults": faults,
    "freshness": freshness,
}


def run(checks: dict[str, Check], *, long: bool, limit: int | None = None) -> int:
    """Run ``checks``, print each figure as it comes; 1 if any guarantee failed, else 0."""
    failed = False
    for name, check in checks.items():
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"syncd-{name}-") as workdir:
            try:
                for figure in check(long, Path(workdir), limit):
                    print(figure.line(), flush=True)
                    failed |= not figure.held
            except Exception as exc:  # noqa: BLE001 - a check that cannot run proves nothing
                print(Figure(f"{name} could not run", f"{type(exc).__name__}: {exc}",
                             held=False).line(), flush=True)
                failed = True
        print(f"{name} seconds: {time.monotonic() - started:.1f}", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--short", action="store_true", help="a few minutes (CI)")
    size.add_argument("--long", action="store_true", help="the figures at full size")
    parser.add_argument("--check", action="append", choices=sorted(CHECKS),
                        help="run only this check (repeatable)")
    parser.add_argument("--limit", type=int, default=None,
                        help="at most this many runs per check (a smoke test)")
    args = parser.parse_args(argv)
    chosen = {name: CHECKS[name] for name in (args.check or CHECKS)}
    from loguru import logger

    logger.remove()  # the checks' own figures are the output
    from tests.sync_rig import WORKERS

    print(Figure("sync workers (models in parallel, rebuilds in id slices)", WORKERS).line(),
          flush=True)
    try:
        return run(chosen, long=args.long, limit=args.limit)
    finally:
        if {"random-kills", "faults", "crash-points"} & chosen.keys():
            from tests import pg_server

            pg_server.stop()


if __name__ == "__main__":
    sys.exit(main())
