"""Provides `AlertsScreen`: the alerts of the moment, each opening its case, kept up to date while open.

The app checks the alerts in the background, again after every change to the store (a case
answered leaves the list at once) and every 30 seconds; this screen shows each check's
result as it arrives, the cursor staying on its alert. Every overdue case is an alert, so
the list can be long: `AlertList` draws only the lines on screen (the Line API, as the inbox).
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from webcare_tui.alerts import Alert, Alerts, summary
from webcare_tui.screens.console import ConsoleScreen
from webcare_tui.widgets.case_list import MOVE_KEYS
from webcare_tui.widgets.footer import Footer
from webcare_tui.widgets.lines import fitted

STYLE = {"deadline": "bold red", "audience": "bold magenta", "spike": "bold yellow"}
SYMBOL = {"deadline": "⏰", "audience": "📣", "spike": "📈"}


def alert_line(alert: Alert) -> Text:
    line = Text(f"{SYMBOL.get(alert.kind, '!')} ", no_wrap=True, end="")
    kind = ("overdue" if alert.late else "due soon") if alert.kind == "deadline" else alert.kind
    line.append(f"{kind:<9}", STYLE.get(alert.kind, "bold"))
    line.append(alert.text)  # already plain (cleaned) text; Text never parses markup
    return line


class AlertList(ScrollView, can_focus=True):
    """One line per alert; enter (or a click) posts `AlertList.Opened`. The keys are the inbox list's."""

    DEFAULT_CSS = """
    AlertList { height: 1fr; overflow-x: hidden; }
    AlertList > .alert-list--cursor { background: $accent 40%; }
    """
    COMPONENT_CLASSES = {"alert-list--cursor"}
    BINDINGS = [  # the inbox list's ids: a keymap that moves those keys moves these too
        *MOVE_KEYS,
        Binding("enter", "open", "Open case", id="list.open"),
    ]

    class Opened(Message):
        def __init__(self, alert: Alert) -> None:
            super().__init__()
            self.alert = alert

    def __init__(self) -> None:
        super().__init__()
        self.alerts = Alerts()
        self.cursor = 0
        self._strips: dict[tuple[Alert, int], Strip] = {}

    def show(self, alerts: Alerts) -> None:
        """Show `alerts`, the cursor staying on the alert it was on (else at its place)."""
        was = self.alerts[self.cursor].key if self.cursor < len(self.alerts) else None
        keys = alerts.keys()
        self.alerts = alerts
        self.cursor = keys.index(was) if was in keys else max(min(self.cursor, len(alerts) - 1), 0)
        self.virtual_size = Size(self.size.width, len(alerts))
        if len(self._strips) > 4 * len(alerts) + 200:
            self._strips.clear()
        self._follow_cursor()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if index >= len(self.alerts):
            return Strip.blank(width)
        alert = self.alerts[index]
        strip = self._strips.get((alert, width))
        if strip is None:
            strip = fitted(alert_line(alert).render(self.app.console), width)
            self._strips[(alert, width)] = strip
        if index == self.cursor:
            strip = strip.apply_style(self.get_component_rich_style("alert-list--cursor"))
        return strip

    def _follow_cursor(self) -> None:
        self.scroll_to_region(Region(0, self.cursor, 1, 1), animate=False, force=True)
        self.refresh()

    def action_move(self, delta: int) -> None:
        self.cursor = max(0, min(len(self.alerts) - 1, self.cursor + delta))
        self._follow_cursor()

    def action_move_page(self, direction: int) -> None:
        self.action_move(direction * max(self.scrollable_content_region.height - 1, 1))

    def action_jump(self, index: int) -> None:
        self.cursor = max(index if index >= 0 else len(self.alerts) + index, 0)
        self._follow_cursor()

    def action_open(self) -> None:
        if self.cursor < len(self.alerts):
            self.post_message(self.Opened(self.alerts[self.cursor]))

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y
        if 0 <= index < len(self.alerts):
            self.cursor = index
            self._follow_cursor()
            self.action_open()


class AlertsScreen(ConsoleScreen):
    """Enter opens the alert's case; escape goes back."""

    DEFAULT_CSS = """
    AlertsScreen #title { height: 1; background: $boost; padding: 0 1; }
    AlertsScreen #none { padding: 1; }
    """
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="alerts.back")]

    def compose(self) -> ComposeResult:
        yield Static(id="title", markup=False)
        yield AlertList()
        yield Static("No alerts: nothing is about to go wrong.", id="none", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.show(self.console.alerts)
        self.console.alerts_changed.subscribe(self, self.show)

    @property
    def alerts(self) -> Alerts:
        return self.query_one(AlertList).alerts

    def show(self, alerts: Alerts) -> None:
        """Show `alerts` in place of the list on screen."""
        listed = self.query_one(AlertList)
        listed.show(alerts)
        self.query_one("#title", Static).update(f"Alerts: {summary(alerts) or 'none'}")
        listed.display = bool(alerts)
        self.query_one("#none").display = not alerts
        if alerts and self.focused is None:  # the first alerts of a list that was empty
            listed.focus()

    def on_alert_list_opened(self, event: AlertList.Opened) -> None:
        if event.alert.case_id is not None:
            self.console.open_case(event.alert.case_id)
