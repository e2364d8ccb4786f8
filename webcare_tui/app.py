"""Provides `make_app`: the Textual console.

Until the console issue lands this is a first inbox: the most recently active
cases, refreshed as the background sync brings new messages, with each
account's sync state in the header.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

from webcare_tui.config import Config
from webcare_tui.connectors.base import Connector
from webcare_tui.runtime import build_connectors
from webcare_tui.safe_text import clean
from webcare_tui.store import CaseFilter, Store
from webcare_tui.sync import SyncRunner, SyncStatus

ROWS = 200


class WebcareApp(App):
    TITLE = "webcare"
    BINDINGS = [("q", "quit", "Quit"), ("j", "cursor_down", "Down"), ("k", "cursor_up", "Up")]

    def __init__(self, config: Config, store: Store, connectors: dict[str, Connector]) -> None:
        super().__init__()
        self.config = config
        self.store = store
        self.connectors = connectors
        self.sync_states: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("case", "status", "owner", "platform", "author", "msgs", "last")
        self.sub_title = f"{self.config.agent.name} · starting sync"
        self.refresh_cases()
        if self.connectors:
            self.run_sync()

    def refresh_cases(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for case in self.store.list_cases(CaseFilter(limit=ROWS)):
            author = clean(case["author_handle"] or case["author_name"] or case["author_id"], single_line=True)
            last = datetime.fromtimestamp(case["last_message_at"]).strftime("%d-%m %H:%M")
            table.add_row(case["id"], case["status"], case["owner"] or "-", case["platform"], Text(author),
                          case["message_count"], last, key=str(case["id"]))
        table.move_cursor(row=min(row, max(table.row_count - 1, 0)))

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def run_sync(self) -> None:
        runner = SyncRunner(self.store, self.connectors, self.config.threading, on_status=self.on_sync_status)
        await runner.run(interval=5.0)

    def on_sync_status(self, status: SyncStatus) -> None:
        label = status.state if not status.error else f"{status.state}: {clean(status.error, single_line=True)}"
        self.sync_states[status.account] = label
        self.sub_title = f"{self.config.agent.name} · " + " · ".join(
            f"{account} {state}" for account, state in self.sync_states.items())
        if status.new_messages:
            self.refresh_cases()

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()


def make_app(config: Config, store: Store, connectors: dict[str, Connector] | None = None) -> WebcareApp:
    """The app on `store`; connectors default to the configured accounts (or the demo)."""
    return WebcareApp(config, store, build_connectors(config) if connectors is None else connectors)
