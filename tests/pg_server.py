"""A real PostgreSQL server for the tests, started once per test process on first use.

Under pytest-xdist (scripts/test.sh) each worker is a process of its own and so starts a server
of its own, in a temporary directory of its own: nothing is shared between workers (the socket
lives in that directory, so the same ``PORT`` number never collides).

`initdb` and `pg_ctl` (on PATH) make a cluster in a temporary directory that listens on a Unix
socket only (``listen_addresses=''``): no TCP port to collide with another suite running on the
same machine. PostgreSQL refuses to run as root, so as root (tests and CI are) every server
command runs as the ``postgres`` account (``runuser``), and the directory is theirs.

Authentication on the socket: ``trust`` for everyone but the role ``PASSWORD_ROLE``, which must
give its password (``scram-sha-256``), so a test can see a password refused.

`server()` starts it (or skips the test with a one-line reason when no PostgreSQL can be
started; with ``SYNCD_REQUIRE_POSTGRES=1`` that is a failure instead). `database_for(key)` is a
fresh database per key (a test's tmp_path), created once. `stop()` ends it (the session fixture
in tests/conftest.py calls it; atexit as well, should the session die first).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PASSWORD_ROLE = "syncd_pw"
PASSWORD = "Pg-S3cret-pw-71x"
PORT = 5432  # only names the socket file, in a directory of its own


class PgServer:
    """One cluster in ``root`` (``data/``, the socket, ``server.log``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.socket_dir = root
        self.log = root / "server.log"
        self.databases: dict[str, str] = {}

    def _as_owner(self, *command: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *command]
        return list(command)

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        run(self._as_owner("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                           "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"))
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"local all {PASSWORD_ROLE} scram-sha-256\nlocal all all trust\n")
        # fsync off: a test server's data need not survive a power cut, and it is much faster.
        options = (f"-c listen_addresses='' -k {self.socket_dir} -p {PORT} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        run(self._as_owner("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-s",
                           "-t", "60", "-o", options, "start"))
        self.sql("postgres", f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._as_owner("pg_ctl", "-D", str(self.data), "-m", "immediate",
                                          "-s", "-w", "stop"), capture_output=True)

    def dsn(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"host={self.socket_dir} port={PORT} dbname={dbname} user={user}"

    def uri(self, dbname: str, user: str, password: str) -> str:
        from urllib.parse import quote

        return (f"postgresql://{quote(user)}:{quote(password)}@/{dbname}"
                f"?host={quote(str(self.socket_dir))}&port={PORT}")

    def sql(self, dbname: str, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(dbname), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]  # test-made SQL

    def database_for(self, key: str) -> str:
        """The DSN of a database of its own for ``key``, created on first use (owned by
        postgres; ``PASSWORD_ROLE`` may connect and create in it)."""
        if key not in self.databases:
            name = f"t{len(self.databases) + 1}"
            self.sql("postgres", f"CREATE DATABASE {name}")
            self.sql(name, f"GRANT ALL ON DATABASE {name} TO {PASSWORD_ROLE}")
            self.sql(name, f"GRANT ALL ON SCHEMA public TO {PASSWORD_ROLE}")
            self.databases[key] = name
        return self.dsn(self.databases[key])


def run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise RuntimeError(f"{command[0] if command[0] != 'runuser' else command[4]} failed: "
                           f"{' '.join(last)}")


_server: PgServer | None = None
_failure: str | None = None


def server() -> PgServer:
    """The session's server, started on first call; skips (or fails, see the module) when none
    can be started."""
    global _server, _failure
    if _server is None and _failure is None:
        missing = [tool for tool in ("initdb", "pg_ctl") if shutil.which(tool) is None]
        if missing:
            _failure = f"no PostgreSQL to start: {', '.join(missing)} not on PATH"
        else:
            root = Path(tempfile.mkdtemp(prefix="syncd-pg-"))
            candidate = PgServer(root)
            try:
                candidate.start()
                _server = candidate
                atexit.register(stop)
            except (RuntimeError, OSError, KeyError, LookupError) as exc:
                candidate.stop()
                shutil.rmtree(root, ignore_errors=True)
                _failure = f"cannot start PostgreSQL: {exc}"
    if _server is None:
        reason = _failure or "no PostgreSQL"
        if os.environ.get("SYNCD_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (SYNCD_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    return _server


def stop() -> None:
    global _server
    if _server is not None:
        _server.stop()
        shutil.rmtree(_server.root, ignore_errors=True)
        _server = None
