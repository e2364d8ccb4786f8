"""Provides `Notice`: the one-line answer a screen gives to the agent's last key.

What it says often quotes customer or helpdesk text (a macro's summary, an agent id from
Chatwoot, a link): it is shown as plain text on one line, control characters taken out.
"""

from __future__ import annotations

from textual.widgets import Static

from webcare_tui.safe_text import clean


class Notice(Static):
    def __init__(self) -> None:
        super().__init__(id="notice", markup=False)

    def say(self, text: str) -> None:
        self.update(clean(text, single_line=True), layout=False)  # one line: no layout pass
