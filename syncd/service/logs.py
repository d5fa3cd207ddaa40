"""The one place that configures loguru (the CLI calls setup_logging once; the library only logs).

Console lines go to stderr, e.g. ``2026-11-23 07:40:01 INFO  model=customers fetched=12 ...``;
a rotating, compressed file sink goes to the log directory, one file per data directory
(``syncd-<dir name>-<hash>.log``), each line ending in ``data_dir=...``. ``format = "json"``
gives one compact JSON object per line, the same schema on the console and in the file::

    {"time": "2026-11-23T07:40:01.123Z", "level": "INFO", "priority": 6, "message": "...",
     "logger": "syncd.sync.engine", "data_dir": "/var/lib/syncd", "model": "customers", ...}

The library passes its fields as loguru keyword arguments (``logger.info("model={model} ...",
model=name)``): each is a key of its own, as are values bound with ``logger.bind``; nothing is
parsed back out of the message. ``exception`` holds the traceback when there is one.

Under systemd (stderr is the pipe ``$JOURNAL_STREAM`` names) every console line starts with the
sd-daemon priority, ``<3>`` err, ``<4>`` warning, ``<6>`` info, ``<7>`` debug, which journald
strips and stores, so ``journalctl -p err`` filters. The surprise: loguru's ``diagnose`` prints
the values of local variables in tracebacks, which would put a password on the console; it is
on only with ``-v`` (JSON tracebacks likewise show locals only with ``-v``).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson
import platformdirs
from loguru import logger

from syncd.settings import LogSettings

if TYPE_CHECKING:
    from loguru import Record

TEXT_FORMAT = "{time:YYYY-MM-DD HH:mm:ss} {level: <5} {message}"
VERBOSE_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <5} {name}:{line} {message}"
LOG_FILE_NAME = "syncd.log"  # when no data directory is known (the library's own use)
# The base keys of a JSON line; a field or bound value never replaces one of them.
JSON_KEYS = ("time", "level", "priority", "message", "logger", "data_dir", "exception")
_Format = Callable[["Record"], str]


def setup_logging(*, verbosity: int = 0, settings: LogSettings | None = None,
                  stream: TextIO | None = None, log_dir: Path | None = None,
                  data_dir: Path | None = None) -> None:
    """Replace every loguru sink with ours.

    verbosity: <0 (-q) WARNING and up; 0 INFO; >0 (-v) DEBUG with tracebacks that show locals.
    data_dir: the data directory the process works on; every record carries it (``data_dir``
    in JSON, ``data_dir=...`` at the end of each text line in the file) and it names the file.
    settings.file: True writes ``syncd-<name>-<hash>.log`` (``syncd.log`` without a data_dir)
    in `log_dir`, which defaults to systemd's ``$LOGS_DIRECTORY`` when set, else the platform's
    user log dir; a path ending in ``.log`` is the file itself; any other path is a directory;
    False writes no file. The file rotates at settings.rotation, keeps settings.retention, and
    compresses old files with gzip. A log directory that cannot be created is warned about
    once; logging goes on without it.
    """
    settings = settings or LogSettings()
    verbose = verbosity > 0
    level = "DEBUG" if verbose else "WARNING" if verbosity < 0 else "INFO"
    logger.remove()
    where = str(data_dir.resolve()) if data_dir is not None else None
    logger.configure(extra={"data_dir": where} if where else {})
    console = stream if stream is not None else sys.stderr
    journal = under_journald(console)
    common: dict[str, Any] = {"diagnose": verbose, "backtrace": verbose}
    if settings.format == "json":
        logger.add(console, level=level, format=_json_format(verbose, journal), colorize=False,
                   **common)
    else:
        logger.add(console, level=level, colorize=None if stream is None else False,
                   format=_text_format(VERBOSE_FORMAT if verbose else TEXT_FORMAT, journal,
                                       where=False), **common)

    target = _log_file(settings.file, log_dir, data_dir)
    if target is None:
        return
    file_format = (_json_format(verbose, journal=False) if settings.format == "json"
                   else _text_format(TEXT_FORMAT, journal=False, where=True))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        file_level = "DEBUG" if verbose else "INFO"  # -q quiets the console, not the record
        logger.add(target, level=file_level, format=file_format, rotation=settings.rotation,
                   retention=settings.retention, compression="gz", encoding="utf-8",
                   colorize=False, **common)
    except (OSError, ValueError) as exc:
        # ValueError: loguru rejects a rotation/retention string it cannot parse.
        logger.warning("log file disabled path={path} error={error}", path=str(target),
                       error=str(exc))


def default_log_dir() -> Path:
    """systemd's LogsDirectory= (``$LOGS_DIRECTORY``) when set, else the platform's user log dir
    (``~/.local/state/syncd/log``, ``%LOCALAPPDATA%\\syncd\\Logs``). appauthor=False: its default,
    the app name, would put a second ``syncd`` folder in the Windows path."""
    from_systemd = os.environ.get("LOGS_DIRECTORY", "").split(":")[0]
    if from_systemd:
        return Path(from_systemd)
    return Path(platformdirs.user_log_dir("syncd", appauthor=False))


def log_file_name(data_dir: Path | None) -> str:
    """``syncd-<dir name>-<8 hex of the resolved path>.log``: two instances of one user, each on
    its own data directory, never share a file, and the name still says which is which."""
    if data_dir is None:
        return LOG_FILE_NAME
    resolved = str(data_dir.resolve())
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", data_dir.resolve().name).strip("._") or "root"
    return f"syncd-{name}-{hashlib.sha256(resolved.encode('utf-8')).hexdigest()[:8]}.log"


def error_record_elsewhere(data_dir: Path) -> Path:
    """Where a failed pass's error goes when the data directory refuses it (another user's
    directory): beside the log files, named after the data directory as its log file is."""
    return default_log_dir() / (log_file_name(data_dir).removesuffix(".log") + ".error.json")


def under_journald(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """True when `stream` is connected to the journal: systemd sets ``$JOURNAL_STREAM`` to the
    ``device:inode`` of that pipe (systemd.exec(5)). Comparing them, rather than trusting the
    variable alone, keeps a child whose stderr was redirected from writing ``<6>`` into a file."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        status = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


