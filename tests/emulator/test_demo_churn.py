"""The demo's churn: each change line says what really changed."""

from __future__ import annotations

import ast
import random
import re
from datetime import datetime

from syncd.emulator.clock import Clock
from syncd.emulator.demo_data import churn, populate
from syncd.emulator.store import Database

RENAMED = re.compile(r"^res\.partner (\d+): renamed (.+) -> (.+)$")


def test_a_rename_gives_a_new_first_name_and_keeps_the_surname() -> None:
    db = Database(version=17, clock=Clock(start=datetime(2024, 1, 1, 8, 0, 0)))
    populate(db, customers=400, products=20, seed=3)
    renames = []
    for line in churn(db, random.Random(11), 1500):
        match = RENAMED.match(line)
        if match:
            renames.append((int(match[1]), ast.literal_eval(match[2]),
                            ast.literal_eval(match[3])))
    assert len(renames) > 150  # enough that a 1-in-38 repeat of the first name would show
    for partner, old, new in renames:
        assert new != old, f"partner {partner}: renamed {old!r} to itself"
        assert new.split(" ", 1)[1] == old.split(" ", 1)[1], f"{old!r} -> {new!r}"
