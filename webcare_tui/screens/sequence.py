"""Provides `SequenceScreen`: after the first key of a two-key macro ("g" of "g h"), the second key."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Label


class SequenceScreen(ModalScreen[str | None]):
    """Shows what can follow `prefix` and dismisses with the next key pressed (None: not one of them)."""

    DEFAULT_CSS = """
    SequenceScreen { align: center bottom; background: $background 0%; }
    SequenceScreen > Label { width: 100%; height: 1; padding: 0 1; background: $accent; color: $text; }
    """

    def __init__(self, prefix: str, choices: dict[str, str]) -> None:
        super().__init__()
        self.prefix = prefix
        self.choices = choices  # second key → macro name

    def compose(self) -> ComposeResult:
        listing = " · ".join(f"{key} {name}" for key, name in self.choices.items())
        yield Label(f"{self.prefix} … {listing} · esc cancels", markup=False)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self.dismiss(event.key if event.key in self.choices else None)
