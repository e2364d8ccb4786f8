"""Background work under the supervisor: a failure is logged (traceback, no secrets), told in plain
words in the header and a notice, and the work starts again; nothing is lost or sent twice."""

from __future__ import annotations

import asyncio
import math
import sqlite3

import pytest
from conftest import msg, wait_for
from test_outbox import Platform

import webcare_tui.app as app_module
from webcare_tui.app import make_app
from webcare_tui.config import Config
from webcare_tui.connectors.base import ConnectorError, FetchResult
from webcare_tui.connectors.http import MAX_WAIT
from webcare_tui.ingest import ingest
from webcare_tui.store import StoreError
from webcare_tui.supervisor import Health, Supervisor, start_log

SECRET = "tok-SECRET"
FIRST, CAP = 0.05, 0.2  # the app's backoff here: restarts within a fifth of a second


def logged(path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def redact(text: str) -> str:
    return text.replace(SECRET, "•••")


class Feed(Platform):
    """The fake platform of test_outbox with a feed: each fetch raises the next cue, if any, else
    answers an empty page."""

    def __init__(self, *cues: BaseException, **options) -> None:
        super().__init__(**options)
        self.cues = list(cues)
        self.fetches = 0

    async def fetch(self, cursor):
        self.fetches += 1
        if self.cues:
            raise self.cues.pop(0)
        return FetchResult([], cursor)


def quick(app):
    """Restarts in milliseconds instead of seconds (set before the workers start)."""
    app.supervisor.first_retry, app.supervisor.max_retry = FIRST, CAP
    return app


def record_header(app) -> list[tuple[str, frozenset[str]]]:
    """Every header text shown, with the work that was down when it was shown."""
    seen: list[tuple[str, frozenset[str]]] = []
    show = app.show_status

    def recording(text: str) -> None:
        seen.append((text, frozenset(health.name for health in app.supervisor.down())))
        show(text)

    app.show_status = recording
    return seen


def record_health(app) -> list[Health]:
    """Every change the supervisor reports, in order."""
    changes: list[Health] = []
    told = app.supervisor.on_change

    def recording(health: Health) -> None:
        changes.append(health)
        told(health)

    app.supervisor.on_change = recording
    return changes


def down_names(app) -> set[str]:
    return {health.name for health in app.supervisor.down()}


def notices(app) -> list[str]:
    return [notification.message for notification in app._notifications]


@pytest.fixture
def case_id(store):
    ingest(store, [msg(0, author="anna", text="Waar blijft mijn pakket?", platform="x")])
    return store.list_cases()[0]["id"]


# --- the supervisor itself ---------------------------------------------------------------------

async def test_failing_work_is_restarted_told_in_plain_words_and_logged_without_secrets(log_file):
    assert start_log(redact) == log_file
    changes: list[Health] = []
    supervisor = Supervisor(changes.append, redact=redact, first_retry=0.01, max_retry=1.0)
    runs = []

    async def work() -> None:
        runs.append(len(runs))
        if len(runs) <= 2:
            raise RuntimeError(f"POST https://api.example/bot{SECRET}/getUpdates refused")
        supervisor.succeeded("sync")

    await asyncio.wait_for(supervisor.run("sync", work), timeout=5)

    assert len(runs) == 3  # two failures, two restarts, then it ran to its end
    problem = "RuntimeError: POST https://api.example/bot•••/getUpdates refused"
    assert changes == [Health("sync", False, problem, 0.01), Health("sync", False, problem, 0.02),
                       Health("sync", True)]
    assert supervisor.down() == []
    text = logged(log_file)
    assert text.count("sync failed: ") == 2 and text.count("Traceback (most recent call last)") == 2
    assert "in work" in text and "RuntimeError" in text and "sync works again" in text
    assert SECRET not in text and "bot•••/getUpdates" in text


async def test_backoff_doubles_up_to_its_cap_and_a_repeated_failure_is_told_once_but_logged_each_time(log_file):
    start_log()
    changes: list[Health] = []
    supervisor = Supervisor(changes.append, first_retry=0.01, max_retry=0.02)
    runs = 0

    async def work() -> None:
        nonlocal runs
        runs += 1
        if runs <= 4:
            raise sqlite3.OperationalError("database is locked")

    await asyncio.wait_for(supervisor.run("outbox", work), timeout=5)

    locked = "another program kept the store locked too long"
    assert changes == [Health("outbox", False, locked, 0.01), Health("outbox", False, locked, 0.02)]
    assert logged(log_file).count("outbox failed: another program kept the store locked too long") == 4
    assert runs == 5


async def test_cancelling_supervised_work_stops_it_without_a_failure(log_file):
    start_log()
    changes: list[Health] = []
    supervisor = Supervisor(changes.append, first_retry=0.01)
    started = asyncio.Event()

    async def work() -> None:
        started.set()
        await asyncio.Event().wait()  # runs until cancelled

    task = asyncio.create_task(supervisor.run("sync", work))
    await asyncio.wait_for(started.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert changes == [] and "failed" not in logged(log_file)


async def test_work_that_fails_as_the_app_ends_is_stopped_and_not_started_again(log_file):
    """As the app ends it cancels the sync while the sync's own task fails: the task group raises the
    failure, not the cancellation (Python 3.11), so the work starts again. It ran on after the app had
    ended, and the test's event loop never closed (a two-core run of the suite hung on it). The app's
    `stop` cancels it, and a failure on its way out does not start it again."""
    start_log()
    changes: list[Health] = []
    supervisor = Supervisor(changes.append, first_retry=0.01)
    starts = 0
    restarted = asyncio.Event()

    async def work() -> None:
        nonlocal starts
        starts += 1
        if starts == 1:
            async def fails_as_the_app_cancels() -> None:
                supervised.cancel()
                raise RuntimeError("cannot schedule new futures after shutdown")

            async with asyncio.TaskGroup() as group:
                group.create_task(fails_as_the_app_cancels())
                await asyncio.Event().wait()
        restarted.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("the store is closed") from None  # fails on its way out

    supervised = asyncio.create_task(supervisor.run("sync", work))
    await asyncio.wait_for(restarted.wait(), timeout=5)  # the cancellation was hidden: started again
    supervisor.stop()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(supervised, timeout=5)
    assert starts == 2
    assert "sync failed as the app ended: RuntimeError: the store is closed" in logged(log_file)


async def test_what_the_app_asks_for_after_it_ended_is_not_run_and_raises_nothing(store):
    """The sync's last status can come after the app's threads stopped: it asks for the header's
    counts then, which raised and made the sync fail while the app was being closed."""
    from webcare_tui.sync import SyncStatus

    ran: list[str] = []
    app = make_app(Config(), store, connectors={})
    async with app.run_test():
        pass
    app.on_sync_status(SyncStatus("brand-x", "online"))  # refreshes the header: the counts' job
    app.jobs.latest("late", app.jobs.counts, lambda: ran.append("work"), ran.append)
    app.jobs.deliver(app.jobs.reads.submit(ran.append, "read"), ran.append)
    assert ran == []  # a job the threads no longer take is a cancelled future: it never runs


def test_an_unwritable_log_file_is_said_not_raised(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("WEBCARE_LOG", str(blocker / "webcare.log"))  # its folder is a file
    assert start_log() is None


# --- the console: a store another program keeps locked --------------------------------------

async def test_a_locked_store_pauses_the_outbox_says_so_and_the_reply_goes_once_after(store, case_id, log_file):
    platform = Feed()
    app = quick(make_app(Config(), store, connectors={"brand-x": platform}))
    outbox_id = app.outbox.queue_reply(case_id, "Komt goed", agent="tim", visibility="public")
    key = store.outbox_row(outbox_id)["idempotency_key"]
    store.conn.execute("PRAGMA busy_timeout = 100")  # the app gives up on the lock after 0.1 s
    other = sqlite3.connect(str(store.path), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another program holds the write lock, for longer than that
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: "outbox" in down_names(app), "the outbox worker to be reported down")
            [health] = [h for h in app.supervisor.down() if h.name == "outbox"]
            assert "locked" in health.problem and "Traceback" not in health.problem
            await wait_for(pilot, lambda: "(not sending)" in app.status_text, "the header to say 'not sending'")
            assert "outbox 1 (not sending)" in app.status_text
            await wait_for(pilot, lambda: any("outbox stopped" in n and "locked" in n for n in notices(app)),
                           "a notice saying the outbox stopped on a locked store")
            # the worker keeps starting again (each failure is logged), and nothing leaves meanwhile
            await wait_for(pilot, lambda: logged(log_file).count("outbox failed: ") >= 3,
                           "the outbox worker to be restarted and fail again")
            assert "Traceback" in logged(log_file)
            assert platform.published == {} and store.outbox_row(outbox_id)["state"] == "queued"
            assert "online" not in app.status_text

            other.execute("ROLLBACK")  # the other program lets go

            await wait_for(pilot, lambda: store.outbox_row(outbox_id)["state"] == "sent", "the reply to be sent")
            await wait_for(pilot, lambda: "not sending" not in app.status_text,
                           "the header to stop saying 'not sending'")
            await wait_for(pilot, lambda: "outbox 0" in app.status_text, "the header's outbox count to reach 0")
            assert "outbox" not in down_names(app)
            await pilot.pause(0.3)  # a restart or two more would have had time to send it again
            assert list(platform.published) == [key]  # exactly once: a second send adds key+"+dup"
            assert store.outbox_row(outbox_id)["attempts"] == 1
    finally:
        other.close()


# --- the console: the sync worker ---------------------------------------------------------

@pytest.mark.parametrize("failure", [sqlite3.OperationalError("database is locked"),
                                     StoreError("the store is read-only here")], ids=["locked", "store-error"])
async def test_a_store_failure_in_the_sync_says_sync_stopped_never_online_then_recovers(store, failure):
    platform = Feed(failure)
    app = quick(make_app(Config(), store, connectors={"brand-x": platform}))
    shown = record_header(app)
    changes = record_health(app)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: "brand-x online" in app.status_text, "the sync to recover to online")
        assert platform.fetches >= 2  # it failed, and was started again
    while_down = [text for text, down in shown if "sync" in down]
    assert while_down, "the header was never shown while the sync was down"
    assert all("sync stopped" in text and "online" not in text for text in while_down), while_down
    assert [h.up for h in changes if h.name == "sync"][:2] == [False, True]


async def test_a_sync_failure_is_logged_with_its_traceback_and_without_the_accounts_secret(store, log_file):
    platform = Feed(StoreError(f"cannot save the cursor of https://api.example/bot{SECRET}/getUpdates"))
    platform._secret = SECRET  # the app's redact asks every connector to take its secret out
    app = quick(make_app(Config(), store, connectors={"brand-x": platform}))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: "brand-x online" in app.status_text, "the sync to recover to online")
        shown = " ".join(notices(app)) + app.status_text
    text = logged(log_file)
    assert "sync failed: " in text and "Traceback (most recent call last)" in text
    assert "StoreError: cannot save the cursor of https://api.example/bot•••/getUpdates" in text  # the cause, too
    assert SECRET not in text and SECRET not in shown


@pytest.mark.parametrize(("failure", "words"), [
    (sqlite3.OperationalError("database is locked"), "another program kept the store locked too long"),
    (StoreError("the store is read-only here"), "the store is read-only here"),
], ids=["locked", "store-error"])
async def test_a_store_failure_in_the_sync_is_told_in_plain_words(store, failure, words):
    app = quick(make_app(Config(), store, connectors={"brand-x": Feed(failure)}))
    changes = record_health(app)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: any(h.name == "sync" and not h.up for h in changes), "the sync to go down")
        [problem] = [h.problem for h in changes if h.name == "sync" and not h.up]
        await wait_for(pilot, lambda: any("sync stopped" in n for n in notices(app)), "the notice")
        told = next(n for n in notices(app) if "sync stopped" in n)
    assert problem == words
    assert words in told and "ExceptionGroup" not in told


