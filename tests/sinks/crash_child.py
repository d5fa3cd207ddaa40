"""Child process for the crash-point sweep: `syncd once` (the real command's entry point) that
SIGKILLs itself right after the K-th time it reaches STEP of the write path, or runs whole with
K = 0. Its local clock is frozen so that two whole runs write the same bytes.

On PostgreSQL the steps are the pass's COMMIT (before and after it) and each row handed to a COPY
(a rebuild's records, the journal's rows, the state's).

Usage: python crash_child.py STEP K   (the config comes from SYNCD_CONFIG)
With CRASH_CHILD_ERRNO=N, the K-th call at STEP fails with OSError(N) instead (the call is not
made), as a full disk (ENOSPC) or a failing one (EIO) makes it.

Prints nothing of its own; exits as `syncd once` does, or dies by SIGKILL.

`python crash_child.py --serve` starts such children on request, each a fork of this one process
once it has imported what a pass imports: a sweep's hundreds of children then skip the
interpreter's start-up and those imports (about 0.35 s of CPU each), and are otherwise the same
process, killed the same way. A request is a JSON line on stdin, {"args": [STEP, K], "env":
{...}, "stdout": FILE, "stderr": FILE}: the child's whole environment and where its fds 1 and 2
go; the answer a JSON line on stdout, {"returncode": N}, as subprocess's (-9: SIGKILL).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from syncd import cli
from syncd.sinks import atomic
from syncd.sinks.json import journal
from syncd.sync import engine

FROZEN = datetime(2030, 1, 2, 3, 4, 5)


def crash_after(step: str, count: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a function so that its `count`-th return (when `step` is the chosen one) kills us."""
    chosen, wanted = sys.argv[1], int(sys.argv[2])
    seen = [0]

    error = int(os.environ.get("CRASH_CHILD_ERRNO", "0"))

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if error and chosen == step and wanted:
                seen[0] += 1
                if seen[0] == wanted:
                    sys.stderr.write(f"crash-child: injected at {step}\n")
                    raise OSError(error, os.strerror(error))
                return function(*args, **kwargs)
            if chosen == step and wanted and step.startswith("before "):
                seen[0] += 1
                if seen[0] == wanted:
                    os.kill(os.getpid(), signal.SIGKILL)
            result = function(*args, **kwargs)
            if chosen == step and wanted and not step.startswith("before "):
                seen[0] += 1
                if seen[0] == wanted:
                    os.kill(os.getpid(), signal.SIGKILL)
            return result
        return wrapped
    return wrap


class _Connection(sqlite3.Connection):
    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        if sql.strip().upper() == "COMMIT":
            return _commit(lambda: super(_Connection, self).execute(sql, *args))
        return super().execute(sql, *args)


def _run(run: Callable[[], Any]) -> Any:
    return run()


_commit = _run  # main() wraps it: the steps and the errno are the process's, known then


def _hook_postgres() -> None:
    """The pass's COMMIT (the writer sends it as a statement on an autocommit connection) and
    each row handed to a COPY."""
    try:
        import psycopg
    except ImportError:  # no PostgreSQL extra: the sweep does not run that sink
        return
    execute = psycopg.Connection.execute

    def executing(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(query, str) and query.strip().upper() == "COMMIT":
            return _commit(lambda: execute(self, query, *args, **kwargs))
        return execute(self, query, *args, **kwargs)

    psycopg.Connection.execute = executing  # type: ignore[method-assign]
    if os.environ.get("CRASH_CHILD_SPLIT_COMMIT"):
        from syncd.sinks.postgres import writer

        writer.PostgresPassWriter.write = _committing(  # type: ignore[method-assign]
            writer.PostgresPassWriter.write)
    psycopg.Copy.write_row = crash_after("COPY row written", 0)(  # type: ignore[method-assign]
        psycopg.Copy.write_row)


def _replace_in_place(temp: Any, path: Any) -> None:
    """A broken write path (CRASH_CHILD_IN_PLACE=1), for the test that the sweep catches one:
    the target rewritten in place, fsynced half way."""
    data = temp.read_bytes()
    temp.unlink()
    with open(path, "wb") as handle:
        handle.write(data[:len(data) // 2])
        handle.flush()
        os.fsync(handle.fileno())
        handle.write(data[len(data) // 2:])


def _committing(write: Callable[..., Any]) -> Callable[..., Any]:
    """A broken write path (CRASH_CHILD_SPLIT_COMMIT=1), for the test that the sweep catches
    one: each model's writes committed as soon as they are made, the pass going on in a new
    transaction."""
    from psycopg import sql

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        applied = write(self, *args, **kwargs)
        self.conn.execute(sql.SQL("COMMIT"))  # not a str: not the pass's COMMIT step
        self.conn.execute("BEGIN")
        return applied
    return wrapped


def main() -> int:
    global _commit
    _commit = crash_after("after COMMIT", 0)(crash_after("before COMMIT", 0)(_run))
    engine.run_pass.__kwdefaults__["now"] = lambda: FROZEN
    if os.environ.get("CRASH_CHILD_IN_PLACE"):
        atomic._replace = _replace_in_place
    atomic._create_temp = crash_after("temp opened", 0)(atomic._create_temp)
    atomic.StagedWriter._flush = crash_after("temp written", 0)(atomic.StagedWriter._flush)
    atomic.os.write = crash_after("written", 0)(os.write)  # type: ignore[attr-defined]
    os.fsync = crash_after("fsynced", 0)(os.fsync)
    atomic._replace = crash_after("replaced", 0)(atomic._replace)
    atomic._fsync_directory = crash_after("directory fsynced", 0)(atomic._fsync_directory)
    journal.Appending._flush = crash_after("journal appended", 0)(journal.Appending._flush)
    journal.Appending.sync = crash_after("journal synced", 0)(journal.Appending.sync)
    connect = sqlite3.connect
    sqlite3.connect = lambda *a, **k: connect(*a, factory=_Connection, **k)  # type: ignore
    _hook_postgres()
    return cli.main(["-q", "once"])


# What `syncd once` imports as it runs (the rest is imported above), for --serve to load once.
PRELOAD = ("syncd.cli", "syncd.config", "syncd.service.runner", "syncd.service.logs",
           "syncd.sinks.factory", "syncd.sinks.json.sink", "syncd.sinks.sqlite.sink",
           "syncd.odoo.client", "syncd.odoo.transport", "syncd.sync.engine", "psycopg",
           "syncd.sinks.postgres.sink")


def serve() -> int | None:
    """Fork a child per request (see the module's doc); returns None in this server when stdin
    ends, the child's exit code in a child, which then exits as a process running main() would
    (the interpreter's own shutdown, at-exit handlers included)."""
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # no PostgreSQL extra: the sweep does not run that sink
            pass
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()  # this process runs one thread: nothing is copied mid-operation
        if pid == 0:
            return _as_child(request)
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        sys.stdout.flush()
    return None


def _as_child(request: dict[str, Any]) -> int:
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = [sys.argv[0], *request["args"]]
    return main()


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        sys.exit(serve())
    sys.exit(main())
