"""Shared fixtures.

`emulator`: a factory starting Odoo emulators over real HTTP on 127.0.0.1 (a free port each),
all stopped when the test ends:

    def test_something(emulator):
        odoo = emulator(19)                       # or emulator(17, database="acme", clock=clock)
        odoo.db.create("res.partner", {...})
        ... requests to odoo.url ...

Arguments are those of `syncd.emulator.Emulator` (version first). The returned emulator is
already started; its `faults`, `stats` and `db` are empty/fresh for each call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from syncd.emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def start(version: int = 17, **kwargs: Any) -> Emulator:
        em = Emulator(version, **kwargs)
        em.start("127.0.0.1", 0)
        started.append(em)
        return em

    yield start
    for em in started:
        em.stop()
