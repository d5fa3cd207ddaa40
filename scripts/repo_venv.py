"""Let a script in scripts/ be run with any Python 3.11+: `python scripts/bench_sync.py`.

The scripts import syncd and its dependencies, which live in the repository's `.venv` (made by
`scripts/test.sh`, `scripts/demo.sh` or `scripts/sync_odoo.sh`), not in the Python that a bare
`python` finds. `use_repo_venv()`, called before the first import of syncd, does nothing when
syncd imports; otherwise it runs the script again with `.venv`'s Python, creating `.venv` first
when it is missing or lacks syncd (as `scripts/venv.sh` does for the shell scripts; on first
use that installs syncd's dependencies, so it needs the package index once).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AGAIN = "SYNCD_SCRIPT_IN_VENV"  # set for the second run: never loop
NEEDED = ("syncd", "orjson", "loguru")  # what the scripts import


def _venv_python() -> Path:
    return ROOT / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _has_syncd(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-c", f"import {', '.join(NEEDED)}"],
                           cwd=ROOT, capture_output=True, check=False)
    return probe.returncode == 0


def use_repo_venv() -> None:
    try:
        for name in NEEDED:
            importlib.import_module(name)
        return
    except ImportError as exc:
        missing = exc.name or "syncd"
    python = _venv_python()
    script = Path(sys.argv[0]).name
    if os.environ.get(AGAIN):
        raise SystemExit(f"{script}: {missing} does not import even in {python}; run "
                         "scripts/test.sh once to (re)install syncd into .venv")
    if not _has_syncd(python):
        if os.name == "nt":
            raise SystemExit(f"{script}: needs syncd ({missing} is missing): run it with a "
                             "Python where syncd is installed (pip install -e .)")
        # scripts/venv.sh, sourced: creates .venv and installs syncd into it; on failure it
        # exits 2 with one line on stderr.
        made = subprocess.run(["bash", "-c", '. "$0"', str(ROOT / "scripts" / "venv.sh")],
                              check=False)
        if made.returncode != 0:
            raise SystemExit(made.returncode)
    sys.stdout.flush()
    os.environ[AGAIN] = "1"
    os.execv(str(python), [str(python), *sys.argv])
