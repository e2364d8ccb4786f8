"""Provides `ConsoleScreen`: a screen of the webcare console, with the app typed as `console`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    from webcare_tui.app import WebcareApp


class ConsoleScreen(Screen[None]):
    """A screen that runs only inside the webcare console."""

    @property
    def console(self) -> WebcareApp:
        """The app, typed: its store, services and settings."""
        from webcare_tui.app import WebcareApp  # here: the app imports the screens

        app = self.app
        assert isinstance(app, WebcareApp), "a webcare screen runs only in the webcare console"
        return app
