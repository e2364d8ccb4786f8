"""The console's full garbage-collection passes wait for a pause in the agent's keys, but not for
ever, nor until they have much to scan."""

from __future__ import annotations

import gc

from webcare_tui.idle_gc import AT_MOST, EVERY, GROWTH, NEVER, QUIET, IdleCollector


def test_full_passes_wait_for_a_pause_in_the_keys_but_not_for_ever(monkeypatch):
    passes: list[float] = []
    now = [0.0]
    monkeypatch.setattr(gc, "collect", lambda *args: passes.append(now[0]) or 0)
    before = gc.get_threshold()
    collector = IdleCollector(clock=lambda: now[0], objects=lambda: 0)  # no garbage piles up
    collector.start()
    try:
        assert gc.get_threshold() == (*before[:2], NEVER)  # Python runs none itself; the young generations as before

        now[0] = EVERY - 1
        assert not collector.tick()  # no key yet, but too soon after the last pass
        now[0] = EVERY
        assert collector.tick() and passes == [EVERY]

        while now[0] < EVERY + AT_MOST - QUIET:  # an agent pressing keys without a pause
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


def test_while_keys_come_a_pass_runs_once_garbage_has_grown_by_so_many_objects(monkeypatch):
    now = [0.0]
    objects = [30_000]  # in the oldest generation: what the console keeps, and the garbage since the last pass
    passes: list[float] = []

    def collect(*args) -> int:
        passes.append(now[0])
        objects[0] = 30_000  # the garbage freed
        return 0

    monkeypatch.setattr(gc, "collect", collect)
    collector = IdleCollector(clock=lambda: now[0], objects=lambda: objects[0])

    def type_until_a_pass(garbage_a_second: int) -> float:
        """Keys without a pause, making this much garbage, until a pass runs; how long after the last one."""
        last = collector.last_pass
        while True:
            now[0] += 0.1
            objects[0] += garbage_a_second // 10
            collector.key()
            if collector.tick():
                return passes[-1] - last

    assert abs(type_until_a_pass(1_000) - EVERY) < 0.2  # the first: nothing counted after a pass yet
    assert abs(type_until_a_pass(1_000) - GROWTH / 1_000) < 0.2  # the cursor moving: little garbage, a pass later
    assert abs(type_until_a_pass(GROWTH / 4) - 4) < 0.2  # cases opening: more garbage, a pass sooner
    assert abs(type_until_a_pass(GROWTH) - EVERY) < 0.2  # but never sooner than EVERY
    assert abs(type_until_a_pass(0) - AT_MOST) < 0.2  # nor later than AT_MOST


def test_what_lives_when_asked_is_frozen_by_the_next_pass_only(monkeypatch):
    """Once both screens are built, what the console keeps for its life goes out of the passes: the next
    pass freezes what it kept, as the app froze what it loaded at its start; the passes after do not."""
    now = [0.0]
    events: list[str] = []
    monkeypatch.setattr(gc, "collect", lambda *args: events.append("collect") or 0)
    monkeypatch.setattr(gc, "freeze", lambda: events.append("freeze"))
    collector = IdleCollector(clock=lambda: now[0], objects=lambda: 0)
    now[0] = EVERY
    assert collector.tick() and events == ["collect"]
    collector.keep_what_lives()
    assert events == ["collect"]  # not before a pass: what it keeps, not the garbage too
    now[0] += EVERY
    assert collector.tick() and events == ["collect", "collect", "freeze"]
    now[0] += EVERY
    assert collector.tick() and events == ["collect", "collect", "freeze", "collect"]
