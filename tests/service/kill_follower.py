"""Follower process for the random-kill test: follows every stored model with
`syncd.consumer.follow`, applies each change to its own copy, and after each change saves the
copy with each model's `seq` to OUT (atomically). Started again after a kill, it resumes from
the saved `seq` (with a journal: exactly the changes since; without: a fresh copy).

Every record it is handed (a change's upserts, a reloaded copy) is also appended to OUT.seen,
one JSON line each, for the parent to check that a committed pass made it.

Usage: python kill_follower.py CONFIG OUT
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from syncd.consumer.follow import follow
from syncd.consumer.load import load, settings_of
from syncd.sinks.atomic import write_atomic


def main() -> None:
    config, out = sys.argv[1], Path(sys.argv[2])
    settings = settings_of(config)
    saved = orjson.loads(out.read_bytes()) if out.exists() else {"seq": {}, "copies": {}}
    if not settings.sync.journal:  # nothing to resume from: a fresh copy
        saved = {"seq": {}, "copies": {}}
    copies: dict[str, dict[int, Any]] = {name: {int(i): r for i, r in copy.items()}
                                         for name, copy in saved["copies"].items()}
    seq: dict[str, int] = {name: s for name, s in saved["seq"].items() if s is not None}
    seen = out.with_name(out.name + ".seen").open("ab")

    def saw(name: str, records: dict[int, Any]) -> dict[int, Any]:
        seen.write(b"".join(orjson.dumps({"name": name, "record": r}) + b"\n"
                            for r in records.values()))
        seen.flush()
        return records

    with follow(settings, seq=seq, observer="polling", check_every=0.05) as changes:
        for spec in settings.models:  # after the baseline: a newer copy only repeats changes
            if spec.name not in seq:
                copies[spec.name] = saw(spec.name, load(settings, spec.name))
        for change in changes:
            copy = copies.setdefault(change.name, {})
            if change.reset:
                copy.clear()
                copy.update(saw(change.name, load(settings, change.name)))
            else:
                copy.update(saw(change.name, change.added))
                copy.update(saw(change.name, change.updated))
                for record_id in change.removed:
                    copy.pop(record_id, None)
            if change.seq is not None:
                seq[change.name] = change.seq
            write_atomic(out, orjson.dumps({
                "seq": seq, "copies": {n: {str(i): r for i, r in c.items()}
                                       for n, c in copies.items()}}))


if __name__ == "__main__":
    main()
