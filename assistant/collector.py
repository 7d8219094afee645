"""Long-lived objects kept out of the cyclic garbage collector's way.

Python's cyclic collector walks every container object the process holds, the oldest ones
each time the young ones that survived reach a quarter of them. A process answering questions
holds mostly objects that live long and hold no cycles: what start-up built (modules, the
model, the snapshot) and the documents the reader keeps (a thousand small objects each). The
walks over them cost a quarter of a cold `blueprints ask`, and at 256 cached documents a
full collection paused a server for up to 0.36 s (docs/benchmarks.md). Freezing them
(`gc.freeze`) moves them out of its sight; objects that die are still freed by reference
counting, since nothing among them is cyclic.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from threading import Lock


@contextmanager
def collector_paused() -> Iterator[None]:
    """Build what lives until the process exits with the collector paused, then freeze it.

    Start-up allocates a few hundred thousand objects that all live to the end and makes
    almost no garbage; afterwards the collector runs as before on whatever comes next.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


class Settler:
    """Freezes what is alive each time a long-lived object was built, thawing now and then.

    Freezing also takes in whatever else was alive at that moment; should some of it later
    become cyclic garbage, only a collection after a thaw frees it. So every `thaw_every`
    settlings everything is thawed instead, and the collector's next full pass (one per
    `thaw_every` builds) frees what there is to free. Thread-safe.
    """

    def __init__(self, thaw_every: int) -> None:
        if thaw_every < 1:
            msg = f"thaw_every must be at least 1, not {thaw_every}"
            raise ValueError(msg)
        self._thaw_every = thaw_every
        self._settled = 0
        self._lock = Lock()

    def settle(self) -> None:
        """Something long-lived was just built: freeze it (or, every so often, thaw all)."""
        with self._lock:
            self._settled += 1
            if self._settled % self._thaw_every:
                gc.freeze()
            else:
                gc.unfreeze()
