"""Child process for the SIGKILL test: one pass's write of a large batch of upserts to the
JSON sink with its journal on, then (if it lives that long) the commit. The parent kills it
while the journal is being appended. Usage: journal_child.py DATA_DIR COUNT"""

from __future__ import annotations

import sys
from pathlib import Path

from syncd.sinks.datadir import DataDir
from syncd.sinks.json.sink import JournalSettings, JsonSink
from syncd.sync.changes import ChangeSet
from syncd.sync.report import ModelReport
from syncd.sync.upserts import Upserts


def main() -> None:
    data, count = Path(sys.argv[1]), int(sys.argv[2])
    sink = JsonSink(DataDir(data), JournalSettings(True, 1 << 40, 8))
    state = sink.load_state()
    model = state.models["customers"].copy()
    upserts = Upserts.of(model.fields, ({"id": n, "name": f"bulk {n}", "email": "x" * 200}
                                        for n in range(1, count)))
    change = ChangeSet(name="customers", fields=tuple(model.fields), state=model,
                       report=ModelReport(name="customers", model=model.model), upserts=upserts)
    writer = sink.begin(at="2030-01-01 00:00:00")
    writer.write(change)
    sys.stdout.write("written\n")
    sys.stdout.flush()
    state.models["customers"] = model
    writer.commit(state)


if __name__ == "__main__":
    main()
