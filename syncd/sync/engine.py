"""One sync pass over every configured model. A plain function: it never sleeps and never loops.

A pass is all or nothing: each model is pulled (``syncd.sync.pull``) and its change set handed
to the sink's pass writer, which stages it; once every model is staged the writer commits them
together with the new state (the JSON sink: snapshots put in place, then the state file; a
database: one transaction). Any error (network, HTTP 429/5xx after retries, an Odoo fault, a
malformed answer, a stop request) aborts the writer: every stored copy and the state stay
exactly as they were, and the next good pass catches up from the old watermarks.

With ``[sync] workers`` > 1 (``syncd.sync.parallel``) the client keeps up to that many connections
and the models after the one being written are pulled meanwhile in worker threads (at most
``workers - 1`` ahead), a rebuild's pages are read in id slices at once; the change sets are still
written, and the pass committed, on this thread, in the configured model order. A failure
anywhere aborts the client's requests and joins every thread before the pass returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from datetime import UTC, datetime

from loguru import logger

from syncd.errors import (
    AuthError,
    CorruptFileError,
    InvalidFieldError,
    OdooError,
    PassInterrupted,
    SinkError,
    SyncdError,
    current_user,
    one_line,
    scrub,
)
from syncd.odoo import OdooClient
from syncd.settings import ModelSpec, Settings
from syncd.sync.changes import ChangeSet, RebuildReason
from syncd.sync.parallel import Fleet, Inbox, StoredFromWorker
from syncd.sync.pull import PassContext, pull
from syncd.sync.report import PassReport, ProgressFactory
from syncd.sync.seam import Applied, PassWriter, Sink, Workdir
from syncd.sync.state import ModelState, State, utc_now_text


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def source_of(settings: Settings) -> str:
    """The Odoo a data directory mirrors; pointing it at another one rebuilds every snapshot."""
    return f"{settings.odoo.url}|{settings.odoo.database}"


def run_pass(settings: Settings, client: OdooClient, sink: Sink, workdir: Workdir, *,
             now: Callable[[], datetime] = utc_now, progress: ProgressFactory | None = None,
             should_stop: Callable[[], bool] | None = None) -> PassReport:
    """Pull every model into ``sink`` and commit the result atomically. The caller opens the
    sink (and holds the writer's locks) and closes it; ``workdir`` is the data directory
    (its resync request, and where a failed pass leaves its error). Odoo and local-file
    problems come back as a failed report (nothing committed); only bugs raise."""
    started = time.monotonic()
    report = PassReport()
    current: str | None = None
    writer: PassWriter | None = None
    workers = max(1, settings.sync.workers)
    fleet = Fleet(workers) if workers > 1 else None
    held = min(workers, len(settings.models))
    if held > 1:
        # The model being written and those pulled ahead each hold their change set: memory_mb
        # is the pass's budget, shared between them.
        sync = settings.sync
        budget = max(1, sync.memory_budget // held)
        settings = replace(settings, sync=replace(sync, memory_bytes=budget))
    committed = False
    ahead: _Ahead | None = None
    try:
        workdir.prepare()
        state = sink.load_state()
        warn_unconfigured(unconfigured(settings, state))
        requested = workdir.resync_request()
        if requested is not None:
            state.request_resync(requested, [spec.name for spec in settings.models])
        client.begin_pass()
        client.connections = workers
        if client.info is None and not client.resume(state.handshake):
            info = client.connect()
            logger.info("connected server={server} protocol={protocol} uid={uid}",
                        server=info.version, protocol=info.protocol, uid=info.uid)
        writer = sink.begin(at=utc_now_text(now()))
        context = PassContext(client, settings.sync, source_of(settings), now, progress,
                              should_stop, fleet, workdir.scratch_file)
        ahead = _Ahead(context, settings.models, sink, state) if fleet is not None else None
        for index, spec in enumerate(settings.models):
            current = spec.name
            if ahead is not None:
                ahead.start_through(index + workers - 1)
            previous = state.models.get(spec.name) or ModelState(model=spec.model)
            change, applied = _pull_and_write(spec, previous, context, sink, writer,
                                              pulled=ahead.take(spec.name) if ahead else None)
            change.state.records = applied.records
            change.report.records = applied.records
            # Relative to the previous stored copy, rebuilds included (a resync to the same
            # content changed nothing; records gone from Odoo meanwhile count as removed).
            change.report.changed, change.report.removed = applied.changed, applied.removed
            change.report.written = bool(applied.changed or applied.removed)
            state.models[spec.name] = change.state
            report.models.append(change.report)
        current = None
        stamp = utc_now_text(now())
        for spec in settings.models:
            state.models[spec.name].last_success = stamp
        state.last_sync = stamp
        state.handshake = client.handshake
        writer.commit(state)
        committed = True
        workdir.clear_resync_request(requested)
        workdir.clear_error()
    except PassInterrupted as exc:
        _abort(writer)
        report.interrupted = True
        report.error = str(exc)
        logger.debug("pass stopped: {}", exc)  # the caller says it once (once, the daemon)
    except (OdooError, SinkError, CorruptFileError, OSError) as exc:
        _abort(writer)
        # Refused credentials are no model's fault, whether the login or a model's first call
        # (with a kept uid) learned it.
        where = None if isinstance(exc, AuthError) else current
        report.error = failed(workdir, where, error_text(exc), now(), settings)
    except Exception as exc:  # noqa: BLE001 - an answer we did not expect must not kill the daemon
        _abort(writer)
        logger.opt(exception=exc).debug("unexpected error during the pass")
        report.error = failed(workdir, current, f"unexpected {type(exc).__name__}: {exc} "
                              "(a malformed answer from Odoo, or a bug: run with -v)", now(),
                              settings)
    finally:
        if fleet is not None:
            if fleet.started and not committed:
                client.abort()  # no worker waits for an answer or starts a request
            fleet.close()
            if ahead is not None:
                ahead.drop_untaken()
    report.seconds = time.monotonic() - started
    for model in report.models if report.ok else ():
        logger.bind(**({"full": "yes"} if model.full else {})).info(
            "model={model} fetched={fetched} changed={changed} removed={removed} "
            "records={records} watermark={watermark} seconds={seconds:.2f}" +
            (" full=yes" if model.full else ""), model=model.name, fetched=model.fetched,
            changed=model.changed, removed=model.removed, records=model.records,
            watermark=model.watermark, seconds=round(model.seconds, 2))
    if report.error and not report.interrupted:
        # The caller says it once: `once` as its one error line, the daemon once per new reason.
        logger.debug("pass failed: {}", report.error)
    return report


def unconfigured(settings: Settings, state: State) -> list[str]:
    """Stored models the configuration no longer lists: nothing updates them any more (a
    ``[models.X]`` table replaces the default models, it does not add to them)."""
    return sorted(set(state.models) - {spec.name for spec in settings.models})


def unconfigured_advice(names: list[str]) -> str:
    """One line: which stored models are no longer synced, and the two ways out."""
    listed = ", ".join(names)
    return (f"stored models no longer synced: {listed} (not in the configuration's [models.*] "
            f"tables, so their copies stop changing): list them under [models.NAME] to keep "
            f"them current, or remove them with 'syncd resync --forget {' '.join(names)}'")


def warn_unconfigured(names: list[str]) -> None:
    if names:
        logger.warning("{}", unconfigured_advice(names))


def _pull_and_write(spec: ModelSpec, previous: ModelState, context: PassContext, sink: Sink,
                    writer: PassWriter, *,
                    pulled: Callable[[], ChangeSet] | None = None) -> tuple[ChangeSet, Applied]:
    """Pull one model and stage its change set. A corrupt stored copy is set aside and the
    model rebuilt; a field that vanished from the server since the fields were resolved makes
    the model resolve them again and rebuild. Each happens at most once per pass. ``pulled``:
    the outcome of this model's pull already running in a worker (the first attempt's). The
    change set's upserts (spilled to ``scratch`` files past the memory budget) are dropped
    once written, or on the way out of an error."""
    force: RebuildReason | None = None
    while True:
        try:
            if pulled is not None:
                first, pulled = pulled, None
                change = first()
            else:
                change = pull(spec, previous, sink, context, force=force)
            try:
                applied = writer.write(change)
                if change.upserts.spilled:
                    logger.info("model={model} changed records past memory_mb: merged from "
                                "{runs} sorted runs in scratch files", model=spec.name,
                                runs=change.upserts.spilled)
                return change, applied
            finally:
                change.upserts.close()
        except CorruptFileError as exc:
            if force is not None:
                raise
            aside = sink.set_aside(spec.name)
            logger.error("model={model} corrupt snapshot set aside as {moved_to}; rebuilding: "
                         "{error}", model=spec.name, moved_to=aside, error=str(exc))
            force = RebuildReason.CORRUPT
        except InvalidFieldError:
            if force is not None:
                raise
            force = RebuildReason.FIELDS_CHANGED


@dataclass
class _Running:
    """One model's pull in a worker thread."""

    done: threading.Event = field(default_factory=threading.Event)
    change: ChangeSet | None = None
    error: BaseException | None = None


