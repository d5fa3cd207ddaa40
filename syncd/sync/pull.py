"""One model's pull: what changed in Odoo since the last pass, as a change set.

The algorithm, and why (each trap is a section of docs/odoo-api.md):

* Every in-place pull re-reads a window ``write_date >= start`` (``syncd.sync.window.Window``):
  Odoo stamps rows with their transaction's start time (§1), so a long transaction commits rows
  older than the newest stamp a pass saw. Watermarks are the server's own values, never the
  local clock.
* Inside the window rows are paged by ``id > cursor ORDER BY id`` (``syncd.sync.keyset``): the
  database orders by microseconds the API hides (§2), so a ``(write_date, id)`` keyset built from
  API values can loop or skip when more than a page of rows shares one second (§4).
* The change query ignores the model's domain, with ``active_test: False`` (§6), so records
  that were archived or left the domain come back and leave the snapshot; membership of each
  changed row is decided by its ``active`` flag or by one ``search`` of the domain per page.
* A mark per row of the window (``syncd.sync.digests``) lets a pull that finds nothing new hand
  over an empty change set: the stored copy is not even read.
* Values a model shows from a parent row that does not move the model's own ``write_date``
  (§10) are followed through the parent's window (``syncd.sync.related``).
* Deletions leave no trace (§5): every ``reconcile_interval``, and whenever the stored copy was
  changed by someone else (a file edited by hand, restored from a backup), the server's id set
  for the domain (ids only) is compared with the stored one; this also picks up records that
  entered the domain without their stamp moving. Values edited by hand in a record that is
  still there come back only when Odoo next changes it (or on a resync).

With ``[sync] workers`` > 1 the engine hands a pull a ``Fleet`` (``syncd.sync.parallel``): a
rebuild's id range is then read in slices over several connections at once, its pages still
handed to the sink in id order (so its digests and watermark are those of one scan); in-place
windows stay one scan (an idle pass is one request per model).

The pull opens no file and knows no output format: it asks the sink's ``Stored`` view what it
holds, and returns a ``ChangeSet``. A rebuild's records are a stream the sink consumes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from array import array
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from loguru import logger

from syncd.errors import FaultError, PassInterrupted
from syncd.odoo import OdooClient
from syncd.settings import ModelSpec, SyncSettings, domain_as_list
from syncd.sync import keyset
from syncd.sync.changes import ChangeSet, RebuildReason, Rebuilt
from syncd.sync.digests import MARKS, OUT_BIT, Digests, RowMarks, row_mark
from syncd.sync.fields import resolve_fields
from syncd.sync.parallel import Fleet, sliced_pages
from syncd.sync.record import Layout
from syncd.sync.related import changed_parents
from syncd.sync.report import ModelReport, ProgressFactory, ProgressLike
from syncd.sync.seam import Stored
from syncd.sync.state import TIME_FORMAT, ModelState, Parent, utc_now_text
from syncd.sync.upserts import Scratch, Upserts
from syncd.sync.window import Window, domain_fields, fingerprint


@dataclass(frozen=True)
class PassContext:
    """What every pull of one pass shares. ``source``: what the snapshots are of (the server and
    database, for the fingerprint); ``now``: this machine's clock, for people and the reconcile
    interval; ``should_stop``: polled between requests; ``fleet``: the pass's worker threads,
    which read a rebuild in slices (None: one scan); ``scratch``: where upserts beyond
    ``settings.memory_budget`` spill (None: kept in memory)."""

    client: OdooClient
    settings: SyncSettings
    source: str
    now: Callable[[], datetime]
    progress: ProgressFactory | None = None
    should_stop: Callable[[], bool] | None = None
    fleet: Fleet | None = None
    scratch: Scratch | None = None


def pull(spec: ModelSpec, previous: ModelState, stored: Stored, context: PassContext, *,
         force: RebuildReason | None = None) -> ChangeSet:
    """The change set of one model since ``previous`` (which is not modified). ``force``: rebuild
    for this reason (the engine's answer to a corrupt copy or a field that vanished). The caller
    closes the change set's upserts once written."""
    return _Pull(spec, stored, context).run(previous, force)


class _Pull:
    def __init__(self, spec: ModelSpec, stored: Stored, context: PassContext) -> None:
        self.spec = spec
        self.stored = stored
        self.context = context
        self.client = context.client
        self.settings = context.settings
        self.should_stop = context.should_stop or (lambda: False)
        self.domain = domain_as_list(spec.domain)
        self.member_context = {"active_test": not spec.include_archived}
        self.started = time.monotonic()
        # The language every read carries: part of what the snapshot is "of" (window.fingerprint)
        self.lang = self.client.connect().lang

    def run(self, previous: ModelState, force: RebuildReason | None) -> ChangeSet:
        state = previous.copy()
        state.model = self.spec.model
        report = ModelReport(name=self.spec.name, model=self.spec.model)
        reasons = [force] if force is not None else self._reasons(previous)
        fp = fingerprint(self.spec, self.context.source, self.lang)
        # An empty model has no watermark and is re-read whole each pass (one small request);
        # its field list is still good, so only a real rebuild asks the server for fields again.
        if (reasons and reasons != [RebuildReason.NO_WATERMARK]) or not state.fields:
            resolve_fields(self.client, self.spec, state, previous.missing_fields)
        state.fingerprint = fp
        state.lang = self.lang
        fields = tuple(self._out_fields(state))
        upserts = Upserts(fields, budget=self.settings.memory_budget, scratch=self.context.scratch)
        change = ChangeSet(name=self.spec.name, fields=fields, state=state, report=report,
                           reasons=reasons, upserts=upserts)
        if reasons:
            self._rebuild(change)
        else:
            try:
                self._in_place(change)
            except BaseException:
                upserts.close()  # its scratch files go now, not when the error is forgotten
                raise
            self._finish(change)
        return change

    def _reasons(self, previous: ModelState) -> list[RebuildReason]:
        if previous.watermark is None and previous.records == 0 and not previous.fingerprint:
            return [RebuildReason.FIRST_SYNC]
        if previous.fingerprint != fingerprint(self.spec, self.context.source, self.lang):
            if previous.lang is None:
                # A state from before the language was kept: taken as read in today's language.
                if previous.fingerprint != fingerprint(self.spec, self.context.source, None):
                    return [RebuildReason.CONFIG_CHANGED]
            elif previous.fingerprint == fingerprint(self.spec, self.context.source, previous.lang):
                return [RebuildReason.LANG_CHANGED]
            else:
                return [RebuildReason.CONFIG_CHANGED]
        if previous.full_resync:
            return [RebuildReason.REQUESTED]
        if not self.stored.exists(self.spec.name):
            return [RebuildReason.MISSING]
        if previous.watermark is None:
            return [RebuildReason.NO_WATERMARK]
        return []

    def _finish(self, change: ChangeSet) -> None:
        change.report.watermark = change.state.watermark
        change.report.records = change.state.records
        change.report.seconds = time.monotonic() - self.started

    def _out_fields(self, state: ModelState) -> list[str]:
        out = [f for f in self.spec.fields if f in state.fields]
        if self.spec.include_archived and "active" in state.fields and "active" not in out:
            out.append("active")
        return out

    def _record(self, row: dict[str, Any], out: tuple[str, ...]) -> dict[str, Any]:
        return {"id": row["id"], **{f: row.get(f, False) for f in out}}

    # -- rebuild -----------------------------------------------------------------------------
    def _rebuild(self, change: ChangeSet) -> None:
        state, report = change.state, change.report
        report.full = True
        logger.info("model={model} full sync ({reason})", model=self.spec.name,
                    reason=", ".join(reason.value for reason in change.reasons))
        # Without Odoo's clock, the newest stamp before paging bounds what commits meanwhile;
        # asking for it also makes this pass's first answer tell Odoo's clock.
        floor = None if self.client.pass_clock is not None else self._newest_stamp()
        window = Window(start=None, floor=floor, lookback=self.settings.lookback)
        settled = window.settled(self.client.pass_clock)
        # Parents first: a parent changed after this scan is seen as changed by the next pass.
        for parent in state.parents:
            parent.seen = Digests()
        if settled is not None:
            self._changed_parents(state, settled, settled)
        change.rebuild = self._rebuild_stream(change, window)

    def _rebuild_stream(self, change: ChangeSet, window: Window) -> Iterator[Rebuilt]:
        state, report = change.state, change.report
        watermark: str | None = None
        recent = Digests()
        settled = window.settled(self.client.pass_clock)
        def total() -> int | None:
            return self.client.search_count(self.spec.model, self.domain,
                                            context=self.member_context)
        fields, implied = self._rebuild_fields(state)
        # Rows are marked as a window marks them: it fetches what this rebuild implies.
        marker = RowMarks(Layout(change.fields), state.fields, implied)
        take, encode, remember = marker.take, marker.encode, recent.add
        with self._progress(f"{self.spec.name}: full sync", total) as bar:
            for rows in self._rebuild_pages(fields):
                for row in rows:  # every row of the model: kept lean
                    stamp = row.get("write_date") or None
                    if stamp:
                        if watermark is None or stamp > watermark:
                            watermark = stamp
                        if settled is None or stamp >= settled:
                            record, line, value = take(row)
                            remember(row["id"], value)
                            yield record, line
                            continue
                    yield encode(row)
                report.fetched += len(rows)
                bar.advance(len(rows))
        state.watermark = watermark
        state.settled = settled
        state.recent = recent
        state.marks = MARKS
        report.changed = report.fetched
        state.records = report.fetched
        state.full_resync = False
        state.last_reconcile = utc_now_text(self.context.now())
        self._finish(change)

    def _rebuild_fields(self, state: ModelState) -> tuple[list[str], dict[str, Any]]:
        """What a rebuild asks for, and the values it implies for what it leaves out: read
        with ``active_test`` and a domain that does not name ``active``, every row is active,
        so ``active`` (fetched for the windows' membership test, not stored) is not asked for:
        about 8% of a full sync's bytes. A row's mark is taken with ``active: true`` put back,
        so the next window recognises the rows it read."""
        if ("active" not in state.fields or self.spec.include_archived
                or "active" in self.spec.fields or "active" in domain_fields(self.spec.domain)):
            return state.fields, {}
        return [f for f in state.fields if f != "active"], {"active": True}

    # -- in place ----------------------------------------------------------------------------
    def _in_place(self, change: ChangeSet) -> None:
        state, report = change.state, change.report
        previous_recent = state.recent
        window = Window.for_pull(state, self.settings.lookback, self.client.server_time)
        assert window.start is not None and state.watermark is not None
        recent = Digests()  # marks of the rows the next window still covers, ids ascending
        settled: str | None = None
        clock_known = False
        watermark = state.watermark
        marker = RowMarks(Layout(change.fields), state.fields)
        legacy = state.marks < MARKS  # recognise rows by the old digest, keep the new one
        for rows in self._pages([["write_date", ">=", window.start]], state.fields,
                                {"active_test": False}):
            if not clock_known:  # this pass's first answer has come: Odoo's clock is known
                settled, clock_known = window.settled(self.client.pass_clock), True
            report.fetched += len(rows)
            candidates: list[tuple[dict[str, Any], int]] = []
            marks: dict[int, int] = {}
            for row in rows:
                value = marker.mark(row)
                known = previous_recent.get(row["id"])
                was = row_mark(row) if legacy and known is not None else value
                if known is not None and known | OUT_BIT == was | OUT_BIT:
                    marks[row["id"]] = value | (known & OUT_BIT)  # seen exactly so before
                else:
                    candidates.append((row, value))
                watermark = max(watermark, row.get("write_date") or watermark)
            members = self._members([row for row, _ in candidates])
            for row, value in candidates:
                if row["id"] in members:
                    change.upserts.put(row["id"], marker.line(row))
                    marks[row["id"]] = value
                else:
                    change.removals.add(row["id"])
                    marks[row["id"]] = value | 1
            for row in rows:  # in id order, as the keyset pages them
                stamp = row.get("write_date") or watermark
                if settled is None or stamp >= settled:
                    recent.add(row["id"], marks[row["id"]])
        if not clock_known:
            settled = window.settled(self.client.pass_clock)
        state.watermark = watermark
        self._through_parents(change, window.start, settled)
        state.settled = settled
        state.recent = recent
        state.marks = MARKS
        change.distrusted = self.stored.changed_outside(self.spec.name, state)
        if change.distrusted or self._reconcile_due(state):
            self._reconcile(change)

    def _through_parents(self, change: ChangeSet, start: str, settled: str | None) -> None:
        """Re-read the records whose parent rows changed (docs/odoo-api.md §10), after the change
        query: a record it read before its parent changed is read again here."""
        for parent, changed in self._changed_parents(change.state, start, settled):
            for begin in range(0, len(changed), self.settings.page_size):
                chunk = changed[begin:begin + self.settings.page_size]
                for rows in self._pages([[parent.link, "in", chunk]], change.state.fields,
                                        {"active_test": False}):
                    members = self._members(rows)
                    for row in rows:
                        if row["id"] in members:
                            change.upserts[row["id"]] = self._record(row, change.fields)
                            change.removals.discard(row["id"])
                        else:
                            change.upserts.discard(row["id"])
                            change.removals.add(row["id"])

    def _changed_parents(self, state: ModelState, start: str,
                         settled: str | None) -> list[tuple[Parent, list[int]]]:
        """Per followed parent, its rows changed since ``start``. A parent this user may not
        read (an Odoo fault such as AccessError, where the related field itself reads as
        superuser) is dropped with a warning instead of failing every pass: its values may
        then go stale, as in any write_date sync, until a rebuild resolves the fields again."""
        found: list[tuple[Parent, list[int]]] = []
        for parent in list(state.parents):
            try:
                found.append((parent, changed_parents(self._pages, parent, start, settled)))
            except FaultError as exc:
                state.parents.remove(parent)
                logger.warning("model={model} cannot watch {parent} for the values {fields} "
                               "shows from it ({error}); they may go stale",
                               model=self.spec.name, parent=parent.model,
                               fields=",".join(parent.fields), error=str(exc))
        return found

    def _members(self, rows: list[dict[str, Any]]) -> set[int]:
        """Ids among ``rows`` that belong in the snapshot (domain and, unless include_archived,
        active)."""
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

    # -- deletions ---------------------------------------------------------------------------
    def _reconcile_due(self, state: ModelState) -> bool:
        if self.settings.reconcile_interval == 0 or state.last_reconcile is None:
            return True
        last = datetime.strptime(state.last_reconcile, TIME_FORMAT)
        elapsed = (self.context.now().replace(tzinfo=None) - last).total_seconds()
        # A clock stepped backwards must not postpone deletions for ever.
        return elapsed >= self.settings.reconcile_interval or elapsed < 0

    def _reconcile(self, change: ChangeSet) -> None:
        """Compare the server's ids with the stored ones, both packed and ascending."""
        state, report = change.state, change.report
        server = keyset.ids(self.client, self.spec.model, self.domain,
                            context=self.member_context, check_stop=self._check_stop)
        held = self.stored.stored_ids(self.spec.name, state)
        gone, arrived = _differences(held, server)
        gone = [i for i in gone if i not in change.upserts]
        arrived = [i for i in arrived if i not in change.upserts]
        change.removals.update(gone)
        for record_id in gone:
            change.upserts.discard(record_id)
        if gone:
            state.recent = state.recent.without(gone)
        for begin in range(0, len(arrived), self.settings.page_size):
            chunk = arrived[begin:begin + self.settings.page_size]
            rows = self.client.search_read(self.spec.model, [["id", "in", chunk]], state.fields,
                                           context={"active_test": False})
            for row in rows:
                change.upserts[row["id"]] = self._record(row, change.fields)
                change.removals.discard(row["id"])
            report.fetched += len(rows)
        state.last_reconcile = utc_now_text(self.context.now())

    # -- plumbing ----------------------------------------------------------------------------
    def _pages(self, domain: list[Any], fields: list[str], context: dict[str, Any], *,
               model: str | None = None) -> Iterator[list[dict[str, Any]]]:
        return keyset.pages(self.client, model or self.spec.model, domain, fields,
                            context=context, page_size=self.settings.page_size,
                            check_stop=self._check_stop)

    def _rebuild_pages(self, fields: list[str]) -> Iterator[list[dict[str, Any]]]:
        """The model's rows in pages of ascending ids: one scan, or slices read at once."""
        if self.context.fleet is None:
            return self._pages(self.domain, fields, self.member_context)
        return sliced_pages(self.client, self.spec.model, self.domain, fields,
                            context=self.member_context, page_size=self.settings.page_size,
                            check_stop=self._check_stop, fleet=self.context.fleet)

    def _newest_stamp(self) -> str | None:
        rows = self.client.search_read(self.spec.model, [], ["write_date"], limit=1,
                                       order="write_date desc", context={"active_test": False})
        return (rows[0].get("write_date") or None) if rows else None

    def _check_stop(self) -> None:
        if self.should_stop():
            raise PassInterrupted("stopped during the pass; nothing of it was committed")

    def _progress(self, label: str,
                  total: Callable[[], int | None]) -> AbstractContextManager[ProgressLike]:
        if self.context.progress is None:
            return nullcontext(_NoProgress())
        return self.context.progress(label, total)


def _differences(held: array[int], server: array[int]) -> tuple[list[int], list[int]]:
    """(ids held but not on the server, ids on the server but not held); both ascending."""
    gone: list[int] = []
    arrived: list[int] = []
    i = j = 0
    while i < len(held) and j < len(server):
        a, b = held[i], server[j]
        if a == b:
            i += 1
            j += 1
        elif a < b:
            gone.append(a)
            i += 1
        else:
            arrived.append(b)
            j += 1
    gone.extend(held[i:])
    arrived.extend(server[j:])
    return gone, arrived


class _NoProgress:
    def advance(self, n: int) -> None:
        pass
