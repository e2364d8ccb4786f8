"""Provides `AlertsScreen`: the alerts of the moment, each opening its case."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from webcare_tui.alerts import Alert
from webcare_tui.screens.console import ConsoleScreen
from webcare_tui.widgets.footer import Footer

if TYPE_CHECKING:
    pass

STYLE = {"deadline": "bold red", "audience": "bold magenta", "spike": "bold yellow"}
SYMBOL = {"deadline": "⏰", "audience": "📣", "spike": "📈"}


class AlertsScreen(ConsoleScreen):
    """Enter opens the alert's case; escape goes back."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="alerts.back")]

    def __init__(self, alerts: list[Alert]) -> None:
        super().__init__()
        self.alerts = alerts

    def compose(self) -> ComposeResult:
        yield Static(f"Alerts ({len(self.alerts)})", id="title")
        options = []
        for index, alert in enumerate(self.alerts):
            line = Text(f"{SYMBOL.get(alert.kind, '!')} ")
            line.append(f"{alert.kind:<9}", STYLE.get(alert.kind, "bold"))
            line.append(alert.text)  # already plain (cleaned) text; Text never parses markup
            options.append(Option(line, id=str(index)))
        yield OptionList(*options) if options else Static("No alerts: nothing is about to go wrong.")
        yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        alert = self.alerts[int(event.option.id or 0)]
        if alert.case_id is not None:
            self.console.open_case(alert.case_id)
