"""The console's full garbage-collection passes wait for a pause in the agent's keys, but not for ever."""

from __future__ import annotations

import gc

from webcare_tui.idle_gc import AT_MOST, EVERY, NEVER, QUIET, IdleCollector


def test_full_passes_wait_for_a_pause_in_the_keys_but_not_for_ever(monkeypatch):
    passes: list[float] = []
    now = [0.0]
    monkeypatch.setattr(gc, "collect", lambda *args: passes.append(now[0]) or 0)
    before = gc.get_threshold()
    collector = IdleCollector(clock=lambda: now[0])
    collector.start()
    try:
        assert gc.get_threshold() == (*before[:2], NEVER)  # Python runs none itself; the young generations as before

        now[0] = EVERY - 1
        assert not collector.tick()  # no key yet, but too soon after the last pass
        now[0] = EVERY
        assert collector.tick() and passes == [EVERY]

        while now[0] < EVERY + AT_MOST - 1:  # an agent pressing keys without a pause
            now[0] += QUIET / 2
            collector.key()
            assert not collector.tick()
        now[0] = EVERY + AT_MOST
        collector.key()
        assert collector.tick() and passes == [EVERY, EVERY + AT_MOST]  # at the latest, keys or not

        now[0] += EVERY
        collector.key()
        now[0] += QUIET
        assert collector.tick() and len(passes) == 3  # a pause in the keys
    finally:
        collector.stop()
    assert gc.get_threshold() == before
