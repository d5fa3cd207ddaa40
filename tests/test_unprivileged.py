"""The commands that tests run as `nobody` work from any clone, also one under a directory only
its owner can enter (a 0700 home directory, /root): nobody runs an installed copy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.unprivileged import NOBODY, as_nobody, nobody_syncd, shared_directory

CLONE = Path(__file__).resolve().parent.parent


def reachable_by_others(path: Path) -> bool:
    """Every directory above ``path`` lets others through, and ``path`` lets them read it."""
    parents = [p for p in path.parents]
    return all(p.stat().st_mode & 0o001 for p in parents) and bool(path.stat().st_mode & 0o004)


def test_nobody_runs_a_copy_of_syncd_outside_the_clone() -> None:
    with shared_directory("syncd-nobody-test-", 0o755) as cwd:
        interpreter, launcher = nobody_syncd()
        assert not Path(launcher).is_relative_to(CLONE)
        assert reachable_by_others(Path(launcher))
        lib = Path(launcher).parent / "lib"
        where = subprocess.run(
            [*NOBODY, interpreter, "-c", f"import sys; sys.path.insert(0, {str(lib)!r}); "
             "import syncd, orjson, loguru, platformdirs, watchdog, psycopg; "
             "print(syncd.__file__); print(orjson.__file__); print(psycopg.__file__)"],
            cwd=cwd, capture_output=True, text=True, timeout=60)
        assert where.returncode == 0, where.stderr
        for line in where.stdout.splitlines():
            assert Path(line).is_relative_to(lib) and not Path(line).is_relative_to(CLONE)
        version = as_nobody(cwd, {"PATH": os.environ["PATH"]}, "--version")
        assert version.returncode == 0 and version.stdout.startswith("syncd "), version.stderr
