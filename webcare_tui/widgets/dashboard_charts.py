"""Provides the dashboard's drawings as Rich `Text`: hour bars, the hour × weekday heatmap, sentiment.

Drawn with Unicode blocks and shades, so they need no plotting library and read the
same without colour (the two series differ by glyph, not only by colour).
"""

from __future__ import annotations

from rich.text import Text

from webcare_tui.kpi import WEEKDAYS

_EIGHTHS = " ▁▂▃▄▅▆▇█"
_SHADES = " ░▒▓█"


def hour_bars(today: list[int], last_week: list[int], height: int = 6) -> Text:
    """24 pairs of vertical bars: today (█, solid) beside the same weekday last week (▒, shaded)."""
    top = max([*today, *last_week, 1])
    levels = [[value * height * 8 // top for value in series] for series in (today, last_week)]
    text = Text()
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
            text.append(" ")
        text.append("\n")
    text.append("   0 └" + "─" * 72 + "\n", style="dim")
    text.append("      " + "".join(f"{hour:<3}" if hour % 3 == 0 else "   " for hour in range(24)) + "\n", style="dim")
    text.append("      █ today   ▒ same weekday last week", style="dim")
    return text


def heatmap_text(grid: list[list[int]], weeks: int) -> Text:
    """Weekday rows × 24 hour columns, darker for more inbound messages; the scale underneath."""
    top = max(max(row) for row in grid) or 1
    text = Text()
    text.append("     " + "".join(f"{hour:<3}" if hour % 3 == 0 else "   " for hour in range(24)).rstrip() + "\n",
                style="dim")
    for day, row in enumerate(grid):
        text.append(f"{WEEKDAYS[day].title():<4} ", style="dim")
        for value in row:
            shade = _SHADES[min(4, (value * 4 + top - 1) // top)] if value else "·"
            text.append(shade * 2 + " ")
        text.append("\n")
    text.append(f"     · none  ░ ▒ ▓ █ up to {top} per hour (last {weeks} weeks, inbound)", style="dim")
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
