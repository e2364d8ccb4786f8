"""Provides `PreviewScreen`: what a macro would do to a case, with its rendered texts; changes nothing."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from webcare_tui.macro_runner import Preview
from webcare_tui.safe_text import clean


class PreviewScreen(ModalScreen[bool]):
    """Dismisses with True when the agent applies the macro from here (enter), False on escape."""

    DEFAULT_CSS = """
    PreviewScreen { align: center middle; }
    PreviewScreen > Vertical { width: 90%; max-width: 100; height: auto; border: round $accent; padding: 0 1;
                               background: $surface; }
    """
    BINDINGS = [Binding("enter", "apply", "Apply"), Binding("escape", "close", "Close")]

    def __init__(self, name: str, preview: Preview) -> None:
        super().__init__()
        self.macro_name = name
        self.preview = preview

    def compose(self) -> ComposeResult:
        text = Text()
        text.append(f"{clean(self.macro_name, single_line=True)} on case {self.preview.case_id}\n", "bold")
        text.append(clean(self.preview.summary) + "\n")
        if self.preview.memo:
            text.append("\nMemo\n", "bold underline")
            text.append(clean(self.preview.memo) + "\n")  # it may hold the customer's name
        if self.preview.reply:
            text.append("\nReply\n", "bold underline")
            text.append(clean(self.preview.reply) + "\n")
        text.append("\nenter applies it · escape closes", "dim")
        with Vertical():
            yield Static(text)

    def action_apply(self) -> None:
        self.dismiss(True)

    def action_close(self) -> None:
        self.dismiss(False)
