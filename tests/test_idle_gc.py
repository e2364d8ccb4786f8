"""The console's full garbage-collection passes wait for a pause in the agent's keys, but not for ever."""

from __future__ import annotations

import gc

import pytest

from webcare_tui.idle_gc import AT_MOST, EVERY, NEVER, PASS_AIM, QUIET, IdleCollector


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

        at_most = collector.at_most  # learned from the passes that keys waited for (see below); none yet
        while now[0] < EVERY + at_most - QUIET:  # an agent pressing keys without a pause
            now[0] += QUIET / 2
            collector.key()
            assert not collector.tick()
        now[0] = EVERY + at_most
        collector.key()
        assert collector.tick() and passes == [EVERY, EVERY + at_most]  # at the latest, keys or not

        now[0] += EVERY
        collector.key()
        now[0] += QUIET
        assert collector.tick() and len(passes) == 3  # a pause in the keys
    finally:
        collector.stop()
    assert gc.get_threshold() == before


def test_a_pass_that_kept_keys_waiting_long_comes_sooner_the_next_time(monkeypatch):
    now = [0.0]
    took = [0.0]  # how long the next pass takes
    passes: list[float] = []

    def collect(*args) -> int:
        passes.append(now[0])
        now[0] += took[0]
        return 0

    monkeypatch.setattr(gc, "collect", collect)
    collector = IdleCollector(clock=lambda: now[0])

    def type_until_a_pass() -> float:
        """Keys without a pause until a pass runs; how long after the last pass it came."""
        last = collector.last_pass
        while True:
            now[0] += 0.1
            collector.key()
            if collector.tick():
                return passes[-1] - last

    took[0] = PASS_AIM / 100
    assert type_until_a_pass() == pytest.approx(EVERY, abs=0.2)  # nothing measured yet: as soon as may be
    took[0] = 4 * PASS_AIM  # much was drawn since the last pass
    assert type_until_a_pass() == pytest.approx(AT_MOST, abs=0.2)  # a short pass: the next waits the longest
    took[0] = PASS_AIM
    assert type_until_a_pass() == pytest.approx(AT_MOST / 4, abs=0.2)  # a quarter of the drawing, of the pass
    assert type_until_a_pass() == pytest.approx(AT_MOST / 4, abs=0.2)  # as long as passes take PASS_AIM
    took[0] = 100 * PASS_AIM
    type_until_a_pass()
    assert type_until_a_pass() == pytest.approx(EVERY, abs=0.2)  # but never sooner than EVERY
