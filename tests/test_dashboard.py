"""The dashboard, driven with Pilot: one key opens it, the tiles show the day, keys move between days."""

from __future__ import annotations

import pytest
from conftest import MINUTE, T0, msg, press, screen_lines, wait_for
from test_kpi import NOW, day  # noqa: F401 (the fixture)

from webcare_tui.app import make_app
from webcare_tui.config import Agent, Config, ConfigError
from webcare_tui.ingest import ingest
from webcare_tui.screens.dashboard import DashboardScreen
from webcare_tui.screens.inbox import InboxScreen
from webcare_tui.widgets.dashboard_charts import hour_bars, sentiment_text

RAW = {"kpi": {"timezone": "Europe/Amsterdam", "deadline": "30m", "deadlines": {"facebook": "1h"},
               "targets": {"service_level": 0.9, "avg_response": "20m", "open_max": 5}}}


def text_of(screen, selector: str) -> str:
    return "\n".join(screen_lines(screen.query_one(selector)))


async def open_dashboard(pilot, app) -> DashboardScreen:
    await press(pilot, "f2")
    assert isinstance(app.screen, DashboardScreen)
    await wait_for(pilot, lambda: app.screen.data is not None and not app.screen.busy)
    return app.screen


async def test_one_key_opens_today_and_the_arrows_move_between_days(day):  # noqa: F811
    day.conn.execute("UPDATE messages SET sentiment = NULL")  # as a store from before sentiment scoring
    app = make_app(Config(raw=RAW), day, connectors={}, clock=lambda: NOW)
    async with app.run_test(size=(160, 60)) as pilot:
        dashboard = await open_dashboard(pilot, app)
        assert "Tue 25 Nov 2025 · today, so far" in text_of(dashboard, "#datebar")
        await wait_for(pilot, lambda: "Replies sent\n1" in "\n".join(line.strip("│╭╮╰╯─ ") for line in screen_lines(
            dashboard.query_one("#tile-replies"))))  # the data, then its repaint
        await press(pilot, "left")
        await wait_for(pilot, lambda: dashboard.data.day.day == 24 and not dashboard.busy)
        assert "Mon 24 Nov 2025 · yesterday" in text_of(dashboard, "#datebar")
        assert "Incoming\n10" in "\n".join(line.strip("│╭╮╰╯─ ") for line in screen_lines(
            dashboard.query_one("#tile-incoming")))
        service = text_of(dashboard, "#tile-service")
        assert "85.7%" in service and "! near target (≥ 90.0%)" in service and "6/7 in time, 1 not due yet" in service
        assert dashboard.query_one("#tile-service").has_class("near")
        average = text_of(dashboard, "#tile-avg")
        assert "22m24s" in average and "✗ off target (≤ 20m)" in average
        assert dashboard.query_one("#tile-avg").has_class("off")
        assert "✓ on target (≤ 5)" in text_of(dashboard, "#tile-open")
        agents = text_of(dashboard, "#agents")
        assert "sanne" in agents and "tim" in agents and "(unassigned)" in agents
        assert "facebook" in text_of(dashboard, "#platforms") and "Storing" in text_of(dashboard, "#labels")
        assert "no sentiment yet" in text_of(dashboard, "#sentiment")
        assert "Mon" in text_of(dashboard, "#heatmap")
        await press(pilot, "g", *["backspace"] * 10, *"2025-11-23", "enter")
        await wait_for(pilot, lambda: dashboard.data.day.day == 23 and not dashboard.busy)
        assert "Sun 23 Nov 2025" in text_of(dashboard, "#datebar")
        await press(pilot, "g", *["backspace"] * 10, *"23-11", "enter")
        assert "'23-11' is not a date" in text_of(dashboard, "#notice")
        await press(pilot, "t")
        await wait_for(pilot, lambda: dashboard.data.day.day == 25 and not dashboard.busy)
        await press(pilot, "f2")  # the same key closes it
        assert isinstance(app.screen, InboxScreen)


async def test_todays_numbers_refresh_as_messages_arrive(day):  # noqa: F811
    app = make_app(Config(raw=RAW), day, connectors={}, clock=lambda: NOW)
    async with app.run_test(size=(160, 60)) as pilot:
        dashboard = await open_dashboard(pilot, app)
        assert dashboard.data.period.team.incoming == 0
        ingest(day, [msg(7 * 60 * MINUTE + MINUTE, author="ilse")])  # 00:01 today, as a sync would
        dashboard.tick()
        await wait_for(pilot, lambda: "Incoming\n1" in "\n".join(line.strip("│╭╮╰╯─ ") for line in screen_lines(
            dashboard.query_one("#tile-incoming"))))  # the data, then its repaint


