"""The README documents exactly what the code has: every command and config key, both ways."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from syncd.cli import COMMANDS, build_parser
from syncd.config import ENVIRONMENT, KEYS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def table_rows(heading: str) -> list[list[str]]:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def test_every_command_is_documented_and_every_documented_command_exists() -> None:
    documented = {re.match(r"`(\w+)", row[0]).group(1) for row in table_rows("Commands")}
    assert documented == set(COMMANDS)
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(subparsers.choices) == set(COMMANDS)


def test_every_config_key_is_documented_and_every_documented_key_exists() -> None:
    documented = {row[0].strip("`") for row in table_rows("Configuration")}
    in_code = {f"{table}.{key}" for table, keys in KEYS.items() for key in keys}
    assert documented == in_code


def test_environment_variables_match() -> None:
    documented = {row[1].strip("`"): row[0].strip("`") for row in table_rows("Configuration")
                  if row[1]}
    assert documented == ENVIRONMENT


def test_the_two_commands_exist() -> None:
    root = Path(__file__).resolve().parents[1]
    for script in ("scripts/demo.sh", "scripts/test.sh"):
        assert f"`{script}`" in README
        assert (root / script).exists()
    assert "scripts/test.sh" in (root / ".ci" / "run").read_text()


def test_files_the_readme_has_users_create_in_the_clone_are_ignored_by_git() -> None:
    """`syncd.toml` may hold a password; a data directory inside the clone holds customer data
    and runtime files. None of them may be one `git add .` away from a commit."""
    root = Path(__file__).resolve().parents[1]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    paths = ["syncd.toml", "odoo_database/odoo_customers.json", "data/odoo_customers.json",
             "data/last_sync.json", "data/.syncd.lock", "data/.syncd-resync.json",
             "data/.odoo_customers.json.0123456789ab.syncd-tmp",
             "data/odoo_customers.json.corrupt-20260101T000000"]
    result = subprocess.run(["git", "check-ignore", "--no-index", "--verbose", "--non-matching",
                             *paths], cwd=root, capture_output=True, text=True, timeout=30)
    not_ignored = [line.split("\t", 1)[1] for line in result.stdout.splitlines()
                   if line.startswith("::")]
    assert not_ignored == []
