"""Provides `IdleCollector`: Python's full garbage-collection passes, run while the agent is not typing.

A full pass scans every object the console keeps (rows, drawn lines, Textual's caches) and holds
the event loop while it does: 20-90 ms each, and under a busy store Python ran one about every
second (bench/live.py, 150 in a 200 s run), so keys kept landing on them. Most of what they free
is drawn lines: Textual's `Strip` keeps itself in its own caches (`divide`, `extend_cell_length`),
so every line painted is a reference cycle that only a pass frees, some 1,600 a second under an
import. The console turns the automatic full passes off and runs one when no key came for
`QUIET` seconds, at most every `EVERY` seconds, and at the latest after `AT_MOST` seconds of keys
without a pause: sooner when such a pass took longer than `PASS_AIM` (a longer wait makes that pass
longer). Python still collects the young generations itself.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

QUIET = 0.5  # seconds without a key: the agent reads or thinks
EVERY = 2.0  # seconds between passes at least
AT_MOST = 15.0  # seconds between passes at most, keys or not (less when such a pass takes long, see below)
PASS_AIM = 0.04  # seconds a pass that keys wait for may take about: a pass after 15 s of keys under an
# import held the loop 121-192 ms (bench/live.py: ~10,000 lines drawn meanwhile, ~150,000 objects to scan)
NEVER = 1 << 30  # collections of the middle generation before Python itself runs a full pass


class IdleCollector:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last_key = self.last_pass = clock()
        self.at_most = EVERY  # seconds of keys before a pass: learned from how long such passes take
        self._thresholds: tuple[int, ...] | None = None  # Python's, while the console runs the passes

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

    def key(self) -> None:
        """The agent pressed a key."""
        self.last_key = self.clock()

    def tick(self) -> bool:
        """Run a full pass if it is time (call every few seconds); True when it ran."""
        now = self.clock()
        since = now - self.last_pass
        typing = now - self.last_key < QUIET
        if since < EVERY or (typing and since < self.at_most):
            return False
        gc.collect()
        self.last_pass = self.clock()
        if typing:  # keys waited for it: a pass takes as long as what was drawn since the last one
            took = max(self.last_pass - now, 1e-3)
            self.at_most = min(AT_MOST, max(EVERY, since * PASS_AIM / took))
        return True
