"""Provides `MacroKeys`: the macros' own keys, the macro picker and undo, for the inbox and case screens."""

from __future__ import annotations

from textual.binding import Binding

from webcare_tui.macro_runner import MacroError
from webcare_tui.macros import Macro
from webcare_tui.screens.prompt import PromptScreen


class MacroKeys:
    """Mixed into a screen that has `scope`, `target_ids()`, `notice()` and `after_action()`."""

    scope: str
    MACRO_BINDINGS = [
        Binding("m", "macro_picker", "Macro", id="macro.picker"),
        Binding("u", "undo", "Undo", id="macro.undo"),
        Binding("v", "preview_picker", "Preview macro", show=False, id="macro.preview"),
    ]

    def install_macro_keys(self) -> None:
        """Bind each macro's key here, unless a built-in action has it (that is reported)."""
        nodes = [self, *self.query("*")]  # type: ignore[attr-defined]  # the list's own keys (j, k, g…) count too
        taken = {key for node in nodes for key, bindings in node._bindings.key_to_bindings.items() if bindings}
        self.sequences: dict[str, dict[str, int]] = {}  # first key → second key → macro index
        for index, macro in enumerate(self.app.macros.macros):  # type: ignore[attr-defined]
            if not macro.key or macro.scope not in ("any", self.scope):
                continue
            first, _, second = macro.key.partition(" ")
            if first in taken and not (second and first in self.sequences):
                self.app.macro_conflicts.add(f"{macro.source}: key {macro.key!r} of macro {macro.name!r} is taken by "  # type: ignore[attr-defined]
                                             f"a built-in action on the {self.scope} screen; pick another")
                continue
            if second:
                if first not in self.sequences:
                    self.sequences[first] = {}
                    self._bindings.bind(first, f"sequence({first!r})", "Macro keys", show=False)  # type: ignore[attr-defined]
                    taken.add(first)
                self.sequences[first][second] = index
                continue
            self._bindings.bind(macro.key, f"macro({index})", macro.name, show=False)  # type: ignore[attr-defined]
            shifted = macro.key.upper() if len(macro.key) == 1 and macro.key.islower() else None
            if shifted and shifted not in taken:  # shift+key previews
                self._bindings.bind(shifted, f"preview({index})", f"Preview {macro.name}", show=False)  # type: ignore[attr-defined]
        self.refresh_bindings()  # type: ignore[attr-defined]
        self.app.report_macro_problems()  # type: ignore[attr-defined]

    def action_sequence(self, first: str) -> None:
        """The first key of a two-key macro: show what may follow, then apply the one chosen."""
        from webcare_tui.screens.sequence import SequenceScreen

        following = self.sequences[first]
        macros = self.app.macros.macros  # type: ignore[attr-defined]

        def chosen(second: str | None) -> None:
            if second is None:
                self.notice(f"{first} …: no macro on that key")  # type: ignore[attr-defined]
            else:
                self.run_macro(macros[following[second]])

        self.app.push_screen(SequenceScreen(first, {key: macros[i].name for key, i in following.items()}),  # type: ignore[attr-defined]
                             chosen)

    def action_macro(self, index: int) -> None:
        self.run_macro(self.app.macros.macros[index])  # type: ignore[attr-defined]

    def run_macro(self, macro: Macro) -> None:
        ids = self.target_ids()  # type: ignore[attr-defined]
        if not ids:
            return
        if macro.ask:
            self.app.push_screen(PromptScreen(f"{macro.name}: {macro.ask}?"),  # type: ignore[attr-defined]
                                 lambda answer: self._apply(macro, ids, answer) if answer else None)
        else:
            self._apply(macro, ids, None)

    def _apply(self, macro: Macro, ids: list[int], ask: str | None) -> None:
        try:
            applied = self.app.macro_runner.apply(macro, ids, ask=ask)  # type: ignore[attr-defined]
        except MacroError as error:
            self.notice(str(error))  # type: ignore[attr-defined]
            return
        self.app.last_applied = applied  # type: ignore[attr-defined]
        self.after_action(ids)  # type: ignore[attr-defined]
        grace = self.app.macro_runner.grace  # type: ignore[attr-defined]
        self.notice(f"{applied.summary} · u undoes for {grace} s")  # type: ignore[attr-defined]

    def _pick_macro(self, question: str, then) -> None:
        """Ask for a macro of this screen by name (with completion), then call `then(macro)`."""
        macros = [m for m in self.app.macros.macros if m.scope in ("any", self.scope)]  # type: ignore[attr-defined]
        if not macros:
            self.notice("no macros: put macro files in the macros folder (webcare macros check tells what is wrong)")  # type: ignore[attr-defined]
            return

        def chosen(name: str | None) -> None:
            macro = self.app.macros.by_name(name) if name else None  # type: ignore[attr-defined]
            if macro is not None:
                then(macro)
            elif name:
                self.notice(f"there is no macro {name!r}")  # type: ignore[attr-defined]

        listing = " · ".join(f"{m.name}{f' [{m.key}]' if m.key else ''}" for m in macros)
        self.app.push_screen(PromptScreen(f"{question} {listing}", suggestions=[m.name for m in macros]),  # type: ignore[attr-defined]
                             chosen)

    def action_macro_picker(self) -> None:
        self._pick_macro("Macro (type to complete):", self.run_macro)

    def action_preview(self, index: int) -> None:
        self.show_preview(self.app.macros.macros[index])  # type: ignore[attr-defined]

    def show_preview(self, macro: Macro) -> None:
        """The macro's effect on the case under the cursor, with its texts rendered; enter applies it."""
        from webcare_tui.screens.preview import PreviewScreen

        ids = self.target_ids()  # type: ignore[attr-defined]
        if not ids:
            return
        try:
            preview = self.app.macro_runner.preview(macro, ids[0])  # type: ignore[attr-defined]
        except MacroError as error:
            self.notice(str(error))  # type: ignore[attr-defined]
            return
        self.app.push_screen(PreviewScreen(macro.name, preview),  # type: ignore[attr-defined]
                             lambda apply: self.run_macro(macro) if apply else None)

    def action_preview_picker(self) -> None:
        self._pick_macro("Preview which macro?", self.show_preview)

    def action_undo(self) -> None:
        applied = self.app.last_applied  # type: ignore[attr-defined]
        if applied is None:
            self.notice("nothing to undo")  # type: ignore[attr-defined]
            return
        try:
            self.notice(self.app.macro_runner.undo(applied))  # type: ignore[attr-defined]
        except MacroError as error:
            self.notice(str(error))  # type: ignore[attr-defined]
            return
        self.app.last_applied = None  # type: ignore[attr-defined]
        self.after_action(list(applied.cases))  # type: ignore[attr-defined]