def priority(level_no: int) -> int:
    """The syslog/sd-daemon priority of a loguru level number (ERROR 3, WARNING 4, INFO 6, ...)."""
    for floor, value in ((50, 2), (40, 3), (30, 4), (25, 5), (20, 6)):
        if level_no >= floor:
            return value
    return 7


def json_entry(record: Record, *, verbose: bool) -> dict[str, object]:
    """One record as the JSON line's object (see the module docstring for the schema)."""
    fields: dict[str, object] = {key: _plain(value) for key, value in record["extra"].items()
                                 if not key.startswith("_")}
    entry: dict[str, object] = {
        "time": record["time"].astimezone(timezone.utc).isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "level": record["level"].name,
        "priority": priority(record["level"].no),
        "message": record["message"],
        "logger": record["name"],
    }
    if fields.get("data_dir") is not None:
        entry["data_dir"] = fields["data_dir"]
    entry.update((key, value) for key, value in fields.items() if key not in JSON_KEYS)
    exception = record["exception"]
    if exception is not None and exception.type is not None and exception.value is not None:
        # The stdlib renders it so that locals (which may hold a password) show only with -v.
        entry["exception"] = "".join(traceback.TracebackException(
            exception.type, exception.value, exception.traceback,
            capture_locals=verbose).format()).rstrip()
    return entry


def _json_format(verbose: bool, journal: bool) -> _Format:
    def render(record: Record) -> str:
        # Rendered here and handed over as a value: loguru would read braces and <tags> in it.
        line = orjson.dumps(json_entry(record, verbose=verbose)).decode("utf-8")
        prefix = f"<{priority(record['level'].no)}>" if journal else ""
        record["extra"]["_line"] = prefix + line
        return "{extra[_line]}\n"

    return render


def _text_format(base: str, journal: bool, *, where: bool) -> _Format:
    if journal:  # journald stamps every line itself: a second time would only be noise
        base = re.sub(r"^\{time:[^}]*\} ", "", base)

    def render(record: Record) -> str:
        line = base
        if where and record["extra"].get("data_dir"):
            line += " data_dir={extra[data_dir]}"
        if journal:
            # A value, not template text: loguru would take "<6>" for a colour tag. Traceback
            # lines after the first (only with -v, or logger.exception) keep journald's default.
            record["extra"]["_priority"] = f"<{priority(record['level'].no)}>"
            line = "{extra[_priority]}" + line
        return line + "\n{exception}"

    return render


def _log_file(file: bool | Path, log_dir: Path | None, data_dir: Path | None) -> Path | None:
    if file is False:
        return None
    if file is True:
        return (log_dir or default_log_dir()) / log_file_name(data_dir)
    return file if file.suffix == ".log" else file / log_file_name(data_dir)


def _plain(value: object) -> object:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
