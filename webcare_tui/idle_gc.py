"""Provides `IdleCollector`: Python's full garbage-collection passes, run while the agent is not typing.

A full pass scans every object the console keeps (rows, drawn lines, Textual's caches) and holds
the event loop while it does: 20-90 ms each, and under a busy store Python ran one about every
second (bench/live.py, 150 in a 200 s run), so keys kept landing on them. Most of what they free
is drawn lines: Textual's `Strip` keeps itself in its own caches (`divide`, `extend_cell_length`),
so every line painted is a reference cycle that only a pass frees, some 1,600 a second under an
import. The console turns the automatic full passes off and runs one when no key came for
`QUIET` seconds, at most every `EVERY` seconds; while keys come without a pause, once the oldest
generation holds `GROWTH` objects more than the last pass left in it, and at the latest after
`AT_MOST` seconds. A pass takes as long as the objects it scans: under an import, ~1.4 us of CPU
each, 67,000 objects (15 s of keys) 98 ms. Garbage does not come at an even pace (opening cases
makes more than moving the cursor), so a pace in seconds let some passes grow that long; counted
in objects, they do not. Python still collects the young generations itself.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

QUIET = 0.5  # seconds without a key: the agent reads or thinks
EVERY = 2.0  # seconds between passes at least
AT_MOST = 15.0  # seconds between passes at most, keys or not
# objects more in the oldest generation than the last pass left there (what the console keeps, some
# 25,000-30,000 on the 1M store) before a pass that keys wait for: about 17 ms more of the pass
GROWTH = 12_000
NEVER = 1 << 30  # collections of the middle generation before Python itself runs a full pass


class IdleCollector:
    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 objects: Callable[[], int] = lambda: len(gc.get_objects(2))) -> None:
        self.clock = clock
        self.objects = objects  # in the oldest generation, which a full pass scans (0.4 ms to count 40,000)
        self.last_key = self.last_pass = clock()
        self.kept = 0  # objects the last pass left in the oldest generation
        self._thresholds: tuple[int, ...] | None = None  # Python's, while the console runs the passes
        self._keep = False  # the next pass leaves what it keeps out of the passes after it (see `keep_what_lives`)

    def start(self) -> None:
        """From now on the full passes are this collector's."""
        if self._thresholds is None:
            self._thresholds = gc.get_threshold()
            gc.set_threshold(self._thresholds[0], self._thresholds[1], NEVER)

    def stop(self) -> None:
        """Python runs its full passes itself again."""
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None

    def keep_what_lives(self) -> None:
        """What lives now lives as long as the console (both its screens are built): the next full pass
        freezes what it keeps, out of every pass after it, as the app froze what it loaded at its start.
        The price: what of it dies later in a reference cycle is never freed, once (on the 1M store,
        3,800 objects, 0.3 MB, most of them the lines on screen then)."""
        self._keep = True

    def key(self) -> None:
        """The agent pressed a key."""
        self.last_key = self.clock()

    def tick(self) -> bool:
        """Run a full pass if it is time (call every few seconds); True when it ran."""
        now = self.clock()
        since = now - self.last_pass
        typing = now - self.last_key < QUIET
        if since < EVERY or (typing and since < AT_MOST and self.objects() < self.kept + GROWTH):
            return False
        gc.collect()
        if self._keep:
            gc.freeze()
            self._keep = False
        self.last_pass = self.clock()
        self.kept = self.objects()
        return True
