"""Provides `KeysScreen` (the `?` panel): every key of the screen underneath, grouped, scrollable.

The keys are read from the screen's active bindings (its focused widget's, its own and the
app's, after the keymap), never listed by hand: `key_rows` groups them (Move, Case actions,
Reply, Views, …), shows a number key by the name of the view on it (and leaves out a number
with no view), and a two-key macro as its two keys and the macro's name. `describe` names a
binding the same way for the command palette.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Static

from webcare_tui.case_query import View
from webcare_tui.macros import Macro
from webcare_tui.safe_text import clean
from webcare_tui.screens.macro_keys import MacroKeys

GROUPS = ("Move", "Case actions", "Reply", "Views", "Search and sort", "Days", "Macros", "Other")
# the group of a binding: by its id, else the first prefix of its id, else the first prefix of its action
_BY_ID = {
    "case.back": "Move", "list.open": "Case actions",
    **{binding_id: "Reply" for binding_id in ("case.reply", "case.reply_private", "case.approve", "case.edit_approve",
                                              "case.reject", "case.retry_send", "case.discard_send")},
    **{binding_id: "Search and sort" for binding_id in ("inbox.search", "inbox.sort", "inbox.save_view",
                                                        "inbox.clear")},
    "dashboard.back": "Move", "alerts.back": "Move",
}
_BY_ID_PREFIX = (("list.select", "Case actions"), ("list.", "Move"), ("inbox.view", "Views"),
                 ("inbox.", "Case actions"), ("case.", "Case actions"), ("reply.", "Reply"), ("macro.", "Macros"),
                 ("dashboard.", "Days"))
_BY_ACTION_PREFIX = (("macro(", "Macros"), ("preview(", "Macros"), ("sequence(", "Macros"), ("scroll_", "Move"),
                     ("page_", "Move"), ("cursor_", "Move"))
_SIDEWAYS = {"scroll_left", "scroll_right", "page_left", "page_right"}  # bound on every scrolling container
_VIEW = re.compile(r"view\((\d+)\)")
KEY_WIDTH = 14  # the key column at most: longer key lists are cut with …


@dataclass(frozen=True)
class KeyRow:
    keys: tuple[str, ...]  # as shown: ("esc", "q")
    description: str  # plain text: it may hold a macro's or a view's name
    group: str
    enabled: bool = True


def describe(binding: Binding, views: Sequence[View]) -> str | None:
    """What `binding` does, in plain words; None when it does nothing here (a number with no view)."""
    if match := _VIEW.fullmatch(binding.action):
        key = str(int(match[1]) + 1)  # a view's number key, wherever the keymap put the binding
        view = next((view for view in views if view.key == key), None)
        return None if view is None else f"View: {clean(view.name, single_line=True)}"
    return clean(binding.description, single_line=True) or None


def group_of(binding: Binding) -> str:
    if binding.id in _BY_ID:
        return _BY_ID[binding.id]
    for prefix, group in _BY_ID_PREFIX:
        if (binding.id or "").startswith(prefix):
            return group
    for prefix, group in _BY_ACTION_PREFIX:
        if binding.action.startswith(prefix):
            return group
    return "Other"


def key_rows(screen: Screen, views: Sequence[View], macros: Sequence[Macro]) -> list[KeyRow]:
    """Every key `screen` answers to now, one row per action (its keys together), in `GROUPS` order."""
    app = screen.app
    rows: dict[object, KeyRow] = {}
    for key, active in screen.active_bindings.items():
        binding, node = active.binding, active.node
        if binding.system:
            continue
        if binding.action in _SIDEWAYS and isinstance(node, Widget) and not node.allow_horizontal_scroll:
            continue  # nothing to scroll sideways: the key goes on to the screen's own binding
        display = app.get_key_display(binding)
        if binding.action.startswith("sequence(") and isinstance(screen, MacroKeys):
            for second, index in screen.SEQUENCES.get(key, {}).items():
                name = clean(macros[index].name, single_line=True) if index < len(macros) else "?"
                rows[("sequence", key, second)] = KeyRow((f"{display} {format_key(second)}",), name, "Macros",
                                                          active.enabled)
            continue
        description = describe(binding, views)
        if description is None:
            continue
        action = (id(node), binding.action)
        row = rows.get(action)
        if row is None:
            rows[action] = KeyRow((display,), description, group_of(binding), active.enabled)
        elif display not in row.keys:
            rows[action] = KeyRow((*row.keys, display), row.description, row.group, row.enabled)
    order = {group: rank for rank, group in enumerate(GROUPS)}
    return sorted(rows.values(), key=lambda row: order.get(row.group, len(GROUPS)))


def _group_text(group: str, rows: list[KeyRow], key_width: int) -> Text:
    text = Text(group, style="bold underline", end="")
    for row in rows:
        keys = " ".join(row.keys)
        if cell_len(keys) > key_width:
            keys = set_cell_size(keys, key_width - 1) + "…"
        style = "" if row.enabled else "dim"
        text.append(f"\n {set_cell_size(keys, key_width)} ", style=f"bold {style}".strip())
        text.append(row.description, style=style)  # Text, never markup
    return text


class KeyList(VerticalScroll):
    """The groups; scrolls with the arrows, PgUp/PgDn, home/end, and j/k/g/G as the inbox list does."""

    BINDINGS = [
        Binding("j", "scroll_down", "Scroll down", show=False),
        Binding("k", "scroll_up", "Scroll up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "End", show=False),
    ]


class KeysScreen(ModalScreen[None]):
    """`?` or esc closes it."""

    DEFAULT_CSS = """
    KeysScreen { align: center middle; }
    KeysScreen KeyList { width: 100%; max-width: 120; height: auto; max-height: 100%; border: round $accent;
                         border-subtitle-color: $text-muted; background: $surface; padding: 0 1; }
    KeysScreen KeyList > Horizontal { height: auto; }
    KeysScreen .column { width: 1fr; height: auto; }
    KeysScreen .group { margin-bottom: 1; }
    KeysScreen .group:last-child { margin-bottom: 0; }
    """
    BINDINGS = [Binding("escape,question_mark", "close", "Close", id="keys.close")]
    TWO_COLUMNS = 100  # from this many terminal columns on, the groups are shown side by side

    def __init__(self, rows: list[KeyRow], title: str) -> None:
        super().__init__()
        self.rows = rows
        self.title_text = title
        self._columns = 0

    def compose(self) -> ComposeResult:
        self._columns = 2 if self.app.size.width >= self.TWO_COLUMNS else 1
        groups: dict[str, list[KeyRow]] = {}
        for row in self.rows:
            groups.setdefault(row.group, []).append(row)
        key_width = min(KEY_WIDTH, max((cell_len(" ".join(row.keys)) for row in self.rows), default=1))
        blocks = [(len(rows) + 2, _group_text(group, rows, key_width)) for group, rows in groups.items()]
        columns: list[list[Text]] = [[] for _ in range(self._columns)]
        half, used = sum(lines for lines, _ in blocks) / self._columns, 0
        for lines, text in blocks:  # in order, the second column taking over at half the lines
            columns[min(int(used // half) if half else 0, self._columns - 1)].append(text)
            used += lines
        with KeyList() as frame, Horizontal():
            frame.border_title = self.title_text
            frame.border_subtitle = "↑↓ PgUp PgDn scroll · ? or esc closes"
            for texts in columns:
                with Vertical(classes="column"):
                    for text in texts:
                        yield Static(text, classes="group")

    def on_resize(self, event: events.Resize) -> None:
        if (2 if event.size.width >= self.TWO_COLUMNS else 1) != self._columns:
            self.call_after_refresh(self.recompose)

    def action_close(self) -> None:
        self.dismiss(None)