class _Ahead:
    """The pulls of the models after the one being written, each in a worker thread of the
    fleet. What they ask the sink is answered on this thread (``Inbox``) while it waits for
    their outcome; whether a model's copy exists is asked here once, before any is written."""

    def __init__(self, context: PassContext, models: Sequence[ModelSpec], sink: Sink,
                 state: State) -> None:
        assert context.fleet is not None
        self.fleet = context.fleet
        self.context = context
        self.models = models
        self.state = state
        self.inbox = Inbox()
        self.fleet.on_close(self.inbox.close)
        later = models[1:]
        self.stored = StoredFromWorker(sink, self.inbox,
                                       {spec.name: sink.exists(spec.name) for spec in later})
        self.running: dict[str, _Running] = {}
        self.started = 1  # the first model is pulled on the pass's own thread

    def start_through(self, last: int) -> None:
        """Start the pulls of the models up to number ``last`` (not yet started)."""
        models = self.models
        while self.started <= min(last, len(models) - 1):
            spec = models[self.started]
            self.started += 1
            previous = self.state.models.get(spec.name) or ModelState(model=spec.model)
            running = _Running()
            self.running[spec.name] = running
            self.fleet.start(f"pull-{spec.name}", self._runner(spec, previous, running))

    def _runner(self, spec: ModelSpec, previous: ModelState,
                running: _Running) -> Callable[[], None]:
        def run() -> None:
            try:
                # Decide (rebuild floor, window start) as if pulled after the models before it:
                # once the pass has had its first answer (the pass's own thread makes it).
                self.context.client.await_first_answer()
                running.change = pull(spec, previous, self.stored, self.context)
            except BaseException as exc:  # noqa: BLE001 - raised on the pass's thread by take
                running.error = exc
            finally:
                running.done.set()
                self.inbox.wake()
        return run

    def drop_untaken(self) -> None:
        """Close the change sets of pulls the pass never took (it failed or stopped first):
        their scratch files go now, not when they are collected. Once every thread is joined."""
        for running in self.running.values():
            if running.change is not None:
                running.change.upserts.close()
        self.running.clear()

    def take(self, name: str) -> Callable[[], ChangeSet] | None:
        """The outcome of ``name``'s pull if it runs in a worker: a call that answers its
        questions until it is done, then returns its change set or raises its error."""
        running = self.running.pop(name, None)
        if running is None:
            return None

        def outcome() -> ChangeSet:
            self.inbox.serve(until=running.done)
            if running.error is not None:
                raise running.error
            assert running.change is not None
            return running.change
        return outcome


