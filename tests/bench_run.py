"""Running a benchmark script as a user does, for the smoke tests that keep it from rotting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_script(script: str, *args: str, timeout: float = 240) -> str:
    """Run ``scripts/<script>`` with ``args``; its standard output. Fails the test, with the
    script's output, when it exits non-zero."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def run_bench(script: str, args: list[str], out: Path, *,
              timeout: float = 240) -> tuple[str, dict[str, Any]]:
    """``run_script`` with ``--json out``: its standard output and the JSON it wrote."""
    stdout = run_script(script, *args, "--json", str(out), timeout=timeout)
    report: dict[str, Any] = json.loads(out.read_text())
    return stdout, report
