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


@pytest.fixture(autouse=True)
def _private_platform_dirs(tmp_path_factory: pytest.TempPathFactory,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test's platform state/log/config dirs out of the real home directory."""
    home = tmp_path_factory.mktemp("platform")
    for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))


@pytest.fixture(autouse=True)
def _no_stop_left_over() -> Iterator[None]:
    """A stop requested by one test (a signal handler, a daemon) must not abandon the next."""
    from syncd.odoo.interrupt import clear_stop

    clear_stop()
    yield
    clear_stop()


@pytest.fixture(scope="session", autouse=True)
def _postgres_stopped_at_the_end() -> Iterator[None]:
    """The PostgreSQL server of tests/pg_server.py starts on first use (once per session) and
    stops here, at the end of the session."""
    yield
    from tests import pg_server

    pg_server.stop()
