"""The command line: parse, call one library function, print, exit with the contract's code.

Exit codes: 0 success; 1 the pass failed (Odoo unreachable, credentials refused, a model failed,
another instance holds the data directory); 2 usage or configuration error. Errors are one line
on stderr; a traceback only with -v. Secrets are scrubbed from everything printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import NoReturn


from syncd import __version__
from syncd.config import Settings, load_settings
from syncd.errors import ConfigError, LockedError, SyncdError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"syncd: error: {message} (see 'syncd --help')\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="syncd", description="Keep local JSON snapshots of Odoo models current.")
    parser.add_argument("--version", action="version", version=f"syncd {__version__}")
    parser.add_argument("--config", metavar="FILE", help="configuration file (default: "
                        "$SYNCD_CONFIG, ./syncd.toml, then the platform config dir)")
    parser.add_argument("--data-dir", metavar="DIR", help="where snapshots and state live")
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-v", "--verbose", action="store_true", help="debug logs and tracebacks")
    loud.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    commands.add_parser("once", help="one sync pass over every configured model, then exit")
    commands.add_parser("run", help="the daemon: a pass now, then one every `interval` seconds")
    status = commands.add_parser("status", help="per model: file, records, watermark, last pass")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    commands.add_parser("check", help="connect, log in, compare record counts (writes nothing)")
    resync = commands.add_parser("resync", help="forget watermarks: the next pass rebuilds")
    resync.add_argument("names", nargs="*", metavar="NAME", help="models to rebuild (default all)")
    demo = commands.add_parser("demo", help="run against the built-in Odoo emulator with demo data")
    demo.add_argument("--seconds", type=float, default=0, help="stop after this long (0: Ctrl+C)")
    demo.add_argument("--interval", type=float, default=5, help="seconds between passes (5)")
    demo.add_argument("--odoo-version", type=int, default=17, choices=(16, 17, 18, 19))
    commands.add_parser("watch", help="print one line per snapshot change as it lands")
    fields = commands.add_parser("fields", help="per field of a model: type, stored, and how a "
                                 "pass sees its changes (writes nothing)")
    fields.add_argument("model", metavar="MODEL",
                        help="a configured name (customers) or an Odoo model (res.partner)")
    fields.add_argument("--json", action="store_true", help="one JSON object per field")
    models = commands.add_parser("models", help="the Odoo models this user can list, without "
                                 "wizards (writes nothing)")
    models.add_argument("--json", action="store_true", help="one JSON object per model")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbosity = 1 if args.verbose else -1 if args.quiet else 0
    secrets: tuple[str, ...] = ()
    try:
        settings = load_settings(args.config, args.data_dir, environment())
        secrets = settings.odoo.secrets()
        from syncd.service.logs import setup_logging

        log = settings.log
        if args.command not in ("run", "once", "demo"):
            log = replace(log, file=False)  # read-only commands keep the log file for passes
        setup_logging(verbosity=verbosity, settings=log)
        command: Callable[[argparse.Namespace, Settings], int] = COMMANDS[args.command]
        return command(args, settings)
    except ConfigError as exc:
        return fail(exc, EXIT_USAGE, verbosity, secrets)
    except LockedError as exc:
        return fail(exc, EXIT_FAILED, verbosity, secrets)
    except SyncdError as exc:
        return fail(exc, EXIT_FAILED, verbosity, secrets)
    except KeyboardInterrupt:
        return EXIT_OK
    except OSError as exc:  # the data directory or a file in it cannot be used
        where = f": {exc.filename}" if exc.filename else ""
        return fail(RuntimeError(f"{exc.strerror or exc}{where}"), EXIT_FAILED, verbosity, secrets)
    except Exception as exc:  # a bug: still one line unless -v
        if verbosity > 0:
            raise
        return fail(RuntimeError(f"unexpected {type(exc).__name__}: {exc} (run with -v for details)"),
                    EXIT_FAILED, verbosity, secrets)


def environment() -> dict[str, str]:
    """os.environ plus secrets handed over by systemd's LoadCredential."""
    from syncd.service.daemon import credentials_from_systemd

    env = dict(os.environ)
    for key, value in credentials_from_systemd(env).items():
        env.setdefault(key, value)
    return env


def scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def fail(exc: BaseException, code: int, verbosity: int, secrets: Sequence[str]) -> int:
    if verbosity > 0:
        import traceback

        sys.stderr.write(scrub("".join(traceback.format_exception(exc)), secrets))
    message = " ".join(str(exc).split()) or type(exc).__name__
    sys.stderr.write(f"syncd: error: {scrub(message, secrets)}\n")
    return code


# -- commands --------------------------------------------------------------------------------------
def cmd_once(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.service.runner import sync_once

    report = sync_once(settings)
    if not report.ok:
        sys.stderr.write(f"syncd: error: {scrub(report.error or 'pass failed', settings.odoo.secrets())}\n")
        return EXIT_FAILED
    return EXIT_OK


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.service.runner import run_daemon

    return run_daemon(settings)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.service.status import render_status, status_of

    status = status_of(settings)
    sys.stdout.write(render_status(status, as_json=args.json))
    return EXIT_OK if status["ok"] else EXIT_FAILED


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.service.status import check, render_check

    result = check(settings)
    sys.stdout.write(render_check(result))
    return EXIT_OK if result["ok"] else EXIT_FAILED


def cmd_resync(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.sync.engine import request_resync

    known = [spec.name for spec in settings.models]
    unknown = [name for name in args.names if name not in known]
    if unknown:
        raise ConfigError(f"unknown model {', '.join(unknown)} (configured: {', '.join(known)})")
    settings.sync.data_dir.mkdir(parents=True, exist_ok=True)
    which = ", ".join(sorted(set(args.names))) or "all models"
    if request_resync(settings.sync.data_dir, sorted(set(args.names)), known):
        print(f"watermarks forgotten for {which}: the next pass rebuilds them from scratch")
    else:
        print(f"resync requested for {which}: the running syncd rebuilds them on its next pass")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.service.demo import run_demo

    return run_demo(settings, seconds=args.seconds, interval=args.interval,
                    version=args.odoo_version)


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.consumer.watch import watch

    return watch(settings.sync.data_dir)


def cmd_fields(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.sync.schema import fields_of, render_fields

    sys.stdout.write(render_fields(fields_of(settings, args.model), as_json=args.json))
    return EXIT_OK


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from syncd.sync.schema import models_of, render_models

    sys.stdout.write(render_models(models_of(settings), as_json=args.json))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "once": cmd_once, "run": cmd_run, "status": cmd_status, "check": cmd_check,
    "resync": cmd_resync, "demo": cmd_demo, "watch": cmd_watch, "fields": cmd_fields,
    "models": cmd_models,
}
