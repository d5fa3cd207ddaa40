"""The command line: parse, call one library function, print, exit with the contract's code.

Exit codes: 0 success; 1 the pass failed (Odoo unreachable, credentials refused, a model failed,
another instance holds the data directory); 2 usage or configuration error. Errors are one line
on stderr; a traceback only with -v. Secrets are scrubbed from everything printed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, NoReturn

from syncd.config import describe_config_file, load_settings, require_login
from syncd.errors import (
    ConfigError,
    LockedError,
    PassInterrupted,
    SyncdError,
    one_line,
    scrub,
)
from syncd.odoo.interrupt import clear_stop, request_stop
from syncd.settings import Settings
from syncd.version import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # self.prog: "syncd status" under a command, so the hint names that command's help.
        sys.stderr.write(f"{error_prefix()}syncd: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds: {text!r}")
    return value


# What each command does, for `syncd --help` (the first line) and `syncd COMMAND --help` (all).
DESCRIPTIONS = {
    "once": "One sync pass over every configured model, then exit.\n\nExit 0 when the pass "
            "committed, 1 when it failed (nothing of it is committed, the next pass catches up), "
            "130/143 when SIGINT/SIGTERM stopped it (nothing of it is committed).",
    "run": "The daemon: a pass now, then one every `interval` seconds.\n\nSIGINT/SIGTERM end it "
           "(exit 0): a pass in progress is abandoned, nothing of it committed.",
    "status": "Per model: file, records, watermark, last pass.\n\nReads only local files and "
              "takes no lock: says whether a daemon holds the data directory, lists models no "
              "longer configured. Exit 1 when the last pass failed or none has succeeded yet; "
              "with --max-age also when the last good pass is older than that.",
    "check": "Connect, log in, compare record counts (writes nothing).\n\nReports the server "
             "version and protocol, and per model the record count in Odoo and in the snapshot. "
             "Exit 1 on errors; with --strict also when a count differs, a configured field "
             "is missing, or a stored model is no longer configured (run it at a quiet "
             "moment, e.g. right after once).",
    "resync": "Forget watermarks: the next pass rebuilds.\n\nThe named models (all if none) are "
              "fetched from scratch on the next pass; a running daemon picks the request up. "
              "--forget NAME removes the snapshot and state entry of a model no longer "
              "configured (with no syncd running).",
    "demo": "Run against the built-in Odoo emulator with demo data.\n\nServes generated "
            "customers and products on 127.0.0.1, changes a few every few seconds, and runs the "
            "daemon against it. Snapshots go to ./syncd-demo, or to --data-dir when given; "
            "never to the configured data directory. The demo writes only into a directory that "
            "is missing, empty, or one an earlier demo made (it holds a .syncd-demo marker), "
            "so it cannot overwrite real snapshots.",
    "fields": "Per field of a model: type, stored, how a pass sees its changes.\n\nMODEL is "
              "a configured name (customers) or an Odoo model (res.partner). Says for each "
              "field whether a change moves the record's own write_date, is seen through a "
              "followed parent model, or is not seen at all; the configured fields are marked. "
              "Contacts Odoo, writes nothing.",
    "models": "The Odoo models a pass can sync: no wizards, no abstract models.\n\nFrom "
              "ir.model, those with a write_date field (abstract models have no table); "
              "contacts Odoo, writes nothing.",
    "watch": "Print one line per change as it lands (the reference consumer).\n\nPer change "
             "of the named models (all configured ones by default): records added, updated "
             "and removed, with a few ids, until Ctrl+C. Follows the change journal when "
             "[sync] journal is on, else diffs consecutive snapshots. --json: one JSON object "
             "per line.",
    "match": "The reference email matcher: best customers and products per email.\n\nReads "
             "the synced customers and products from the sink, then prints one line per "
             "FILE.eml (in the order given): the best matches with reason and score. --watch "
             "DIR then matches each new email arriving in DIR, the index kept current, until "
             "Ctrl+C. Exit 1 when a file could not be read (the others are still matched).",
}


def add_global_options(parser: argparse.ArgumentParser, *, under_command: bool) -> None:
    """The options accepted before or after the command. After it (under_command), their
    defaults are SUPPRESS, so a value given before the command is not reset by the
    subcommand's parser."""
    unset = argparse.SUPPRESS if under_command else None
    off = argparse.SUPPRESS if under_command else False
    parser.add_argument("--config", metavar="FILE", default=unset, help="configuration file "
                        "(default: $SYNCD_CONFIG, ./syncd.toml, then the platform config dir)")
    parser.add_argument("--data-dir", metavar="DIR", default=unset,
                        help="where snapshots and state live")
    parser.add_argument("-v", "--verbose", action="store_true", default=off,
                        help="debug logs and tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", default=off,
                        help="warnings and errors only")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="syncd", description="Keep local copies of Odoo models current: JSON "
                     "snapshot files, or tables in SQLite or PostgreSQL ([sink] kind).")
    parser.add_argument("--version", action="version", version=f"syncd {__version__}")
    add_global_options(parser, under_command=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def command(name: str) -> argparse.ArgumentParser:
        paragraphs = DESCRIPTIONS[name].split("\n\n")
        first = paragraphs[0].rstrip(".")
        # Raw, so the paragraphs stay apart (argparse would run them into one).
        sub = commands.add_parser(name, help=first[0].lower() + first[1:],
                                  description="\n\n".join(textwrap.fill(p, 78) for p in paragraphs),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        add_global_options(sub, under_command=True)
        return sub

    command("once")
    command("run")
    status = command("status")
    status.add_argument("--json", action="store_true",
                        help="machine-readable: one JSON object on one line")
    status.add_argument("--max-age", type=_seconds, metavar="SECONDS",
                        help="also exit 1 when the last good pass is older (or there is none)")
    command("check").add_argument("--strict", action="store_true", help="also exit 1 when a "
                                  "count differs, a configured field is missing, or a stored "
                                  "model is no longer configured")
    resync = command("resync")
    resync.add_argument("names", nargs="*", metavar="NAME", help="models to rebuild (default all)")
    resync.add_argument("--forget", action="store_true", help="remove the snapshot and state "
                        "entry of models no longer configured (no syncd may be running)")
    demo = command("demo")
    demo.add_argument("--seconds", type=float, default=0, help="stop after this long (0: Ctrl+C)")
    demo.add_argument("--interval", type=float, default=5, help="seconds between passes (5)")
    demo.add_argument("--odoo-version", type=int, default=17, choices=(16, 17, 18, 19),
                      help="the Odoo version the emulator answers as (17)")
    demo.add_argument("--sink", choices=("json", "sqlite"), default="json",
                      help="json files (default) or one SQLite file, odoo.sqlite")
    watch = command("watch")
    watch.add_argument("names", nargs="*", metavar="NAME", help="models to watch (default all)")
    watch.add_argument("--json", action="store_true", help="JSON Lines: one object per change")
    match = command("match")
    match.add_argument("files", nargs="*", metavar="FILE.eml", help="emails to match")
    match.add_argument("--json", action="store_true", help="JSON Lines, one object per email")
    match.add_argument("--watch", type=Path, metavar="DIR",
                       help="then match each new .eml arriving in DIR (a maildir's new/ works)")
    match.add_argument("--customers", default="customers", metavar="NAME",
                       help="the configured model of customers (default customers)")
    match.add_argument("--products", default="products", metavar="NAME",
                       help="the configured model of products (default products)")
    fields = command("fields")
    fields.add_argument("model", metavar="MODEL",
                        help="a configured name (customers) or an Odoo model (res.partner)")
    fields.add_argument("--json", action="store_true",
                        help="JSON Lines: one object per field")
    command("models").add_argument("--json", action="store_true",
                                   help="JSON Lines: one object per model")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose and args.quiet:  # given on both sides of the command, argparse cannot tell
        parser.error("argument -q/--quiet: not allowed with argument -v/--verbose")
    verbosity = 1 if args.verbose else -1 if args.quiet else 0
    if args.command == "demo" and verbosity == 0:
        verbosity = -1  # the demo prints its own line per pass; INFO lines would repeat them
    secrets: tuple[str, ...] = ()
    try:
        settings = load_settings(args.config, args.data_dir, environment())
        secrets = settings.secrets()
        from syncd.service.logs import setup_logging

        log = settings.log
        if args.command not in ("run", "once"):
            # Read-only commands keep the log file for passes; the demo's passes are not the
            # configured Odoo's and must not be mixed into its log.
            log = replace(log, file=False)
        setup_logging(verbosity=verbosity, settings=log, data_dir=settings.sync.data_dir)
        from loguru import logger

        logger.debug(describe_config_file(settings))
        command: Callable[[argparse.Namespace, Settings], int] = COMMANDS[args.command]
        return command(args, settings)
    except ConfigError as exc:
        return fail(exc, EXIT_USAGE, verbosity, secrets)
    except LockedError as exc:
        return fail(exc, EXIT_FAILED, verbosity, secrets)
    except SyncdError as exc:
        return fail(exc, EXIT_FAILED, verbosity, secrets)
    except KeyboardInterrupt:  # Ctrl+C outside a pass (`once` handles the pass itself)
        if args.command == "once":
            sys.stderr.write("syncd: interrupted (SIGINT)\n")
            return 128 + signal.SIGINT
        return EXIT_OK
    except OSError as exc:  # the data directory or a file in it cannot be used
        return fail(RuntimeError(os_error_line(exc)), EXIT_FAILED, verbosity, secrets)
    except Exception as exc:  # a bug: still one line unless -v
        if verbosity > 0:
            raise
        return fail(RuntimeError(f"unexpected {type(exc).__name__}: {exc} (run with -v for details)"),
                    EXIT_FAILED, verbosity, secrets)


def environment() -> dict[str, str]:
    """os.environ plus secrets handed over by systemd's LoadCredential.

    A credential fills a variable that is unset *or empty*: an env file with an empty
    ``ODOO_API_KEY=`` line must not hide it (it used to, and Odoo refused the login). A variable
    with a value still wins over the credential.
    """
    from syncd.service.daemon import credentials_from_systemd

    env = dict(os.environ)
    for key, value in credentials_from_systemd(env).items():
        if not env.get(key):
            env[key] = value
    return env


def os_error_line(exc: OSError) -> str:
    """What went wrong with a path, in one line. A file where a directory is needed (the data
    directory given as a file's path, or under one) says so: the OS's own words, "File exists"
    from creating the directory, name neither the problem nor the file in the way."""
    if not exc.filename:
        return str(exc.strerror or exc)
    path = Path(os.fsdecode(exc.filename))
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        for candidate in (path, *path.parents):
            if os.path.lexists(candidate):
                if not os.path.isdir(candidate):
                    blocks = "" if candidate == path else f" (in the way of {path})"
                    return f"{candidate} is a file where syncd needs a directory{blocks}"
                break
    return f"{exc.strerror or exc}: {path}"


def fail(exc: BaseException, code: int, verbosity: int, secrets: Sequence[str]) -> int:
    if verbosity > 0:
        import traceback

        sys.stderr.write(scrub("".join(traceback.format_exception(exc)), secrets))
    message = one_line(str(exc)) or type(exc).__name__
    sys.stderr.write(f"{error_prefix()}syncd: error: {scrub(message, secrets)}\n")
    return code


def error_prefix() -> str:
    """``<3>`` when stderr is the journal (journald strips it and files the line as an error,
    so ``journalctl -p err`` shows it), else nothing."""
    from syncd.service.logs import under_journald

    return "<3>" if under_journald(sys.stderr) else ""


# -- commands --------------------------------------------------------------------------------------
class StopOnSignal:
    """For `once`: SIGINT, SIGTERM (and SIGBREAK on Windows) while the pass runs stop it — at
    once if it is waiting for Odoo (syncd.odoo.interrupt), else at the next page — so nothing
    of it is committed. `signum` is the signal that came. A second signal aborts at once
    (KeyboardInterrupt). The previous handlers are back on exit. Main thread only (Python's
    rule); elsewhere it installs nothing."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.aborted = False  # a second signal: abandoned wherever it was, maybe mid-commit
        self._previous: dict[int, Callable[[int, FrameType | None], Any] | int] = {}

    def __enter__(self) -> StopOnSignal:
        clear_stop()
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
                number = getattr(signal, name, None)
                if number is not None:
                    previous = signal.signal(number, self._handle)
                    if previous is not None:  # None: not set from Python, cannot be put back
                        self._previous[number] = previous
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            self.aborted = True
            raise KeyboardInterrupt
        self.signum = signum  # before request_stop: it may raise out of this handler
        request_stop()

    def requested(self) -> bool:
        return self.signum is not None

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        clear_stop()


def cmd_once(args: argparse.Namespace, settings: Settings) -> int:
    """One pass. Stopped by a signal: exit 128 + its number (130 SIGINT, 143 SIGTERM), so
    `syncd once && reindex` does not take an abandoned pass for a good one."""
    from syncd.service.runner import sync_once

    require_login(settings)
    committed = False
    with StopOnSignal() as stop:
        try:
            report = sync_once(settings, should_stop=stop.requested)
            committed = report.ok
        except (PassInterrupted, KeyboardInterrupt):
            if stop.signum is None:
                raise
    if stop.signum is not None:
        name = signal.Signals(stop.signum).name
        what = ("the pass had committed before the stop" if committed
                else "abandoned at once; every file is whole, the next pass catches up"
                if stop.aborted else "nothing of the pass was committed")
        sys.stderr.write(f"syncd: interrupted ({name}): {what}\n")
        return 128 + stop.signum
    if not report.ok:
        error = scrub(report.error or "pass failed", settings.secrets())
        sys.stderr.write(f"{error_prefix()}syncd: error: {error}\n")
        return EXIT_FAILED
    return EXIT_OK


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.service.runner import run_daemon

    require_login(settings)
    return run_daemon(settings)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.service.status import render_status, status_of

    status = status_of(settings, max_age=args.max_age)
    sys.stdout.write(render_status(status, as_json=args.json))
    return EXIT_OK if status["ok"] else EXIT_FAILED


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.service.status import check, render_check

    require_login(settings)
    result = check(settings)
    sys.stdout.write(render_check(result))
    if not result["ok"]:
        return EXIT_FAILED
    return EXIT_FAILED if args.strict and not result["in_sync"] else EXIT_OK


def cmd_resync(args: argparse.Namespace, settings: Settings) -> int:
    from contextlib import closing

    from syncd.sinks.datadir import DataDir
    from syncd.sinks.factory import make_sink

    data_dir = DataDir(settings.sync.data_dir)
    known = [spec.name for spec in settings.models]
    names = sorted(set(args.names))
    if args.forget:
        if not names:
            raise ConfigError("resync --forget needs the NAME of a model no longer configured")
        still = [name for name in names if name in known]
        if still:
            raise ConfigError(f"{', '.join(still)} is still configured: remove its "
                              "[models.NAME] table first (or use resync without --forget)")
        with closing(make_sink(settings)) as sink:
            removed = data_dir.forget(sink, names)
        print(f"forgot {', '.join(removed)}: stored copy and state entry removed")
        return EXIT_OK
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(f"unknown model {', '.join(unknown)} (configured: {', '.join(known)})")
    which = ", ".join(names) or "all models"
    with closing(make_sink(settings)) as sink:
        at_once = data_dir.request_resync(sink, names, known)
    if at_once:
        print(f"watermarks forgotten for {which}: the next pass rebuilds them from scratch")
    else:
        print(f"resync requested for {which}: the running syncd rebuilds them on its next pass")
    return EXIT_OK

def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.service.demo import DEFAULT_DEMO_DIR, run_demo

    # Only a --data-dir given on this command line; never the configured one (SYNCD_DATA_DIR,
    # [sync].data_dir), which holds the real snapshots.
    data_dir = Path(args.data_dir) if args.data_dir else DEFAULT_DEMO_DIR
    return run_demo(settings, data_dir=data_dir, seconds=args.seconds, interval=args.interval,
                    version=args.odoo_version, sink=args.sink)


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.consumer.watch import watch

    return watch(settings, args.names, as_json=args.json)


def cmd_match(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.consumer.inbox import run_match

    return run_match(settings, args.files, watch=args.watch, as_json=args.json,
                     customers=args.customers, products=args.products)


def cmd_fields(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.sync.schema import fields_of, render_fields

    require_login(settings)
    sys.stdout.write(render_fields(fields_of(settings, args.model), as_json=args.json))
    return EXIT_OK


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.sync.schema import models_of, render_models

    require_login(settings)
    sys.stdout.write(render_models(models_of(settings), as_json=args.json))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "once": cmd_once, "run": cmd_run, "status": cmd_status, "check": cmd_check,
    "resync": cmd_resync, "demo": cmd_demo, "watch": cmd_watch, "fields": cmd_fields,
    "models": cmd_models, "match": cmd_match,
}
