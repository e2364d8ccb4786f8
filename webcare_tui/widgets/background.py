"""Provides `deliver`: hand a background thread's result to the app's event loop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from textual.app import App


def deliver(app: App, future: Future, callback: Callable[..., Any], *, unpack: bool = False) -> None:
    """Call `callback(result)` on the app's thread once `future` is done (never if it failed or was cancelled).

    The future may already be done when this is called, on the app's own thread:
    then the callback runs right away instead of through `call_from_thread`.
    """

    def done(finished: Future) -> None:
        if finished.cancelled() or finished.exception() is not None:
            return
        result = finished.result()
        args = result if unpack else (result,)
        if threading.get_ident() == getattr(app, "_thread_id", None):
            callback(*args)
            return
        try:
            app.call_from_thread(callback, *args)
        except RuntimeError:  # the app stopped meanwhile
            pass

    future.add_done_callback(done)
