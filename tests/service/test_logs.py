"""Logging setup: levels, the line format, JSON lines, the file sink, and no secrets in tracebacks."""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from syncd.config import LogSettings
from syncd.service.logs import setup_logging

NO_FILE = LogSettings(file=False)


@pytest.fixture(autouse=True)
def restore_loguru() -> Iterator[None]:
    yield
    logger.remove()  # closes our file sinks too
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


def test_json_lines_parse_and_carry_message_and_extra() -> None:
    console = io.StringIO()
    setup_logging(settings=LogSettings(file=False, format="json"), stream=console)
    logger.bind(model="customers").info("model fetched=12")
    logger.warning("slow answer seconds={}", 3.5)
    entries = [json.loads(line) for line in console.getvalue().splitlines()]
    assert [e["message"] for e in entries] == ["model fetched=12", "slow answer seconds=3.5"]
    assert [e["level"] for e in entries] == ["INFO", "WARNING"]
    assert entries[0]["extra"] == {"model": "customers"}
    assert "T" in entries[0]["time"]


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
