"""Provides `StatusHeader`: the top line (who is signed in, sync state per account, outbox, alerts).

Textual's `Header` follows `App.sub_title`, and setting that repaints the whole screen and
lays it out again; ours changes on every reply (the outbox count). This line repaints
itself alone: the app keeps the text in `status_text` and refreshes the header.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class StatusHeader(Widget):
    DEFAULT_CSS = """
    StatusHeader { dock: top; width: 100%; height: 1; background: $panel; color: $foreground;
                   text-align: center; }
    """

    def render(self) -> Text:
        line = Text(self.app.title, style="bold", no_wrap=True, overflow="ellipsis", justify="center")
        status = getattr(self.app, "status_text", "")
        if status:
            line.append(f" — {status}")  # Text, never markup: it may quote a customer's handle
        return line