def poisoned(kind: str) -> ConnectorError:
    if kind == "inf":
        return ConnectorError("rate limited", retry_after=float("inf"))
    if kind == "nan":
        return ConnectorError("rate limited", retry_after=float("nan"))
    error = ConnectorError("rate limited", retry_after=30)
    error.retry_after = float("inf")  # a third-party connector setting it after the fact
    return error


@pytest.mark.parametrize("kind", ["inf", "nan", "set-after"])
async def test_a_poisoned_retry_after_leaves_the_sync_waiting_a_finite_time_and_alive(store, kind):
    app = quick(make_app(Config(), store, connectors={"brand-x": Feed(poisoned(kind))}))
    statuses = []
    told = app.on_sync_status

    def recording(status) -> None:
        statuses.append(status)
        told(status)

    app.on_sync_status = recording  # run_sync hands the runner this attribute
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: statuses, "the first sync round")
        [status] = statuses
        assert status.state == "rate_limited" and status.retry_in is not None
        assert math.isfinite(status.retry_in) and 0 < status.retry_in <= MAX_WAIT, status.retry_in
        assert "brand-x rate_limited: rate limited" in app.status_text
        await pilot.pause(0.1)
        assert app.supervisor.health["sync"].up and "sync" not in down_names(app)
        [sync] = [worker for worker in app.workers if worker.group == "sync"]
        assert sync.is_running  # waiting out the limit, not dead


