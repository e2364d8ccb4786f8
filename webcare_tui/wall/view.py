"""Provides what the wall shows: a day's numbers and the page's tiles, tables and charts made of them.

Nothing here decides a number. The KPIs come from `webcare_tui.kpi` (`period_kpis`, `hourly`,
`heatmap`) over the store's aggregate queries, exactly as the console's dashboard computes them,
and are put in the shape of `webcare report --json` by `report.build`: a tile or a table row on the
wall shows a value of that object, and its target status is the report's. Only aggregates reach
the page: counts, durations and shares per team, agent, platform and label; never a message, an
author or a case.

The charts are SVG drawn here (geometry only: numbers, never text from the store) and rendered by
the templates; they need no script and read the same without colour (today's bars are solid, last
week's hollow; target status has a symbol beside its colour).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from webcare_tui.kpi import (
    HEATMAP_AGE,
    STATUS_SYMBOLS,
    STATUS_WORDS,
    TILES,
    WEEKDAYS,
    DayView,
    KpiSettings,
    KpiSource,
    PeriodKpis,
    day_view,
    format_duration,
    format_span,
    format_value,
    target_text,
)
from webcare_tui.report import build
from webcare_tui.safe_text import clean

FRESH = 5.0  # a day's numbers are computed at most this often, however many screens ask


@dataclass(frozen=True)
class WallData(DayView):
    """Everything the wall shows for one day, as computed at `computed_at`."""

    computed_at: float = 0.0
    heatmap_at: float = 0.0


def compute(store: KpiSource, settings: KpiSettings, day: date, now: float,
            kept: WallData | None = None) -> WallData:
    """The dashboard's view of the day (`kpi.day_view`), and when it and its heatmap were computed.

    Args:
        kept: an earlier computation of this day whose heatmap is young enough to keep.
    """
    view = day_view(store, settings, day, now, kept.heatmap if kept is not None else None)
    return WallData(view.day, view.period, view.today_hours, view.last_week_hours, view.heatmap,
                    now, kept.heatmap_at if kept is not None else now)


class Numbers:
    """The wall's days, computed at most every FRESH seconds each: ten screens cost one computation.

    Thread-safe; the computation itself runs on the caller's thread (the app's one reader thread).
    """

    def __init__(self, store: KpiSource, settings: KpiSettings, clock: Callable[[], float] = time.time) -> None:
        self.store, self.settings, self.clock = store, settings, clock
        self._days: dict[date, WallData] = {}
        self._lock = threading.Lock()

    def get(self, day: date) -> WallData:
        with self._lock:
            now = self.clock()
            known = self._days.get(day)
            if known is not None and 0 <= now - known.computed_at < FRESH:
                return known
            kept = known if known is not None and 0 <= now - known.heatmap_at < HEATMAP_AGE else None
            data = compute(self.store, self.settings, day, now, kept)
            if len(self._days) > 16:  # days looked at once and never again
                self._days.clear()
            self._days[day] = data
            return data


# -- the page's parts ---------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    id: str
    title: str
    value: str
    status: str | None = None  # "ok", "near", "off"; None: no data yet; "" no target set
    symbol: str = ""
    word: str = ""
    target: str = ""
    note: str = ""


@dataclass(frozen=True)
class Row:
    name: str
    cells: tuple[str, ...]
    status: str | None = ""  # the row's service level against its target ("" none set)
    symbol: str = ""
    muted: bool = False  # unassigned / without a label


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    first: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...] = ()
    more: int = 0  # rows not shown (the quietest)
    note: str = ""


# (heading, key in the report's object, kind) per column of a breakdown
COLUMNS = {
    "incoming": ("In", "incoming", "count"),
    "replies": ("Replies", "replies", "count"),
    "handled": ("Handled", "handled", "count"),
    "open": ("Open", "open", "count"),
    "avg": ("Avg resp", "response_avg_seconds", "duration"),
    "service": ("SL", "service_level", "share"),
}
TABLES = (  # (group, title, first column, columns, rows at most, the name of the None key)
    ("agent", "Per agent", "Agent", ("handled", "replies", "avg", "open", "service"), 6, "(unassigned)"),
    ("platform", "Per platform", "Platform", ("incoming", "replies", "open", "service"), 6, "-"),
    ("label", "Per label", "Label", ("incoming", "open", "avg", "service"), 6, "(no label)"),
)


def _status(targets: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str | None, str]:
    """The status of the first configured target among `keys` and that key; ("", "") when none is set."""
    for key in keys:
        if key in targets:
            return targets[key]["status"], key
    return "", ""


def tiles(team: Mapping[str, Any], period: PeriodKpis) -> list[Tile]:
    """The team's tiles from the report's `team` object (values and target statuses are its)."""
    result = []
    for tile in TILES:
        tile_id, status, target_key = tile.id, *_status(team["targets"], tile.targets)
        note = ""
        if tile_id == "open" and period.team.oldest_waiting_since is not None:
            note = f"oldest waiting {format_duration(period.as_of - period.team.oldest_waiting_since)}"
        elif tile_id == "service":
            judged = team["within_deadline"] + team["missed_deadline"]
            note = f"{team['within_deadline']}/{judged} in time · {team['not_yet_due']} not due yet"
        elif tile_id == "incoming":
            note = f"{team['runs']} runs · {team['answered']} answered"
        elif tile_id == "completed":
            note = f"{team['handled']} cases handled"
        result.append(Tile(
            tile_id, tile.title, format_value(team[tile.report_key], tile.kind, "–"), status,
            STATUS_SYMBOLS[status] if status != "" else "", STATUS_WORDS[status] if status != "" else "",
            target_text(target_key, team["targets"][target_key]["target"]) if target_key else "", note))
    return result


def _name(key: Any, none: str) -> str:
    return none if key is None else clean(str(key), single_line=True)


def table(group: str, rows: list[dict[str, Any]], hidden: bool = False) -> Table:
    """A breakdown from the report's `groups` (`report --by group`): the busiest rows first, the
    unassigned / unlabelled last, at most the table's number of rows."""
    _, title, first, columns, most, none = next(spec for spec in TABLES if spec[0] == group)
    headings = tuple(COLUMNS[column][0] for column in columns)
    if hidden:
        return Table(group, title, first, headings, note="Not shown: the team hides the comparison of agents "
                                                          "(kpi.hide_agent_comparison).")

    def busy(row: dict[str, Any]) -> tuple[bool, int, str]:
        return (row["key"] is None, -(row["incoming"] + row["replies"] + row["open"]), str(row["key"]))

    picked = sorted(rows, key=busy)
    named = [row for row in picked if row["key"] is not None]
    unnamed = [row for row in picked if row["key"] is None]
    room = most - len(unnamed)
    kept = (named if len(named) <= room else named[:room - 1]) + unnamed  # "+ N more" takes a row's place
    result = []
    for row in kept:
        status, _ = _status(row["targets"], ("service_level",))
        result.append(Row(_name(row["key"], none),
                          tuple(format_value(row[COLUMNS[column][1]], COLUMNS[column][2], "–") for column in columns),
                          status, STATUS_SYMBOLS[status] if status else "", row["key"] is None))  # "–" says no data
    return Table(group, title, first, headings, tuple(result), len(rows) - len(kept),
                 "" if rows else "nothing this day")


