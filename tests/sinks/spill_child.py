"""Child process for the kill test of tests/sinks/test_spill.py: one real pass of the customers
model into DATA_DIR with a budget of a few records, which stops inside the pass once it holds
three spilled runs, says so, and waits to be killed.
Usage: spill_child.py URL DATABASE LOGIN PASSWORD DATA_DIR"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

from syncd.odoo.client import OdooClient
from syncd.settings import ModelSpec, OdooSettings, Settings, SyncSettings
from syncd.sinks.datadir import DataDir
from syncd.sinks.factory import opened
from syncd.sync.engine import run_pass


CUSTOMERS = ModelSpec(name="customers", model="res.partner",  # as tests/sync_rig.py's
                      fields=("name", "email", "phone", "is_company", "parent_id", "write_date"))


class Stopping(DataDir):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.scratches = 0

    def scratch_file(self) -> IO[bytes]:
        if self.scratches == 3:
            sys.stdout.write(f"spilled {self.scratches}\n")
            sys.stdout.flush()
            sys.stdin.read()  # until killed
        self.scratches += 1
        return super().scratch_file()


def main() -> None:
    url, database, login, password, data = sys.argv[1:6]
    settings = Settings(odoo=OdooSettings(url=url, database=database, username=login,
                                          password=password, protocol="jsonrpc", timeout=10),
                        sync=SyncSettings(data_dir=Path(data), reconcile_interval=0,
                                          memory_bytes=1500),
                        models=(CUSTOMERS,))
    client = OdooClient(settings.odoo, sleep=lambda s: None)
    with opened(settings) as sink:
        run_pass(settings, client, sink, Stopping(Path(data)))
    sys.stdout.write("finished without spilling\n")


if __name__ == "__main__":
    main()
