"""README "Reading the snapshots": its example runs as written, against a real data directory
that a real pass (the emulator over HTTP) changes while the example follows it.

The block after ``<!-- reading-example -->`` is executed unchanged, in a directory holding the
``syncd.toml`` it names; it defines everything it uses. The test watches its ``customers``
until they equal what Odoo holds, then stops its follower (``changes.stop()``)."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sync_rig import CUSTOMERS, Rig, make_rig, partner, with_settings

README = Path(__file__).resolve().parents[2] / "README.md"
MARK = "<!-- reading-example -->"


def example() -> str:
    after = README.read_text(encoding="utf-8").split(MARK, 1)[1]
    block = re.match(r"\s*```python\n(.*?)\n```", after, re.DOTALL)
    assert block, f"no python code block right after {MARK} in README.md"
    return block.group(1)


@pytest.fixture(params=[True, False], ids=["journal", "diff"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    rig = make_rig(tmp_path, models=(CUSTOMERS,), reconcile_interval=0)
    with_settings(rig, journal=request.param)
    for n in range(20):
        rig.db.create("res.partner", partner(random.Random(n), n))
    assert rig.sync().ok
    fields = ", ".join(f'"{f}"' for f in CUSTOMERS.fields)
    (tmp_path / "syncd.toml").write_text(
        f'[sync]\ndata_dir = "data"\njournal = {str(request.param).lower()}\n\n'
        f'[models.customers]\nmodel = "res.partner"\nfields = [{fields}]\n', encoding="utf-8")
    yield rig
    rig.close()


def test_the_reading_example_follows_a_pass(rig: Rig, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "readme_reading_example"}
    thread = threading.Thread(target=exec, args=(compile(example(), f"{README}:{MARK}", "exec"),
                                                 namespace), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while "changes" not in namespace:  # bound by `with ... as changes` once the baseline is in
        assert time.monotonic() < deadline and thread.is_alive(), "the example did not start"
        time.sleep(0.01)  # polling a condition with a deadline
    rig.db.write("res.partner", [1], {"name": "Renamed"})
    rig.db.unlink("res.partner", [2])
    rig.db.create("res.partner", partner(random.Random(99), 99))
    want = {r["id"]: r for r in rig.expected("customers")}
    assert rig.sync().ok
    deadline = time.monotonic() + 30
    while namespace["customers"] != want:
        assert time.monotonic() < deadline, "the example never saw the copy up to date"
        time.sleep(0.01)  # polling a condition with a deadline
    namespace["changes"].stop()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the example did not end with its follower"
    assert namespace["customers"] == want
