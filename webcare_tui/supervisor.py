"""Provides `Supervisor`: background work that outlives its failures, and says so.

Sync, outbox, alerts and counts run under one supervisor. Any exception is logged
with its traceback to the log file (user state dir, secrets taken out), reported in
plain words to `on_change` at once, and the work restarts with backoff. Work that
expects some trouble and retries by itself (the realtime link) says so with `report`:
in plain words, without a traceback. A store that
another program keeps locked is an expected pause, not a bug: it is retried like any
other failure and said as such. Plain asyncio, no Textual: the console shows `Health`.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from webcare_tui.config import APP
from webcare_tui.safe_text import clean
from webcare_tui.store import store_trouble

log = logging.getLogger("webcare_tui")
FIRST_RETRY, MAX_RETRY = 1.0, 60.0  # seconds before a failed worker starts again: doubling, capped
STEADY = 120.0  # a worker that ran this long before failing starts its backoff afresh


@dataclass(frozen=True)
class Health:
    """How one piece of background work is doing, for the header and a notice."""

    name: str  # "sync", "outbox", "alerts", "counts"
    up: bool
    problem: str | None = None  # in plain words
    retry_in: float | None = None


def log_path() -> Path:
    """The log file: `WEBCARE_LOG`, or webcare.log in the user state dir."""
    return Path(os.environ.get("WEBCARE_LOG") or Path(platformdirs.user_state_dir(APP)) / "webcare.log")


class _Redacting(logging.Formatter):
    """Formats a record, traceback included, with every known secret replaced."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def start_log(redact: Callable[[str], str] = lambda text: text) -> Path | None:
    """Send the app's log to the log file (rotated at 1 MB); None when the file cannot be written,
    which the caller says: the app runs on without it."""
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(_Redacting(redact))
    for old in [h for h in log.handlers if isinstance(h, logging.handlers.RotatingFileHandler)]:
        log.removeHandler(old)
        old.close()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return path


def plain_words(error: BaseException) -> str:
    """What went wrong, for an agent: no traceback (and not the task group a worker's error came in)."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    text = str(error)
    return store_trouble(error) or (f"{type(error).__name__}: {text}" if text else type(error).__name__)


class Supervisor:
    """Runs background work for good: a failure is logged, reported and retried with backoff."""

    def __init__(self, on_change: Callable[[Health], None], redact: Callable[[str], str] = lambda text: text,
                 first_retry: float = FIRST_RETRY, max_retry: float = MAX_RETRY) -> None:
        self.on_change = on_change
        self.redact = redact
        self.first_retry, self.max_retry = first_retry, max_retry
        self.health: dict[str, Health] = {}
        self.stopping = False
        self._running: set[asyncio.Task] = set()

    def stop(self) -> None:
        """The app ends: cancel the work under way, and start none again. A failure can come with the
        cancellation and hide it (on Python 3.11 a task group whose task failed as it was cancelled
        raises the failure), and work started again then ran on after the app had ended, for ever."""
        self.stopping = True
        for task in self._running:
            task.cancel()

    def _set(self, health: Health) -> None:
        if self.health.get(health.name) != health:
            self.health[health.name] = health
            self.on_change(health)

    def _words(self, error: BaseException) -> str:
        """A failure in plain words, one line, without secrets (it may quote a platform's text)."""
        return clean(self.redact(plain_words(error)), single_line=True)

    def failed(self, name: str, error: BaseException, retry_in: float | None = None) -> Health:
        """Log a failure of `name` with its traceback and report it in plain words."""
        problem = self._words(error)
        log.error("%s failed: %s", name, problem, exc_info=(type(error), error, error.__traceback__))
        health = Health(name, False, problem, retry_in)
        self._set(health)
        return health

    def report(self, name: str, up: bool, problem: str | None = None, retry_in: float | None = None) -> None:
        """A worker's own word on how it does, for trouble it expects and retries by itself (the realtime
        link refused or cut): shown like a failure, in plain words, and logged in one line without a
        traceback (it is no bug). The same trouble again (the next attempt) is neither told nor logged again.

        Args:
            up: it works (again); `problem` and `retry_in` are then ignored.
            problem: what is wrong, in plain words.
            retry_in: seconds until the worker tries again.
        """
        if up:
            self.succeeded(name)
            return
        problem = clean(self.redact(problem or "stopped"), single_line=True)
        known = self.health.get(name)
        if known is not None and not known.up and known.problem == problem:
            self.health[name] = Health(name, False, problem, retry_in)  # the next try: said already
            return
        log.warning("%s: %s", name, problem)
        self._set(Health(name, False, problem, retry_in))

    def succeeded(self, name: str) -> None:
        """`name` did its work: up again, if it was down."""
        if name in self.health and not self.health[name].up:
            log.info("%s works again", name)
        self._set(Health(name, True))

    def down(self) -> list[Health]:
        return [health for health in self.health.values() if not health.up]

    async def run(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work()` for good: whenever it raises, wait (doubling, capped) and start it again.
        `work` reports its own successes through `succeeded` (it may run for hours between them)."""
        task = asyncio.current_task()
        assert task is not None, "run it in a task: `stop` cancels it"
        self._running.add(task)
        try:
            failures = 0
            while True:
                started = time.monotonic()
                try:
                    await work()
                    return  # work that ends by itself is done
                except Exception as error:  # every failure: logged, told, retried (cancellation passes)
                    if self.stopping:
                        log.warning("%s failed as the app ended: %s", name, self._words(error))
                        raise asyncio.CancelledError() from error
                    failures = 1 if time.monotonic() - started > STEADY else failures + 1
                    wait = min(self.first_retry * 2 ** (failures - 1), self.max_retry)
                    self.failed(name, error, retry_in=wait)
                await asyncio.sleep(wait)
        finally:
            self._running.discard(task)
