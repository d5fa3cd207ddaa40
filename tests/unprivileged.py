"""For tests that need a permission refused: the suite runs as root, which ignores file modes,
so such a test runs the real `syncd` as the unprivileged `nobody` (uid 65534) in a directory
that user can reach."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SYNCD = str(Path(sys.executable).with_name("syncd"))
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


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
    """The real `syncd ARGS` run as nobody."""
    return subprocess.run([*NOBODY, SYNCD, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)
