"""Provides `PromptScreen`: a one-line question (agent, label, memo, search…) with completion."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from webcare_tui.safe_text import clean


def completion(typed: str, names: list[str]) -> str | None:
    """The name Enter takes for `typed`: the one it spells (in any case), else the first that starts
    with it, as the input's completion shows it; None when none does or nothing was typed."""
    wanted = typed.strip().casefold()
    if not wanted:
        return None
    folded = [(name.casefold(), name) for name in names]
    return next((name for fold, name in folded if fold == wanted), None) or \
        next((name for fold, name in folded if fold.startswith(wanted)), None)


class PromptScreen(ModalScreen[str | None]):
    """Dismisses with the answer, or None on escape.

    With suggestions, Enter takes the one the completion shows, not the letters typed so far:
    `je` becomes `jeroen`. `only` (what the names are, e.g. "an agent of the team") refuses any
    other answer and says what is allowed; `new` (e.g. "label") lets a name that is not among
    them through only on a second Enter, so a typo does not become a new label beside the real one.
    """

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 70; max-width: 100%; height: auto; border: round $accent; padding: 0 1;
                              background: $surface; }
    PromptScreen #hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, *, suggestions: list[str] | None = None, value: str = "",
                 only: str | None = None, new: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.suggestions = suggestions or []
        self.value = value
        self.only = only
        self.new = new
        self._asked_new: str | None = None  # the new name Enter was pressed on once

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, markup=False)
            yield Input(value=self.value, suggester=SuggestFromList(self.suggestions, case_sensitive=False))
            yield Label("", id="hint", markup=False)

    @on(Input.Changed)
    def _show_what_enter_takes(self, event: Input.Changed) -> None:
        taken = completion(event.value, self.suggestions)
        self._hint(f"Enter takes {taken}" if taken is not None and taken != event.value.strip() else "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        typed = event.value.strip()
        taken = completion(typed, self.suggestions)
        if taken is not None:
            self.dismiss(taken)
        elif not typed or (self.only is None and self.new is None):
            self.dismiss(event.value)  # free text (a memo, a search) as typed
        elif self.only is not None:
            shown = ", ".join(self.suggestions[:8]) + (" …" if len(self.suggestions) > 8 else "")
            self._hint(f"{typed!r} is not {self.only}: {shown}" if shown else f"there is not {self.only} yet")
        elif self._asked_new != typed:
            self._asked_new = typed
            self._hint(f"{typed!r} is a new {self.new}: Enter again to make it, Esc to cancel")
        else:
            self.dismiss(typed)

    def _hint(self, text: str) -> None:
        self.query_one("#hint", Label).update(clean(text, single_line=True))  # names may come from a helpdesk

    def action_cancel(self) -> None:
        self.dismiss(None)
