"""The guarantee tests that page, rebuild and write several models, again with `[sync] workers = 1`
(every request one at a time, the pass's own thread only: the path of syncd before workers).

The rest of the suite runs syncd's default workers (models in parallel, rebuilds read in id
slices). The tests below are the guarantee suite's own functions, collected here a second time
with the rigs' workers set to 1 (``tests.sync_rig.WORKERS``), on every transport and sink they
run on there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import sync_rig
from tests.sync.test_sync_guarantees import (  # noqa: F401 - collected here again
    rig, test_burst_larger_than_a_page_sharing_one_stamp,
    test_corrupt_state_is_set_aside_and_everything_rebuilt,
    test_creates_writes_archives_and_domain_moves_arrive,
    test_long_transaction_committing_behind_the_watermark,
    test_writes_committed_during_a_long_pass_are_caught_by_the_next)


@pytest.fixture(autouse=True)
def one_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sync_rig, "WORKERS", 1)
    yield


def test_the_rigs_here_send_one_request_at_a_time(rig: sync_rig.Rig) -> None:
    assert rig.settings.sync.workers == 1
