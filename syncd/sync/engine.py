"""One sync pass over every configured model. A plain function: it never sleeps and never loops.

A pass is all or nothing: each model is pulled (``syncd.sync.pull``) and its change set handed
to the sink's pass writer, which stages it; once every model is staged the writer commits them
together with the new state (the JSON sink: snapshots put in place, then the state file; a
database: one transaction). Any error (network, HTTP 429/5xx after retries, an Odoo fault, a
malformed answer, a stop request) aborts the writer: every stored copy and the state stay
exactly as they were, and the next good pass catches up from the old watermarks.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import platformdirs
from loguru import logger

from syncd.config import ModelSpec, Settings
from syncd.errors import (CorruptFileError, InvalidFieldError, LockedError, OdooError,
                          PassInterrupted, SyncdError)
from syncd.odoo import OdooClient
from syncd.sinks.atomic import write_atomic
from syncd.sinks.base import Applied, PassWriter, Sink
from syncd.sinks.datadir import DataDir
from syncd.sinks.jsondir import JsonSink
from syncd.sync.changes import ChangeSet, Rebuild
from syncd.sync.pull import pull
from syncd.sync.report import PassReport, ProgressFactory
from syncd.sync.state import ModelState, State, utc_now_text


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def source_of(settings: Settings) -> str:
    """The Odoo a data directory mirrors; pointing it at another one rebuilds every snapshot."""
    return f"{settings.odoo.url}|{settings.odoo.database}"


def make_sink(settings: Settings) -> Sink:
    """The sink the configuration names (the JSON snapshot files for now)."""
    return JsonSink(DataDir(settings.sync.data_dir))


def run_pass(settings: Settings, client: OdooClient, *, sink: Sink | None = None,
             now: Callable[[], datetime] = utc_now, progress: ProgressFactory | None = None,
             should_stop: Callable[[], bool] | None = None) -> PassReport:
    """Pull every model and commit the result atomically. Odoo and local-file problems come
    back as a failed report (nothing committed); only bugs raise."""
    started = time.monotonic()
    data_dir = DataDir(settings.sync.data_dir)
    output = sink if sink is not None else make_sink(settings)
    report = PassReport()
    current: str | None = None
    writer: PassWriter | None = None
    try:
        data_dir.prepare()
        state = output.load_state()
        requested = read_resync_request(data_dir)
        apply_resync(state, requested, [spec.name for spec in settings.models])
        client.begin_pass()
        if client.info is None:
            info = client.connect()
            logger.info("connected server={} protocol={} uid={}", info.version, info.protocol,
                        info.uid)
        writer = output.begin()
        for spec in settings.models:
            current = spec.name
            previous = state.models.get(spec.name) or ModelState(model=spec.model)
            change, applied = _pull_and_write(spec, previous, settings, client, output, writer,
                                              now=now, progress=progress,
                                              should_stop=should_stop)
            change.state.records = applied.records
            change.report.records = applied.records
            if change.rebuild is None:
                change.report.changed, change.report.removed = applied.changed, applied.removed
            change.report.written = bool(applied.changed or applied.removed)
            state.models[spec.name] = change.state
            report.models.append(change.report)
        current = None
        stamp = utc_now_text(now())
        for spec in settings.models:
            state.models[spec.name].last_success = stamp
        state.last_sync = stamp
        writer.commit(state)
        clear_resync_request(data_dir, requested)
        record_errors(data_dir, {})
    except PassInterrupted as exc:
        _abort(writer)
        report.interrupted = True
        report.error = str(exc)
        logger.warning("pass stopped: {}", exc)
    except (OdooError, CorruptFileError, OSError) as exc:
        _abort(writer)
        report.error = failed(data_dir, current, one_line(exc), now())
    except Exception as exc:  # noqa: BLE001 - an answer we did not expect must not kill the daemon
        _abort(writer)
        logger.opt(exception=exc).debug("unexpected error during the pass")
        report.error = failed(data_dir, current, f"unexpected {type(exc).__name__}: {exc} "
                              "(a malformed answer from Odoo, or a bug: run with -v)", now())
    report.seconds = time.monotonic() - started
    for model in report.models if report.ok else ():
        logger.info("model={} fetched={} changed={} removed={} records={} watermark={} "
                    "seconds={:.2f}{}", model.name, model.fetched, model.changed, model.removed,
                    model.records, model.watermark, model.seconds, " full=yes" if model.full else "")
    if report.error and not report.interrupted:
        # The caller says it once: `once` as its one error line, the daemon once per new reason.
        logger.debug("pass failed: {}", report.error)
    return report


def _pull_and_write(spec: ModelSpec, previous: ModelState, settings: Settings,
                    client: OdooClient, sink: Sink, writer: PassWriter, *,
                    now: Callable[[], datetime], progress: ProgressFactory | None,
                    should_stop: Callable[[], bool] | None) -> tuple[ChangeSet, Applied]:
    """Pull one model and stage its change set. A corrupt stored copy is set aside and the
    model rebuilt; a field that vanished from the server since the fields were resolved makes
    the model resolve them again and rebuild. Each happens at most once per pass."""
    force: Rebuild | None = None
    while True:
        try:
            change = pull(spec, client, previous, sink, settings.sync, source=source_of(settings),
                          now=now, force=force, progress=progress, should_stop=should_stop)
            return change, writer.write(change)
        except CorruptFileError as exc:
            if force is not None:
                raise
            aside = sink.set_aside(spec.name)
            logger.error("model={} corrupt snapshot set aside as {}; rebuilding: {}",
                         spec.name, aside, exc)
            force = Rebuild.CORRUPT
        except InvalidFieldError:
            if force is not None:
                raise
            force = Rebuild.FIELDS_CHANGED


def _abort(writer: PassWriter | None) -> None:
    if writer is not None:
        writer.abort()


def failed(data_dir: DataDir, model: str | None, message: str, when: datetime) -> str:
    """Record a failed pass for `status`; returns the one-line error naming the model."""
    text = f"{model}: {message}" if model else message
    record_errors(data_dir, {model or "(pass)": text}, when)
    return text


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[-1] if text else type(exc).__name__
    if isinstance(exc, OSError) and not isinstance(exc, SyncdError):
        message = f"local file error: {message}"
    return message


# -- resync requests -------------------------------------------------------------------------------
def request_resync(data_dir: DataDir, names: list[str], all_names: list[str]) -> bool:
    """Forget the watermarks of `names` (all models when empty): the next pass rebuilds them.

    With the data directory free, the state file is changed at once (True). While another
    syncd holds it, a request file is left instead (False), which that daemon's next pass
    applies and removes once it has committed: the daemon owns the state file."""
    try:
        with data_dir.lock():
            state = data_dir.load_state()
            apply_resync(state, names, all_names)
            data_dir.stage_state(state).commit()
            return True
    except LockedError:
        pass
    pending = read_resync_request(data_dir)
    if pending is not None and names and pending:
        names = sorted(set(pending) | set(names))
    elif pending is not None and not pending:
        names = []
    write_atomic(data_dir.resync_file, orjson.dumps(sorted(names)) + b"\n")
    return False


def read_resync_request(data_dir: DataDir) -> list[str] | None:
    """None when nothing is requested; [] means every model."""
    try:
        value = orjson.loads(data_dir.resync_file.read_bytes())
    except FileNotFoundError:
        return None
    except orjson.JSONDecodeError:
        return []  # an unreadable request still means "rebuild": the safe reading
    return [str(v) for v in value] if isinstance(value, list) else []


def apply_resync(state: State, requested: list[str] | None, names: list[str]) -> None:
    if requested is None:
        return
    for name in requested or names:
        if name in names:
            model = state.model(name)
            model.full_resync = True
            model.watermark = None


def clear_resync_request(data_dir: DataDir, applied: list[str] | None) -> None:
    if applied is None:
        return
    if read_resync_request(data_dir) == applied:
        data_dir.resync_file.unlink(missing_ok=True)


# -- errors for `status` ---------------------------------------------------------------------------
def errors_path(data_dir: DataDir) -> Path:
    """Where the last failed pass of `data_dir` is recorded: outside it, so that a failed pass
    leaves every file of the data directory exactly as it was."""
    key = hashlib.blake2b(str(data_dir.path.resolve()).encode(), digest_size=8).hexdigest()
    return Path(platformdirs.user_state_dir("syncd")) / "errors" / f"{key}.json"


def record_errors(data_dir: DataDir, errors: dict[str, str], when: datetime | None = None) -> None:
    path = errors_path(data_dir)
    if not errors:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
        return
    stamp = utc_now_text(when)
    try:
        write_atomic(path, orjson.dumps({name: {"error": text, "at": stamp}
                                         for name, text in errors.items()},
                                        option=orjson.OPT_INDENT_2) + b"\n")
    except OSError as exc:
        logger.warning("cannot record the error for status: {}", exc)


def read_errors(data_dir: DataDir) -> dict[str, Any]:
    try:
        value = orjson.loads(errors_path(data_dir).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}
