"""Child process for the streaming kill test: alternates a streaming rebuild and a streaming
merge of the same snapshot file for ever, so the file flips between two complete contents.

Usage: python merge_child.py PATH COUNT. Prints one line per committed write.
"""

import sys
from pathlib import Path
from typing import Any

from syncd.sinks.json.snapshot import Rebuild, merge
from syncd.sinks.record import Layout

LAYOUT = Layout(["name"])


def versions(count: int) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    """The rebuilt records, and the changes that turn them into the second version."""
    base = [{"id": i, "name": f"record {i:06d} " + "x" * 40} for i in range(1, count + 1)]
    changes = {i: {"id": i, "name": f"changed {i:06d}"} for i in range(1, count + 1, 97)}
    return base, changes


def main() -> None:
    path, count = Path(sys.argv[1]), int(sys.argv[2])
    base, changes = versions(count)
    n = 0
    while True:
        if n % 2 == 0:
            rebuild = Rebuild(path)
            for record in base:
                rebuild.add(record["id"], LAYOUT.line(record))
            staged = rebuild.finish()
        else:
            staged = merge(path, LAYOUT, changes, set(), trusted=True).staged
        assert staged is not None
        staged.commit()
        n += 1
        print(n, flush=True)


if __name__ == "__main__":
    main()
