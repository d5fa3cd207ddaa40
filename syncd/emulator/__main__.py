"""`python -m syncd.emulator`: serve an Odoo emulator with demo data until Ctrl+C or SIGTERM.

    python -m syncd.emulator --version 19 --port 8069 --churn 5 [--keep-alive]

Prints the URL, database and credentials, then serves. With --churn N it makes a few random
changes (creates, writes, archives, deletions) every N seconds, so a syncing client has
something to follow. Like Odoo, it closes the connection after every answer; --keep-alive keeps
connections open, as a proxy in front of Odoo may. Exits 0 on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import threading
from types import FrameType

from syncd.emulator.demo_data import churn, populate
from syncd.emulator.server import REAL_LOGIN_COST, SUPPORTED_VERSIONS, Emulator

_PROTOCOL_NAMES = {"json2": "JSON-2 (/json/2/<model>/<method>)",
                   "xmlrpc": "XML-RPC (/xmlrpc/2/common, /xmlrpc/2/object)",
                   "jsonrpc": "JSON-RPC (/jsonrpc)"}


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m syncd.emulator",
                                     description="Serve an emulated Odoo with demo data.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8069, help="port (8069; 0 = any free port)")
    parser.add_argument("--version", type=int, choices=SUPPORTED_VERSIONS, default=17,
                        help="Odoo major version to emulate (17)")
    parser.add_argument("--database", default="odoo", help="database name (odoo)")
    parser.add_argument("--customers", type=int, default=800, metavar="N",
                        help="demo customers (800)")
    parser.add_argument("--products", type=int, default=2000, metavar="N",
                        help="demo products (2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the demo data (0)")
    parser.add_argument("--churn", type=float, default=0.0, metavar="SECONDS",
                        help="make random changes every SECONDS (0 = off)")
    parser.add_argument("--login-cost", type=float, default=REAL_LOGIN_COST, metavar="SECONDS",
                        help=f"server time of each login ({REAL_LOGIN_COST}, as a real Odoo 17/18 "
                             "spends hashing the password; 0 = instant)")
    parser.add_argument("--server-workers", type=int, default=0, metavar="N",
                        help="handle at most N requests at once, as an Odoo with N workers "
                             "(0 = no limit)")
    parser.add_argument("--row-cost-us", type=float, default=0.0, metavar="MICROSECONDS",
                        help="server time per row a query examines, spent outside the GIL as a "
                             "database server would (0 = none)")
    parser.add_argument("--keep-alive", action="store_true",
                        help="keep HTTP connections open between requests, as a proxy in front "
                             "of Odoo may (default: close after every answer, as Odoo does)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    emulator = Emulator(args.version, database=args.database, keep_alive=args.keep_alive,
                        login_cost=args.login_cost, admin_partner=True,
                        server_workers=args.server_workers, row_cost=args.row_cost_us / 1e6)
    populate(emulator.db, customers=args.customers, products=args.products, seed=args.seed)
    try:
        url = emulator.start(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    print(f"Odoo {args.version}.0 emulator serving {url}\n"
          f"  database:  {emulator.db.name}\n"
          f"  login:     {emulator.login}\n"
          f"  password:  {emulator.password}\n"
          f"  api key:   {emulator.api_key}\n"
          f"  protocols: {', '.join(_PROTOCOL_NAMES[p] for p in emulator.protocols())}\n"
          f"  http:      {'keep-alive' if args.keep_alive else 'one request per connection'}\n"
          f"  data:      {args.customers} customers, {args.products} products (seed {args.seed})"
          + (f", churn every {args.churn:g} s" if args.churn > 0 else "")
          + "\nPress Ctrl+C to stop.", flush=True)
    rng = random.Random(args.seed)
    try:
        # Waiting with a timeout keeps the main thread responsive to signals everywhere.
        interval = args.churn if args.churn > 0 else 0.5
        while not stop.wait(interval):
            if args.churn > 0:
                churn(emulator.db, rng)
    finally:
        emulator.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
