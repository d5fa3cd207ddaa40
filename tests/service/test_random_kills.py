"""Guarantees 4, 6 and 9 under random SIGKILLs of `syncd run` on every sink, with a reader and
a follower (itself killed and resumed) running alongside (tests/service/kills.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.service.kills import run_kills
from tests.sync_rig import SINKS


@pytest.mark.parametrize("kills", [8, pytest.param(30, marks=pytest.mark.slow)],
                         ids=["8-kills", "30-kills"])
@pytest.mark.parametrize("journal", [True, pytest.param(False, marks=pytest.mark.slow)],
                         ids=["journal", "no-journal"])
@pytest.mark.parametrize("sink", SINKS)
def test_random_kills_tear_no_read_and_lose_nothing(tmp_path: Path, sink: str, journal: bool,
                                                    kills: int) -> None:
    dsn = ""
    if sink == "postgres":
        from tests import pg_server

        dsn = pg_server.server().database_for(str(tmp_path))
    result = run_kills(tmp_path, sink, kills=kills, journal=journal, seed=kills, dsn=dsn)
    print(result)
    assert result.problems == []
    assert result.kills == kills and result.reads > 0
    assert result.torn == 0
    assert result.stored_divergence == 0
    assert result.follower_divergence == 0
    assert result.follower_records > 0 and result.follower_phantoms == 0
