"""The bad-input matrix, through the `syncd` command line (run in this process,
tests/in_process.py; tests/test_cli.py runs the real command for each exit code): a broken
configuration exits 2 with one line naming the key; what only Odoo can refuse (an unknown
model) exits 1 naming it; a corrupt local file is reported, set aside as
`<name>.corrupt-<time>` and rebuilt. Never a traceback, never silent loss.

Covered elsewhere (not repeated here): the library's messages for bad keys
(tests/test_config.py), an unknown key, an empty database, `json2` without an API key and bad
log settings through the command (tests/test_cli.py, tests/test_cli_usage.py), each corrupt
snapshot shape at the file level (tests/sinks/test_snapshot.py), a missing field's warning
(tests/sync/test_sync_guarantees.py), a torn journal line (tests/sinks/test_json_journal.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from syncd.emulator import Emulator
from tests.in_process import cli
from tests.test_cli import environment, odoo, one_error_line  # noqa: F401 - a fixture

ODOO = '[odoo]\nurl = "{url}"\ndatabase = "odoo"\nusername = "admin"\n'
CUSTOMERS = '[models.customers]\nmodel = "res.partner"\nfields = ["name", "email"]\n'


def configured(tmp_path: Path, em: Emulator, text: str) -> dict[str, str]:
    """A syncd.toml of `text` (the Odoo table filled in) and an environment with the password
    only, so every other key comes from the file."""
    (tmp_path / "syncd.toml").write_text(text.format(url=em.url))
    env = environment(tmp_path)
    env["ODOO_PASSWORD"] = em.password
    return env


BROKEN = [
    ("[odoo\n", "invalid TOML"),
    ('[odoo]\nurl = "{url}"\nusername = "admin"\n', "[odoo].database"),
    ('[odoo]\nurl = "{url}"\ndatabase = "odoo"\nusername = ""\n', "[odoo].username"),
    ('[odoo]\nurl = "{url}"\ndatabase = "odoo"\n', "[odoo].username"),
    ('[odoo]\nurl = ""\ndatabase = "odoo"\nusername = "admin"\n', "[odoo].url"),
    ('[odoo]\nurl = "ftp://example.com"\ndatabase = "odoo"\nusername = "admin"\n', "[odoo].url"),
    (ODOO + 'protocol = "grpc"\n', "[odoo].protocol"),
    (ODOO + 'timeout = "60"\n', "[odoo].timeout"),
    (ODOO + "timeout = 0\n", "[odoo].timeout"),
    (ODOO + "timeout = -1\n", "[odoo].timeout"),
    (ODOO + "retry_budget = -5\n", "[odoo].retry_budget"),
    ('[odoo]\nurl = "{url}"\ndatabase = 5\nusername = "admin"\n', "[odoo].database"),
    (ODOO + "[sync]\ninterval = 0\n", "[sync].interval"),
    (ODOO + "[sync]\ninterval = -1\n", "[sync].interval"),
    (ODOO + '[sync]\ninterval = "5m"\n', "[sync].interval"),
    (ODOO + "[sync]\npage_size = 0\n", "[sync].page_size"),
    (ODOO + "[sync]\nlookback = -1\n", "[sync].lookback"),
    (ODOO + "[sync]\nreconcile_interval = -1\n", "[sync].reconcile_interval"),
    (ODOO + "[sync]\nworkers = 0\n", "[sync].workers"),
    (ODOO + '[sync]\njournal = "yes"\n', "[sync].journal"),
    (ODOO + "[sync]\njournal_keep = 0\n", "[sync].journal_keep"),
    (ODOO + "[sync]\njournal_max_bytes = 0\n", "[sync].journal_max_bytes"),
    (ODOO + '[sink]\nkind = "mongo"\n', "[sink].kind"),
    (ODOO + '[log]\nformat = "xml"\n', "[log].format"),
    (ODOO + '[models.x]\nmodel = "res.partner"\nfields = "name"\n', "[models.x].fields"),
    (ODOO + '[models.x]\nmodel = ""\nfields = ["name"]\n', "[models.x].model"),
    (ODOO + '[models.x]\nmodel = "res.partner"\nfields = ["name"]\ninclude_archived = "no"\n',
     "[models.x].include_archived"),
    ("models = [1]\n", "[models]"),
]


@pytest.mark.parametrize("text, names", BROKEN,
                         ids=[f"{n}-{i}" for i, (_, n) in enumerate(BROKEN)])
def test_a_broken_configuration_exits_2_with_one_line_naming_the_key(
        tmp_path: Path, odoo: Emulator, text: str, names: str) -> None:  # noqa: F811
    result = cli(tmp_path, configured(tmp_path, odoo, text), "once")
    assert result.returncode == 2, result.stderr
    assert names in one_error_line(result)
    assert not (tmp_path / "data").exists()  # detected before anything was written


def test_reconcile_interval_0_is_valid_and_checks_deletions_every_pass(
        tmp_path: Path, odoo: Emulator) -> None:  # noqa: F811
    env = configured(tmp_path, odoo, ODOO + "[sync]\nreconcile_interval = 0\n" + CUSTOMERS)
    assert cli(tmp_path, env, "once").returncode == 0
    gone = odoo.db.execute("res.partner", "search", [[]], {"limit": 1})[0]
    odoo.db.unlink("res.partner", gone)
    result = cli(tmp_path, env, "once")
    assert result.returncode == 0, result.stderr
    stored = orjson.loads((tmp_path / "data" / "odoo_customers.json").read_bytes())
    assert gone not in {r["id"] for r in stored} and stored


def test_an_unknown_odoo_model_exits_1_naming_it(tmp_path: Path,
                                                 odoo: Emulator) -> None:  # noqa: F811
    env = configured(tmp_path, odoo, ODOO + CUSTOMERS
                     + '[models.tickets]\nmodel = "helpdesk.tikcet"\nfields = ["name"]\n')
    result = cli(tmp_path, env, "once")
    assert result.returncode == 1
    assert "helpdesk.tikcet" in one_error_line(result)
    assert not (tmp_path / "data" / "odoo_customers.json").exists()  # the pass committed nothing


def good_pass(tmp_path: Path, em: Emulator) -> tuple[dict[str, str], Path, bytes]:
    tmp_path.mkdir(exist_ok=True)
    env = configured(tmp_path, em, ODOO + CUSTOMERS)
    assert cli(tmp_path, env, "once").returncode == 0
    snapshot = tmp_path / "data" / "odoo_customers.json"
    return env, snapshot, snapshot.read_bytes()


def set_aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".corrupt-*"))


def corrupt_then_pass(tmp_path: Path, env: dict[str, str], path: Path,
                      content: bytes) -> Path:
    """Write `content` over `path`, run a pass: it must succeed, say so, and keep `content`
    set aside as `<name>.corrupt-<time>`; returns the set-aside file."""
    path.write_bytes(content)
    result = cli(tmp_path, env, "once")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(rf"corrupt.*{re.escape(path.name)}", result.stderr), result.stderr
    [aside] = set_aside(path)
    assert re.fullmatch(rf"{re.escape(path.name)}\.corrupt-\d{{8}}T\d{{6}}", aside.name)
    assert aside.read_bytes() == content  # kept, not lost
    return aside


CORRUPT_SNAPSHOTS = {
    "garbage": b"\x00\xffnot json at all",
    "truncated": b'[\n{"id":1,"name":"Customer 0","email":"c0@example.com"},\n{"id":2,"na',
    "empty": b"",
    "an object": b'{"id": 1, "name": "x"}',
    "a record without id": b'[\n{"name":"x","email":false}\n]\n',
    "a string id": b'[\n{"id":"1","name":"x","email":false}\n]\n',
    "duplicate ids": b'[\n{"id":1,"name":"a","email":false},\n{"id":1,"name":"b","email":false}\n]\n',
    "not objects": b"[1, 2, 3]\n",
}


@pytest.mark.parametrize("content", CORRUPT_SNAPSHOTS.values(), ids=CORRUPT_SNAPSHOTS.keys())
def test_a_corrupt_snapshot_is_reported_set_aside_and_rebuilt(
        tmp_path: Path, odoo: Emulator, content: bytes) -> None:  # noqa: F811
    env, snapshot, good = good_pass(tmp_path, odoo)
    corrupt_then_pass(tmp_path, env, snapshot, content)
    assert snapshot.read_bytes() == good  # rebuilt from Odoo
    assert cli(tmp_path, env, "once").returncode == 0 and len(set_aside(snapshot)) == 1


CORRUPT_STATES = {
    "garbage": b"{{{",
    "truncated": b'{"last_sync": "2024-01-01 00:00:00", "models": {"custo',
    "an array": b"[]\n",
    "models of the wrong type": b'{"last_sync": "2024-01-01 00:00:00", "models": 3}\n',
}


@pytest.mark.parametrize("content", CORRUPT_STATES.values(), ids=CORRUPT_STATES.keys())
def test_a_corrupt_state_is_reported_set_aside_and_everything_rebuilt(
        tmp_path: Path, odoo: Emulator, content: bytes) -> None:  # noqa: F811
    env, snapshot, good = good_pass(tmp_path, odoo)
    state = tmp_path / "data" / "last_sync.json"
    odoo.db.create("res.partner", {"name": "Arrived meanwhile"})
    corrupt_then_pass(tmp_path, env, state, content)
    stored = orjson.loads(snapshot.read_bytes())
    assert "Arrived meanwhile" in {r["name"] for r in stored}
    assert orjson.loads(state.read_bytes())["models"]["customers"]["watermark"]


LAYOUTS = {
    "indented": lambda records: orjson.dumps(records, option=orjson.OPT_INDENT_2),
    "one line": lambda records: orjson.dumps(records),
    "reversed": lambda records: orjson.dumps(records[::-1]),
    "keys reordered": lambda records: orjson.dumps(
        [dict(reversed(list(r.items()))) for r in records], option=orjson.OPT_INDENT_2),
}


@pytest.mark.parametrize("change", [True, False], ids=["odoo changed", "odoo unchanged"])
@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_a_valid_array_in_another_layout_is_rewritten_in_ours_not_set_aside(
        tmp_path: Path, odoo: Emulator, layout: object, change: bool) -> None:  # noqa: F811
    env, snapshot, good = good_pass(tmp_path / "ours", odoo)
    snapshot.write_bytes(layout(orjson.loads(good)))  # type: ignore[operator]
    if change:
        odoo.db.create("res.partner", {"name": "Arrived meanwhile", "email": False})
    result = cli(tmp_path / "ours", env, "once")
    assert result.returncode == 0, result.stderr
    assert set_aside(snapshot) == [] and "corrupt" not in result.stderr
    _, _, fresh = good_pass(tmp_path / "fresh", odoo)  # what a first pass writes now
    assert snapshot.read_bytes() == fresh
