"""The --watch loop in-process: a real directory, a real watchdog observer, a live index."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Queue

import pytest

from syncd.consumer.inbox import LiveIndex, watch_inbox
from syncd.consumer.index import Index
from syncd.errors import CorruptFileError

DEADLINE = 20.0  # seconds; only bounds a failure


class Data:
    """A stand-in sink's data: a version and the records an index is built from."""

    def __init__(self) -> None:
        self.version = 1
        self.names = ["Oak Desk"]
        self.broken = False
        self.loads = 0

    def load(self) -> Index:
        self.loads += 1
        if self.broken:
            raise CorruptFileError("odoo_products.json: being replaced")
        return Index.build([], [{"id": n, "name": name} for n, name in enumerate(self.names, 1)])


def test_a_changed_version_rebuilds_and_a_failed_rebuild_keeps_the_old_index() -> None:
    data = Data()
    live = LiveIndex(data.load, lambda: data.version)
    first = live.index
    assert not live.refresh() and live.index is first and data.loads == 1  # nothing moved
    data.version, data.broken = 2, True
    assert not live.refresh() and live.index is first  # kept, and tried again next time
    data.broken, data.names = False, ["Steel Chair"]
    assert live.refresh() and list(live.index.product_names.values()) == ["Steel Chair"]
    assert not live.refresh() and data.loads == 3


@pytest.fixture
def watching(tmp_path: Path) -> Iterator[tuple[Path, Queue[tuple[str, bytes, Index]], Data]]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = Data()
    seen: Queue[tuple[str, bytes, Index]] = Queue()
    ready, stop = threading.Event(), threading.Event()
    live = LiveIndex(data.load, lambda: data.version)
    thread = threading.Thread(target=watch_inbox, args=(inbox, live,
                              lambda path, index: seen.put((path.name, path.read_bytes(), index))),
                              kwargs={"stop": stop, "ready": ready.set, "refresh_every": 0.1})
    thread.start()
    assert ready.wait(DEADLINE)
    yield inbox, seen, data
    stop.set()
    thread.join(DEADLINE)
    assert not thread.is_alive()


def test_only_new_eml_files_count_and_each_is_read_whole(
        watching: tuple[Path, Queue[tuple[str, bytes, Index]], Data]) -> None:
    inbox, seen, _ = watching
    (inbox / "notes.txt").write_bytes(b"not an email")
    (inbox / ".hidden.eml").write_bytes(b"a temp file")
    (inbox / "sub").mkdir()
    (inbox / "sub" / "deeper.eml").write_bytes(b"below DIR")
    body = b"Subject: big\n\n" + b"Oak Desk " * 50_000
    with (inbox / "big.eml").open("wb") as handle:  # written in place, in pieces
        for start in range(0, len(body), 4096):
            handle.write(body[start:start + 4096])
            handle.flush()
    outside = inbox.parent / "tmp.eml"
    outside.write_bytes(b"Subject: moved in\n\nhello")
    os.rename(outside, inbox / "moved.eml")
    # The order of arrival; nothing else came first (notes.txt, .hidden.eml, sub/ were earlier).
    name, raw, _ = seen.get(timeout=DEADLINE)
    assert (name, raw) == ("big.eml", body)
    assert seen.get(timeout=DEADLINE)[:2] == ("moved.eml", b"Subject: moved in\n\nhello")
    assert seen.empty()


def test_the_index_is_refreshed_before_the_next_email(
        watching: tuple[Path, Queue[tuple[str, bytes, Index]], Data]) -> None:
    inbox, seen, data = watching
    (inbox / "one.eml").write_bytes(b"Subject: x\n\nx")
    assert list(seen.get(timeout=DEADLINE)[2].product_names.values()) == ["Oak Desk"]
    data.names, data.version = ["Steel Chair"], 2
    (inbox / "two.eml").write_bytes(b"Subject: y\n\ny")
    assert list(seen.get(timeout=DEADLINE)[2].product_names.values()) == ["Steel Chair"]