async def test_a_poisoned_retry_after_on_a_send_keeps_the_reply_queued_and_the_outbox_up(store, case_id):
    platform = Feed()
    platform.failures = [ConnectorError("rate limited", retry_after=float("inf"))]
    app = quick(make_app(Config(), store, connectors={"brand-x": platform}))
    outbox_id = app.outbox.queue_reply(case_id, "Komt goed", agent="tim", visibility="public")
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: store.outbox_row(outbox_id)["attempts"] == 1
                       and store.outbox_row(outbox_id)["state"] == "queued", "the first send attempt")
        row = store.outbox_row(outbox_id)
        assert row["last_error"] == "rate limited" and row["next_attempt_at"] is not None
        assert 0 < row["next_attempt_at"] - row["updated_at"] <= MAX_WAIT
        await wait_for(pilot, lambda: app.supervisor.health.get("outbox") == Health("outbox", True),
                       "the outbox to report a round that ended well")
        assert "not sending" not in app.status_text and platform.published == {}


# --- the console: a background thread job --------------------------------------------------

async def test_a_failing_alerts_check_shows_in_the_header_until_it_works_again(store, monkeypatch):
    app = make_app(Config(), store, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await asyncio.wait_for(app.alerts_checked.wait(), timeout=10)
        assert "alerts down" not in app.status_text
        real = app_module.check_alerts

        def broken(*args, **kwargs):
            raise RuntimeError("the alert rules broke")

        monkeypatch.setattr(app_module, "check_alerts", broken)
        app.check_alerts()
        await wait_for(pilot, lambda: "alerts down:" in app.status_text, "the header to say alerts are down")
        assert "alerts down: RuntimeError: the alert rules broke" in app.status_text
        assert [h.name for h in app.supervisor.down()] == ["alerts"]
        await wait_for(pilot, lambda: any("alerts stopped: RuntimeError: the alert rules broke" in n
                                          for n in notices(app)), "the notice")

        monkeypatch.setattr(app_module, "check_alerts", real)
        app.check_alerts()
        await wait_for(pilot, lambda: "alerts down" not in app.status_text, "the header to clear")
        assert app.supervisor.down() == [] and app.supervisor.health["alerts"].up


def test_a_failure_quoting_terminal_escapes_is_told_as_plain_text():
    changes: list[Health] = []
    supervisor = Supervisor(changes.append)
    supervisor.failed("sync", RuntimeError("bad page \x1b]0;pwned\x07\nfrom \u202eevil"))
    [health] = changes
    assert "\x1b" not in health.problem and "\x07" not in health.problem and "\n" not in health.problem
    assert "bad page" in health.problem


async def test_work_asked_for_again_and_again_pauses_as_many_times_as_long_as_it_took():
    """An alert check asked for after every commit of an import runs once more after the one under
    way, with the newest asked for, and only after a pause: `pause` times as long as it took."""
    import threading
    import time

    from textual.app import App

    from webcare_tui.widgets.background import Background

    took = [0.0]  # the clock the jobs are timed by: each run takes a second by it
    started: list[tuple[int, float]] = []
    got: list[int] = []

    asked = threading.Event()

    def work(n: int):
        def run() -> int:
            started.append((n, time.monotonic()))
            asked.wait(10)  # the first runs until all three were asked for
            took[0] += 1.0
            return n
        return run

    app = App()
    async with app.run_test():
        jobs = Background(app, clock=lambda: took[0])
        try:
            for n in (1, 2, 3):  # 2 and 3 are asked for while 1 runs: 3, the newest, runs after it
                jobs.latest("alerts", jobs.counts, work(n), got.append, pause=0.05)
            asked.set()
            await jobs.settled()  # the run after the pause included
            assert got == [1, 3] and [n for n, _ in started] == [1, 3]
            assert started[1][1] - started[0][1] >= 0.045  # 1 s * 0.05, less a timer's slack
        finally:
            jobs.shutdown()


@pytest.mark.skipif(not hasattr(__import__("os"), "setpriority"), reason="threads' own CPU priority: Linux")
async def test_slow_work_runs_at_a_lower_cpu_priority_than_the_ui_thread_and_reads():
    """Counts and alert checks yield a busy machine's cores to the UI thread (and to the screens'
    reads); the UI thread itself keeps its priority."""
    import os
    import threading

    from textual.app import App

    from webcare_tui.widgets.background import COUNTS_NICENESS, Background

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    app = App()
    async with app.run_test():
        ours = niceness()
        jobs = Background(app)
        try:
            assert jobs.counts.submit(niceness).result(10) == min(19, ours + COUNTS_NICENESS)
            assert jobs.reads.submit(niceness).result(10) == ours
            assert niceness() == ours
        finally:
            jobs.shutdown()
