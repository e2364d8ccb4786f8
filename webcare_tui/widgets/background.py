"""Provides `deliver`: hand a background thread's result to the app's event loop, and tell the
app how the job went with a `JobDone` message (its supervisor logs a failure and tells the agent)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from textual.app import App
from textual.message import Message


class JobDone(Message):
    """A background job (`job`: "counts", "alerts", …) ended: it raised `error`, or None: it worked."""

    def __init__(self, job: str, error: BaseException | None) -> None:
        super().__init__()
        self.job = job
        self.error = error


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def deliver(app: App, future: Future, callback: Callable[..., Any], *, unpack: bool = False,
            job: str = "counts") -> None:
    """Call `callback(result)` on the app's thread once `future` is done, after posting `JobDone` to
    the app; a failure is only posted (a cancelled future, one the app no longer wants, says nothing).

    The future may already be done when this is called, on the app's own thread:
    then the callback runs right away instead of through `call_from_thread`.
    """

    def done(finished: Future) -> None:
        if finished.cancelled():
            return
        error = finished.exception()
        app.post_message(JobDone(job, error))  # thread-safe
        if error is not None:
            return
        result = finished.result()
        args = result if unpack else (result,)
        if _on_event_loop():
            callback(*args)
            return
        try:
            app.call_from_thread(callback, *args)
        except RuntimeError:  # the app stopped meanwhile
            pass

    future.add_done_callback(done)
