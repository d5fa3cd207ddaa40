"""Every module imports on its own, first, in a fresh interpreter (no import cycle)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                 for p in (ROOT / "syncd").rglob("*.py") if p.name != "__main__.py")


# One interpreter that imports nothing beyond its own start-up (os and sys are loaded by then)
# forks a child per module, which imports that module first: a fresh interpreter's module table
# for each, without paying the interpreter's start-up a hundred times. A child whose import
# raises (or dies) exits non-zero.
FORKING = """import os, sys
bad = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            __import__(name)
        except BaseException:
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1] != 0:
        bad.append(name)
print(" ".join(bad))
"""


def test_each_module_imports_first_in_a_fresh_interpreter() -> None:
    assert "syncd.sync.pull" in MODULES and "syncd.sinks.datadir" in MODULES
    script = FORKING if hasattr(os, "fork") else (
        "import subprocess, sys\n"
        "bad = [m for m in sys.argv[1:] if subprocess.run([sys.executable, '-c', "
        "f'import {m}'], capture_output=True).returncode]\n"
        "print(' '.join(bad))")
    result = subprocess.run([sys.executable, "-c", script, *MODULES], capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert result.stdout.strip() == "", f"cannot be imported first: {result.stdout}"


@pytest.mark.parametrize("name", ["run_daemon", "sync_once"])
def test_the_service_package_still_exports(name: str) -> None:
    import syncd.service

    assert callable(getattr(syncd.service, name))


def test_the_library_exports_what_it_lists() -> None:
    import syncd

    assert set(syncd.__all__) == set(syncd._EXPORTS) | {"__version__", "consumer"}
    for name in syncd.__all__:
        assert getattr(syncd, name) is not None
