"""Logging setup: levels, the line format, JSON lines, the file sink, and no secrets in tracebacks."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from syncd.settings import LogSettings
from syncd.emulator import Emulator
from syncd.service.logs import log_file_name, setup_logging
from tests.test_cli import SYNCD, environment, odoo  # noqa: F401

NO_FILE = LogSettings(file=False)


@pytest.fixture(autouse=True)
def restore_loguru() -> Iterator[None]:
    yield
    logger.remove()  # closes our file sinks too
    logger.configure(extra={})  # and forgets the data_dir bound by setup_logging
    logger.add(sys.stderr)  # loguru's own default, for whatever runs next


def emit_all() -> None:
    logger.debug("debug line")
    logger.info("info line")
    logger.warning("warning line")


@pytest.mark.parametrize("verbosity, shown, hidden", [
    (-1, ["warning line"], ["info line", "debug line"]),
    (0, ["warning line", "info line"], ["debug line"]),
    (1, ["warning line", "info line", "debug line"], []),
])
def test_levels_by_verbosity(verbosity: int, shown: list[str], hidden: list[str]) -> None:
    console = io.StringIO()
    setup_logging(verbosity=verbosity, settings=NO_FILE, stream=console)
    emit_all()
    text = console.getvalue()
    assert all(line in text for line in shown)
    assert not any(line in text for line in hidden)


def test_console_lines_are_readable() -> None:
    console = io.StringIO()
    setup_logging(settings=NO_FILE, stream=console)
    logger.info("customers fetched=12 changed=3 removed=0 seconds=0.21")
    logger.error("pass failed: boom")
    lines = console.getvalue().splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO  customers fetched=12 changed=3 "
                        r"removed=0 seconds=0\.21", lines[0]), lines[0]
    assert lines[1].endswith(" ERROR pass failed: boom")
    assert "\x1b[" not in console.getvalue()  # no colour codes in a non-terminal stream


ENGINE_LINE = ("model={model} fetched={fetched} changed={changed} removed={removed} "
               "records={records} watermark={watermark} seconds={seconds:.2f}")
ENGINE_FIELDS = {"model": "customers", "fetched": 12, "changed": 3, "removed": 0, "records": 12,
                 "watermark": "2026-11-23 07:40:01", "seconds": 0.21}
JSON_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def test_json_lines_have_one_schema_on_the_console_and_in_the_file(tmp_path: Path) -> None:
    console = io.StringIO()
    data_dir = tmp_path / "data"
    setup_logging(settings=LogSettings(file=tmp_path / "logs", format="json"), stream=console,
                  data_dir=data_dir)
    logger.info(ENGINE_LINE, **ENGINE_FIELDS)
    logger.bind(attempt_id=7).warning("slow answer seconds={seconds}", seconds=3.5)
    logger.remove()
    [log_file] = (tmp_path / "logs").iterdir()
    in_file = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    on_console = [json.loads(line) for line in console.getvalue().splitlines()]
    assert in_file == on_console
    info, warning = on_console
    assert re.fullmatch(JSON_TIME, info.pop("time")) and re.fullmatch(JSON_TIME, warning.pop("time"))
    assert info == {
        "level": "INFO", "priority": 6, "logger": __name__,
        "message": "model=customers fetched=12 changed=3 removed=0 records=12 "
                   "watermark=2026-11-23 07:40:01 seconds=0.21",
        "data_dir": str(data_dir.resolve()), "model": "customers", "fetched": 12, "changed": 3,
        "removed": 0, "records": 12, "watermark": "2026-11-23 07:40:01", "seconds": 0.21}
    assert warning == {
        "level": "WARNING", "priority": 4, "logger": __name__,
        "message": "slow answer seconds=3.5", "data_dir": str(data_dir.resolve()),
        "seconds": 3.5, "attempt_id": 7}


def test_fields_come_from_the_call_not_from_the_message() -> None:
    """A field is what the call passes as a keyword; text that looks like key=value in a
    message (an error from Odoo, a URL) is only text."""
    console = io.StringIO()
    setup_logging(settings=LogSettings(file=False, format="json"), stream=console)
    logger.warning("pass failed: url=https://x/?a=b model=forged {reason}", reason="boom")
    logger.info("model={model} full sync", model="customers")
    failed, full = (json.loads(line) for line in console.getvalue().splitlines())
    assert "url" not in failed and "model" not in failed and failed["reason"] == "boom"
    assert failed["message"] == "pass failed: url=https://x/?a=b model=forged boom"
    assert full["model"] == "customers"


def test_the_message_never_replaces_a_base_key() -> None:
    console = io.StringIO()
    setup_logging(settings=LogSettings(file=False, format="json"), stream=console)
    logger.bind(level="DEBUG", priority=7, logger="x").error("forged")
    entry = json.loads(console.getvalue())
    assert (entry["level"], entry["priority"], entry["logger"]) == ("ERROR", 3, __name__)
    assert "data_dir" not in entry  # none was given: no made-up value


def test_text_file_lines_say_which_data_dir_and_the_console_does_not(tmp_path: Path) -> None:
    console = io.StringIO()
    data_dir = tmp_path / "data"
    setup_logging(settings=LogSettings(file=True), stream=console, log_dir=tmp_path / "logs",
                  data_dir=data_dir)
    logger.info(ENGINE_LINE, **ENGINE_FIELDS)
    logger.remove()
    [log_file] = (tmp_path / "logs").iterdir()
    line = log_file.read_text(encoding="utf-8").strip()
    assert line.endswith(f" seconds=0.21 data_dir={data_dir.resolve()}"), line
    assert " INFO  model=customers fetched=12 " in line
    assert "data_dir" not in console.getvalue()


def test_the_default_log_file_is_one_per_data_dir(tmp_path: Path) -> None:
    names = []
    for data_dir in (tmp_path / "a" / "odoo_database", tmp_path / "b" / "odoo_database"):
        setup_logging(settings=LogSettings(file=True), stream=io.StringIO(),
                      log_dir=tmp_path / "logs", data_dir=data_dir)
        logger.info("pass for {}", data_dir.parent.name)
        logger.remove()
        names.append(log_file_name(data_dir))
    assert names[0] != names[1]
    assert all(re.fullmatch(r"syncd-odoo_database-[0-9a-f]{8}\.log", name) for name in names)
    assert [(tmp_path / "logs" / name).read_text(encoding="utf-8").count("pass for ")
            for name in names] == [1, 1]
    assert "pass for a" in (tmp_path / "logs" / names[0]).read_text(encoding="utf-8")


def test_file_sink_is_created_in_the_log_dir(tmp_path: Path) -> None:
    console = io.StringIO()
    log_dir = tmp_path / "deep" / "logs"
    setup_logging(verbosity=-1, settings=LogSettings(file=True), stream=console, log_dir=log_dir)
    logger.info("into the file only")
    logger.remove()  # flush and close before reading
    text = (log_dir / "syncd.log").read_text(encoding="utf-8")
    assert "INFO  into the file only" in text
    assert "into the file only" not in console.getvalue()  # -q quiets the console, not the file


def test_file_setting_may_name_the_file_or_a_directory(tmp_path: Path) -> None:
    setup_logging(settings=LogSettings(file=tmp_path / "custom.log"), stream=io.StringIO())
    logger.info("one")
    setup_logging(settings=LogSettings(file=tmp_path / "dir"), stream=io.StringIO())
    logger.info("two")
    logger.remove()
    assert "one" in (tmp_path / "custom.log").read_text(encoding="utf-8")
    assert "two" in (tmp_path / "dir" / "syncd.log").read_text(encoding="utf-8")


def test_default_log_dir_is_systemds_logs_directory(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGS_DIRECTORY", str(tmp_path))
    setup_logging(settings=LogSettings(file=True), stream=io.StringIO())
    logger.info("under systemd")
    logger.remove()
    assert "under systemd" in (tmp_path / "syncd.log").read_text(encoding="utf-8")


def test_an_impossible_log_dir_warns_once_and_logging_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    console = io.StringIO()
    setup_logging(settings=LogSettings(file=True), stream=console, log_dir=blocker / "logs")
    logger.info("still logging")
    text = console.getvalue()
    assert text.count("log file disabled") == 1
    assert "still logging" in text


def test_a_bad_rotation_setting_disables_the_file_not_the_console(tmp_path: Path) -> None:
    console = io.StringIO()
    setup_logging(settings=LogSettings(file=True, rotation="whenever"), stream=console,
                  log_dir=tmp_path)
    logger.info("console works")
    assert "log file disabled" in console.getvalue() and "console works" in console.getvalue()


def fail_with_a_secret() -> None:
    password = "hunter2-very-secret"
    raise RuntimeError("login refused for " + password[:0] + "the user")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_tracebacks_show_no_locals_unless_verbose(fmt: str) -> None:
    console = io.StringIO()
    setup_logging(settings=LogSettings(file=False, format=fmt), stream=console)
    try:
        fail_with_a_secret()
    except RuntimeError:
        logger.exception("pass crashed")
    assert "RuntimeError: login refused for the user" in console.getvalue().replace("\\n", "\n")
    assert "hunter2-very-secret" not in console.getvalue()

    # The same with -v shows the locals: proof that the check above can fail.
    console = io.StringIO()
    setup_logging(verbosity=1, settings=LogSettings(file=False, format=fmt), stream=console)
    try:
        fail_with_a_secret()
    except RuntimeError:
        logger.exception("pass crashed")
    assert "hunter2-very-secret" in console.getvalue()


# -- journald priorities ---------------------------------------------------------------------------
def journal_id(path: Path) -> str:
    """What systemd puts in $JOURNAL_STREAM for a stderr connected to `path`."""
    status = os.stat(path)
    return f"{status.st_dev}:{status.st_ino}"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_under_journald_every_console_line_starts_with_its_priority(
        fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = tmp_path / "journal"
    with journal.open("w", encoding="utf-8") as stream:
        monkeypatch.setenv("JOURNAL_STREAM", journal_id(journal))
        setup_logging(verbosity=1, settings=LogSettings(file=tmp_path / "logs", format=fmt),
                      stream=stream, data_dir=tmp_path / "data")
        logger.debug("debug line")
        logger.info("info line")
        logger.warning("warning line")
        logger.error("error line")
        logger.remove()
    lines = journal.read_text(encoding="utf-8").splitlines()
    assert [line[:3] for line in lines] == ["<7>", "<6>", "<4>", "<3>"]
    if fmt == "json":
        assert [json.loads(line[3:])["priority"] for line in lines] == [7, 6, 4, 3]
    else:
        assert [line.rsplit(" ", 2)[-2:] for line in lines] == \
            [["debug", "line"], ["info", "line"], ["warning", "line"], ["error", "line"]]
        # journald stamps each line itself: no time of our own (it starts with the level).
        assert [line[3:].split()[0] for line in lines] == ["DEBUG", "INFO", "WARNING", "ERROR"]
    # The file is not the journal: no prefixes there.
    [log_file] = (tmp_path / "logs").iterdir()
    assert not any(line.startswith("<") for line in log_file.read_text(encoding="utf-8").splitlines())


def test_journal_stream_naming_another_file_adds_no_prefix(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # A child of a service inherits the variable with its stderr redirected: it is not the journal.
    (tmp_path / "the-journal").write_text("", encoding="utf-8")
    monkeypatch.setenv("JOURNAL_STREAM", journal_id(tmp_path / "the-journal"))
    with (tmp_path / "elsewhere").open("w", encoding="utf-8") as stream:
        setup_logging(settings=NO_FILE, stream=stream)
        logger.error("error line")
        logger.remove()
    assert (tmp_path / "elsewhere").read_text(encoding="utf-8").split(" ", 2)[2] == "ERROR error line\n"


def test_syncd_under_journald_prefixes_its_error_line_and_json_carries_the_data_dir(
        tmp_path: Path, odoo: Emulator) -> None:
    (tmp_path / "syncd.toml").write_text(f'[log]\nformat = "json"\nfile = "{tmp_path / "logs"}"\n',
                                         encoding="utf-8")
    journal = tmp_path / "journal"
    for password, expected in ((odoo.password, 0), ("wrong-password", 1)):
        with journal.open("w", encoding="utf-8") as stderr:
            env = environment(tmp_path, odoo, ODOO_PASSWORD=password,
                              JOURNAL_STREAM=journal_id(journal))
            result = subprocess.run([SYNCD, "once"], cwd=tmp_path, env=env, stderr=stderr,
                                    stdout=subprocess.PIPE, text=True, timeout=60)
        assert result.returncode == expected, journal.read_text(encoding="utf-8")
        lines = journal.read_text(encoding="utf-8").splitlines()
        assert lines and all(re.match(r"<[3-7]>", line) for line in lines), lines
    assert lines[-1].startswith("<3>syncd: error: Odoo refused the credentials")
    [log_file] = (tmp_path / "logs").iterdir()
    entries = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    data_dir = str((tmp_path / "data").resolve())
    assert entries and all(entry["data_dir"] == data_dir for entry in entries)
    pass_lines = [e for e in entries if e.get("model") == "customers" and "fetched" in e]
    assert pass_lines and pass_lines[0]["records"] == 12 and pass_lines[0]["priority"] == 6
