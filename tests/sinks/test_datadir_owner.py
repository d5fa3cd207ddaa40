"""Only the data directory's owner (syncd.sinks.datadir, and the lock it holds) names its files."""

from __future__ import annotations

import re
from pathlib import Path

import syncd
from syncd.sinks.datadir import DataDir

ROOT = Path(syncd.__file__).resolve().parent
# atomic.py names the temp files it writes beside any target, in the data directory or not.
OWNERS = {ROOT / "sinks" / "datadir.py", ROOT / "sinks" / "lock.py", ROOT / "sinks" / "atomic.py"}
# What building a path in the data directory looks like: a file name of it in a string, or a
# path joined onto a data directory.
PATTERNS = [
    re.compile(r"""["'](odoo_[^"'\s]*\.json|odoo_\*|last_sync\.json|\.syncd[-.][\w.-]*)["']"""),
    re.compile(r"""data_dir\s*/|data_dir\)\s*/|\.glob\(\s*["']odoo_"""),
]


def offenders() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if path in OWNERS or "emulator" in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if any(p.search(code) for p in PATTERNS) and not code.lstrip().startswith(('"', "'")):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_no_module_but_the_owner_builds_a_data_directory_path() -> None:
    assert offenders() == []


def test_the_check_would_catch_one() -> None:
    rogue = ROOT / "sinks" / "_rogue_for_test.py"
    rogue.write_text('path = settings.sync.data_dir / "last_sync.json"\n', encoding="utf-8")
    try:
        assert any("_rogue_for_test.py" in line for line in offenders())
    finally:
        rogue.unlink()


def test_the_owner_names_every_file() -> None:
    owner = DataDir(Path("d"))
    assert owner.snapshot("customers") == Path("d/odoo_customers.json")
    assert owner.state_file == Path("d/last_sync.json")
    assert owner.error_file == Path("d/.syncd-error.json")
    assert owner.resync_file == Path("d/.syncd-resync.json")
    assert DataDir.is_snapshot(Path("x/odoo_a.b.json")) and DataDir.name_of(Path("odoo_a.b.json")) == "a.b"
    assert not DataDir.is_snapshot(Path("last_sync.json"))
