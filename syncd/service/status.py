"""`syncd status` (local files only; never takes the lock) and `syncd check` (asks Odoo; writes
nothing).

`status` fails (``ok`` False, exit 1) when the last pass failed, when a local file is unreadable,
when no pass has succeeded yet, and with ``max_age`` when the last good pass is older than that.
A missing data directory is an error naming it (SyncdError), and nothing is created.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from syncd.errors import CorruptFileError, OdooError, SyncdError
from syncd.odoo.advice import write_date_index
from syncd.odoo.client import OdooClient
from syncd.service.logs import error_record_elsewhere
from syncd.settings import Settings, domain_as_list
from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import make_sink
from syncd.sync.engine import unconfigured, unconfigured_advice
from syncd.sync.seam import Sink
from syncd.sync.state import TIME_FORMAT, State


def status_of(settings: Settings, *, max_age: float | None = None,
              now: datetime | None = None) -> dict[str, Any]:
    """See ``_status``; reads through the configured sink, closed afterwards."""
    sink = make_sink(settings)
    try:
        return _status(settings, sink, max_age=max_age, now=now)
    finally:
        sink.close()


def _status(settings: Settings, sink: Sink, *, max_age: float | None,
            now: datetime | None) -> dict[str, Any]:
    """Per model: file, record count, watermark, last successful pass, last error; models that
    are no longer configured but still have a snapshot or state entry (``configured`` False);
    ``holder`` (``{"pid": N}`` of a syncd holding the data directory, or None); ``age_seconds``
    of the last good pass on this machine's clock (``now``, default the UTC time now)."""
    data_dir = DataDir(settings.sync.data_dir,
                       error_elsewhere=error_record_elsewhere(settings.sync.data_dir))
    if not data_dir.path.is_dir():
        raise SyncdError(f"no data directory at {data_dir.path} (nothing has synced there yet, or "
                         "--data-dir / sync.data_dir / SYNCD_DATA_DIR points elsewhere)")
    result: dict[str, Any] = {"ok": True, "data_dir": str(data_dir.path), "last_sync": None,
                              "error": None, "failed_at": None, "holder": None,
                              "age_seconds": None, "max_age": max_age, "stale": False,
                              "unconfigured": [], "models": []}
    pid = data_dir.holder()
    result["holder"] = {"pid": pid} if pid is not None else None
    try:
        state = sink.read_state()
    except CorruptFileError as exc:
        state = State()
        result["ok"] = False
        result["error"] = f"{exc} (the next pass sets it aside and rebuilds)"
    result["last_sync"] = state.last_sync
    record = data_dir.read_error()
    configured = {spec.name for spec in settings.models}
    if record is not None:
        result["ok"] = False
        result["failed_at"] = record.get("at")
        if record.get("model") not in configured:
            result["error"] = record["error"]
    if state.last_sync is None and result["ok"]:
        result["ok"] = False
        result["error"] = ("no syncd pass has succeeded here yet: run 'syncd once', or start "
                           "the service" if pid is None else "no syncd pass has succeeded here "
                           f"yet (syncd pid {pid} holds the data directory: its first pass may "
                           "still be under way)")
    if state.last_sync is not None:
        moment = now if now is not None else datetime.now(UTC)
        last = datetime.strptime(state.last_sync, TIME_FORMAT).replace(tzinfo=UTC)
        result["age_seconds"] = max(0, int((moment.astimezone(UTC) - last).total_seconds()))
    if max_age is not None and (result["age_seconds"] is None or result["age_seconds"] > max_age):
        result["ok"] = False
        result["stale"] = True
    pending = data_dir.resync_request()
    for spec in settings.models:
        error = record["error"] if record is not None and record.get("model") == spec.name else None
        entry = _model_entry(sink, data_dir, spec.name, spec.model, state, error)
        entry["resync_pending"] = pending is not None and (not pending or spec.name in pending)
        if error is not None or entry["corrupt"]:
            result["ok"] = False
        result["models"].append(entry)
    result["unconfigured"] = sorted(_unconfigured(data_dir, state, configured))
    for name in result["unconfigured"]:
        model_state = state.models.get(name)
        entry = _model_entry(sink, data_dir, name, model_state.model if model_state else "",
                             state, None)
        entry.update(configured=False, resync_pending=False)
        result["models"].append(entry)
    return result


