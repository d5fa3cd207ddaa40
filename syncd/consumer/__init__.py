"""The reading side, for programs that use the stored models (``syncd.consumer``).

Opened from a configuration (a config file path, or ``Settings``), so it works on every sink::

    from syncd import consumer
    customers = consumer.load("syncd.toml", "customers")         # {id: record}
    with consumer.follow("syncd.toml", ["customers"]) as changes:
        for change in changes:                                    # as each pass lands
            customers.update(change.added | change.updated)
            for record_id in change.removed:
                customers.pop(record_id, None)

``syncd watch`` is built on ``follow``; see README "Reading the snapshots".
"""

from __future__ import annotations

from syncd.consumer.follow import Follow, follow
from syncd.consumer.load import Loaded, load, load_at, settings_of
from syncd.consumer.marks import Change
from syncd.sync.seam import Entry, JournalGap

__all__ = ["Change", "Entry", "Follow", "JournalGap", "Loaded", "follow", "load", "load_at",
           "settings_of"]
