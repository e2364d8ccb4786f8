"""Provides `deliver`: hand a background thread's result to the app's event loop, or its failure
to the app as a `JobFailed` message (the app's supervisor logs it and tells the agent)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from textual.app import App
from textual.message import Message

_failing: set[str] = set()  # jobs whose last run failed: their next success is announced


class JobFailed(Message):
    """A background job (`job`: "counts", "alerts", …) raised `error`; None: it works again."""

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
    """Call `callback(result)` on the app's thread once `future` is done; a failure posts `JobFailed`
    to the app instead (a cancelled future, one the app no longer wants, says nothing).

    The future may already be done when this is called, on the app's own thread:
    then the callback runs right away instead of through `call_from_thread`.
    """

    def done(finished: Future) -> None:
        if finished.cancelled():
            return
        error = finished.exception()
        if error is not None:
            _failing.add(job)
            app.post_message(JobFailed(job, error))  # thread-safe
            return
        if job in _failing:
            _failing.discard(job)
            app.post_message(JobFailed(job, None))
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