async def test_agents_see_only_their_own_row_when_the_lead_hides_the_comparison(day):  # noqa: F811
    raw = {"kpi": {"timezone": "Europe/Amsterdam", "hide_agent_comparison": True},
           "team": {"agents": [{"id": "sanne", "role": "lead"}, {"id": "tim"}]}}
    app = make_app(Config(agent=Agent(id="tim"), raw=raw), day, connectors={}, clock=lambda: NOW)
    async with app.run_test(size=(160, 60)) as pilot:
        dashboard = await open_dashboard(pilot, app)
        await press(pilot, "left")
        await wait_for(pilot, lambda: dashboard.data.day.day == 24 and not dashboard.busy)
        agents = text_of(dashboard, "#agents")
        assert "comparison hidden" in agents and "tim" in agents and "sanne" not in agents


async def test_label_names_are_plain_text(day):  # noqa: F811
    [case] = [c["id"] for c in day.list_cases() if c["author_id"] == "dirk"]
    day.set_labels(case, add=["[bold red]ALARM[/]"])
    app = make_app(Config(raw=RAW), day, connectors={}, clock=lambda: T0)
    async with app.run_test(size=(160, 60)) as pilot:
        dashboard = await open_dashboard(pilot, app)
        assert "[bold red]ALARM[/]" in text_of(dashboard, "#labels")


def test_bad_kpi_settings_stop_the_start_with_the_key_named(day):  # noqa: F811
    with pytest.raises(ConfigError, match="kpi.timezone: 'Mars/Olympus' is not a time zone"):
        make_app(Config(raw={"kpi": {"timezone": "Mars/Olympus"}}), day, connectors={})


def test_hour_bars_and_sentiment_shares():
    today = [0] * 24
    today[17], today[18] = 8, 4
    last_week = [0] * 24
    last_week[17] = 2
    lines = hour_bars(today, last_week, height=4).plain.splitlines()
    columns = [line[6 + 17 * 3: 6 + 17 * 3 + 2] for line in lines[:4]]
    assert columns == ["█ ", "█ ", "█ ", "█▒"]  # 8 of 8: full; last week's 2 fills the lowest row
    assert [line[6 + 18 * 3] for line in lines[:4]] == [" ", " ", "█", "█"]
    shares = sentiment_text({"negative": 1, "neutral": 2, "positive": 1, "unscored": 6}).plain
    assert "negative 25%" in shares and "neutral 50%" in shares and "positive 25%" in shares and "6 not scored" in shares


def panel_lines(screen, selector: str) -> list[str]:
    """A bordered panel's lines, without its border."""
    return [line.strip("│╭╮╰╯─ ") for line in screen_lines(screen.query_one(selector))]


async def test_the_dashboard_fits_80x24_without_wrapping_and_scrolls(day):  # noqa: F811
    """At 80 columns: tiles of three lines with the target in symbols, the tables whole one under
    the other, compact charts; the rest a scroll away. Wider again, the tiles say it in words."""
    from textual.containers import VerticalScroll

    app = make_app(Config(raw=RAW), day, connectors={}, clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        dashboard = await open_dashboard(pilot, app)
        await press(pilot, "left")
        await wait_for(pilot, lambda: dashboard.data.day.day == 24 and not dashboard.busy)
        assert dashboard.has_class("-narrow")
        assert panel_lines(dashboard, "#tile-service") == ["Service level", "85.7% ! ≥90.0%", "6/7 in time"]
        assert panel_lines(dashboard, "#tile-avg")[:2] == ["Avg response", "22m24s ✗ ≤20m"]
        assert panel_lines(dashboard, "#tile-open") == ["Open (waiting)", "3 ✓ ≤5", "oldest 5h00m"]
        agents = panel_lines(dashboard, "#agents")
        header = next(line for line in agents if line.startswith("Agent"))
        assert header.split() == ["Agent", "Cases", "Replies", "Avg", "resp", "Open", "SL"] and "…" not in header
        assert any(line.split()[0] == "(unassigned)" for line in agents if line)
        heatmap = panel_lines(dashboard, "#heatmap")
        assert len(heatmap) == 10  # a title, the hours, 7 weekdays, the scale: one line each, none wrapped
        rows = [line for line in heatmap if line[:3] in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")]
        assert len(rows) == 7 and all(len(row) == 5 + 48 for row in rows)
        hours = panel_lines(dashboard, "#hours")
        assert any(line.split()[-1:] == ["21"] for line in hours) and len(hours) == 10
        scroll = dashboard.query_one(VerticalScroll)
        assert scroll.max_scroll_y > 0
        await press(pilot, "pagedown")
        await wait_for(pilot, lambda: scroll.scroll_y > 0, "the dashboard to scroll")
        await press(pilot, "right")  # the arrows still move between days
        await wait_for(pilot, lambda: dashboard.data.day.day == 25 and not dashboard.busy)

        await pilot.resize_terminal(160, 50)
        await wait_for(pilot, lambda: "Open (waiting on us)" in panel_lines(dashboard, "#tile-open"),
                       "the wide tiles")
        assert dashboard.has_class("-wide") and "✓ on target (≤ 5)" in panel_lines(dashboard, "#tile-open")
