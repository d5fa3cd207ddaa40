"""scripts/reliability.py: one figure per line, exit 1 when a guarantee failed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reliability.py"


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reliability", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_short_run_prints_its_figures_and_exits_0() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--short", "--check", "interleavings",
                             "--limit", "5"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "interleavings explored (small): 5" in lines
    assert "interleavings missing a committed change (small): 0" in lines
    assert all(": " in line and "FAILED" not in line for line in lines)


def test_a_failed_guarantee_is_marked_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    reliability = script()

    def broken(long: bool, workdir: Path, limit: int | None) -> Iterator[object]:
        yield reliability.Figure("torn reads", 0)
        yield reliability.Figure("lost changes", 2, held=False)

    assert reliability.run({"broken": broken}, long=False) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["torn reads: 0", "lost changes: 2  FAILED"]
    assert reliability.run({"fine": lambda *a: iter([reliability.Figure("x", 1)])},
                           long=False) == 0


def test_a_size_is_required() -> None:
    with pytest.raises(SystemExit) as stopped:
        script().main(["--check", "interleavings"])
    assert stopped.value.code == 2


def test_a_check_that_cannot_run_is_a_failure(capsys: pytest.CaptureFixture[str]) -> None:
    reliability = script()

    def crashing(long: bool, workdir: Path, limit: int | None) -> Iterator[object]:
        raise OSError("no space left")
        yield  # a generator, as checks are

    assert reliability.run({"crashing": crashing}, long=False) == 1
    assert "crashing could not run: OSError: no space left  FAILED" in capsys.readouterr().out


@pytest.mark.slow
def test_the_short_form_passes_within_a_few_minutes() -> None:
    """The CI form, whole (about four minutes on 2 cores: `-m slow`; the default suite runs
    each check's harness at a smaller size instead)."""
    result = subprocess.run([sys.executable, str(SCRIPT), "--short"], capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    seconds = {line.split(" seconds: ")[0]: float(line.split(" seconds: ")[1])
               for line in result.stdout.splitlines() if " seconds: " in line}
    assert set(seconds) == set(script().CHECKS)
    assert sum(seconds.values()) < 600
