"""The canonical record (``Layout``: a record's line, the same bytes in every sink and journal).

It is defined with the change set, in ``syncd.sync.record``: the pull encodes each changed
record into its line once, and the sinks write those bytes (see that module).
"""

from __future__ import annotations

from syncd.sync.record import Layout, record_id_of

__all__ = ["Layout", "record_id_of"]
