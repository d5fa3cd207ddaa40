"""One model's part of a pass: what changed on the server, and what the snapshot becomes.

The algorithm, and why (docs/odoo-api.md, §1-§11, has the evidence for each point):

* The watermark is the newest ``write_date`` the *server* returned, never the local clock.
* Every incremental pass re-reads a window ``write_date >= low``, with ``low`` a ``lookback``
  before the last pass began (below): Odoo stamps a row with its transaction's *start* time, so
  a long transaction can commit rows older than the watermark. ``>=`` is the only comparison
  that means the same on Odoo 16-19.
* Inside the window we page by ``id > cursor ORDER BY id``: the database keeps microseconds the
  API hides, so a ``(write_date, id)`` keyset built from API values can loop or skip when more
  than a page of rows shares one second. An id keyset in a fixed window cannot.
* The change query ignores the model's domain and runs with ``active_test: False``, so records
  that were archived or left the domain come back and leave the snapshot; membership of each
  changed record is decided by the ``active`` flag or by one ``search`` of the domain per page.
* Rows in the window are re-read every pass; a digest per id of what we stored (``recent``) lets
  a pass that finds nothing new skip loading the snapshot at all.
* The window starts at ``server time at the start of the last pass - lookback`` (``settled``):
  a row stamped earlier committed before that pass began and was read by it; a row committed
  since carries a later stamp, however long that pass ran. Odoo's clock is known from the HTTP
  ``Date`` of its answers (a hint, minus a margin for app/database clock skew; never a
  watermark). ``watermark - lookback`` would be wrong both ways: a quiet model would re-read its
  last bulk import on every pass, and a pass that outlasts ``lookback`` (a big full sync) sees
  stamps newer than its start, so a write to a page it had already read would be skipped. A
  server without ``Date`` falls back to the newest stamp known before the last pass began (its
  starting watermark; for a full sync, one ``write_date desc`` probe), minus lookback.
* Deletions leave no trace in the API: every ``reconcile_interval`` the server's id set for the
  domain (ids only, paged) is compared with the snapshot; this also picks up records that entered
  the domain without their ``write_date`` moving. A snapshot file whose signature is not the one
  we last wrote (edited by hand) is reconciled in that same pass; values edited by hand in a
  record that is still there come back only when Odoo next changes it (or on a resync).
* Nothing here writes a file: the result carries the new snapshot bytes, and the pass commits all
  models together, state last.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from loguru import logger

from syncd.sync import keyset
from syncd.sinks.atomic import set_aside
from syncd.config import ModelSpec, SyncSettings, domain_as_list
from syncd.errors import CorruptFileError, FaultError, InvalidFieldError, PassInterrupted
from syncd.odoo.client import OdooClient
from syncd.sync.report import ModelReport, ProgressFactory, ProgressLike
from syncd.sinks.snapshot import Snapshot
from syncd.sync.coverage import missing_text
from syncd.sync.related import DESCRIBE, changed_parents, parents_of
from syncd.sync.state import TIME_FORMAT, ModelState, Parent, utc_now_text
from syncd.sync.window import (
    CLOCK_MARGIN,
    OUT,
    digest,
    domain_fields,
    file_signature,
    fingerprint,
    shift,
)

@dataclass
class ModelResult:
    report: ModelReport
    state: ModelState
    snapshot: bytes | None = None  # new bytes for the file; None when it stays as it is
    reasons: list[str] = field(default_factory=list)


class ModelPuller:
    """Pulls one model for one pass. Construct per pass; call `pull` once."""

    def __init__(self, spec: ModelSpec, client: OdooClient, settings: SyncSettings, source: str,
                 *, now: Callable[[], datetime], progress: ProgressFactory | None = None,
                 should_stop: Callable[[], bool] | None = None) -> None:
        self.spec = spec
        self.client = client
        self.settings = settings
        self.source = source
        self.now = now
        self.progress = progress
        self.should_stop = should_stop or (lambda: False)
        self.path = settings.data_dir / spec.filename
        self.domain = domain_as_list(spec.domain)
        self.member_context = {"active_test": not spec.include_archived}

    # -- the pass ------------------------------------------------------------------------------
    def pull(self, previous: ModelState) -> ModelResult:
        started = time.monotonic()
        state = replace(previous, recent=dict(previous.recent), fields=list(previous.fields),
                        missing_fields=list(previous.missing_fields), model=self.spec.model,
                        parents=[replace(p, fields=list(p.fields), seen=dict(p.seen))
                                 for p in previous.parents])
        report = ModelReport(name=self.spec.name, model=self.spec.model)
        result = ModelResult(report=report, state=state)
        # Every query of this pull runs after the answer that carried this Date.
        self.started_at = self.client.server_time
        fp = fingerprint(self.spec, self.source)
        if previous.watermark is None and previous.records == 0 and not previous.fingerprint:
            result.reasons.append("first sync")
        elif previous.fingerprint != fp:
            result.reasons.append("configuration or server changed")
        elif previous.full_resync:
            result.reasons.append("resync requested")
        elif not self.path.exists():
            result.reasons.append("snapshot file missing")
        elif previous.watermark is None:
            result.reasons.append("no watermark yet")
        full = bool(result.reasons)
        # An empty model has no watermark and is fully re-read each pass (one small request);
        # its field list is still good, so only a real rebuild asks the server for fields again.
        if (full and result.reasons != ["no watermark yet"]) or not state.fields:
            self._resolve_fields(state, previous.missing_fields)
        state.fingerprint = fp
        try:
            self._run(result, full)
        except InvalidFieldError:
            # A field vanished from the server since we resolved the list: resolve again, rebuild.
            self._resolve_fields(state, previous.missing_fields)
            result.reasons.append("server fields changed")
            self._run(result, True)
        report.watermark = state.watermark
        report.records = state.records
        report.seconds = time.monotonic() - started
        return result

    def _run(self, result: ModelResult, full: bool) -> None:
        if not full:
            try:
                self._incremental(result)
                return
            except CorruptFileError as exc:
                aside = set_aside(self.path)
                logger.error("model={} corrupt snapshot set aside as {}; rebuilding: {}",
                             self.spec.name, aside.name, exc)
                result.reasons.append("corrupt snapshot")
        self._full(result)

    # -- fields ----------------------------------------------------------------------------------
    def _resolve_fields(self, state: ModelState, known_missing: list[str]) -> None:
        available = self.client.fields_get(self.spec.model, DESCRIBE)
        wanted = list(self.spec.fields)
        if self.spec.include_archived and "active" in available and "active" not in wanted:
            wanted.append("active")
        missing = [f for f in wanted if f not in available]
        if missing and missing != known_missing:  # once, not every pass
            logger.warning("model={} missing_fields={} {}; left out", self.spec.name,
                           ",".join(missing), missing_text(self.spec.model, missing, available))
        fetch = [f for f in wanted if f in available]
        # Fetch what membership depends on too, so the digest of a row changes whenever its
        # membership can (two writes in one second show the same write_date).
        for extra in ("write_date", "active", *domain_fields(self.spec.domain)):
            if extra in available and extra not in fetch:
                fetch.append(extra)
        state.fields = fetch
        state.missing_fields = missing
        state.parents = parents_of(available, fetch)

    def _out_fields(self, state: ModelState) -> list[str]:
        out = [f for f in self.spec.fields if f in state.fields]
        if self.spec.include_archived and "active" in state.fields and "active" not in out:
            out.append("active")
        return out

    def _stored(self, row: dict[str, Any], out: list[str]) -> dict[str, Any]:
        return {"id": row["id"], **{f: row.get(f, False) for f in out}}

    # -- full rebuild ------------------------------------------------------------------------------
    def _full(self, result: ModelResult) -> None:
        state, report = result.state, result.report
        report.full = True
        out = self._out_fields(state)
        logger.info("model={} full sync ({})", self.spec.name, ", ".join(result.reasons))
        snapshot = Snapshot(out)
        watermark: str | None = None
        window: list[tuple[int, str, str]] = []
        # Without Odoo's clock, the newest stamp before paging bounds what commits meanwhile.
        floor = None if self.started_at else self._newest_stamp()
        settled = self._settled(floor)
        # Parents first: a parent changed after this scan is seen as changed by the next pass.
        for parent in state.parents:
            parent.seen = {}
        if settled is not None:
            self._changed_parents(state, settled, settled)
        total = None
        if self.progress is not None:
            total = self.client.search_count(self.spec.model, self.domain,
                                             context=self.member_context)
        with self._progress(f"{self.spec.name}: full sync", total) as bar:
            for rows in self._pages(self.domain, state.fields, self.member_context):
                for row in rows:
                    record = self._stored(row, out)
                    snapshot.upsert(record)
                    stamp = row.get("write_date") or None
                    if stamp:
                        watermark = stamp if watermark is None or stamp > watermark else watermark
                        window.append((row["id"], stamp, digest(row)))
                report.fetched += len(rows)
                bar.advance(len(rows))
        report.changed = len(snapshot)
        state.watermark = watermark
        state.settled = settled
        state.recent = self._recent(window, state)
        state.records = len(snapshot)
        state.full_resync = False
        state.last_reconcile = utc_now_text(self.now())
        report.reconciled = True
        result.snapshot = snapshot.to_bytes()

    # -- incremental -------------------------------------------------------------------------------
    def _incremental(self, result: ModelResult) -> None:
        state, report = result.state, result.report
        previous_recent = dict(state.recent)
        assert state.watermark is not None
        settled = self._settled(state.watermark)
        low = self._low(state)
        out = self._out_fields(state)
        upserts: dict[int, dict[str, Any]] = {}
        removals: set[int] = set()
        window: list[tuple[int, str, str]] = []
        watermark = state.watermark
        for rows in self._pages([["write_date", ">=", low]], state.fields, {"active_test": False}):
            report.fetched += len(rows)
            candidates: list[tuple[dict[str, Any], dict[str, Any], str]] = []
            for row in rows:
                stamp = row.get("write_date") or None
                record = self._stored(row, out)
                mark = digest(row)
                known = previous_recent.get(row["id"])
                if known in (mark, OUT + mark):
                    # Seen exactly like this in an earlier pass (the lookback re-read).
                    window.append((row["id"], stamp or watermark, known))
                else:
                    candidates.append((row, record, mark))
                if stamp:
                    watermark = max(watermark, stamp)
            members = self._members([row for row, _, _ in candidates])
            for row, record, mark in candidates:
                if row["id"] in members:
                    upserts[row["id"]] = record
                else:
                    removals.add(row["id"])
                    mark = OUT + mark
                window.append((row["id"], row.get("write_date") or watermark, mark))
        state.watermark = watermark
        self._through_parents(state, low, settled, out, upserts, removals)
        state.settled = settled
        state.recent = self._recent(window, state)
        touched = self._touched(state)
        # A file changed behind our back (edited by hand, restored from a backup) may lack
        # records or hold extra ones: check its membership now, not at the next reconcile.
        reconcile = touched or self._reconcile_due(state)
        if not upserts and not removals and not reconcile:
            return  # nothing new: the snapshot is not even read
        snapshot = Snapshot.load(self.path, out)
        for record in upserts.values():
            if snapshot.upsert(record):
                report.changed += 1
        report.removed += len(snapshot.remove(removals))
        if reconcile:
            self._reconcile(snapshot, state, report, out)
        state.records = len(snapshot)
        if report.changed or report.removed or touched:
            # When someone else touched the file, the commit compares bytes and restores ours.
            result.snapshot = snapshot.to_bytes()

    def _through_parents(self, state: ModelState, low: str, settled: str | None,
                         out: list[str], upserts: dict[int, dict[str, Any]],
                         removals: set[int]) -> None:
        """Re-read the records whose parent rows changed (docs/odoo-api.md §10; see
        syncd.sync.related), after the change query: a record it read before its parent changed
        is read again here."""
        for parent, changed in self._changed_parents(state, low, settled):
            for start in range(0, len(changed), self.settings.page_size):
                chunk = changed[start:start + self.settings.page_size]
                for rows in self._pages([[parent.link, "in", chunk]], state.fields,
                                        {"active_test": False}):
                    members = self._members(rows)
                    for row in rows:
                        if row["id"] in members:
                            upserts[row["id"]] = self._stored(row, out)
                            removals.discard(row["id"])
                        else:
                            upserts.pop(row["id"], None)
                            removals.add(row["id"])

    def _changed_parents(self, state: ModelState, low: str,
                         settled: str | None) -> list[tuple[Parent, list[int]]]:
        """Per followed parent, its rows changed since `low`. A parent this user may not read
        (an Odoo fault, e.g. AccessError, where the related field itself reads as superuser) is
        dropped with a warning instead of failing every pass: its values may then go stale,
        as in any write_date sync, until a full resync resolves the fields again."""
        found: list[tuple[Parent, list[int]]] = []
        for parent in list(state.parents):
            try:
                found.append((parent, changed_parents(self._pages, parent, low, settled)))
            except FaultError as exc:
                state.parents.remove(parent)
                logger.warning("model={} cannot watch {} for the values {} shows from it ({}); "
                               "they may go stale", self.spec.name, parent.model,
                               ",".join(parent.fields), exc)
        return found

    def _touched(self, state: ModelState) -> bool:
        """True when the snapshot file is not the one we last wrote (someone changed it)."""
        return state.snapshot_stat is not None and file_signature(self.path) != state.snapshot_stat

    def _members(self, rows: list[dict[str, Any]]) -> set[int]:
        """Ids among `rows` that belong in the snapshot (domain and, unless include_archived, active)."""
        if not rows:
            return set()
        if not self.domain:
            if self.spec.include_archived:
                return {row["id"] for row in rows}
            return {row["id"] for row in rows if row.get("active", True) is not False}
        ids = [row["id"] for row in rows]
        found = self.client.search(self.spec.model, self.domain + [["id", "in", ids]],
                                   context=self.member_context)
        return set(found)

    # -- deletions ---------------------------------------------------------------------------------
    def _reconcile_due(self, state: ModelState) -> bool:
        if self.settings.reconcile_interval == 0 or state.last_reconcile is None:
            return True
        last = datetime.strptime(state.last_reconcile, TIME_FORMAT)
        elapsed = (self.now().replace(tzinfo=None) - last).total_seconds()
        # A clock stepped backwards must not postpone deletions for ever.
        return elapsed >= self.settings.reconcile_interval or elapsed < 0

    def _reconcile(self, snapshot: Snapshot, state: ModelState, report: ModelReport,
                   out: list[str]) -> None:
        server_ids = keyset.ids(self.client, self.spec.model, self.domain,
                                context=self.member_context, check_stop=self._check_stop)
        gone = snapshot.ids() - server_ids
        report.removed += len(snapshot.remove(gone))
        for record_id in gone:
            state.recent.pop(record_id, None)
        arrived = sorted(server_ids - snapshot.ids())
        for start in range(0, len(arrived), self.settings.page_size):
            chunk = arrived[start:start + self.settings.page_size]
            rows = self.client.search_read(self.spec.model, [["id", "in", chunk]], state.fields,
                                           context={"active_test": False})
            for row in rows:
                if snapshot.upsert(self._stored(row, out)):
                    report.changed += 1
            report.fetched += len(rows)
        state.last_reconcile = utc_now_text(self.now())
        report.reconciled = True

    # -- plumbing ----------------------------------------------------------------------------------
    def _pages(self, domain: list[Any], fields: list[str], context: dict[str, Any], *,
               model: str | None = None) -> Iterator[list[dict[str, Any]]]:
        return keyset.pages(self.client, model or self.spec.model, domain, fields,
                            context=context, page_size=self.settings.page_size,
                            check_stop=self._check_stop)

    def _low(self, state: ModelState) -> str:
        """Where the change query starts: where the last pass began, minus lookback (`settled`),
        or earlier if the server's clock went backwards since. A state written before `settled`
        existed falls back to `watermark - lookback`."""
        assert state.watermark is not None
        if state.settled is None:
            return shift(state.watermark, -self.settings.lookback)
        now = self._settled()
        return min(state.settled, now) if now else state.settled

    def _settled(self, floor: str | None = None) -> str | None:
        """Where the next pass's window may start: Odoo's time before every query of this pull,
        minus lookback and a margin; without Odoo's clock, `floor` (a stamp known to predate
        this pull) minus lookback."""
        if self.started_at is not None:
            moment = self.started_at - timedelta(seconds=self.settings.lookback + CLOCK_MARGIN)
            return moment.strftime(TIME_FORMAT)
        return shift(floor, -self.settings.lookback) if floor else None

    def _newest_stamp(self) -> str | None:
        rows = self.client.search_read(self.spec.model, [], ["write_date"], limit=1,
                                       order="write_date desc", context={"active_test": False})
        return (rows[0].get("write_date") or None) if rows else None

    def _recent(self, window: list[tuple[int, str, str]], state: ModelState) -> dict[int, str]:
        if state.watermark is None:
            return {}
        low = self._low(state)
        return {record_id: mark for record_id, stamp, mark in window if stamp >= low}

    def _check_stop(self) -> None:
        if self.should_stop():
            raise PassInterrupted("stopped during the pass; nothing of it was committed")

    def _progress(self, label: str, total: int | None) -> AbstractContextManager[ProgressLike]:
        if self.progress is None:
            return nullcontext(_NoProgress())
        return self.progress(label, total)


class _NoProgress:
    def advance(self, n: int) -> None:
        pass