# -- charts (SVG geometry, in the viewBox's units) ----------------------------


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    cls: str = ""
    title: str = ""


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    cls: str = ""
    anchor: str = "middle"


@dataclass
class Chart:
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)
    lines: list[Box] = field(default_factory=list)  # x1=x, y1=y, x2=x+w, y2=y+h
    labels: list[Label] = field(default_factory=list)
    description: str = ""


def _scale(top: int) -> tuple[int, int]:
    """A round top for an axis reaching `top`, and its step (at most 4 steps)."""
    top = max(top, 1)
    for magnitude in (10**n for n in range(12)):
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            if math.ceil(top / step) <= 4:
                return step * math.ceil(top / step), step
    return top, top


def hour_chart(today: list[int], last_week: list[int], now_hour: int | None) -> Chart:
    """24 pairs of bars: the day's inbound messages per hour (solid) and the same weekday a week before
    (hollow, dashed), on one scale with gridlines; the hour now is marked."""
    width, height, left, right, top_space, bottom = 1000, 262, 60, 6, 14, 36
    chart = Chart(width, height, description=(
        f"Inbound messages per hour: {sum(today)} this day, {sum(last_week)} the same weekday last week"))
    top, step = _scale(max([*today, *last_week, 1]))
    plot_w, plot_h = width - left - right, height - top_space - bottom
    base = top_space + plot_h
    slot = plot_w / 24
    for tick in range(0, top + 1, step):
        y = round(base - tick / top * plot_h, 1)
        chart.lines.append(Box(left, y, plot_w, 0, "grid" if tick else "axis"))
        chart.labels.append(Label(left - 10, y + 9, str(tick), "tick", "end"))
    if now_hour is not None:
        chart.boxes.append(Box(round(left + now_hour * slot, 1), top_space, round(slot, 1), plot_h, "now"))
    for hour in range(24):
        x = left + hour * slot
        for series, values, offset, share, cls in ((0, today, 0.10, 0.44, "today"),
                                                   (1, last_week, 0.56, 0.34, "lastweek")):
            value = values[hour]
            if not value:
                continue
            h = value / top * plot_h
            what = "this day" if series == 0 else "last week"
            chart.boxes.append(Box(round(x + offset * slot, 1), round(base - h, 1), round(share * slot, 1),
                                   round(h, 1), cls, f"{hour:02d}:00 {what}: {value}"))
        if hour % 3 == 0:
            chart.labels.append(Label(round(x + slot / 2, 1), height - 6, f"{hour:02d}", "tick"))
    return chart


