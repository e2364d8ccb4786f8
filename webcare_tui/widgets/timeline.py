"""Provides `Timeline`: a case's conversation (messages, memos, drafts, events), drawn line by line.

Each item is wrapped to the width when it first comes (or the width or theme changes) and kept;
only the lines in view are painted. A widget per item cost a layout pass over all of them and a
repaint of each on every case opened, most of the time to open one, and a long case mounted
hundreds of widgets.
"""

from __future__ import annotations

import operator
from typing import NamedTuple

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from webcare_tui.widgets.lines import fitted


class Item(NamedTuple):
    key: str  # which message, memo, draft or event: the same one keeps it when the case is read again
    content: Text  # customer text only ever as plain text in it, never markup
    kind: str  # in, out, memo, draft, rejected or event: see Timeline.LOOKS


class _Look(NamedTuple):
    indent: int  # columns left of the bar: a reply stands further in than the customer
    bar: bool  # a coloured bar on the left and a blank line after (an event has neither)
    component: str  # the bar's colour and the item's background (a memo's, a draft's tint)
    muted: bool  # text in the muted colour (a rejected draft, an event)


class Timeline(ScrollView, can_focus=True):
    """The case's items in time order; scrolls to the end as items come, unless the agent has scrolled back."""

    DEFAULT_CSS = """
    Timeline { width: 1fr; scrollbar-gutter: stable; }
    Timeline > .timeline--in { color: $success; }
    Timeline > .timeline--out { color: $primary; }
    Timeline > .timeline--memo { color: $warning; background: $warning 10%; }
    Timeline > .timeline--draft { color: $secondary; background: $secondary 10%; }
    Timeline > .timeline--rejected { color: $error; }
    Timeline > .timeline--muted { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"timeline--in", "timeline--out", "timeline--memo", "timeline--draft",
                         "timeline--rejected", "timeline--muted"}
    LOOKS = {
        "in": _Look(1, True, "timeline--in", False),
        "out": _Look(6, True, "timeline--out", False),
        "memo": _Look(1, True, "timeline--memo", False),
        "draft": _Look(6, True, "timeline--draft", False),
        "rejected": _Look(6, True, "timeline--rejected", True),
        "event": _Look(1, False, "timeline--muted", True),
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: list[Item] = []
        self._drawn: dict[str, tuple[Item, list[Strip]]] = {}  # by key: each item's lines, for `_width` and `_palette`
        self._lines: list[Strip] = []
        self._width = 0
        self._palette: dict[str, Style] = {}
        self._at_end = True  # where the agent left the view: a resize or new items keep it at the end, or in place

    def show(self, items: list[Item]) -> None:
        """Show these items: the lines of those shown before are kept. The view follows the end if it
        was there, or if these are another case's items."""
        another = [item.key for item in items[:len(self.items)]] != [item.key for item in self.items]  # not just added to
        following = another or self._at_end
        self.items = items
        self._draw()
        if following:
            self.scroll_end(animate=False, immediate=True, force=True)  # before the layout pass shows the scrollbar

    def on_resize(self) -> None:
        following = self._at_end
        self._draw()
        if following:
            self.scroll_end(animate=False, immediate=True, force=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._at_end = new_value >= self.max_scroll_y

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self._palette and self._palette != self._colours():  # another theme, not each time the screen is shown
            self._draw()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        return self._lines[index] if index < len(self._lines) else Strip.blank(self._width, self.rich_style)

    def _colours(self) -> dict[str, Style]:
        return {name: self.get_component_rich_style(name) for name in self.COMPONENT_CLASSES} | {"": self.rich_style}

    def _draw(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0:  # not laid out yet: drawn on the first resize
            return
        palette = self._colours()
        if width != self._width or palette != self._palette:
            self._drawn.clear()
        self._width, self._palette = width, palette
        drawn = {}
        for item in self.items:
            kept = self._drawn.get(item.key)
            drawn[item.key] = kept if kept is not None and kept[0] == item else (item, self._item_lines(item))
        self._drawn = drawn
        lines = [line for _, lines in drawn.values() for line in lines]
        if len(lines) == len(self._lines) and all(map(operator.is_, lines, self._lines)):
            return  # the case read again, its conversation as drawn: a repaint drew every line anew for nothing
        self._lines = lines
        self.virtual_size = Size(width, len(self._lines))
        self.refresh()

    def _item_lines(self, item: Item) -> list[Strip]:
        look, width, palette = self.LOOKS[item.kind], self._width, self._palette
        base = palette[""]
        tint = palette[look.component]
        body = base + Style(bgcolor=tint.bgcolor) + (palette["timeline--muted"] if look.muted else Style())
        left = [Segment(" " * look.indent, base)] + ([Segment("█", tint), Segment(" ", body)] if look.bar else [])
        right = 2 if look.bar else 1  # the bar's padding and the margin, or the margin
        room = max(width - sum(segment.cell_length for segment in left) - right, 1)
        console = self.app.console
        lines = []
        for line in item.content.wrap(console, room, overflow="fold"):
            text = list(Segment.apply_style(line.render(console), body))
            fill = room - line.cell_len + right - 1
            lines.append(fitted([*left, *text, Segment(" " * fill, body), Segment(" ", base)], width, base))
        if look.bar:
            lines.append(Strip.blank(width, base))
        return lines
