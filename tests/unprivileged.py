"""For tests that need a permission refused: the suite runs as root, which ignores file modes,
so such a test runs the real `syncd` as the unprivileged `nobody` (uid 65534) in a directory
that user can reach.

`nobody` may not reach the clone itself (cloned under /root or a 0700 home directory, or a
Python installed there, as pyenv does): so it runs an installed copy, made once per test process
in a world-readable temporary directory: syncd's package from this clone, its runtime
dependencies from the virtualenv, and a launcher, run by a Python interpreter of the same
version that `nobody` can execute.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import pytest

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
PACKAGE = Path(__file__).resolve().parent.parent / "syncd"


@contextmanager
def shared_directory(prefix: str, mode: int) -> Iterator[Path]:
    """A directory another user can reach (pytest's own tmp_path is root's alone, 0700);
    skips the test where there is no root or no setpriv."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a command as another user")
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(mode)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def as_nobody(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real `syncd ARGS` run as nobody, from the installed copy (`nobody_syncd`)."""
    return subprocess.run([*NOBODY, *nobody_syncd(), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


@functools.cache
def nobody_syncd() -> tuple[str, str]:
    """(interpreter, launcher): the `syncd` command as nobody can run it, from anywhere the
    clone is. Built once per process; removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="syncd-nobody-"))
    atexit.register(shutil.rmtree, root, True)
    lib = root / "lib"
    shutil.copytree(PACKAGE, lib / "syncd", ignore=shutil.ignore_patterns("__pycache__"))
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    for name in sorted(_runtime_distributions("syncd", {"postgres"})):
        dist = metadata.distribution(name)
        for file in dist.files or ():
            source = Path(str(dist.locate_file(file))).resolve()
            if source.is_file() and source.is_relative_to(site) and "__pycache__" not in source.parts:
                target = lib / source.relative_to(site)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    launcher = root / "syncd"
    launcher.write_text(f"import sys\nsys.path.insert(0, {str(lib)!r})\n"
                        "from syncd.cli import main\nsys.exit(main())\n", encoding="utf-8")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return _interpreter_for_nobody(), str(launcher)


def _runtime_distributions(name: str, extras: set[str]) -> set[str]:
    """``name`` and everything it needs at run time (with ``extras``), as installed here."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [(name, extras)]
    while todo:
        current, wanted = todo.pop()
        key = re.sub(r"[-_.]+", "-", current).lower()
        if key in seen:
            continue
        seen.add(key)
        for text in metadata.requires(current) or ():
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": extra})
                                     for extra in wanted | {""}):
                todo.append((requirement.name, set(requirement.extras)))
    return seen - {"syncd"}


def _interpreter_for_nobody() -> str:
    """A Python of this version that nobody can execute: this one's base interpreter, else
    one on the system (the base may sit in a private home directory)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = getattr(sys, "_base_executable", sys.executable)
    candidates = [base, str(Path(base).resolve()), f"/usr/bin/python{version}",
                  f"/usr/local/bin/python{version}", shutil.which(f"python{version}") or ""]
    for candidate in dict.fromkeys(c for c in candidates if c):
        try:
            answer = subprocess.run(
                [*NOBODY, candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30, cwd="/")
        except OSError:
            continue
        if answer.returncode == 0 and answer.stdout.strip() == version:
            return candidate
    raise RuntimeError(f"no Python {version} that the user nobody can run (tried "
                       f"{', '.join(candidates)}): install python{version} system-wide")