def heatmap_chart(grid: list[list[int]], weekday: int | None) -> tuple[Chart, int]:
    """Weekday rows × 24 hour columns, five shades from none to the busiest hour; and that busiest count."""
    width, height, left, top_space, gap = 1000, 236, 66, 28, 3
    busiest = max(max(row) for row in grid) or 1
    chart = Chart(width, height, description=f"Inbound messages per weekday and hour, up to {busiest} per hour")
    cell_w, cell_h = (width - left) / 24, (height - top_space) / 7
    for hour in range(0, 24, 3):
        chart.labels.append(Label(round(left + (hour + 0.5) * cell_w, 1), 24, f"{hour:02d}", "tick"))
    for day, row in enumerate(grid):
        y = top_space + day * cell_h
        chart.labels.append(Label(left - 10, round(y + cell_h / 2 + 9, 1), WEEKDAYS[day].title(),
                                  "tick today" if day == weekday else "tick", "end"))
        for hour, value in enumerate(row):
            level = min(4, math.ceil(value * 4 / busiest)) if value else 0
            chart.boxes.append(Box(round(left + hour * cell_w, 1), round(y, 1), round(cell_w - gap, 1),
                                   round(cell_h - gap, 1), f"l{level}", f"{WEEKDAYS[day].title()} {hour:02d}:00: {value}"))
    return chart, busiest


def sentiment_chart(sentiment: Mapping[str, int]) -> tuple[Chart, list[tuple[str, str, str, str]]]:
    """One stacked bar of negative / neutral / positive shares of the scored inbound messages, and
    the legend as (class, symbol, name, share)."""
    chart = Chart(1000, 40)
    scored = sentiment["negative"] + sentiment["neutral"] + sentiment["positive"]
    legend = []
    x = 0.0
    for name, symbol in (("negative", "✗"), ("neutral", "·"), ("positive", "✓")):
        share = sentiment[name] / scored if scored else 0.0
        if share:
            chart.boxes.append(Box(round(x, 1), 0, round(share * 1000, 1), 40, name))
            x += share * 1000
        legend.append((name, symbol, name, f"{share * 100:.0f}%" if scored else "–"))
    return chart, legend


# -- the whole panel ----------------------------------------------------------


def day_title(day: date, today: date) -> str:
    title = day.strftime("%a %d %b %Y")
    if day == today:
        return f"{title} · today"
    if day == today - timedelta(days=1):
        return f"{title} · yesterday"
    return title


def panel(data: WallData, settings: KpiSettings, today: date) -> dict[str, Any]:
    """The template's values for the panel: header, tiles, breakdowns and charts of `data.day`."""
    period = data.period
    reports = {group: build([period], period, settings, group) for group, *_ in TABLES}
    team = reports["agent"]["team"]
    hidden = settings.hide_agent_comparison  # the wall is for the whole room: nobody's own row either
    deadline = f"deadline {format_span(settings.deadline)}"
    if settings.deadlines:
        deadline += " (" + ", ".join(f"{clean(p, single_line=True)} {format_span(s)}"
                                     for p, s in sorted(settings.deadlines.items())) + ")"
    as_of = datetime.fromtimestamp(period.as_of, settings.zone)
    live = data.day == today
    hour_now = as_of.hour if live else None
    hours = hour_chart(data.today_hours, data.last_week_hours, hour_now)
    grid, busiest = heatmap_chart(data.heatmap, data.day.weekday())
    mood, mood_legend = sentiment_chart(period.sentiment)
    return {
        "day": data.day.isoformat(),
        "title": day_title(data.day, today),
        "as_of": f"so far, as of {as_of:%H:%M}" if live else "whole day",
        "zone": settings.zone.key,
        "deadline": deadline,
        "working_hours": settings.working_hours,
        "tiles": tiles(team, period),
        "tables": [table(group, reports[group]["groups"], hidden and group == "agent") for group, *_ in TABLES],
        "hours": hours,
        "hours_total": (sum(data.today_hours), sum(data.last_week_hours)),
        "heatmap": grid,
        "heatmap_note": f"inbound, {settings.heatmap_weeks} weeks · up to {busiest} an hour",
        "sentiment": mood,
        "sentiment_legend": mood_legend,
        "unscored": period.sentiment["unscored"],
        "scored": sum(period.sentiment[name] for name in ("negative", "neutral", "positive")),
    }
