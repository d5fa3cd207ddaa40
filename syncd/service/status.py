"""`syncd status` (local files only) and `syncd check` (asks Odoo; writes nothing)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from syncd.config import Settings, domain_as_list
from syncd.errors import CorruptFileError, OdooError
from syncd.odoo.client import OdooClient
from syncd.sinks.snapshot import count_records
from syncd.sync.state import State
from syncd.sync.engine import STATE_FILE, read_errors, read_resync_request


def status_of(settings: Settings) -> dict[str, Any]:
    """Per model: file, record count, watermark, last successful pass, last error. `ok` is False
    when the last pass failed or a local file is unreadable."""
    data_dir = settings.sync.data_dir
    result: dict[str, Any] = {"ok": True, "data_dir": str(data_dir), "last_sync": None,
                              "error": None, "models": []}
    try:
        state = State.load(data_dir / STATE_FILE)
    except CorruptFileError as exc:
        state = State()
        result["ok"] = False
        result["error"] = f"{exc} (the next pass sets it aside and rebuilds)"
    result["last_sync"] = state.last_sync
    errors = read_errors(data_dir)
    if "(pass)" in errors:
        result["ok"] = False
        result["error"] = errors["(pass)"].get("error")
    pending = read_resync_request(data_dir)
    for spec in settings.models:
        path = data_dir / spec.filename
        model_state = state.models.get(spec.name)
        records: int | None
        try:
            records = count_records(path)
        except CorruptFileError:
            records = None
            result["ok"] = False
        error = errors.get(spec.name, {}).get("error")
        if error:
            result["ok"] = False
        result["models"].append({
            "name": spec.name,
            "model": spec.model,
            "file": str(path),
            "records": records,
            "watermark": model_state.watermark if model_state else None,
            "last_success": model_state.last_success if model_state else None,
            "last_error": error,
            "missing_fields": model_state.missing_fields if model_state else [],
            "resync_pending": pending is not None and (not pending or spec.name in pending),
        })
    return result


def render_status(status: dict[str, Any], *, as_json: bool = False) -> str:
    if as_json:
        return orjson.dumps(status, option=orjson.OPT_INDENT_2).decode() + "\n"
    lines = [f"data dir:  {status['data_dir']}",
             f"last sync: {status['last_sync'] + ' UTC' if status['last_sync'] else 'never'}"]
    if status["error"]:
        lines.append(f"error:     {status['error']}")
    header = ("MODEL", "ODOO MODEL", "RECORDS", "WATERMARK (UTC)", "LAST SUCCESS (UTC)", "LAST ERROR")
    rows = [header]
    for m in status["models"]:
        records = "corrupt" if m["records"] is None and m["last_success"] else str(m["records"] or 0)
        notes = m["last_error"] or ("resync pending" if m["resync_pending"] else "-")
        if m["missing_fields"]:
            notes += f" (missing fields: {', '.join(m['missing_fields'])})"
        rows.append((m["name"], m["model"], records, m["watermark"] or "-",
                     m["last_success"] or "never", notes))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        lines.append("  ".join(cells + [row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


CHECK_RETRY_BUDGET = 10.0  # seconds; check is interactive: a dead server must fail it fast
CHECK_CONNECT_TIMEOUT = 5.0  # seconds per socket operation while connecting


def check(settings: Settings) -> dict[str, Any]:
    """Connect, log in, report version and protocol, and per model Odoo's count vs the snapshot's.

    Fails fast where a pass would be patient: each request retries for at most
    ``min(retry_budget, 10)`` seconds, and connecting (version, login) waits at most
    ``min(timeout, 5)`` seconds per socket operation, so a server that accepts connections but
    never answers fails `check` within about 10 s instead of minutes. The counts that follow get
    the configured ``timeout`` (a count on a big table may legitimately take a while)."""
    result: dict[str, Any] = {"ok": True, "url": settings.odoo.url,
                              "database": settings.odoo.database, "models": []}
    odoo = replace(settings.odoo,
                   retry_budget=min(settings.odoo.retry_budget, CHECK_RETRY_BUDGET))
    connect_timeout = min(settings.odoo.timeout, CHECK_CONNECT_TIMEOUT)
    with OdooClient(odoo, connect_timeout=connect_timeout) as client:
        info = client.connect()
        result.update(version=info.version, protocol=info.protocol, uid=info.uid)
        for spec in settings.models:
            entry: dict[str, Any] = {"name": spec.name, "model": spec.model}
            try:
                available = client.fields_get(spec.model, ["type"])
                entry["missing_fields"] = [f for f in spec.fields if f not in available]
                entry["odoo"] = client.search_count(
                    spec.model, domain_as_list(spec.domain),
                    context={"active_test": not spec.include_archived})
            except OdooError as exc:
                entry["error"] = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                result["ok"] = False
            try:
                entry["snapshot"] = count_records(settings.sync.data_dir / spec.filename)
            except CorruptFileError:
                entry["snapshot"] = "corrupt"
            result["models"].append(entry)
    return result


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
    return "\n".join(lines) + "\n"

