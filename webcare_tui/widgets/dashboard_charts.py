"""Provides the dashboard's drawings as Rich `Text`: hour bars, the hour × weekday heatmap, sentiment.

Drawn with Unicode blocks and shades, so they need no plotting library and read the
same without colour (the two series differ by glyph, not only by colour).
"""

from __future__ import annotations

from rich.text import Text

from webcare_tui.kpi import WEEKDAYS

_EIGHTHS = " ▁▂▃▄▅▆▇█"
_SHADES = " ░▒▓█"


def _hour_axis(cells: int) -> str:
    """The hours 0, 3, 6 … 21 under columns `cells` wide."""
    return "".join(f"{hour:<{cells * 3}}" for hour in range(0, 24, 3))


def hour_bars(today: list[int], last_week: list[int], height: int = 6, *, compact: bool = False) -> Text:
    """24 pairs of vertical bars: today (█, solid) beside the same weekday last week (▒, shaded).
    `compact`: no gap between the hours (54 cells wide instead of 78), for a narrow terminal."""
    top = max([*today, *last_week, 1])
    levels = [[value * height * 8 // top for value in series] for series in (today, last_week)]
    cells = 2 if compact else 3
    text = Text(no_wrap=True, overflow="crop")
    text.append(f"{top:>4} ┤", style="dim")
    for row in range(height, 0, -1):
        if row != height:
            text.append("     │", style="dim")
        for hour in range(24):
            for series, (glyph_style, shade) in enumerate((("bold", False), ("dim", True))):
                eighths = levels[series][hour] - (row - 1) * 8
                if eighths <= 0:
                    glyph = " "
                elif shade:
                    glyph = "▒" if eighths >= 4 else "░"
                else:
                    glyph = _EIGHTHS[min(eighths, 8)]
                text.append(glyph, style=glyph_style)
            if not compact:
                text.append(" ")
        text.append("\n")
    text.append("   0 └" + "─" * (24 * cells) + "\n", style="dim")
    text.append("      " + _hour_axis(cells).rstrip() + "\n", style="dim")
    text.append("      █ today   ▒ same weekday last week", style="dim")
    return text


def heatmap_text(grid: list[list[int]], weeks: int, *, compact: bool = False) -> Text:
    """Weekday rows × 24 hour columns, darker for more inbound messages; the scale underneath.
    `compact`: two cells an hour, no gap (53 cells wide instead of 77), for a narrow terminal."""
    top = max(max(row) for row in grid) or 1
    cells = 2 if compact else 3
    text = Text(no_wrap=True, overflow="crop")
    text.append("     " + _hour_axis(cells).rstrip() + "\n", style="dim")
    for day, row in enumerate(grid):
        text.append(f"{WEEKDAYS[day].title():<4} ", style="dim")
        for value in row:
            shade = _SHADES[min(4, (value * 4 + top - 1) // top)] if value else "·"
            text.append(shade * 2 + ("" if compact else " "))
        text.append("\n")
    scale = f"up to {top} per hour (last {weeks} weeks, inbound)"
    text.append(f"     · none  ░ ▒ ▓ █ {scale}" if not compact else f"· none ░▒▓█ {scale}", style="dim")
    return text


def sentiment_text(sentiment: dict[str, int]) -> Text:
    """Shares of negative / neutral / positive inbound messages, or that none is scored yet."""
    scored = sentiment["negative"] + sentiment["neutral"] + sentiment["positive"]
    if not scored:
        return Text("no sentiment yet (messages are not scored)", style="dim")
    text = Text()
    for name, glyph, style in (("negative", "✗", "red"), ("neutral", "·", ""), ("positive", "✓", "green")):
        share = sentiment[name] / scored
        text.append(f"{glyph} {name} {share * 100:.0f}%  ", style=style)
        text.append("█" * round(share * 30) + "\n", style=style)
    if sentiment["unscored"]:
        text.append(f"{sentiment['unscored']} not scored", style="dim")
    return text
