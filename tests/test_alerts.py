"""Alerts on constructed timelines: deadlines about to pass, loud negative voices, spikes."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from conftest import DAY, HOUR, MINUTE, T0, msg, press, wait_for

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
    much_later = alerts_at(store, T0 + 60 * MINUTE)  # anna's and bram's misses are old news by now
    assert [a.text for a in much_later] == ["case 3 (@cees, x) missed its deadline 5m ago"]


def test_an_answered_or_pending_case_raises_no_deadline_alert(store):
    ingest(store, [msg(0, author="anna"), msg(5 * MINUTE, "out", author="anna")])
    assert alerts_at(store, T0 + HOUR) == []
    CaseService(store).set_status(1, "closed", "tim")
    assert alerts_at(store, T0 + HOUR) == []


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
    from webcare_tui.alerts import Alert

    state = AlertState()
    one, two = Alert("deadline", "a", "A", 1), Alert("spike", "b", "B", 2)
    assert state.new([one]) == [one]
    assert state.new([one, two]) == [two]
    assert state.new([one, two]) == []


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
        assert "⚠ case 1 (@anna, x) must be answered in 4m" in app.status_text
        from webcare_tui.widgets.status_header import StatusHeader

        header = "".join(segment.text for segment in app.screen.query_one(StatusHeader).render_line(0))
        assert header.strip().startswith("webcare — Tim Ruiter") and "⚠ case 1 (@anna, x)" in header
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
