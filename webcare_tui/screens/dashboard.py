"""Provides `DashboardScreen`: a day's KPIs at a glance, with target status, breakdowns and volume.

The numbers come from `webcare_tui.kpi` over the store's aggregate queries, computed in
the app's background thread, so keys stay responsive while sync runs; today's view
refreshes itself every few seconds.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, VerticalScroll
from textual.widgets import Static

from webcare_tui.kpi import (
    HEATMAP_AGE,
    STATUS_SYMBOLS,
    STATUS_WORDS,
    TARGETS,
    TILES,
    DayView,
    Kpis,
    KpiSettings,
    PeriodKpis,
    day_view,
    format_duration,
    format_share,
    format_span,
    format_value,
    judge,
    target_text,
)
from webcare_tui.safe_text import clean
from webcare_tui.screens.console import ConsoleScreen
from webcare_tui.screens.prompt import PromptScreen
from webcare_tui.widgets.dashboard_charts import heatmap_text, hour_bars, sentiment_text
from webcare_tui.widgets.footer import Footer
from webcare_tui.widgets.notice import Notice
from webcare_tui.widgets.status_header import StatusHeader

if TYPE_CHECKING:
    pass

REFRESH = 5.0  # seconds between refreshes of today's numbers
WIDE = 130  # from this many columns on, tiles in full words (28 cells inside) and the panels side by side


# (tile id, title, the KPI's attribute, how to show it, the target keys that judge it)
SHORT_TITLES = {"open": "Open (waiting)"}  # a narrow tile's title, where the full one would not fit


class DashboardScroll(VerticalScroll, inherit_bindings=False):
    """The panels, scrolled up and down; left and right are the screen's (the days), also in the
    footer and the `?` list, where a sideways scroll binding would hide them."""

    BINDINGS = [
        Binding("up", "scroll_up", "Scroll up", show=False),
        Binding("down", "scroll_down", "Scroll down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "End", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
    ]


class DashboardScreen(ConsoleScreen):
    # narrow (80 columns): tiles of three lines, the panels one under the other, compact charts;
    # nothing wraps, the rest is a scroll away (↑↓ PgUp PgDn)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    DEFAULT_CSS = """
    DashboardScreen #datebar { height: 1; background: $boost; padding: 0 1; }
    DashboardScreen #tiles { layout: grid; grid-size: 4; grid-rows: 6; height: auto; }
    DashboardScreen .tile { height: 6; border: round $primary-lighten-1; padding: 0 1; }
    DashboardScreen.-narrow #tiles { grid-rows: 5; }
    DashboardScreen.-narrow .tile { height: 5; padding: 0 0 0 1; }
    DashboardScreen.-narrow .row { layout: vertical; }
    DashboardScreen .tile.ok { border: round $success; }
    DashboardScreen .tile.near { border: round $warning; }
    DashboardScreen .tile.off { border: heavy $error; }
    DashboardScreen .row { height: auto; }
    DashboardScreen .panel { width: 1fr; height: auto; border: round $primary-darken-2; padding: 0 1; }
    DashboardScreen #notice { height: 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape,q", "back", "Back", id="dashboard.back"),
        Binding("left,h", "shift(-1)", "Previous day", id="dashboard.previous"),
        Binding("right,l", "shift(1)", "Next day", id="dashboard.next"),
        Binding("t", "today", "Today", id="dashboard.today"),
        Binding("g", "pick", "Go to date", id="dashboard.pick"),
        Binding("r", "reload", "Refresh", show=False, id="dashboard.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.day: date | None = None
        self.data: DayView | None = None
        self.busy = False
        self.wanted: date | None = None  # a day asked for while another was being computed
        self.heatmap_at = 0.0
        self.drawn_narrow: bool | None = None  # the layout the data on screen was drawn for

    @property
    def narrow(self) -> bool:
        """Narrower than `WIDE`: short tiles, compact charts."""
        return self.app.size.width < WIDE

    @property
    def shown_day(self) -> date:
        """The day on screen (set when the screen mounts)."""
        assert self.day is not None, "the dashboard is not mounted"
        return self.day

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield Static(id="datebar", markup=False)
        with DashboardScroll():
            with Container(id="tiles"):
                for tile in TILES:
                    yield Static(id=f"tile-{tile.id}", classes="tile", markup=False)
            with Horizontal(classes="row"):
                yield Static(id="agents", classes="panel")
                yield Static(id="platforms", classes="panel")
            with Horizontal(classes="row"):
                yield Static(id="labels", classes="panel")
                yield Static(id="sentiment", classes="panel")
            yield Static(id="hours", classes="panel")
            yield Static(id="heatmap", classes="panel")
        yield Notice()
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        if self.data is not None and self.drawn_narrow is not None and self.drawn_narrow != self.narrow:
            self.show(self.data)  # across the breakpoint: the tiles and charts drawn for the new width

    def on_mount(self) -> None:
        self._settings: KpiSettings = self.console.kpi_settings  # checked at start-up
        self.day = self._settings.today(self.console.clock())
        self.load()
        self.set_interval(REFRESH, self.tick)

    # -- loading --------------------------------------------------------------

    def tick(self) -> None:
        if self.day == self._settings.today(self.console.clock()) and not self.busy:
            self.load()

    def load(self) -> None:
        """Compute the current day in the background; the latest asked-for day wins."""
        if self.busy:
            self.wanted = self.day
            return
        self.busy = True
        day, store, settings, now = self.shown_day, self.console.store, self._settings, self.console.clock()
        self.show_datebar(computing=True)
        # the heatmap is redrawn when the day changes, and every HEATMAP_AGE seconds
        kept = self.data.heatmap if self.data and self.data.day == day and now - self.heatmap_at < HEATMAP_AGE else None
        if kept is None:
            self.heatmap_at = now
        future = self.console.jobs.counts.submit(day_view, store, settings, day, now, kept)
        future.add_done_callback(lambda finished: self._failed(finished))
        self.console.jobs.deliver(future, self.loaded)

    def _failed(self, future: Any) -> None:
        if not future.cancelled() and future.exception() is not None:
            error = future.exception()
            try:
                self.app.call_from_thread(self._show_failure, f"could not compute the KPIs: {error}")
            except RuntimeError:
                pass

    def _show_failure(self, text: str) -> None:
        self.busy = False
        self.notice(text)

    def loaded(self, data: DayView) -> None:
        self.busy = False
        if self.wanted is not None and self.wanted != data.day:
            self.wanted = None
            self.load()
            return
        self.wanted = None
        self.data = data
        self.show(data)

    # -- drawing --------------------------------------------------------------

    def show_datebar(self, computing: bool = False) -> None:
        settings, day = self._settings, self.shown_day
        today = settings.today(self.console.clock())
        when = day.strftime("%a %d %b %Y")
        if day == today:
            when += " · today, so far"
        elif day == today - timedelta(days=1):
            when += " · yesterday"
        parts = [f"◀ {when} ▶", settings.zone.key, f"deadline {format_span(settings.deadline)}"]
        if settings.deadlines:
            parts[-1] += " (" + ", ".join(f"{p} {format_span(s)}" for p, s in sorted(settings.deadlines.items())) + ")"
        if settings.working_hours:
            parts.append("working hours only" if self.narrow else "response times and deadlines count working hours only")
        if computing:
            parts.append("computing…")
        self.query_one("#datebar", Static).update(Text(" · ".join(parts), no_wrap=True, overflow="ellipsis"))

    def show(self, data: DayView) -> None:
        with self.app.batch_update():
            self._show(data)

    def _show(self, data: DayView) -> None:
        settings, period, narrow = self._settings, data.period, self.narrow
        self.drawn_narrow = narrow
        self.show_datebar()
        team, targets = period.team, settings.targets_for()
        for tile in TILES:
            tile_id, title, value = tile.id, tile.title, getattr(team, tile.kpi)
            statuses = [(key, judge(value, targets[key], TARGETS[key][1])) for key in tile.targets if key in targets]
            text = Text((SHORT_TITLES.get(tile_id, title) if narrow else title) + "\n", style="dim", no_wrap=True,
                        overflow="ellipsis")
            text.append(format_value(value, tile.kind), style="bold")
            if narrow:  # the target on the value's line, in symbols (the border's colour says it too)
                for key, status in statuses:
                    text.append(f" {STATUS_SYMBOLS[status]} {target_text(key, targets[key]).replace(' ', '')}")
            if tile_id == "open" and team.oldest_waiting_since is not None:
                text.append(f"\noldest {format_duration(data.period.as_of - team.oldest_waiting_since)}")
            if tile_id == "service":
                judged = team.within_deadline + team.missed_deadline
                text.append(f"\n{team.within_deadline}/{judged} in time" + ("" if narrow else
                                                                              f", {team.not_yet_due} not due yet"))
            if not narrow:
                for key, status in statuses:
                    text.append(f"\n{STATUS_SYMBOLS[status]} {STATUS_WORDS[status]} ({target_text(key, targets[key])})")
            widget = self.query_one(f"#tile-{tile_id}", Static)
            for status in ("ok", "near", "off"):  # the border's colour and weight; the symbol says it too
                widget.set_class(any(found == status for _, found in statuses), status)
            widget.update(text, layout=False)  # a tile's size never changes
        self.query_one("#agents", Static).update(self.agent_table(period))
        self.query_one("#platforms", Static).update(
            _table("Per platform", "Platform", period.by_platform, ("incoming", "replies", "open", "avg", "service")))
        self.query_one("#labels", Static).update(
            _table("Per label", "Label", period.by_label, ("incoming", "open", "avg", "service"), none="(no label)"))
        self.query_one("#hours", Static).update(
            Text("Incoming per hour\n", style="bold") + hour_bars(data.today_hours, data.last_week_hours, compact=narrow))
        self.query_one("#sentiment", Static).update(Text("Sentiment (inbound)\n", style="bold")
                                                    + sentiment_text(period.sentiment))
        self.query_one("#heatmap", Static).update(
            Text("Volume: hour × weekday\n", style="bold") + heatmap_text(data.heatmap, settings.heatmap_weeks,
                                                                           compact=narrow))

    def agent_table(self, period: PeriodKpis) -> Table:
        me = self.console.config.agent.id
        agents = period.by_agent
        title = "Per agent"
        if not self._settings.sees_agent_comparison(me):
            agents = {key: value for key, value in agents.items() if key == me}
            title += " (yours only: comparison hidden)"
        return _table(title, "Agent", agents, ("handled", "replies", "avg", "open", "service"), none="(unassigned)")

    # -- actions --------------------------------------------------------------

    def notice(self, text: str) -> None:
        self.query_one(Notice).say(text)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_shift(self, days: int) -> None:
        self.go(self.shown_day + timedelta(days=days))

    def action_today(self) -> None:
        self.go(self._settings.today(self.console.clock()))

    def action_reload(self) -> None:
        self.load()

    def action_pick(self) -> None:
        def picked(text: str | None) -> None:
            if not text or not text.strip():
                return
            try:
                self.go(date.fromisoformat(text.strip()))
            except ValueError:
                self.notice(f"{clean(text, single_line=True)!r} is not a date: type YYYY-MM-DD")

        self.app.push_screen(PromptScreen("Show the day (YYYY-MM-DD):", value=self.shown_day.isoformat()), picked)

    def go(self, day: date) -> None:
        self.day = day
        self.notice("")
        self.load()


COLUMNS = {
    "incoming": ("In", lambda k: str(k.incoming)),
    "replies": ("Replies", lambda k: str(k.replies)),
    "handled": ("Cases", lambda k: str(k.handled)),
    "open": ("Open", lambda k: str(k.open)),
    "avg": ("Avg resp", lambda k: format_duration(k.response_avg)),
    "service": ("SL", lambda k: format_share(k.service_level)),
}


def _table(title: str, first: str, slices: dict[Any, Kpis], columns: tuple[str, ...], none: str = "-") -> Table:
    """A breakdown as a Rich table; names (agents, labels) are shown as plain text, never markup."""
    table = Table(title=title, title_justify="left", expand=True, box=None, pad_edge=False)
    table.add_column(first, no_wrap=True, overflow="ellipsis")
    for column in columns:
        table.add_column(COLUMNS[column][0], justify="right", no_wrap=True)
    for key in sorted(slices, key=lambda key: (key is None, str(key))):
        name = none if key is None else clean(str(key), single_line=True)
        table.add_row(Text(name), *(Text(COLUMNS[column][1](slices[key])) for column in columns))
    if not slices:
        table.add_row(Text("nothing this day", style="dim"), *("" for _ in columns))
    return table
