"""Provides `MacroKeys`: the macros' own keys, the macro picker and undo, for the inbox and case screens."""

from __future__ import annotations

from textual.binding import Binding

from webcare_tui.macro_runner import MacroError
from webcare_tui.macros import Macro
from webcare_tui.screens.console import ConsoleScreen
from webcare_tui.screens.prompt import PromptScreen


class MacroKeys(ConsoleScreen):
    """The base of a screen that says its `scope` and has the three methods below."""

    scope: str
    MACRO_BINDINGS = [
        Binding("m", "macro_picker", "Macro", id="macro.picker"),
        Binding("u", "undo", "Undo", id="macro.undo"),
        Binding("v", "preview_picker", "Preview macro", show=False, id="macro.preview"),
    ]

    def target_ids(self) -> list[int]:
        """The cases a macro acts on: the selected ones or the one shown."""
        raise NotImplementedError

    def notice(self, text: str) -> None:
        """Say `text` on the screen's notice line."""
        raise NotImplementedError

    def after_action(self, changed: list[int] | None = None) -> None:
        """Show what an action changed."""
        raise NotImplementedError

    def install_macro_keys(self) -> None:
        """Bind each macro's key here, unless a built-in action has it (that is reported)."""
        nodes = [self, *self.query("*")]  # the list's own keys (j, k, g…) count too
        taken = {key for node in nodes for key, bindings in node._bindings.key_to_bindings.items() if bindings}
        self.sequences: dict[str, dict[str, int]] = {}  # first key → second key → macro index
        for index, macro in enumerate(self.console.macros.macros):
            if not macro.key or macro.scope not in ("any", self.scope):
                continue
            first, _, second = macro.key.partition(" ")
            if first in taken and not (second and first in self.sequences):
                self.console.macro_conflicts.add(f"{macro.source}: key {macro.key!r} of macro {macro.name!r} is taken by "
                                             f"a built-in action on the {self.scope} screen; pick another")
                continue
            if second:
                if first not in self.sequences:
                    self.sequences[first] = {}
                    self._bindings.bind(first, f"sequence({first!r})", "Macro keys", show=False)
                    taken.add(first)
                self.sequences[first][second] = index
                continue
            self._bindings.bind(macro.key, f"macro({index})", macro.name, show=False)
            shifted = macro.key.upper() if len(macro.key) == 1 and macro.key.islower() else None
            if shifted and shifted not in taken:  # shift+key previews
                self._bindings.bind(shifted, f"preview({index})", f"Preview {macro.name}", show=False)
        self.refresh_bindings()
        self.console.report_macro_problems()

    def action_sequence(self, first: str) -> None:
        """The first key of a two-key macro: show what may follow, then apply the one chosen."""
        from webcare_tui.screens.sequence import SequenceScreen

        following = self.sequences[first]
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
        try:
            applied = self.console.macro_runner.apply(macro, ids, ask=ask)
        except MacroError as error:
            self.notice(str(error))
            return
        self.console.last_applied = applied
        self.after_action(ids)
        grace = self.console.macro_runner.grace
        self.notice(f"{applied.summary} · u undoes for {grace} s")

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
        self.console.push_screen(PromptScreen(f"{question} {listing}", suggestions=[m.name for m in macros]),
                             chosen)

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
        try:
            preview = self.console.macro_runner.preview(macro, ids[0])
        except MacroError as error:
            self.notice(str(error))
            return
        self.console.push_screen(PreviewScreen(macro.name, preview),
                             lambda apply: self.run_macro(macro) if apply else None)

    def action_preview_picker(self) -> None:
        self._pick_macro("Preview which macro?", self.show_preview)

    def action_undo(self) -> None:
        applied = self.console.last_applied
        if applied is None:
            self.notice("nothing to undo")
            return
        try:
            self.notice(self.console.macro_runner.undo(applied))
        except MacroError as error:
            self.notice(str(error))
            return
        self.console.last_applied = None
        self.after_action(list(applied.cases))