def _abort(writer: PassWriter | None) -> None:
    if writer is not None:
        writer.abort()


def failed(workdir: Workdir, model: str | None, message: str, when: datetime,
           settings: Settings) -> str:
    """Record a failed pass for `status`; returns the one-line error naming the model, with
    every secret scrubbed (an Odoo fault may echo what it was sent)."""
    text = scrub(f"{model}: {message}" if model else message, settings.secrets())
    workdir.record_error(model, text, when)
    return text


def error_text(exc: BaseException) -> str:
    """The one line to report for an error: its message's last line (a traceback's exception).
    A local file refused to this user names the directory, the user and the fix."""
    if isinstance(exc, PermissionError) and exc.filename:
        return refused_text(exc)
    text = str(exc).strip().splitlines()
    message = one_line(text[-1]) if text else type(exc).__name__
    if isinstance(exc, OSError) and not isinstance(exc, SyncdError):
        message = f"local file error: {message}"
    return message


def refused_text(exc: PermissionError) -> str:
    """A write refused in a directory another user owns (a data directory made by root, then
    used by the service's user): the whole directory must be this user's, not one file."""
    path = Path(str(exc.filename))
    directory = path.parent if path.name.startswith(".") or not path.is_dir() else path
    user = current_user()
    return (f"local file error: syncd runs as {user} and cannot write in {directory} "
            f"({exc.strerror or exc}: {path}); make the directory and everything in it "
            f"{user}'s: chown -R {user} {directory}")
