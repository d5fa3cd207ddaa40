"""The README documents exactly what the code has: every command and config key, both ways."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from syncd.cli import COMMANDS, build_parser
from syncd.config_tables import ENVIRONMENT, KEYS
from syncd.emulator import Emulator
from tests.in_process import cli
from tests.test_cli import environment, odoo  # noqa: F401  (odoo: the fixture)

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def table_rows(heading: str) -> list[list[str]]:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """The subparsers of the real parser, read at test time (commands are added over time)."""
    action = next(a for a in build_parser()._actions
                  if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_is_documented_and_every_documented_command_exists() -> None:
    documented = {re.match(r"`(\w+)", row[0]).group(1) for row in table_rows("Commands")}
    assert documented == set(subcommands())
    assert set(COMMANDS) == set(subcommands())  # each subparser has its cmd_* and no more


def test_every_documented_option_of_a_command_exists() -> None:
    parsers = subcommands()
    for row in table_rows("Commands"):
        name = re.match(r"`(\w+)", row[0]).group(1)
        options = {option for action in parsers[name]._actions
                   for option in action.option_strings}
        for flag in re.findall(r"--[\w-]+", row[0]):
            assert flag in options, f"README documents `{name} {flag}`, the parser has not"


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


def fenced_block(heading: str, language: str) -> str:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(rf"```{language}\n(.*?)\n```", section, re.DOTALL)
    assert block, f"no {language} block under '## {heading}'"
    return block.group(1)


def test_the_example_config_works_on_an_odoo_without_the_account_module(
        tmp_path: Path, odoo: Emulator) -> None:
    """`customer_rank`/`supplier_rank` come with Odoo's account module; a plain install has
    neither, and a domain on a missing field fails the pass. The emulator has them, so they
    are removed here to make it a plain install."""
    for name in ("customer_rank", "supplier_rank"):
        del odoo.db.schema["res.partner"].fields[name]
    odoo.db.create("res.partner", {"name": "Walk-in, no email", "is_company": False})
    odoo.db.create("res.partner", {"name": "Ann Contact", "email": "ann@example.com",
                                   "is_company": False})
    config = tmp_path / "syncd.toml"
    config.write_text(fenced_block("Configuration", "toml"), encoding="utf-8")
    env = environment(tmp_path, odoo)  # url, database and login from the environment
    # The command line run in this process (tests/in_process.py): what is checked is the
    # example's content, not the process.
    for command in ("check", "once"):
        result = cli(tmp_path, env, "--config", str(config), command)
        assert result.returncode == 0, f"{command}: {result.stdout} {result.stderr}"
    customers = orjson.loads((tmp_path / "data" / "odoo_customers.json").read_bytes())
    names = {row["name"] for row in customers}
    assert "Ann Contact" in names and "Walk-in, no email" not in names
    assert len(customers) == 13  # the fixture's 12 companies and the contact with an email


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


def test_the_emulator_section_lists_exactly_the_domain_operators_it_has() -> None:
    from syncd.emulator.domain import OPERATORS

    section = README.split("## The Odoo emulator\n", 1)[1].split("\n## ", 1)[0]
    bullet = next(item for item in section.split("\n- ") if item.startswith("`search`"))
    listed = set(re.findall(r"`([^`]+)`", bullet.split("the operators", 1)[1]
                            .split("`order`", 1)[0]))
    assert listed == OPERATORS


def test_the_development_layout_names_every_package_and_top_level_module() -> None:
    root = Path(__file__).resolve().parents[1]
    layout = fenced_block("Development", "")
    entries = set(re.findall(r"^  (\S+)", layout, re.MULTILINE))
    on_disk = {f"{p.name}/" for p in (root / "syncd").iterdir()
               if p.is_dir() and (p / "__init__.py").exists()}
    on_disk |= {p.name for p in (root / "syncd").glob("*.py")
                if p.name not in ("__init__.py", "__main__.py")}
    assert entries == on_disk
    tops = set(re.findall(r"^(\S+/)", layout, re.MULTILINE))
    assert tops == {"syncd/", "docs/", "scripts/", "tests/"}
    assert all((root / top).is_dir() for top in tops)


def test_install_commands_name_what_exists_and_stay_editable() -> None:
    """syncd is not on a package index: the README installs it from the clone, editable (as
    the scripts do, so a `git pull` is the upgrade), and says how to upgrade."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "syncd[postgres]" not in text
    assert "pip install ." not in text.replace("pip install -e .", "").replace("plain `pip install .`", "")
    assert ".venv/bin/pip install -e '.[postgres]'" in text
    assert "### Upgrading" in text and "git pull" in text


def test_coming_from_the_scripts_says_where_the_files_go() -> None:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("**Coming from the scripts syncd replaces:**", 1)[1].split("\n## ", 1)[0]
    for needed in ("/var/lib/syncd", "odoo_database/", "SYNCD_DATA_DIR", "syncd status --json",
                   "packed"):
        assert needed in section, needed


def test_the_documented_metrics_are_the_ones_served(tmp_path: Path) -> None:
    """The table under "Metrics" lists every metric family `run` serves, with its type, and its
    toml block is a valid configuration."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from syncd.config import load_settings
    from syncd.service.metrics import Metrics

    section = README.split("**Metrics.**", 1)[1].split("\n**", 1)[0]
    config = tmp_path / "syncd.toml"
    config.write_text(re.search(r"```toml\n(.*?)\n```", section, re.DOTALL).group(1))
    assert load_settings(str(config), environ={}).service.metrics == "127.0.0.1:9184"
    documented = {re.sub(r"\{.*", "", row.split("`")[1]): row.split("|")[2].strip()
                  for row in section.splitlines() if row.startswith("| `")}
    metrics = Metrics(("127.0.0.1", 0))
    metrics.records.labels(model="customers").set(1)

    served = {family.name + ("_total" if family.type == "counter" else ""): family.type
              for family in text_string_to_metric_families(
                  generate_latest(metrics.registry).decode())
              if not family.name.endswith("_created")}  # prometheus_client's own timestamps
    assert documented == served