def _model_entry(sink: Sink, data_dir: DataDir, name: str, model: str, state: State,
                 error: str | None) -> dict[str, Any]:
    model_state = state.models.get(name)
    records: int | None = None
    corrupt = False
    try:
        records = sink.count(name, state)
    except CorruptFileError:
        corrupt = True
    return {"name": name, "model": model, "file": sink.location(name),
            "records": records, "corrupt": corrupt,
            "watermark": model_state.watermark if model_state else None,
            "lang": model_state.lang if model_state else None,
            "last_success": model_state.last_success if model_state else None,
            "last_error": error,
            "missing_fields": model_state.missing_fields if model_state else [],
            "configured": True}


def _unconfigured(data_dir: DataDir, state: State, configured: set[str]) -> set[str]:
    """Names with a state entry or a snapshot that the configuration lacks."""
    return (set(state.models) | set(data_dir.snapshot_names())) - configured


def render_status(status: dict[str, Any], *, as_json: bool = False) -> str:
    if as_json:
        return orjson.dumps(status).decode() + "\n"  # one object, one line (JSON Lines)
    last = f"{status['last_sync']} UTC ({_age(status['age_seconds'])} ago)" \
        if status["last_sync"] else "never"
    if status["stale"]:
        last += f": older than --max-age {status['max_age']:g} s"
    pid = status["holder"]["pid"] if status["holder"] else None
    lines = [f"data dir:  {status['data_dir']}", f"last sync: {last}",
             f"daemon:    {'running (pid ' + str(pid) + ')' if status['holder'] else 'not running'}"]
    langs = sorted({m["lang"] for m in status["models"] if m["configured"] and m["lang"]})
    if langs:  # the language translated values were read in (a change rebuilds)
        lines.append(f"language:  {', '.join(langs)}")
    if status["failed_at"]:
        lines.append(f"failed:    the last pass, at {status['failed_at']} UTC")
    if status["error"]:
        lines.append(f"error:     {status['error']}")
    if status["unconfigured"]:
        lines.append(f"warning:   {unconfigured_advice(status['unconfigured'])}")
    header = ("MODEL", "ODOO MODEL", "FILE", "RECORDS", "WATERMARK (UTC)", "LAST SUCCESS (UTC)",
              "LAST ERROR")
    rows = [header]
    for m in status["models"]:
        records = "corrupt" if m["corrupt"] else str(m["records"] or 0)
        notes = m["last_error"] or ("resync pending" if m["resync_pending"] else "-")
        if not m["configured"]:
            notes = f"not configured (syncd resync --forget {m['name']} removes it)"
        if m["missing_fields"]:
            notes += f" (missing fields: {', '.join(m['missing_fields'])})"
        rows.append((m["name"], m["model"] or "-", _shown(m["file"], status["data_dir"]), records,
                     m["watermark"] or "-", m["last_success"] or "never", notes))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        lines.append("  ".join(cells + [row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


def _shown(location: str, data_dir: str) -> str:
    """Where a model is stored, relative to the data directory (shown above) when inside it."""
    for separator in ("/", "\\"):
        if location.startswith(data_dir.rstrip(separator) + separator):
            return location[len(data_dir.rstrip(separator)) + 1:]
    return location


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}".replace(".0 ", " ")
    return f"{seconds} s"


CHECK_RETRY_BUDGET = 10.0  # seconds; check is interactive: a dead server must fail it fast
CHECK_CONNECT_TIMEOUT = 5.0  # seconds per socket operation while connecting


def check(settings: Settings) -> dict[str, Any]:
    """Connect, log in, report version and protocol, and per model Odoo's count vs the snapshot's.

    ``ok`` is False on errors only; ``in_sync`` is False when any count differs (a live server
    is always a little ahead: ``check --strict`` fails on it) or a configured field is missing,
    or a stored model is no longer configured (nothing updates it).

    Fails fast where a pass would be patient: each request retries for at most
    ``min(retry_budget, 10)`` seconds, and connecting (version, login) waits at most
    ``min(timeout, 5)`` seconds per socket operation, so a server that accepts connections but
    never answers fails `check` within about 10 s instead of minutes. The counts that follow get
    the configured ``timeout`` (a count on a big table may legitimately take a while)."""
    result: dict[str, Any] = {"ok": True, "in_sync": True, "url": settings.odoo.url,
                              "database": settings.odoo.database, "models": []}
    sink = make_sink(settings)
    try:
        return _check(settings, sink, result)
    finally:
        sink.close()


def _check(settings: Settings, sink: Sink, result: dict[str, Any]) -> dict[str, Any]:
    state = _committed_state(sink)
    odoo = replace(settings.odoo,
                   retry_budget=min(settings.odoo.retry_budget, CHECK_RETRY_BUDGET))
    connect_timeout = min(settings.odoo.timeout, CHECK_CONNECT_TIMEOUT)
    with OdooClient(odoo, connect_timeout=connect_timeout) as client:
        info = client.connect()
        result.update(version=info.version, protocol=info.protocol, uid=info.uid)
        result["unconfigured"] = unconfigured(settings, state)
        if result["unconfigured"]:
            result["in_sync"] = False
        for spec in settings.models:
            entry: dict[str, Any] = {"name": spec.name, "model": spec.model}
            try:
                available = client.fields_get(spec.model, ["type"])
                entry["missing_fields"] = [f for f in spec.fields if f not in available]
                entry["odoo"] = client.search_count(
                    spec.model, domain_as_list(spec.domain),
                    context={"active_test": not spec.include_archived})
                advice = write_date_index(spec.model, entry["odoo"])
                if advice:
                    entry["advice"] = advice
            except OdooError as exc:
                entry["error"] = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                result["ok"] = False
            try:
                entry["snapshot"] = sink.count(spec.name, state)
            except CorruptFileError:
                entry["snapshot"] = "corrupt"
            entry["in_sync"] = "error" not in entry and entry["snapshot"] == entry["odoo"] \
                and not entry["missing_fields"]
            result["in_sync"] = result["in_sync"] and entry["in_sync"]
            result["models"].append(entry)
    return result


def _committed_state(sink: Sink) -> State:
    try:
        return sink.read_state()
    except CorruptFileError:
        return State()


def render_check(result: dict[str, Any]) -> str:
    lines = [f"Odoo {result['version']} at {result['url']} (database {result['database'] or '-'}),"
             f" protocol {result['protocol']}, logged in as uid {result['uid']}"]
    for m in result["models"]:
        if "error" in m:
            lines.append(f"{m['name']} ({m['model']}): error: {m['error']}")
            continue
        snapshot = m["snapshot"]
        shown = "no snapshot yet" if snapshot is None else f"snapshot {snapshot}"
        verdict = "in sync" if snapshot == m["odoo"] else "differs until the next pass"
        line = f"{m['name']} ({m['model']}): odoo {m['odoo']}, {shown}: {verdict}"
        if m["missing_fields"]:
            line += f"; missing fields: {', '.join(m['missing_fields'])}"
        lines.append(line)
        if m.get("advice"):
            # The API cannot see the database's indexes: the advice stays after it is followed.
            lines.append(f"  advice: Odoo creates no index on write_date, so without one each "
                         f"pass scans these {m['odoo']:,} records; on the database (a no-op "
                         f"if it is there already): {m['advice']}")
    if result.get("unconfigured"):
        lines.append(f"warning: {unconfigured_advice(result['unconfigured'])}")
    return "\n".join(lines) + "\n"

