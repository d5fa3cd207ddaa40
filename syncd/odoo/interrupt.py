"""Where a stop may cut a pass short at once: while it waits on the network.

A stop (SIGTERM, Ctrl+C) normally ends a pass at the next page boundary. But a pass can sit
much longer in one place: a request Odoo is slow to answer (up to ``timeout``, 60 s by
default), a connect to a host that drops packets, a retry honouring a ``Retry-After`` of
minutes. A signal handler runs in the main thread between two bytecodes, so raising there
abandons whatever that thread was doing; that is only safe inside code that expects it.
`waiting()` marks such code (an HTTP exchange, a retry's pause), and `request_stop()`, called
from a signal handler, raises `PassInterrupted` only when the main thread is in one; a wait that
starts after the request is abandoned on entry (a stop landing between an answer and the retry
pause it asks for must not sleep through that pause). The pass then ends as any interrupted pass
does: nothing of it committed, every file as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from syncd.errors import PassInterrupted

_local = threading.local()


class _Stop:
    requested = False  # a plain attribute: setting it from a signal handler takes no lock


_stop = _Stop()


@contextmanager
def waiting() -> Iterator[None]:
    """Mark a wait of this thread that a stop may abandon (raising PassInterrupted in it). A
    stop that came just before the wait (between two waits) abandons it on entry."""
    if _stop.requested:
        raise PassInterrupted("stopped before waiting for Odoo; nothing of the pass was committed")
    depth = getattr(_local, "depth", 0)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth


def request_stop() -> None:
    """From a signal handler: no new wait starts, and the wait the main thread is in, if any,
    is abandoned now."""
    _stop.requested = True
    if getattr(_local, "depth", 0):
        raise PassInterrupted("stopped while waiting for Odoo; nothing of the pass was committed")


def clear_stop() -> None:
    """Forget a stop request (before a daemon starts, and after it ends)."""
    _stop.requested = False
