"""Provides `make_app`: the Textual console (a first inbox until the console issue lands)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

from webcare_tui.config import Config
from webcare_tui.store import CaseFilter, Store


class WebcareApp(App):
    TITLE = "webcare"

    def __init__(self, config: Config, store: Store) -> None:
        super().__init__()
        self.config = config
        self.store = store

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "status", "author", "messages")
        for row in self.store.list_cases(CaseFilter(limit=200)):
            table.add_row(row["id"], row["status"], row["author_handle"] or "", row["message_count"])


def make_app(config: Config, store: Store) -> WebcareApp:
    return WebcareApp(config, store)
