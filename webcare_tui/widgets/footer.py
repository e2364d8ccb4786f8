"""Provides `Footer`: Textual's footer, rebuilt only when the keys it shows change.

Textual's footer rebuilds all its keys (a widget each, styled anew) whenever bindings
may have changed: on every focus change, screen switch and `refresh_bindings()`.
Opening a case did that about six times, some 120 key widgets; this footer first
compares what it would show with what it shows.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    _shown: tuple | None = None  # the keys on show: (key, its display, description, action, …) each

    def bindings_changed(self, screen: Screen) -> None:
        if screen.app.app_focus and self.is_attached and screen is self.screen:  # when Textual would rebuild
            shown = tuple((binding.key, screen.app.get_key_display(binding), binding.description, binding.action,
                           binding.show, binding.group, enabled, tooltip)
                          for _, binding, enabled, tooltip in screen.active_bindings.values())
            if shown == self._shown:
                return
            self._shown = shown
        super().bindings_changed(screen)
