"""Provides `SuggestionsScreen`: the suggested replies and macros of a case (`webcare_tui.suggest`), numbered.

The case screen computes them in the background when a case opens; opened before they are there,
the panel says "finding suggestions…" and fills in when they arrive (`show`). A number key picks
one: the case screen then inserts a reply into the composer or previews a macro. Every text here
(past replies, names, macro names) is drawn as plain text, never as markup.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from webcare_tui.safe_text import clean
from webcare_tui.suggest import MacroSuggestion, ReplySuggestion, Suggestions
from webcare_tui.templates import TemplateError

MAX_CHOICES = 9  # on the keys 1–9: replies first, then macros
SHOWN = 150  # characters of a reply the panel shows (about two lines): the composer has all of it
Choice = ReplySuggestion | MacroSuggestion


def choices(suggestions: Suggestions) -> list[Choice]:
    """What the number keys pick, in order: the replies, then the macros, at most nine."""
    picked: list[Choice] = [*suggestions.replies, *suggestions.macros]
    return picked[:MAX_CHOICES]


def shown_reply(reply: ReplySuggestion, values: Mapping[str, str]) -> str:
    """A reply as this case would send it; its template when the case lacks a value it needs."""
    try:
        return reply.render(values)
    except TemplateError:
        return reply.text


def panel_text(suggestions: Suggestions | None, values: Mapping[str, str], problem: str | None = None) -> Text:
    """The panel's lines: each suggestion (a long reply cut short) and its source line under it."""
    text = Text()
    if problem is not None:
        text.append(clean(f"no suggestions: {problem}", single_line=True), "bold red")
        return text
    if suggestions is None:
        text.append("finding suggestions…", "italic")
        return text
    picked = choices(suggestions)
    if not picked:
        text.append("nothing like this case in the team's history yet", "italic")
        return text
    replies = [choice for choice in picked if isinstance(choice, ReplySuggestion)]
    for number, choice in enumerate(picked, 1):
        if number == 1 and replies:
            text.append("Replies we sent to messages like these\n", "bold underline")
        if isinstance(choice, MacroSuggestion) and number == len(replies) + 1:
            text.append(("\n" if replies else "") + "Macros applied to cases like this\n", "bold underline")
        text.append(f"{number} ", "bold")
        if isinstance(choice, ReplySuggestion):
            line = clean(shown_reply(choice, values), single_line=True)
            text.append(line if len(line) <= SHOWN else line[:SHOWN - 1].rstrip() + "…")
        else:
            text.append("macro ", "dim")
            text.append(clean(choice.name, single_line=True))
        text.append("\n  ")
        text.append(clean(choice.why, single_line=True) or "its own words fit", "dim")
        text.append("\n")
    text.rstrip()
    return text


class SuggestionsScreen(ModalScreen[Choice | None]):
    """Dismisses with the suggestion picked by its number, or None on escape."""

    DEFAULT_CSS = """
    SuggestionsScreen { align: center middle; }
    SuggestionsScreen > Vertical { width: 90%; max-width: 110; height: auto; max-height: 90%;
                                   border: round $accent; background: $surface; padding: 0 1; }
    SuggestionsScreen #suggestions-title { text-style: bold; }
    SuggestionsScreen VerticalScroll { height: auto; max-height: 100%; }
    SuggestionsScreen #suggestions-hint { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close"),
        *(Binding(str(number), f"choose({number - 1})", f"Pick {number}", show=False)
          for number in range(1, MAX_CHOICES + 1)),
    ]

    def __init__(self, case_id: int, values: Mapping[str, str], suggestions: Suggestions | None = None,
                 problem: str | None = None) -> None:
        super().__init__()
        self.case_id = case_id
        self.values = values  # this case's customer and this agent: how a reply is shown
        self.suggestions = suggestions
        self.problem = problem

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Suggestions for case {self.case_id}, from the team's history", id="suggestions-title",
                         markup=False)
            with VerticalScroll():
                yield Static(panel_text(self.suggestions, self.values, self.problem), id="suggestions-list")
            yield Static("1–9 inserts a reply or previews a macro · esc closes",
                         id="suggestions-hint", markup=False)

    def show(self, suggestions: Suggestions | None, problem: str | None = None) -> None:
        """The suggestions once they are there (or why there are none)."""
        self.suggestions, self.problem = suggestions, problem
        if self.is_attached:
            self.query_one("#suggestions-list", Static).update(panel_text(suggestions, self.values, problem))

    def action_choose(self, index: int) -> None:
        picked = choices(self.suggestions) if self.suggestions is not None else []
        if index < len(picked):
            self.dismiss(picked[index])
        else:
            self.app.bell()

    def action_close(self) -> None:
        self.dismiss(None)
