"""The console, driven as an agent would with Textual's Pilot."""

from __future__ import annotations

from conftest import T0, msg
from textual.widgets import DataTable

from webcare_tui.app import make_app
from webcare_tui.config import Config
from webcare_tui.ingest import ingest


async def test_the_inbox_lists_cases_with_customer_text_as_plain_text(store):
    evil = msg(0, author="[bold red]boss[/]", text="hi")
    ingest(store, [msg(-60, author="anna"), evil])
    app = make_app(Config(), store, connectors={})
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(DataTable)
        assert table.row_count == 2
        # most recently active first; the handle with markup shows literally
        assert str(table.get_row_at(0)[4]) == "@[bold red]boss[/]"
        await pilot.press("j")
        assert table.cursor_row == 1
        await pilot.press("k")
        assert table.cursor_row == 0


async def test_the_demo_sync_fills_an_empty_inbox(store):
    from webcare_tui.connectors.demo import DemoConnector
    from webcare_tui.config import Account

    connector = DemoConnector(Account("demo", "demo", {"history_days": 1, "conversations_per_day": 40}),
                              clock=lambda: T0)
    app = make_app(Config(), store, connectors={"demo": connector})
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(50):
            await pilot.pause(0.05)
            if app.query_one(DataTable).row_count:
                break
        assert app.query_one(DataTable).row_count > 10
        assert "demo online" in app.sub_title
