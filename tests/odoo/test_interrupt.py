"""A stop abandons a pass only where the pass waits for Odoo."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.errors import PassInterrupted
from syncd.odoo.interrupt import clear_stop, request_stop, waiting


@pytest.fixture(autouse=True)
def cleared() -> Iterator[None]:
    clear_stop()
    yield
    clear_stop()


def test_a_stop_outside_a_wait_lets_the_pass_run_to_its_next_check() -> None:
    request_stop()  # nothing to abandon now: returns, the pass checks at its next page


def test_a_stop_inside_a_wait_abandons_it_and_the_mark_is_cleared_after() -> None:
    with pytest.raises(PassInterrupted), waiting(), waiting():
        request_stop()
    clear_stop()
    with waiting():
        pass  # both marks unwound by the exception; a cleared stop lets waits run again


def test_a_wait_starting_after_a_stop_is_abandoned_on_entry() -> None:
    request_stop()  # e.g. between a 429 answer and the Retry-After pause it asks for
    with pytest.raises(PassInterrupted), waiting():
        pytest.fail("the wait must not start")
