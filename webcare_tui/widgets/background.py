"""Provides `Background`: the console's work off the UI thread, and `JobDone`, the message that
tells the app how a job went (its supervisor logs a failure and tells the agent).

The UI thread never touches SQLite. Reads run on reader threads (each with its own
read-only connection: see `Store._connection`), the agent's actions on the one writer
thread, one after another in the order given. A job's result comes back to the UI
thread through `deliver`.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import suppress
from typing import Any, ParamSpec, TypeVar

from textual.app import App
from textual.message import Message

MIN_PAUSE = 0.005  # seconds: a shorter pause is not worth a timer
# work a busy store asks for again and again (alert checks, the views' counts, the list's re-read) pauses
# this many times as long as it took before it runs again: at most a fifth of its thread, and of the
# interpreter lock the UI thread needs
REPEAT_PAUSE = 4.0
# the counts thread's CPU priority below the UI thread's: on a busy machine its SQL (which runs without
# the interpreter lock) waits for a core while a key is drawn, but not for an import (at 10, see cli.py)
COUNTS_NICENESS = 5


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


P = ParamSpec("P")
T = TypeVar("T")


class Threads(ThreadPoolExecutor):
    """A pool of threads that, shut down, takes no more work and says so with a cancelled future
    (which `deliver` passes over) instead of raising: work asked for while the app ends is not
    wanted, and the sync's last status, asking for the header's counts then, made its worker fail."""

    closed = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        try:
            return super().submit(fn, *args, **kwargs)
        except RuntimeError:  # "cannot schedule new futures after shutdown"
            if not self.closed:
                raise
            unwanted: Future[T] = Future()
            unwanted.cancel()
            return unwanted

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.closed = True
        super().shutdown(wait, cancel_futures=cancel_futures)


def _below_the_ui_thread() -> None:
    """Run the calling pool thread COUNTS_NICENESS below the thread that started it (Linux gives each
    thread its own niceness, and a new thread inherits its starter's)."""
    if hasattr(os, "setpriority"):
        with suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + COUNTS_NICENESS)


class Background:
    """The app's threads: `reads` for what a screen shows (a case, a page of the list), `counts`
    for slow work (view counts, alerts, the store watch, checkpoints) so it never delays a screen,
    and `writes` for the agent's actions."""

    def __init__(self, app: App, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.clock = clock  # how long a `latest` job took
        self.reads = Threads(max_workers=1, thread_name_prefix="webcare-reads")
        self.counts = Threads(max_workers=1, thread_name_prefix="webcare-counts", initializer=_below_the_ui_thread)
        self.writes = Threads(max_workers=1, thread_name_prefix="webcare-writer")
        self._pending = 0  # delivered jobs whose callback has not run yet
        self._running: set[object] = set()  # keys of `latest` jobs under way
        self._next: dict[object, Callable[[], None]] = {}  # key → the newest job asked for meanwhile
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False  # set by `shutdown`: no job starts after it

    def latest(self, key: object, pool: Executor, work: Callable[[], Any], callback: Callable[..., Any], *,
               unpack: bool = False, job: str = "counts", pause: float = 0.0) -> None:
        """Run `work` on `pool` and `callback(result)` as `deliver` does, one at a time per `key`: asked
        for again while one runs, it runs once more afterwards, with the newest `work` and `callback`
        (the ones asked for in between would read the same store). A busy store's every change
        asks for new counts: without this they queued up faster than they ran.

        With `pause`, that run waits `pause` times as long as the one before took: the work then has
        at most 1 / (1 + pause) of its thread, and of the interpreter lock the UI thread needs for
        every key (an import's every commit asked for an alert check, 0.5 s each on 65,000 overdue
        cases, so checks ran back to back and the console's keys waited on them)."""
        def start() -> None:
            self._running.add(key)
            began = self.clock()
            self.deliver(pool.submit(work), callback, unpack=unpack, job=job,
                         then=lambda: finished(self.clock() - began))

        def finished(took: float) -> None:
            if key not in self._next or self._closing:  # not while shutting down: its pool is cancelling
                self._running.discard(key)  # this job under a lock submit takes
                return
            if took * pause < MIN_PAUSE:
                run_next()
                return
            self._begun()  # `settled` waits for the run after the pause too
            self.app.set_timer(took * pause, after_pause)

        def after_pause() -> None:
            if self._closing:
                self._running.discard(key)
            else:
                run_next()  # counted as pending before the pause's count ends
            self._ended()

        def run_next() -> None:
            self._running.discard(key)
            self._next.pop(key)()  # the newest asked for, also while paused

        if key in self._running:
            self._next[key] = start
        else:
            start()

    def under_way(self, key: object) -> bool:
        """A `latest` job of `key` runs, or waits to run (again)."""
        return key in self._running

    def deliver(self, future: Future, callback: Callable[..., Any], *, unpack: bool = False,
                job: str = "counts", then: Callable[[], Any] | None = None) -> None:
        """Call `callback(result)` on the app's thread once `future` is done, after posting `JobDone`;
        a failure is only posted (a cancelled future, one the app no longer wants, says nothing).
        `then()` follows in every case. Call it on the app's thread."""
        self._begun()

        def settle(finished: Future) -> None:
            try:
                if finished.cancelled():
                    return
                error = finished.exception()
                self.app.post_message(JobDone(job, error))
                if error is None and self.app.screen_stack:  # closing: no screen left to show it on
                    result = finished.result()
                    callback(*(result if unpack else (result,)))
            finally:
                if then is not None:
                    then()
                self._ended()

        loop, context = asyncio.get_running_loop(), contextvars.copy_context()  # the app's, to run `settle` in

        def done(finished: Future) -> None:
            if _on_event_loop():  # done already when delivered: we are on the app's thread
                settle(finished)
                return
            # Handed over without waiting for it to run (call_from_thread waits): a worker thread
            # that waited could deadlock with an app that, ending, waits for its worker threads.
            try:
                loop.call_soon_threadsafe(settle, finished, context=context)
            except RuntimeError:  # the app's loop is closed: nobody wants the result
                pass

        future.add_done_callback(done)

    def _begun(self) -> None:
        self._pending += 1
        self._idle.clear()

    def _ended(self) -> None:
        self._pending -= 1
        if not self._pending:
            self._idle.set()

    async def settled(self) -> None:
        """Wait until every delivered job's callback has run, including the jobs those callbacks
        started (a write, then the read that shows it): the app's signal that it caught up."""
        while self._pending:
            await self._idle.wait()

    def shutdown(self) -> None:
        """Stop: reads and counts no longer wanted are dropped; an action already given is written."""
        self._closing = True
        for pool in (self.reads, self.counts):
            pool.shutdown(wait=False, cancel_futures=True)
        self.writes.shutdown(wait=True)
