"""Provides `MacroKeys`: the macros' own keys, the macro picker and undo, for the inbox and case screens."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from textual.binding import Binding

from webcare_tui.macro_runner import Applied
from webcare_tui.macros import Macro
from webcare_tui.screens.console import ConsoleScreen
from webcare_tui.screens.prompt import PromptScreen

Keyed = TypeVar("Keyed", bound="MacroKeys")


class MacroKeys(ConsoleScreen):
    """The base of a screen that says its `scope` and has the three methods below. The app gives
    each such screen its macros' keys with `with_macro_keys`."""

    scope: str
    MACRO_BINDINGS = [
        Binding("m", "macro_picker", "Macro", id="macro.picker"),
        Binding("u", "undo", "Undo", id="macro.undo"),
        Binding("v", "preview_picker", "Preview macro", show=False, id="macro.preview"),
    ]
    SEQUENCES: dict[str, dict[str, int]] = {}  # a two-key macro's first key → second key → macro index

    def target_ids(self) -> list[int]:
        """The cases a macro acts on: the selected ones or the one shown."""
        raise NotImplementedError

    def notice(self, text: str) -> None:
        """Say `text` on the screen's notice line."""
        raise NotImplementedError

    def after_action(self) -> None:
        """Show what an action changed."""
        raise NotImplementedError

    def action_sequence(self, first: str) -> None:
        """The first key of a two-key macro: show what may follow, then apply the one chosen."""
        from webcare_tui.screens.sequence import SequenceScreen

        following = self.SEQUENCES[first]
        macros = self.console.macros.macros

        def chosen(second: str | None) -> None:
            if second is None:
                self.notice(f"{first} …: no macro on that key")
            else:
                self.run_macro(macros[following[second]])

        self.console.push_screen(SequenceScreen(first, {key: macros[i].name for key, i in following.items()}),
                             chosen)

    def action_macro(self, index: int) -> None:
        self.run_macro(self.console.macros.macros[index])

    def run_macro(self, macro: Macro) -> None:
        ids = self.target_ids()
        if not ids:
            return
        if macro.ask:
            self.console.push_screen(PromptScreen(f"{macro.name}: {macro.ask}?"),
                                 lambda answer: self._apply(macro, ids, answer) if answer else None)
        else:
            self._apply(macro, ids, None)

    def _apply(self, macro: Macro, ids: list[int], ask: str | None) -> None:
        runner = self.console.macro_runner
        self.notice(f"{macro.name} …")

        def applied(done: Applied) -> None:
            self.console.last_action = done.undoable
            self.after_action()
            self.notice(f"{done.summary} · u undoes for {runner.grace} s")

        self.console.act(lambda: runner.apply(macro, ids, ask=ask), applied, self.notice)

    def _pick_macro(self, question: str, then) -> None:
        """Ask for a macro of this screen by name (with completion), then call `then(macro)`."""
        macros = [m for m in self.console.macros.macros if m.scope in ("any", self.scope)]
        if not macros:
            self.notice("no macros: put macro files in the macros folder (webcare macros check tells what is wrong)")
            return

        def chosen(name: str | None) -> None:
            macro = self.console.macros.by_name(name) if name else None
            if macro is not None:
                then(macro)
            elif name:
                self.notice(f"there is no macro {name!r}")

        listing = " · ".join(f"{m.name}{f' [{m.key}]' if m.key else ''}" for m in macros)
        self.console.push_screen(PromptScreen(f"{question} {listing}", suggestions=[m.name for m in macros],
                                              only="a macro"), chosen)

    def action_macro_picker(self) -> None:
        self._pick_macro("Macro (type to complete):", self.run_macro)

    def action_preview(self, index: int) -> None:
        self.show_preview(self.console.macros.macros[index])

    def show_preview(self, macro: Macro) -> None:
        """The macro's effect on the case under the cursor, with its texts rendered; enter applies it."""
        from webcare_tui.screens.preview import PreviewScreen

        ids = self.target_ids()
        if not ids:
            return
        runner = self.console.macro_runner
        self.console.read(lambda: runner.preview(macro, ids[0]),
                          lambda preview: self.console.push_screen(PreviewScreen(macro.name, preview),
                                                                   lambda apply: self.run_macro(macro) if apply else None),
                          self.notice)

    def action_preview_picker(self) -> None:
        self._pick_macro("Preview which macro?", self.show_preview)

    def action_undo(self) -> None:
        last = self.console.last_action
        if last is None:
            self.notice("nothing to undo")
            return

        def undone(said: str) -> None:
            if self.console.last_action is last:
                self.console.last_action = None
            self.after_action()
            self.notice(said)

        undo = self.console.undo
        self.console.act(lambda: undo.undo(last), undone, self.notice)


def with_macro_keys(screen: type[Keyed], macros: list[Macro], keymap: dict[str, str],
                    taken_by: Iterable[type] = ()) -> tuple[type[Keyed], list[str]]:
    """`screen` with each of its scope's macros on the macro's key, as a subclass whose BINDINGS
    add them, and the macros whose key a built-in action has (of `screen`, the widgets
    `taken_by` or the app; the keymap counts). A lower-case key's upper case previews the macro;
    a key of two words ("g r") is a sequence: its first key asks for the second."""
    taken = {key for owner in (screen, *taken_by) for key in _keys(owner, keymap)}
    bindings: list[Binding] = []
    sequences: dict[str, dict[str, int]] = {}
    conflicts = []
    for index, macro in enumerate(macros):
        if not macro.key or macro.scope not in ("any", screen.scope):
            continue
        first, _, second = macro.key.partition(" ")
        if first in taken and not (second and first in sequences):
            conflicts.append(f"{macro.source}: key {macro.key!r} of macro {macro.name!r} is taken by "
                             f"a built-in action on the {screen.scope} screen; pick another")
            continue
        if second:
            if first not in sequences:
                sequences[first] = {}
                bindings.append(Binding(first, f"sequence({first!r})", "Macro keys", show=False))
                taken.add(first)
            sequences[first][second] = index
            continue
        bindings.append(Binding(macro.key, f"macro({index})", macro.name, show=False))
        taken.add(macro.key)
        shifted = macro.key.upper() if len(macro.key) == 1 and macro.key.islower() else None
        if shifted and shifted not in taken:  # shift+key previews
            bindings.append(Binding(shifted, f"preview({index})", f"Preview {macro.name}", show=False))
    keyed = type(screen.__name__, (screen,), {"BINDINGS": bindings, "SEQUENCES": sequences,
                                               "__module__": screen.__module__})
    return keyed, conflicts


def _keys(owner: type, keymap: dict[str, str]) -> Iterator[str]:
    """The keys `owner`'s bindings (its own and inherited) are on, after the keymap."""
    for cls in owner.__mro__:
        for binding in cls.__dict__.get("BINDINGS", ()):
            if isinstance(binding, Binding):
                yield from (key.strip() for key in keymap.get(binding.id or "", binding.key).split(","))
            else:  # a (key, action, description) tuple
                yield from (key.strip() for key in binding[0].split(","))
