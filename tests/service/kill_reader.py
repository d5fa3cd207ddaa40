"""Reader process for the random-kill test: reads every stored model in a loop, as consumers
do, until STOPFILE exists; then prints {"reads": n, "torn": n, "examples": [...]} as JSON.

A torn read is a stored copy that cannot be read whole: an exception from `load` (JSON: also a
snapshot file that does not parse, or is not sorted by id). A copy not there yet is no read.

Usage: python kill_reader.py CONFIG STOPFILE
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from syncd.consumer.load import load, settings_of


def main() -> None:
    config, stop = sys.argv[1], Path(sys.argv[2])
    settings = settings_of(config)
    names = [spec.name for spec in settings.models]
    reads = torn = 0
    examples: list[str] = []
    while not stop.exists():
        for name in names:
            try:
                if settings.sink.kind == "json":
                    path = settings.sync.data_dir / f"odoo_{name}.json"
                    try:
                        data = path.read_bytes()
                    except FileNotFoundError:
                        continue
                    ids = [record["id"] for record in orjson.loads(data)]
                    if ids != sorted(set(ids)):
                        raise ValueError("ids not sorted and unique")
                else:
                    load(settings, name)
                reads += 1
            except Exception as exc:  # noqa: BLE001 - every failure to read is the figure
                text = f"{type(exc).__name__}: {exc}"
                if "not there" in text or "no such table" in text or "does not exist" in text:
                    continue
                torn += 1
                if len(examples) < 5:
                    examples.append(f"{name}: {text}"[:300])
    print(orjson.dumps({"reads": reads, "torn": torn, "examples": examples}).decode())


if __name__ == "__main__":
    main()
