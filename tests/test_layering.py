"""Imports run one way, down the data's path: Odoo -> the pass -> the sinks -> the readers.

Each package lists the packages it must never import (directly, at any depth of the module:
function bodies and ``TYPE_CHECKING`` blocks count). There is no list of exceptions: a module
that needs something from a forbidden package means the concept lives in the wrong place.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "syncd"
FACE = "syncd"  # the package face (syncd/__init__.py): `import syncd`, `from syncd import x`

FORBIDDEN = {
    "syncd.odoo": ["syncd.sync", "syncd.sinks", "syncd.service", "syncd.consumer", "syncd.cli",
                   FACE],
    "syncd.sync": ["syncd.sinks", "syncd.service", "syncd.consumer", "syncd.cli"],
    "syncd.sinks": ["syncd.odoo", "syncd.service", "syncd.consumer", "syncd.cli"],
    "syncd.consumer": ["syncd.odoo", "syncd.service", "syncd.cli"],
}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            if base == FACE:  # `from syncd import consumer` imports a package, not the face
                found.update(f"{FACE}.{alias.name}" if (PACKAGE / alias.name).exists()
                             or (PACKAGE / f"{alias.name}.py").exists() else FACE
                             for alias in node.names)
            else:
                found.add(base)
    return found


def within(name: str, package: str) -> bool:
    if package == FACE:
        return name == FACE
    return name == package or name.startswith(package + ".")


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_rules_see_every_package() -> None:
    names = {module_name(p) for p in MODULES}
    for package in [*FORBIDDEN, "syncd.emulator"]:
        assert any(within(n, package) for n in names), package


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_run_down_the_data_path(path: Path) -> None:
    here = module_name(path)
    for package, forbidden in FORBIDDEN.items():
        if within(here, package):
            bad = sorted(n for n in imported(path) for f in forbidden if within(n, f))
            assert not bad, f"{here} ({package}) must not import {bad}"
    if within(here, "syncd.emulator"):
        bad = sorted(n for n in imported(path)
                     if within(n, "syncd") and not within(n, "syncd.emulator"))
        assert not bad, f"the emulator imports nothing of syncd but itself: {here} imports {bad}"


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The rule itself can fail: a relative import up into a forbidden package is seen."""
    fake = PACKAGE / "odoo" / "_layering_probe.py"
    assert not fake.exists()
    fake.write_text("from ..sinks import base\nimport syncd\n", encoding="utf-8")
    try:
        assert {"syncd.sinks", "syncd"} <= imported(fake)
    finally:
        fake.unlink()
