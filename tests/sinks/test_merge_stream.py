"""The JSON merge reads its change set as a sorted stream (the upserts may be spilled runs) and
finds each changed id by looking just past the last one, then galloping, then bisecting. On a
file big enough for every step of that search, at every density of changes, it writes what a
rebuild would and tells the journal each change in id order."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from syncd.sinks.json.snapshot import Rebuild, encode, merge
from syncd.sinks.record import Layout
from syncd.sync.upserts import Upserts

LAYOUT = Layout(["name", "note"])


def record(n: int, tag: str = "") -> dict[str, Any]:
    return {"id": n, "name": f"Record {n}{tag}", "note": "x" * (n % 97)}


def write(path: Path, records: dict[int, dict[str, Any]]) -> None:
    rebuild = Rebuild(path)
    for n in sorted(records):
        rebuild.add(n, LAYOUT.line(records[n]))
    staged = rebuild.finish()
    if staged is not None:
        staged.commit()


@pytest.mark.parametrize("density", [1.0, 0.5, 0.03, 0.0005])
def test_a_merge_at_any_density_writes_what_a_rebuild_would(tmp_path: Path,
                                                            density: float) -> None:
    rng = random.Random(int(density * 10_000))
    held = {n: record(n) for n in range(1, 60_000, 2)}  # odd ids: 30,000 lines, about 3 MB
    path = tmp_path / "odoo_x.json"
    write(path, held)
    touched = [n for n in range(0, 60_002) if rng.random() < density]
    upserts = Upserts(LAYOUT.fields, budget=200_000, scratch=lambda: open(
        tmp_path / f"run-{rng.random()}", "w+b"))
    removals: set[int] = set()
    expected = dict(held)
    for n in touched:
        if n in held and rng.random() < 0.2:
            removals.add(n)
            expected.pop(n)
        elif rng.random() < 0.5:
            upserts[n] = expected[n] = record(n, " changed")
        else:
            upserts[n] = expected[n] = record(n)  # the same as held (or new, for an even id)
    told: list[tuple[int, bytes | None]] = []
    merged = merge(path, LAYOUT, upserts, removals, trusted=True,
                   changes=lambda i, line: told.append((i, line)))
    upserts.close()
    want = [(n, LAYOUT.line(expected[n]) if n in expected else None)
            for n in sorted(set(touched)) if n not in held or n not in expected
            or LAYOUT.line(expected[n]) != LAYOUT.line(held[n])]
    assert told == want
    assert (merged.changed, merged.removed) == (sum(1 for _, line in want if line),
                                                sum(1 for _, line in want if line is None))
    if merged.staged is not None:
        merged.staged.commit()
    assert path.read_bytes() == encode(LAYOUT.line(expected[n]) for n in sorted(expected))
