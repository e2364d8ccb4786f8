"""Provides `StatusHeader`: the top line (who is signed in, sync state per account, outbox, alerts),
and `HeaderLine`, what it says.

Textual's `Header` follows `App.sub_title`, and setting that repaints the whole screen and
lays it out again; ours changes on every reply (the outbox count). This line repaints
itself alone: the app keeps a `HeaderLine` in `header_line` and refreshes the header.

When the line is wider than the terminal, the alerts keep their meaning: they are told in
fewer words, down to "! 17 overdue, 2 due soon", and the rest of the line gives way to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.widget import Widget

SEPARATOR = " · "


@dataclass(frozen=True)
class HeaderLine:
    status: str = ""  # who is signed in, the sync, the outbox, what is down
    alerts: tuple[str, ...] = ()  # the alerts told in ever fewer words: the first that fits is shown

    @property
    def text(self) -> str:
        """The whole line, alerts in full."""
        return SEPARATOR.join(part for part in (self.status, *self.alerts[:1]) if part)


class StatusHeader(Widget):
    DEFAULT_CSS = """
    StatusHeader { dock: top; width: 100%; height: 1; background: $panel; color: $foreground;
                   text-align: center; }
    """

    def render(self) -> Text:
        line: HeaderLine = getattr(self.app, "header_line", HeaderLine())
        title = f"{self.app.title} — " if line.status or line.alerts else self.app.title
        width = self.size.width
        for alert in line.alerts or ("",):
            status = SEPARATOR.join(part for part in (line.status, alert) if part)
            if cell_len(title + status) <= width or not alert:
                return self._line(title, line.status, alert)
        # still too wide: the status is cut (…) so the shortest alert stays whole at the end
        alert = line.alerts[-1]
        room = width - cell_len(title) - cell_len(SEPARATOR + alert)
        status = line.status if cell_len(line.status) <= room else set_cell_size(line.status, max(room - 1, 0)) + "…"
        if room < 8:  # nothing of the status that would still say something
            title, status = "", ""
        return self._line(title, status, alert)

    @staticmethod
    def _line(title: str, status: str, alert: str) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis", justify="center", end="")
        line.append(title.removesuffix(" — "), "bold")
        line.append(title[len(title.removesuffix(" — ")):])
        line.append(status)  # Text, never markup: it may quote a customer's handle
        if alert:
            line.append(SEPARATOR if status else "")
            line.append(alert, "bold")
        return line
