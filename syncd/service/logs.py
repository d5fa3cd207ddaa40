"""The one place that configures loguru (the CLI calls setup_logging once; the library only logs).

Console lines go to stderr, e.g. ``2026-11-23 07:40:01 INFO  customers fetched=12 changed=3``;
``format = "json"`` gives one compact JSON object per line instead (time, level, message, extra,
and exception when there is one) for journald/ELK. A rotating, compressed file sink goes to the
log directory. The surprise: loguru's ``diagnose`` prints the values of local variables in
tracebacks, which would put a password on the console; it is on only with ``-v``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson
import platformdirs
from loguru import logger

from syncd.config import LogSettings

if TYPE_CHECKING:
    from loguru import Message, Record

TEXT_FORMAT = "{time:YYYY-MM-DD HH:mm:ss} {level: <5} {message}"
VERBOSE_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <5} {name}:{line} {message}"
LOG_FILE_NAME = "syncd.log"


def setup_logging(*, verbosity: int = 0, settings: LogSettings | None = None,
                  stream: TextIO | None = None, log_dir: Path | None = None) -> None:
    """Replace every loguru sink with ours.

    verbosity: <0 (-q) WARNING and up; 0 INFO; >0 (-v) DEBUG with tracebacks that show locals.
    settings.file: True writes ``syncd.log`` in `log_dir`, which defaults to systemd's
    ``$LOGS_DIRECTORY`` when set, else ``platformdirs.user_log_dir("syncd")``; a path ending in
    ``.log`` is the file itself; any other path is a directory; False writes no file. The file
    rotates at settings.rotation, keeps settings.retention, and compresses old files with gzip.
    A log directory that cannot be created is warned about once; logging goes on without it.
    """
    settings = settings or LogSettings()
    verbose = verbosity > 0
    level = "DEBUG" if verbose else "WARNING" if verbosity < 0 else "INFO"
    logger.remove()
    console = stream if stream is not None else sys.stderr
    common: dict[str, Any] = {"diagnose": verbose, "backtrace": verbose}
    if settings.format == "json":
        logger.add(_json_sink(console), level=level, format="{message}", **common)
    else:
        logger.add(console, level=level, format=VERBOSE_FORMAT if verbose else TEXT_FORMAT,
                   colorize=None if stream is None else False, **common)

    target = _log_file(settings.file, log_dir)
    if target is None:
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        file_level = "DEBUG" if verbose else "INFO"  # -q quiets the console, not the record
        if settings.format == "json":
            # loguru's own serialize=True: it rotates and compresses like any file sink.
            logger.add(target, level=file_level, serialize=True, rotation=settings.rotation,
                       retention=settings.retention, compression="gz", encoding="utf-8",
                       **common)
        else:
            logger.add(target, level=file_level, format=TEXT_FORMAT, rotation=settings.rotation,
                       retention=settings.retention, compression="gz", encoding="utf-8",
                       **common)
    except (OSError, ValueError) as exc:
        # ValueError: loguru rejects a rotation/retention string it cannot parse.
        logger.warning("log file disabled path={} error={}", target, exc)


def default_log_dir() -> Path:
    """systemd's LogsDirectory= (``$LOGS_DIRECTORY``) when set, else the platform's user log dir
    (``~/.local/state/syncd/log``, ``%LOCALAPPDATA%\\syncd\\Logs``). appauthor=False: its default,
    the app name, would put a second ``syncd`` folder in the Windows path."""
    from_systemd = os.environ.get("LOGS_DIRECTORY", "").split(":")[0]
    if from_systemd:
        return Path(from_systemd)
    return Path(platformdirs.user_log_dir("syncd", appauthor=False))


def _log_file(file: bool | Path, log_dir: Path | None) -> Path | None:
    if file is False:
        return None
    if file is True:
        return (log_dir or default_log_dir()) / LOG_FILE_NAME
    return file if file.suffix == ".log" else file / LOG_FILE_NAME


def _json_sink(stream: TextIO) -> Any:
    def write(message: Message) -> None:
        record: Record = message.record
        entry: dict[str, Any] = {
            "time": record["time"].isoformat(timespec="milliseconds"),
            "level": record["level"].name,
            "message": record["message"],
            "name": record["name"],
        }
        if record["extra"]:
            entry["extra"] = {key: _plain(value) for key, value in record["extra"].items()}
        if record["exception"] is not None:
            # The formatted text after the message is the traceback, rendered with the sink's
            # diagnose setting (no local values unless -v).
            entry["exception"] = str(message)[len(record["message"]):].strip()
        stream.write(orjson.dumps(entry).decode("utf-8") + "\n")
        stream.flush()

    return write


def _plain(value: object) -> object:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
