"""A stop abandons a pass only where the pass waits for Odoo."""

from __future__ import annotations

import pytest

from syncd.errors import PassInterrupted
from syncd.interrupt import interrupt_if_waiting, waiting


def test_a_stop_outside_a_wait_lets_the_pass_reach_its_next_page() -> None:
    interrupt_if_waiting()  # nothing to abandon: returns, the pass checks at its next page


def test_a_stop_inside_a_wait_abandons_it_and_the_mark_is_cleared_after() -> None:
    with pytest.raises(PassInterrupted), waiting(), waiting():
        interrupt_if_waiting()
    interrupt_if_waiting()  # both marks unwound by the exception
