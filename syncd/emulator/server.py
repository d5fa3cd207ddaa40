"""The `Emulator` facade: one in-memory Odoo database served over real HTTP.

    with Emulator(version=19) as odoo:          # started on 127.0.0.1, a free port
        odoo.db.create("res.partner", {...})    # control the data directly
        odoo.faults.add("http_502", times=2)    # make the next two requests fail
        ... talk to odoo.url over XML-RPC, JSON-RPC or JSON-2 ...
        odoo.stats.requests                      # what the server saw

The server runs in a daemon thread; `stop()` returns promptly, also with requests waiting on
planned latency or idle keep-alive connections open (it cuts them). Connections close after
every answer unless `Emulator(keep_alive=True)`.
"""

from __future__ import annotations

import threading
from types import TracebackType

from syncd.emulator.clock import Clock
from syncd.emulator.handler import EmulatorHTTPServer
from syncd.emulator.injection import Capacity, FaultPlan, Link, Stats
from syncd.emulator.routes import Router
from syncd.emulator.services import Services
from syncd.emulator.store import Database

SUPPORTED_VERSIONS = (16, 17, 18, 19)
# Server time of one `common.login` on a real Odoo 17/18 (0.40-0.48 s: password hashing, 7
# queries); the benchmarks and `python -m syncd.emulator` use it, tests keep 0.
REAL_LOGIN_COST = 0.45

ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "admin"
ADMIN_API_KEY = "syncd-emulator-api-key"


class Emulator:
    """An Odoo server of major `version` serving one database.

    With `db`, that database is served (its version must equal `version`); otherwise a new one
    named `database`, on `clock`, is created with the default admin user. With
    `send_date=False` answers carry no HTTP `Date` header (as behind a proxy that strips it).
    Each answer closes its connection, as Odoo's own server does; with `keep_alive=True`
    connections stay open between requests, as behind a proxy that keeps them alive.
    With `admin_partner=True` the admin user has its res.partner, as in a real database.
    `login_cost`: seconds each `common.login`/`authenticate` takes (0: instant, the default,
    for tests; `REAL_LOGIN_COST` is what a real 17/18 spends, for benchmarks of one-shot runs).
    `server_workers` and `row_cost`: a server with that many workers (0: no limit), charging
    `row_cost` seconds per row a query examines, outside every lock (`self.capacity`, settable
    while serving).
    """

    def __init__(self, version: int = 17, *, database: str = "odoo", db: Database | None = None,
                 clock: Clock | None = None, send_date: bool = True,
                 keep_alive: bool = False, admin_partner: bool = False,
                 login_cost: float = 0.0, gzip: bool = False, server_workers: int = 0,
                 row_cost: float = 0.0) -> None:
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(f"unsupported Odoo version {version}; "
                             f"choose one of {', '.join(map(str, SUPPORTED_VERSIONS))}")
        if db is not None and db.version != version:
            raise ValueError(f"database {db.name!r} is a version {db.version} database, "
                             f"not {version}")
        self.version = version
        self.db = db if db is not None else Database(name=database, version=version, clock=clock,
                                                     admin_partner=admin_partner)
        self.send_date = send_date
        self.keep_alive = keep_alive
        self.login_cost = login_cost
        self.link = Link(gzip=gzip)
        self.capacity = Capacity(workers=server_workers, row_cost=row_cost)
        self.faults = FaultPlan()
        self.stats = Stats()
        self.url = ""
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def login(self) -> str:
        return ADMIN_LOGIN

    @property
    def password(self) -> str:
        return ADMIN_PASSWORD

    @property
    def api_key(self) -> str:
        return ADMIN_API_KEY

    @property
    def port(self) -> int:
        """The bound port (0 before `start`)."""
        return self._server.server_address[1] if self._server is not None else 0

    def protocols(self) -> list[str]:
        """The RPC protocols served, newest first."""
        served = ["xmlrpc", "jsonrpc"]
        return ["json2", *served] if self.version >= 19 else served

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Bind `host:port` (0 = a free port), serve in a daemon thread, return the URL."""
        if self._server is not None:
            raise RuntimeError(f"emulator already serving {self.url}")
        router = Router(Services(self.db, self.stats, self.login_cost))
        server = EmulatorHTTPServer((host, port), router, self.faults, self.stats, self.link,
                                    self.capacity)
        server.send_date = self.send_date
        server.keep_alive = self.keep_alive
        bound_host, bound_port = server.server_address[:2]
        self._server = server
        self.url = f"http://{_url_host(str(bound_host))}:{bound_port}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"odoo-emulator-{bound_port}", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving: interrupt latency waits, cut open connections, free the port."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.close_all()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Emulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
