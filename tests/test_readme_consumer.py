"""The README's consumer example, run as written against real files and a real watchdog Observer.

The code block after ``<!-- consumer-example -->`` in README.md is executed unchanged in a
temporary directory holding ``odoo_database/``; it defines everything it uses (its own
``load_snapshot(path)``, which the test wraps to see each reload; reading the file produces the
``opened``/``closed_no_write`` events that made an earlier version of the example reload
forever).

No sleeps: "no reload happened" is proved with a sentinel. The observer dispatches the events of
one watch in order, so once the reload of a second snapshot, replaced after the reads, has been
seen, any reload those reads caused would already have been recorded.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from syncd.sinks.atomic import write_atomic

README = Path(__file__).resolve().parents[1] / "README.md"
MARK = "<!-- consumer-example -->"
DEADLINE = 10.0  # seconds; inotify delivers in milliseconds, this only bounds a failure


def consumer_example() -> str:
    after = README.read_text(encoding="utf-8").split(MARK, 1)[1]
    block = re.match(r"\s*```python\n(.*?)\n```", after, re.DOTALL)
    assert block, f"no python code block right after {MARK} in README.md"
    return block.group(1)


def snapshot(records: int, tag: str) -> bytes:
    rows = [{"id": i, "name": f"{tag} {i}", "write_date": "2026-01-01 00:00:00"}
            for i in range(1, records + 1)]
    return b"[\n" + b",\n".join(orjson.dumps(row) for row in rows) + b"\n]\n"


class Reloads:
    """The ``load_snapshot`` the example calls: reads the file and records what it got."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []
        self.changed = threading.Condition()

    def __call__(self, path: str) -> None:
        with open(path, "rb") as file:  # open/read/close, as a consumer reloading does
            content = file.read()
        with self.changed:
            self.seen.append((Path(path).name, content))
            self.changed.notify_all()

    def of(self, name: str) -> list[bytes]:
        with self.changed:
            return [content for seen, content in self.seen if seen == name]

    def wait_for(self, name: str, count: int) -> None:
        with self.changed:
            arrived = self.changed.wait_for(
                lambda: sum(1 for seen, _ in self.seen if seen == name) >= count,
                timeout=DEADLINE)
        assert arrived, f"{name}: {len(self.of(name))} reloads after {DEADLINE}s, wanted {count}"


@pytest.fixture
def consumer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Reloads]]:
    data = tmp_path / "odoo_database"
    write_atomic(data / "odoo_customers.json", snapshot(200, "first"))  # before the observer
    monkeypatch.chdir(tmp_path)  # the example watches the relative "odoo_database"
    reloads = Reloads()
    namespace: dict[str, Any] = {"__name__": "readme_consumer_example"}
    exec(compile(consumer_example(), f"{README}:{MARK}", "exec"), namespace)  # as pasted
    own = namespace["load_snapshot"]  # the example's own, wrapped to see each reload

    def load_snapshot(path: str) -> None:
        own(path)
        reloads(path)

    namespace["load_snapshot"] = load_snapshot
    observer = namespace["observer"]
    assert observer.is_alive(), "the example starts its observer"
    try:
        yield data, reloads
    finally:
        observer.stop()
        observer.join(timeout=DEADLINE)


def sentinel(data: Path, reloads: Reloads) -> None:
    """Replace another snapshot and wait for its reload: every earlier event has been handled."""
    write_atomic(data / "odoo_products.json", snapshot(3, "sentinel"))
    reloads.wait_for("odoo_products.json", 1)


def test_reading_the_snapshot_does_not_reload_it(consumer: tuple[Path, Reloads]) -> None:
    data, reloads = consumer
    for _ in range(5):  # what `cat odoo_database/odoo_customers.json` does, five times
        with open(data / "odoo_customers.json", "rb") as file:
            file.read()
    sentinel(data, reloads)
    assert reloads.of("odoo_customers.json") == []


def test_an_atomic_replace_reloads_once_and_sees_the_whole_new_file(
        consumer: tuple[Path, Reloads]) -> None:
    data, reloads = consumer
    new = snapshot(5000, "second")
    write_atomic(data / "odoo_customers.json", new)
    reloads.wait_for("odoo_customers.json", 1)
    sentinel(data, reloads)  # the reload's own read must not have queued another
    assert reloads.of("odoo_customers.json") == [new]
    assert len(orjson.loads(new)) == 5000
