"""Provides `console`: the webcare app, typed, for screens and widgets that run only inside it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.dom import DOMNode

if TYPE_CHECKING:
    from webcare_tui.app import WebcareApp


def console(node: DOMNode) -> WebcareApp:
    """The app `node` runs in, as a `WebcareApp`."""
    from webcare_tui.app import WebcareApp  # here: the app imports the screens

    app = node.app
    assert isinstance(app, WebcareApp), "a webcare screen runs only in the webcare console"
    return app
