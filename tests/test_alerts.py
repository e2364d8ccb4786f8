"""Alerts on constructed timelines: deadlines about to pass, loud negative voices, spikes."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from conftest import (
    DAY,
    HOUR,
    MINUTE,
    T0,
    msg,
    press,
    references_a_full_gc_pass_follows,
    screen_lines,
    settle,
    wait_for,
)

from webcare_tui.alerts import AlertSettings, AlertState, check
from webcare_tui.cases import CaseService
from webcare_tui.config import ConfigError
from webcare_tui.ingest import ingest

SETTINGS = AlertSettings(deadline_within=10 * MINUTE, audience_followers=10_000, spike_factor=3, spike_min=5,
                         spike_keywords=("storing",), spike_days=7)


def alerts_at(store, now, settings=SETTINGS, deadline=30 * MINUTE):
    return check(store, now, settings, lambda platform: deadline, deadline)


def test_a_case_about_to_miss_its_deadline_and_one_that_missed_it(store):
    ingest(store, [msg(0, author="anna"), msg(15 * MINUTE, author="bram"), msg(25 * MINUTE, author="cees")])
    # at 22 minutes: anna's deadline (30m) passes in 8 minutes; bram's in 23; cees has just written
    found = alerts_at(store, T0 + 22 * MINUTE)
    assert [a.text for a in found] == ["case 1 (@anna, x) must be answered in 8m"]
    later = alerts_at(store, T0 + 40 * MINUTE)
    assert [a.text for a in later] == ["case 1 (@anna, x) missed its deadline 10m ago",
                                        "case 2 (@bram, x) must be answered in 5m"]
    assert later[0].case_id == 1
    much_later = alerts_at(store, T0 + 60 * MINUTE)  # a miss stays an alert until the case is answered
    assert [a.text for a in much_later] == ["case 1 (@anna, x) missed its deadline 30m ago",
                                             "case 2 (@bram, x) missed its deadline 15m ago",
                                             "case 3 (@cees, x) missed its deadline 5m ago"]
    assert [a.late for a in much_later] == [True, True, True] and not found[0].late


def test_an_answered_or_pending_case_raises_no_deadline_alert(store):
    ingest(store, [msg(0, author="anna"), msg(5 * MINUTE, "out", author="anna")])
    assert not alerts_at(store, T0 + HOUR)
    CaseService(store).set_status(1, "closed", "tim")
    assert not alerts_at(store, T0 + HOUR)


def test_whatsapp_reply_window_counts_too(store):
    ingest(store, [msg(0, author="wim", platform="whatsapp")])
    # a 2-day deadline, but WhatsApp allows free-form replies for 24 h only
    found = check(store, T0 + 23 * HOUR + 55 * MINUTE, SETTINGS, lambda p: 2 * DAY, 2 * DAY)
    assert [a.text for a in found] == ["case 1 (@wim, whatsapp) must be answered in 5m"]


def test_negative_message_from_a_large_audience_or_the_press(store):
    ingest(store, [
        replace(msg(0, author="influencer", text="Wat een \x1b[31mslechte[/] service"), sentiment=-0.8,
                author_followers=250_000),
        replace(msg(MINUTE, author="klein", text="Slecht!"), sentiment=-0.9, author_followers=50),
        replace(msg(2 * MINUTE, author="krant", text="Kritische vraag"), sentiment=-0.4, author_followers=3,
                author_type="press"),
        replace(msg(3 * MINUTE, author="fan", text="Top!"), sentiment=0.9, author_followers=90_000),
    ])
    found = [a for a in alerts_at(store, T0 + 5 * MINUTE, deadline=DAY) if a.kind == "audience"]
    assert [a.text for a in found] == [
        "negative from @krant (press) on x: Kritische vraag",
        "negative from @influencer (250,000 followers) on x: Wat een slechte[/] service",
    ]
    assert "\x1b" not in found[1].text


def test_a_spike_on_a_keyword_over_three_times_the_usual_rate(store):
    usual = [msg(d * DAY + 5 * MINUTE, author=f"u{d}", text="Storing in Utrecht") for d in range(-7, 0)]
    now = T0 + 10 * MINUTE
    storm = [msg(n * MINUTE, author=f"s{n}", text=f"Weer een STORING, nummer {n}") for n in range(6)]
    ingest(store, usual + storm + [msg(MINUTE, author="x", text="storingsmonteur komt morgen")])
    found = [a for a in alerts_at(store, now, deadline=DAY) if a.kind == "spike"]
    assert [a.text for a in found] == ["spike: 6 messages on storing in 15 minutes (6× the usual 1.0)"]
    assert found[0].case_id is not None


def test_no_spike_below_the_minimum_or_at_the_usual_rate(store):
    usual = [msg(d * DAY - n * MINUTE, author=f"u{d}{n}", text="storing") for d in range(-7, 0) for n in range(3)]
    storm = [msg(n * MINUTE, author=f"s{n}", text="storing") for n in range(6)]
    ingest(store, usual + storm)
    assert [a for a in alerts_at(store, T0 + 10 * MINUTE, deadline=DAY) if a.kind == "spike"] == []  # 6 ≤ 3 × 3


def test_a_spike_on_a_label(store):
    ingest(store, [msg(n * MINUTE, author=f"s{n}", text="help") for n in range(5)])
    service = CaseService(store)
    for case in store.list_cases():
        service.label(case["id"], "tim", add=["Storing"])
    found = [a for a in alerts_at(store, T0 + 10 * MINUTE, deadline=DAY) if a.kind == "spike"]
    assert [a.text for a in found] == ["spike: 5 messages on #Storing in 15 minutes (usually none)"]


def test_only_new_alerts_ring():
    from webcare_tui.alerts import Alert, Alerts

    state = AlertState()
    one, two = Alert("deadline", "a", "A", 1), Alert("spike", "b", "B", 2)
    assert state.new(Alerts([one])) == ["a"]
    assert state.new(Alerts([one, two])) == ["b"]
    assert state.new(Alerts([one, two])) == []


def test_tens_of_thousands_of_alerts_and_what_was_told_of_them_add_nothing_to_a_full_gc_pass():
    """An alert per overdue case, 65,000 under bench/live.py's import, and the keys the agent was told:
    the garbage collector's full passes, which hold the console's event loop, must not go through
    each of them (a list and a set of them made the passes 20-100 ms)."""
    from webcare_tui.alerts import Alert, Alerts

    before = references_a_full_gc_pass_follows()
    alerts = Alerts(Alert("deadline", f"deadline:{n}:1790013636", f"case {n} (@klant_{n}) waits", n, True)
                    for n in range(20_000))
    told = AlertState()
    assert len(told.new(alerts)) == 20_000 and not told.new(alerts)
    assert references_a_full_gc_pass_follows() - before < 1_000  # 7 now; 40,005 for a list and a set


def test_a_checks_news_says_what_changed_and_what_is_new_and_keeps_the_spikes_of_the_last_full_check():
    from webcare_tui.alerts import Alert, Alerts, AlertWatch

    watch = AlertWatch()
    late, spike, soon = Alert("deadline", "a", "A", 1, True), Alert("spike", "b", "B", 2), Alert("deadline", "c", "C", 3)
    news = watch.news(Alerts([late, spike]), spikes=True)
    assert news.changed and news.fresh == ["a", "b"] and list(news.alerts) == [late, spike]
    news = watch.news(Alerts([late]), spikes=False)  # a deadline check after a change: the spike stays
    assert not news.changed and news.fresh == [] and list(news.alerts) == [late, spike]
    news = watch.news(Alerts([late, soon]), spikes=False)
    assert news.changed and news.fresh == ["c"] and list(news.alerts) == [late, soon, spike]
    news = watch.news(Alerts([soon]), spikes=True)  # the next full check found no spike
    assert news.changed and news.fresh == [] and list(news.alerts) == [soon]
    assert news.alerts.counts() == {("deadline", False): 1}


def test_settings_from_the_config_with_plain_errors():
    settings = AlertSettings.from_config({"deadline_within": "5m", "spike_keywords": ["storing"], "bell": True},
                                         lambda key: f"config.toml:3: alerts.{key}")
    assert (settings.deadline_within, settings.spike_keywords, settings.bell) == (300, ("storing",), True)
    with pytest.raises(ConfigError, match="config.toml:3: alerts.spike_factor: spike_factor must be a number"):
        AlertSettings.from_config({"spike_factor": "veel"}, lambda key: f"config.toml:3: alerts.{key}")
    with pytest.raises(ConfigError, match="unknown alert setting"):
        AlertSettings.from_config({"beep": True}, lambda key: f"config.toml:3: alerts.{key}")


async def test_the_header_shows_the_most_urgent_alert_and_bang_lists_them(store):
    from webcare_tui.app import make_app
    from webcare_tui.config import Config
    from webcare_tui.screens.alerts import AlertsScreen
    from webcare_tui.screens.case import CaseScreen

    ingest(store, [msg(0, author="anna"), msg(25 * MINUTE, author="bram")])
    app = make_app(Config(), store, connectors={}, clock=lambda: T0 + 26 * MINUTE)
    async with app.run_test(size=(140, 30)) as pilot:
        await asyncio.wait_for(app.alerts_checked.wait(), timeout=10)  # the check runs in a background thread
        assert "⚠ 1 due soon: case 1 (@anna, x) must be answered in 4m · ! lists them" in app.status_text
        from webcare_tui.widgets.status_header import StatusHeader

        header = "".join(segment.text for segment in app.screen.query_one(StatusHeader).render_line(0))
        assert header.strip().startswith("webcare — Tim Ruiter") and "⚠ 1 due soon: case 1 (@anna, x)" in header
        await press(pilot, "exclamation_mark")
        assert isinstance(app.screen, AlertsScreen)
        await press(pilot, "enter")
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == 1


async def test_routing_rule_views_become_inbox_columns(store, tmp_path):
    from webcare_tui.app import make_app
    from webcare_tui.config import load_config
    from webcare_tui.runtime import router_for
    from webcare_tui.widgets.case_list import CaseList

    path = tmp_path / "config.toml"
    path.write_text('[[rule]]\nname = "Pers"\nauthor_type = "press"\nview = "Pers"\n', encoding="utf-8")
    ingest(store, [msg(0, author="anna"), replace(msg(MINUTE, author="krant", text="Vraag"), author_type="press")],
           router=router_for(load_config(path), store))
    app = make_app(load_config(path), store, connectors={})
    async with app.run_test(size=(140, 30)) as pilot:
        assert [view.name for view in app.views][-1] == "Pers" and app.views[-1].key == "6"
        await press(pilot, "6")
        cases = app.screen.query_one(CaseList)
        await wait_for(pilot, lambda: cases.count == 1 and cases.current_row() is not None, "the Pers column's case")
        assert cases.current_row().author_handle == "@krant"


async def test_the_console_uses_each_platforms_own_deadline(store):
    from webcare_tui.app import make_app
    from webcare_tui.config import Config
    from webcare_tui.widgets.case_list import CaseList

    ingest(store, [msg(0, author="anna"), msg(0, author="fenna", platform="facebook")])
    config = Config(raw={"kpi": {"deadline": "30m", "deadlines": {"facebook": "1h"}}})
    app = make_app(config, store, connectors={}, clock=lambda: T0 + 26 * MINUTE)
    async with app.run_test(size=(140, 30)) as pilot:
        await asyncio.wait_for(app.alerts_checked.wait(), timeout=10)
        assert [alert.case_id for alert in app.alerts] == [1]  # facebook's hour is far from over
        await press(pilot, "3")
        lines = {row: "".join(s.text for s in app.screen.query_one(CaseList).render_line(row)) for row in (0, 1)}
        assert any("@anna" in line and "4m" in line for line in lines.values())
        assert any("@fenna" in line and "34m" in line for line in lines.values())


def test_every_case_past_its_deadline_is_an_alert_however_many_and_however_late(store):
    """No window and no cap: 250 cases overdue from 30 minutes to ten days (more than the old 200
    limit) are 250 alerts, the most overdue first, until each is answered."""
    from webcare_tui.alerts import summary

    late = [msg(-n * HOUR, author=f"late{n}") for n in range(1, 251)]  # due 30 minutes after each
    soon = msg(-15 * MINUTE, author="soon")  # due in 5 minutes
    fresh = [msg(5 * MINUTE, author=f"fresh{n}") for n in range(3)]  # due in 35 minutes: no alert yet
    ingest(store, [*late, soon, *fresh])
    found = alerts_at(store, T0 + 10 * MINUTE).of_kind("deadline")
    assert len(found) == 251 and summary(found) == "250 overdue, 1 due soon"
    assert "(@late250, x) missed its deadline 10d ago" in found[0].text
    assert "@soon" in found[-1].text and not found[-1].late
    CaseService(store, clock=lambda: T0 + 10 * MINUTE).set_status(found[0].case_id, "pending", "tim")
    assert len([a for a in alerts_at(store, T0 + 10 * MINUTE) if a.kind == "deadline"]) == 250


async def test_the_header_keeps_the_alerts_meaning_at_80_columns(store):
    """17 of 20 unassigned cases overdue: at 80 columns the header says so in short; wide, in full."""
    from webcare_tui.app import make_app
    from webcare_tui.config import Config
    from webcare_tui.screens.alerts import AlertList
    from webcare_tui.widgets.status_header import StatusHeader

    ingest(store, [msg(-n * 10 * MINUTE, author=f"c{n}") for n in range(4, 21)]
           + [msg(-n * MINUTE, author=f"new{n}") for n in range(3)])
    app = make_app(Config(), store, connectors={}, clock=lambda: T0)

    def header() -> str:
        return "".join(segment.text for segment in app.screen.query_one(StatusHeader).render_line(0))

    async with app.run_test(size=(80, 24)) as pilot:
        await asyncio.wait_for(app.alerts_checked.wait(), timeout=10)
        assert header().strip() == "webcare — Tim Ruiter · outbox 0 · ⚠ 17 overdue · ! lists them"
        await pilot.resize_terminal(40, 24)  # narrower still: the rest of the line gives way to the count
        await settle(pilot)
        assert header().strip() == "webcare — Tim Ruiter · o… · ! 17 overdue"
        await pilot.resize_terminal(140, 30)
        await settle(pilot)
        assert "⚠ 17 overdue: case 1 (@c20, x) missed its deadline 2h50 ago · ! lists them" in header()
        await press(pilot, "exclamation_mark")
        assert len(app.screen.alerts) == 17 and "@c20" in screen_lines(app.screen.query_one(AlertList))[0]
        assert "Alerts: 17 overdue" in str(app.screen.query_one("#title").render())


async def test_the_alerts_list_follows_the_store_and_drops_a_case_once_answered(store):
    """Open `!`: a case gone overdue in another process's import shows without a key; a case the
    agent answers, or a teammate answers elsewhere, leaves the list and the header at once."""
    from webcare_tui.app import make_app
    from webcare_tui.config import Config
    from webcare_tui.screens.alerts import AlertList, AlertsScreen
    from webcare_tui.screens.case import CaseScreen
    from webcare_tui.screens.inbox import InboxScreen
    from webcare_tui.store import Store

    ingest(store, [msg(0, author="anna"), msg(10 * MINUTE, author="bram")])
    app = make_app(Config(), store, connectors={}, clock=lambda: T0 + 2 * HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await asyncio.wait_for(app.alerts_checked.wait(), timeout=10)
        await press(pilot, "exclamation_mark")
        alerts = app.screen
        assert isinstance(alerts, AlertsScreen)

        def listed() -> list[str]:  # what the list draws
            return [line.rstrip() for line in screen_lines(alerts.query_one(AlertList)) if line.strip()]

        assert len(listed()) == 2 and "@anna" in listed()[0]
        with Store(store.path) as other:  # another process: an import of a message from an hour ago
            ingest(other, [msg(HOUR, author="cees")])
        await wait_for(pilot, lambda: len(listed()) == 3, "the imported case in the open list")
        assert "@cees" in listed()[2] and "3 overdue" in str(alerts.query_one("#title").render())

        await press(pilot, "enter")  # anna's case, answered
        assert isinstance(app.screen, CaseScreen) and "@anna" in app.screen.case["author_handle"]
        await press(pilot, "r", *"Komt eraan", "ctrl+s")
        await wait_for(pilot, lambda: store.get_case(1)["status"] == "pending", "the reply")
        await settle(pilot)
        assert "@anna" not in app.status_text and [alert.case_id for alert in app.alerts] == [2, 3]
        await press(pilot, "escape")
        assert app.screen is alerts and not any("@anna" in line for line in listed())

        with Store(store.path) as other:  # a teammate answers bram in another console
            ingest(other, [msg(2 * HOUR, "out", author="bram", agent="sanne", text="Is verstuurd")])
        await wait_for(pilot, lambda: not any("@bram" in line for line in listed()), "bram's case to leave the list")
        assert len(listed()) == 1 and "@bram" not in app.status_text
        await press(pilot, "exclamation_mark")  # the same key closes the list
        assert isinstance(app.screen, InboxScreen)


def test_alerts_are_kept_as_plain_tuples_the_garbage_collector_stops_tracking():
    """An alert per overdue case (tens of thousands on a large store) must not stay tracked: each full pass of
    the collector would walk them all, with the console's event loop held."""
    import gc

    from webcare_tui.alerts import Alert, Alerts

    alerts = Alerts(Alert("deadline", f"deadline:{n}:0", f"case {n} missed its deadline", n, True) for n in range(100))
    gc.collect()
    assert not any(gc.is_tracked(row) for row in alerts._rows)
    assert alerts[3] == Alert("deadline", "deadline:3:0", "case 3 missed its deadline", 3, True) and alerts[3].late
    assert Alerts(alerts) == alerts and alerts[:2] == Alerts(list(alerts)[:2]) and alerts != Alerts(list(alerts)[1:])
