"""One sync pass over every configured model. A plain function: it never sleeps and never loops.

A pass is all or nothing: every model is pulled first, then the snapshots that changed are staged
(temporary files, fsynced), then put in place, and the state file is written last. Any error —
network, HTTP 429/5xx after retries, an Odoo fault, a malformed answer, a stop request — discards
what was staged: the snapshot files and ``last_sync.json`` stay exactly as they were, and the next
good pass catches up from the old watermarks. The one file a failed pass writes is the error
record ``.syncd-error.json`` (for ``syncd status``, whoever runs it), which the next good pass
removes; consumers ignore it (they react to ``odoo_*.json`` only).

Surprise: the error record is made readable by all (0644) whatever the umask, because an admin's
``status`` must see why the service fails; who may read it is decided by the data directory's
own mode, as for the snapshots. It never holds a secret: the text is scrubbed first.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from loguru import logger

from syncd.sinks.atomic import (Staged, prune_set_aside, set_aside, stage,
                                sweep_temp_files, write_atomic)
from syncd.config import Settings
from syncd.errors import (ConfigError, CorruptFileError, LockedError, OdooError,
                          PassInterrupted, SyncdError)
from syncd.odoo.client import OdooClient
from syncd.sync.puller import ModelPuller, ModelResult
from syncd.sync.report import PassReport, ProgressFactory
from syncd.sinks.snapshot import stage_if_changed
from syncd.sync.state import ModelState, State, utc_now_text
from syncd.sync.window import file_signature

STATE_FILE = "last_sync.json"
RESYNC_FILE = ".syncd-resync.json"
ERROR_FILE = ".syncd-error.json"
ERROR_MODE = 0o644  # readable by whoever may read the data directory (see the module docstring)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def source_of(settings: Settings) -> str:
    """The Odoo a data directory mirrors; pointing it at another one rebuilds every snapshot."""
    return f"{settings.odoo.url}|{settings.odoo.database}"


def run_pass(settings: Settings, client: OdooClient, *, now: Callable[[], datetime] = utc_now,
             progress: ProgressFactory | None = None,
             should_stop: Callable[[], bool] | None = None) -> PassReport:
    """Pull every model and commit the result atomically. Raises only ConfigError-like bugs;
    Odoo and local-file problems come back as a failed report."""
    started = time.monotonic()
    data_dir = settings.sync.data_dir
    report = PassReport()
    current: str | None = None
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        for leftover in sweep_temp_files(data_dir):
            logger.info("removed stale temporary file {}", leftover.name)
        prune_set_aside(data_dir)
        state = load_state(data_dir / STATE_FILE)
        requested = read_resync_request(data_dir)
        apply_resync(state, requested, [spec.name for spec in settings.models])
        if client.info is None:
            info = client.connect()
            logger.info("connected server={} protocol={} uid={}", info.version, info.protocol,
                        info.uid)
        results: list[ModelResult] = []
        for spec in settings.models:
            current = spec.name
            previous = state.models.get(spec.name) or ModelState(model=spec.model)
            puller = ModelPuller(spec, client, settings.sync, source_of(settings), now=now,
                                 progress=progress, should_stop=should_stop)
            result = puller.pull(previous)
            results.append(result)
            report.models.append(result.report)
        current = None
        commit(data_dir, state, results, now())
        clear_resync_request(data_dir, requested)
        clear_error(data_dir)
    except PassInterrupted as exc:
        report.interrupted = True
        report.error = str(exc)
        logger.warning("pass stopped: {}", exc)
    except (OdooError, CorruptFileError, OSError) as exc:
        report.error = failed(data_dir, current, one_line(exc), now(), settings)
    except Exception as exc:  # noqa: BLE001 - an answer we did not expect must not kill the daemon
        logger.opt(exception=exc).debug("unexpected error during the pass")
        report.error = failed(data_dir, current, f"unexpected {type(exc).__name__}: {exc} "
                              "(a malformed answer from Odoo, or a bug: run with -v)", now(),
                              settings)
    report.seconds = time.monotonic() - started
    for model in report.models if report.ok else ():
        logger.info("model={} fetched={} changed={} removed={} records={} watermark={} "
                    "seconds={:.2f}{}", model.name, model.fetched, model.changed, model.removed,
                    model.records, model.watermark, model.seconds, " full=yes" if model.full else "")
    if report.error and not report.interrupted:
        # The caller says it once: `once` as its one error line, the daemon once per new reason.
        logger.debug("pass failed: {}", report.error)
    return report


def failed(data_dir: Path, model: str | None, message: str, when: datetime,
           settings: Settings) -> str:
    """Record a failed pass for `status`; returns the one-line error naming the model."""
    text = scrub(f"{model}: {message}" if model else message, settings.odoo.secrets())
    record_error(data_dir, model, text, when)
    return text


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret replaced by ``***`` (an Odoo fault may echo what it was sent)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[-1] if text else type(exc).__name__
    if isinstance(exc, OSError) and not isinstance(exc, SyncdError):
        message = f"local file error: {message}"
    return message


def load_state(path: Path) -> State:
    """The state, or an empty one (full resync) when missing or corrupt; a corrupt file is set aside."""
    try:
        return State.load(path)
    except CorruptFileError as exc:
        aside = set_aside(path)
        logger.error("corrupt state file set aside as {}; every model will be rebuilt: {}",
                     aside.name, exc)
        return State()


def commit(data_dir: Path, state: State, results: list[ModelResult], when: datetime) -> None:
    """Stage every changed snapshot, then put them in place, then write the state (last)."""
    staged: list[Staged] = []
    try:
        for result in results:
            if result.snapshot is not None:
                item = stage_if_changed(data_dir / f"odoo_{result.report.name}.json",
                                        result.snapshot)
                if item is not None:
                    staged.append(item)
                    result.report.written = True
    except BaseException:
        for item in staged:
            item.discard()
        raise
    for item in staged:
        item.commit()
    stamp = utc_now_text(when)
    for result in results:
        model_state = result.state
        model_state.snapshot_stat = file_signature(data_dir / f"odoo_{result.report.name}.json")
        model_state.last_success = stamp
        model_state.last_error = None
        state.models[result.report.name] = model_state
    state.last_sync = stamp
    state.save(data_dir / STATE_FILE)


def _lock(data_dir: Path) -> AbstractContextManager[object]:
    # Imported here: syncd.service's package imports its runner, which imports this module.
    from syncd.service.lock import DataDirLock

    return DataDirLock(data_dir)


# -- resync requests -------------------------------------------------------------------------------
def request_resync(data_dir: Path, names: list[str], all_names: list[str]) -> bool:
    """Forget the watermarks of `names` (all models when empty): the next pass rebuilds them.

    With the data directory free, the state file is changed at once (True). While another
    syncd holds it, a request file is left instead (False), which that daemon's next pass
    applies and removes once it has committed: the daemon owns the state file."""
    try:
        with _lock(data_dir):
            state = load_state(data_dir / STATE_FILE)
            apply_resync(state, names, all_names)
            state.save(data_dir / STATE_FILE)
            return True
    except LockedError:
        pass
    pending = read_resync_request(data_dir)
    if pending is not None and names and pending:
        names = sorted(set(pending) | set(names))
    elif pending is not None and not pending:
        names = []
    write_atomic(data_dir / RESYNC_FILE, orjson.dumps(sorted(names)) + b"\n")
    return False


def forget_models(data_dir: Path, names: list[str]) -> list[str]:
    """Remove the snapshot and the state entry of models no longer configured; returns `names`.

    The caller has checked that none is configured. Needs the data directory free (LockedError
    otherwise: the running syncd owns the state); ConfigError for a name with neither a snapshot
    nor a state entry. The state entry goes first, so a crash in between leaves only a snapshot
    that `status` still lists and a second `--forget` removes."""
    if not data_dir.is_dir():
        raise SyncdError(f"no data directory at {data_dir}")
    for name in names:
        if Path(name).name != name or name.startswith("."):
            raise ConfigError(f"not a model name: {name!r}")
    try:
        with _lock(data_dir):
            state = State.load(data_dir / STATE_FILE)
            files = {name: data_dir / f"odoo_{name}.json" for name in names}
            unknown = [n for n in names if n not in state.models and not files[n].exists()]
            if unknown:
                raise ConfigError(f"nothing to forget: no snapshot or state entry for "
                                  f"{', '.join(unknown)} in {data_dir}")
            if any(name in state.models for name in names):
                for name in names:
                    state.models.pop(name, None)
                state.save(data_dir / STATE_FILE)
            for name in names:
                files[name].unlink(missing_ok=True)
                logger.info("forgot model={} (snapshot and state entry removed)", name)
    except LockedError as exc:
        raise LockedError(f"{exc}: stop it before resync --forget") from None
    return names


def read_resync_request(data_dir: Path) -> list[str] | None:
    """None when nothing is requested; [] means every model."""
    try:
        value = orjson.loads((data_dir / RESYNC_FILE).read_bytes())
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


def clear_resync_request(data_dir: Path, applied: list[str] | None) -> None:
    if applied is None:
        return
    if read_resync_request(data_dir) == applied:
        (data_dir / RESYNC_FILE).unlink(missing_ok=True)


# -- the error record for `status` -----------------------------------------------------------------
def record_error(data_dir: Path, model: str | None, text: str, when: datetime) -> None:
    """Write ``.syncd-error.json`` atomically, mode 0644: ``{"at", "model", "error"}``, where
    ``model`` is None for an error of the whole pass (login, lock, local files).

    A record that cannot be written is logged, not raised: the pass has failed already."""
    record = {"at": utc_now_text(when), "model": model, "error": text}
    try:
        item = stage(data_dir / ERROR_FILE, orjson.dumps(record, option=orjson.OPT_INDENT_2) + b"\n")
        try:
            os.chmod(item.temp, ERROR_MODE)  # before the rename: never visible with another mode
        except BaseException:
            item.discard()
            raise
        item.commit()
    except OSError as exc:
        logger.warning("cannot record the error for status: {}", exc)


def clear_error(data_dir: Path) -> None:
    """Remove the error record after a good pass (a failure to do so is only logged)."""
    try:
        (data_dir / ERROR_FILE).unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("cannot remove the old error record: {}", exc)


def read_error(data_dir: Path) -> dict[str, Any] | None:
    """The last failed pass's record, or None (no record, or an unreadable one)."""
    try:
        value = orjson.loads((data_dir / ERROR_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("error"), str):
        return None
    return value
