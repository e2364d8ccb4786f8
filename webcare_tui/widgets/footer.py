"""Provides `Footer`: the keys of the screen, the most used first, as many as fit the width, then `? Keys`.

Which keys come first is `PRIORITY`, one tuple of binding ids for every screen: a routine
case (reply, close, pending, memo, assign, label, macro…) before the rarer actions. A
binding not named there shows after them when it asks to be shown (`show=True`). What does
not fit is one key away: `?` lists every key of the screen (see `webcare_tui.screens.keys`).

One line, drawn as text: Textual's footer mounts a widget per key and builds them all anew
whenever bindings may have changed (every focus change, screen switch, `refresh_bindings()`).
This one reads the screen's active bindings then, and repaints only when its keys changed.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

# The order keys are offered in while they fit, first what an agent does with most cases. One
# tuple for every screen: a screen's ids keep their order here, and a key two screens share
# (macro.picker, macro.undo) stands where it belongs on both.
PRIORITY: tuple[str, ...] = (
    # a lead's approval keys exist only while a draft waits in the case, and then come first
    "case.approve", "case.edit_approve", "case.reject",
    "case.reply", "case.close", "case.pending", "case.memo", "case.assign", "case.label_add",  # a routine case
    "list.open", "list.select", "inbox.search", "inbox.assign", "inbox.close",  # the inbox
    "macro.picker", "case.suggest",
    "case.other", "case.reopen", "case.priority", "case.merge", "case.split", "case.reply_private",
    "case.label_remove", "case.back", "case.open_link",
    "macro.undo", "inbox.sort",
    "dashboard.back", "dashboard.previous", "dashboard.next", "dashboard.today", "dashboard.pick",
    "alerts.back",
    "app.alerts", "app.dashboard",
)  # the rest (retry a failed send, save a search as a view, preview a macro…) are in `?`
KEYS_ID = "app.keys"  # the key that lists all the others: always shown, last
_RANK = {binding_id: rank for rank, binding_id in enumerate(PRIORITY)}


class FooterKey(NamedTuple):
    key: str  # the key to simulate when clicked
    display: str  # the key as shown ("esc", "⏎", "^s")
    description: str  # plain text: it may be a macro's name
    enabled: bool


def footer_keys(screen: Screen) -> tuple[list[FooterKey], FooterKey | None]:
    """The keys the footer may offer on `screen`, in `PRIORITY` order, one per action; and the `?` key."""
    ranked: list[tuple[int, int, FooterKey]] = []
    actions: set[tuple[int, str]] = set()
    keys: FooterKey | None = None
    get_key_display = screen.app.get_key_display
    for order, (key, active) in enumerate(screen.active_bindings.items()):
        binding = active.binding
        shown = FooterKey(key, get_key_display(binding), binding.description, active.enabled)
        if binding.id == KEYS_ID:
            keys = keys or shown
            continue
        rank = _RANK.get(binding.id or "")
        if rank is None and not binding.show:
            continue
        action = (id(active.node), binding.action)  # "escape,q": two keys, one action: its first key
        if not binding.description or action in actions:
            continue
        actions.add(action)
        ranked.append((len(PRIORITY) if rank is None else rank, order, shown))
    return [shown for *_, shown in sorted(ranked)], keys


class Footer(Widget):
    """Click a key to press it."""

    DEFAULT_CSS = """
    Footer { dock: bottom; height: 1; width: 1fr; background: $footer-background; color: $footer-foreground; }
    Footer > .footer--key { color: $footer-key-foreground; background: $footer-key-background; text-style: bold; }
    Footer > .footer--description { color: $footer-description-foreground;
                                    background: $footer-description-background; }
    """
    COMPONENT_CLASSES = {"footer--key", "footer--description"}
    ALLOW_SELECT = False

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[FooterKey] = []  # every key it may offer, most used first
        self.keys_key: FooterKey | None = None  # `?`, shown last
        self._spans: list[tuple[int, int, str]] = []  # (first cell, end cell, key) of each key on show

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen) -> None:
        if screen is not self.screen or not self.is_attached:
            return
        keys, keys_key = footer_keys(screen)
        if (keys, keys_key) != (self.keys, self.keys_key):
            self.keys, self.keys_key = keys, keys_key
            self.refresh()

    @property
    def shown(self) -> list[FooterKey]:
        """The keys that fit the footer's width, `?` last."""
        return self._fit(self.size.width)[0]

    def _fit(self, width: int) -> tuple[list[FooterKey], list[int]]:
        """The keys that fit in `width` cells, and the cells each starts at."""
        last = [self.keys_key] if self.keys_key is not None else []
        room = width - sum(cell_len(f" {key.display} {key.description}") for key in last)
        shown: list[FooterKey] = []
        starts: list[int] = []
        used = 0
        for key in self.keys:
            size = cell_len(f" {key.display} {key.description}")
            if used + size > room:
                break  # the order is the priority: a shorter one further on does not jump the queue
            starts.append(used)
            shown.append(key)
            used += size
        return shown + last, starts + ([max(used, room)] if last else [])

    def render(self) -> Text:
        key_style = self.get_component_rich_style("footer--key")
        description_style = self.get_component_rich_style("footer--description")
        width = self.size.width
        shown, starts = self._fit(width)
        line = Text(no_wrap=True, overflow="crop", end="")
        spans = []
        for key, start in zip(shown, starts):
            line.append(" " * (start - line.cell_len))  # `?` is pushed to the right edge
            style = Style() if key.enabled else Style(dim=True)
            line.append(" ")
            line.append(key.display, key_style + style)  # Text: a macro's name is never markup
            line.append(f" {key.description}", description_style + style)
            spans.append((start, line.cell_len, key.key))
        self._spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
