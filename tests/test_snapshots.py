"""Snapshots of the inbox, case and search screens, and at 80x24 of the `?` keys panel and the
dashboard, on the demo data (reviewed as pictures).

Update after a deliberate change of the screens: pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import T0, press

from webcare_tui.app import make_app
from webcare_tui.case_rules import ThreadingRules
from webcare_tui.cases import CaseService
from webcare_tui.config import Account, Config
from webcare_tui.connectors.demo import DemoConnector
from webcare_tui.ingest import ingest


@pytest.fixture
def demo_app(store):
    connector = DemoConnector(Account("demo", "demo", {"seed": 3, "history_days": 2, "conversations_per_day": 60}),
                              clock=lambda: T0)
    ingest(store, asyncio.run(connector.fetch(None)).messages)
    CaseService(store, ThreadingRules(), clock=lambda: T0).close_due()
    return make_app(Config(), store, connectors={}, clock=lambda: T0)


async def counted(pilot) -> None:
    """Wait until the first alert check and the background counts are on screen."""
    await asyncio.wait_for(pilot.app.alerts_checked.wait(), timeout=10)
    for _ in range(500):
        if "…" not in str(pilot.app.screen.query_one("#views").render()):
            break
        await pilot.pause(0.02)
    assert "…" not in str(pilot.app.screen.query_one("#views").render()), "the counts never arrived"
    await pilot.pause()  # their repaint


def test_inbox(snap_compare, demo_app):
    assert snap_compare(demo_app, press=["3"], terminal_size=(120, 40), run_before=counted)


def test_inbox_in_a_small_terminal(snap_compare, demo_app):
    assert snap_compare(demo_app, press=["3", "j", "space"], terminal_size=(80, 24), run_before=counted)


def test_case(snap_compare, demo_app):
    assert snap_compare(demo_app, press=["3", "enter"], terminal_size=(120, 40), run_before=counted)


def test_search(snap_compare, demo_app):
    async def search(pilot) -> None:
        await counted(pilot)
        await pilot.press("3", "slash", *"pakket", "enter")
        cases = pilot.app.screen.query_one("#cases")
        for _ in range(500):  # the search runs in the background: its rows, then their count
            if "pakket" in repr(cases.query_) and cases.count is not None and cases.current_row() is not None:
                break
            await pilot.pause(0.02)
        assert "pakket" in repr(cases.query_) and cases.current_row() is not None, "the search never showed"
        await counted(pilot)

    assert snap_compare(demo_app, terminal_size=(120, 40), run_before=search)


def test_keys_in_a_small_terminal(snap_compare, demo_app):
    """`?` on the inbox at 80x24: the first groups of keys, the views by name, scrollable."""
    assert snap_compare(demo_app, press=["question_mark"], terminal_size=(80, 24), run_before=counted)


def test_dashboard_in_a_small_terminal(snap_compare, store):
    """The dashboard at 80x24, with targets: short tiles, whole tables one under the other."""
    connector = DemoConnector(Account("demo", "demo", {"seed": 3, "history_days": 2, "conversations_per_day": 60}),
                              clock=lambda: T0)
    ingest(store, asyncio.run(connector.fetch(None)).messages)
    raw = {"kpi": {"deadline": "30m", "targets": {"service_level": 0.9, "avg_response": "20m", "open_max": 25}}}
    app = make_app(Config(raw=raw), store, connectors={}, clock=lambda: T0)

    async def dashboard(pilot) -> None:
        await counted(pilot)
        await pilot.press("f2", "left")  # yesterday: a past day is not refreshed while the picture is taken

        def shown() -> bool:
            screen = pilot.app.screen
            return getattr(screen, "data", None) is not None and screen.data.day.day == 23 and not screen.busy

        for _ in range(500):  # computed in the background
            if shown():
                break
            await pilot.pause(0.02)
        assert shown(), "the KPIs never arrived"
        await pilot.pause()  # their repaint

    assert snap_compare(app, terminal_size=(80, 24), run_before=dashboard)


def test_case_in_a_small_terminal(snap_compare, demo_app):
    """A case at 80x24 after a label and a close: its history in words ("added label …")."""
    async def labelled_and_closed(pilot) -> None:
        await counted(pilot)
        await press(pilot, "3", "enter", "l", *"Storing", "enter", "enter", "c")  # the header grows a line

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=labelled_and_closed)
