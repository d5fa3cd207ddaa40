"""`syncd watch [NAME ...] [--json]`: the reference consumer, on ``syncd.consumer.follow``.

One line per change as it lands: the model, how many records it has, how many were added,
updated and removed, and the first few ids of each; ``--json`` prints the same as one object
per line. It follows with ``records=False``: nothing but the changed ids is kept per event,
and no line of a snapshot is decoded (its marks are compared as bytes).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO

import orjson

from syncd.consumer.follow import Follow
from syncd.consumer.marks import Change
from syncd.errors import ConfigError
from syncd.settings import Settings
from syncd.sinks.factory import make_sink

FEW = 5  # ids shown per kind in a text line
FEW_JSON = 20


def render(change: Change, *, as_json: bool, now: datetime | None = None) -> str:
    """One change as the line ``watch`` prints (with its newline)."""
    moment = now or datetime.now()
    added, updated, removed = sorted(change.added), sorted(change.updated), change.removed
    if as_json:
        record: dict[str, Any] = {
            "at": moment.strftime("%Y-%m-%d %H:%M:%S"), "model": change.name,
            "records": change.count, "added": len(added), "updated": len(updated),
            "removed": len(removed), "reset": change.reset, "seq": change.seq,
            "ids": {"added": added[:FEW_JSON], "updated": updated[:FEW_JSON],
                    "removed": removed[:FEW_JSON]}}
        return orjson.dumps(record).decode() + "\n"
    ids = " ".join(f"{sign}{_few(values)}" for sign, values in
                   (("+", added), ("~", updated), ("-", removed)) if values)
    reset = " reloaded:" if change.reset else ""
    return (f"{moment:%H:%M:%S} {change.name}:{reset} {change.count} records (+{len(added)} "
            f"added, ~{len(updated)} updated, -{len(removed)} removed)"
            f"{' ' + ids if ids else ''}\n")


def _few(values: list[int]) -> str:
    shown = ",".join(map(str, values[:FEW]))
    return shown + (f",… ({len(values)})" if len(values) > FEW else "")


def names_to_watch(settings: Settings, names: list[str], stored: Iterable[str] = ()) -> list[str]:
    """The configured models (all by default); ConfigError for a name that is neither
    configured nor ``stored``."""
    configured = [spec.name for spec in settings.models]
    if not names:
        return configured
    stored = set(stored)
    unknown = [name for name in names if name not in configured and name not in stored]
    if unknown:
        raise ConfigError(f"unknown model {', '.join(unknown)} (configured: "
                          f"{', '.join(configured)})")
    return list(dict.fromkeys(names))


def watch(settings: Settings, names: list[str] | None = None, *, as_json: bool = False,
          stop: threading.Event | None = None, out: TextIO | None = None,
          err: TextIO | None = None, check_every: float = 5.0) -> int:
    """Print a line per change until ``stop`` is set (or SIGINT/SIGTERM); returns 0.

    A missing data directory is an error (SinkError), not created: waiting on a mistyped
    ``--data-dir`` would print nothing, ever. The greeting ``watching ...`` is printed once
    the baseline is taken (on stderr with ``as_json``): a change after it makes a line."""
    stream = out or sys.stdout
    # The handlers first: a signal while the sink opens must end it as one later does (exit 0).
    stopped = stop if stop is not None else threading.Event()
    following: list[Follow] = []

    def on_signal(*_: object) -> None:
        stopped.set()
        for follower in following:
            follower.stop()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, on_signal)
    sink = make_sink(settings)
    try:
        sink.stamp()  # a missing data directory: an error now, not a silent wait
        chosen = names_to_watch(settings, names or [], sink.heads() if names else ())
    except BaseException:
        sink.close()
        raise
    follower = Follow(settings, chosen, records=False, check_every=check_every, reader=sink)
    following.append(follower)

    def stopper() -> None:
        stopped.wait()
        follower.stop()

    threading.Thread(target=stopper, daemon=True).start()
    with follower:
        where = follower.where
        # With --json stdout is only objects: the greeting goes to stderr.
        greeting = (err or sys.stderr) if as_json else stream
        greeting.write(f"watching {where} ({', '.join(chosen)}); Ctrl+C to stop\n")
        greeting.flush()
        for change in follower:
            stream.write(render(change, as_json=as_json))
            stream.flush()
    return 0
