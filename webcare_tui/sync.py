"""Provides `SyncRunner`: background sync of every connector into the store.

Plain asyncio, no Textual: the TUI runs it as a worker, `webcare sync --once` runs
one round. Each fetched page is ingested and its cursor saved in one transaction,
so a restart resumes exactly where the last stored page ended. A connector that
fails is retried with exponential backoff (or after the platform's Retry-After) and
its error reported, never raised into the app.

Platforms that keep case state themselves (Chatwoot: team mode) report it with each
page (`FetchResult.remote_cases`); it is applied in the page's transaction, after
its messages, through `CaseService.apply_remote`. So are, in the same transaction,
the internal notes teammates wrote there (`FetchResult.memos`: memos on the case of
their conversation, each taken in once; ours coming back are known by the outbox's
`remote_id`) and the messages of ours the platform's channel refused after taking
them (`FetchResult.failed_sends`: their outbox row, "sent" until then, is failed
with the platform's reason, as a reply refused at once is).

A helpdesk's priority and team (`RemoteCase.priority`, `RemoteCase.team`) are taken there too: what
`apply_remote` does with them, and why it holds across restarts, is said in `CaseService.apply_remote`.
The team a routing rule gives a case at ingest goes to such a helpdesk as a "team" case action
(`CaseService.share_team`), queued in the page's transaction before the page's remote state is applied,
so the platform's older state does not undo it.

A realtime channel (Chatwoot's cable) wakes an account's sync at once (`wake`), naming the
conversations that changed; polling stays the fallback, on its own schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from webcare_tui.case_rules import Event, ThreadingRules
from webcare_tui.cases import CaseService, case_actions_of
from webcare_tui.connectors.base import (
    Connector,
    ConnectorError,
    DeliveryFailure,
    FetchResult,
    RemoteMemo,
)
from webcare_tui.ingest import IngestCounts, ingest
from webcare_tui.message_format import EARLIEST, FIELD_LIMIT, check_messages, cut_text, latest_time, skipped_id
from webcare_tui.rules import Router
from webcare_tui.store import Store, StoreError, StoreFailure

log = logging.getLogger(__name__)
MAX_PAGES = 50  # per round, so one busy account cannot starve the others
MAX_BACKOFF = 300.0


@dataclass(frozen=True)
class SyncStatus:
    """What the header shows per account."""

    account: str
    state: str  # online, syncing, offline, rate_limited, needs_auth, error
    error: str | None = None
    new_messages: int = 0
    retry_in: float | None = None
    skipped: tuple[str, ...] = ()  # what the platform sent that could not be taken in, and why
    cases: frozenset[int] = frozenset()  # the cases changed: new messages, a teammate's change, memo, refused reply


def check_memos(memos: Iterable[RemoteMemo], now: float | None = None) -> tuple[list[RemoteMemo], list[str]]:
    """The memos of a page that are within range (a text too long cut, as a message's), and for each
    other one "external id: reason" (as `FetchResult.skipped` says it)."""
    latest = latest_time(now)
    kept, refused = [], []
    for memo in memos:
        name = skipped_id(memo.external_id)
        if type(memo.created_at) is not int or not EARLIEST <= memo.created_at <= latest:
            refused.append(f"{name}: memo dated {memo.created_at!r}, out of range")
        elif any(len(value) > FIELD_LIMIT for value in (memo.thread, memo.external_id, memo.agent or "")):
            refused.append(f"{name}: memo with an id or agent longer than {FIELD_LIMIT:,} characters")
        elif not memo.thread or not memo.external_id.startswith(memo.thread):
            refused.append(f"{name}: memo whose id is not of its conversation {memo.thread!r}")
        else:
            kept.append(replace(memo, text=cut_text(memo.text)))
    return kept, refused


def backoff(failures: int, base: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: base·2^(failures-1), capped, ±20 %."""
    delay = min(base * 2 ** max(failures - 1, 0), MAX_BACKOFF)
    return delay * rng.uniform(0.8, 1.2)


def _cut(text: str) -> str:
    """A platform's reason held to a field's length."""
    return text if len(text) <= FIELD_LIMIT else text[:FIELD_LIMIT - 1] + "…"


class SyncRunner:
    def __init__(
        self,
        store: Store,
        connectors: dict[str, Connector],
        rules: ThreadingRules = ThreadingRules(),
        on_status: Callable[[SyncStatus], None] = lambda status: None,
        clock: Callable[[], float] = time.time,
        router: Router | None = None,
    ) -> None:
        self.store = store
        self.connectors = connectors
        self.rules = rules
        self.router = router  # routing rules applied at ingest
        self.on_status = on_status
        # with the case actions each platform keeps: a routing rule's team goes out to a helpdesk
        self.cases = CaseService(store, rules, clock, remote_actions=case_actions_of(connectors))
        self.clock = clock
        self.rng = random.Random()
        # set by `wake`: the account's loop in `run` syncs at once instead of at its next turn
        self._wakes = {account: asyncio.Event() for account in connectors}

    def wake(self, account: str, threads: Iterable[str] = ()) -> None:
        """Sync `account` now, not at its next turn: a realtime channel said something changed there.

        Call it on the event loop that runs `run`. A wake while the account syncs gives one more round
        right after; one during a failure's backoff waits for the backoff (a rate limit is kept).

        Args:
            threads: the conversations that changed ("42:", as `RemoteCase.thread`): the connector reads
                them whatever its cursor says (`Connector.note_changed`). None: a catch-up (the channel
                was away and events may have been missed).
        """
        if account not in self.connectors:
            return
        if threads := list(threads):
            self.connectors[account].note_changed(threads)
        self._wakes[account].set()

    def _save(self, account: str, *, failed: bool = False, **changes: object) -> dict:
        """Change the account's sync state; `failed` counts one more failure in a row."""
        with self.store.transaction():  # read and written in one: another writer's change is not undone
            state = self.store.sync_state(account) | changes
            if failed:
                state["failures"] += 1
            self.store.save_sync_state(
                account, cursor=state["cursor"], state=state["state"], last_error=state["last_error"],
                last_sync_at=state["last_sync_at"], failures=state["failures"],
            )
        return state

    def _ingest_page(self, account: str, page: FetchResult, platform: str = "") -> IngestCounts:
        with self.store.transaction():  # the page and its cursor land together or not at all
            connector = self.connectors.get(account)
            teams_go_out = self.router is not None and connector is not None and (
                "team" in connector.capabilities.case_actions)
            mark = self.store.last_event_id() if teams_go_out else 0
            counts = ingest(self.store, page.messages, self.rules, router=self.router)
            if teams_go_out:  # team mode: the teams routing gave go to the helpdesk, before its state is applied
                for teamed in self.store.cases_teamed_by_rules_after(mark):
                    self.cases.share_team(teamed)
            found: dict[str, int | None] = {}

            def case_of(thread: str) -> int | None:
                """The case of a conversation (read once a page: remote cases and memos both ask)."""
                if thread not in found:
                    found[thread] = self.store.case_of_thread(platform, thread) if thread else None
                return found[thread]

            for remote in page.remote_cases:  # a teammate's change in the helpdesk: its case is touched too
                case_id = case_of(remote.thread)
                if self.cases.apply_remote(account, platform, remote) and case_id is not None:
                    counts.cases.add(case_id)
            threads = [remote.thread for remote in page.remote_cases]
            counts.cases |= self._take_memos(platform, page.memos, threads, case_of)
            counts.cases |= self._take_failures(page.failed_sends)
            self._save(account, cursor=page.cursor, state="online", last_error=None,
                       last_sync_at=int(self.clock()), failures=0)
        return counts

    def _take_memos(self, platform: str, memos: Sequence[RemoteMemo], threads: Iterable[str],
                    case_of: Callable[[str], int | None]) -> set[int]:
        """Store each memo a teammate wrote on the platform once, on the case of its conversation (call
        inside the page's transaction); returns the cases that got one.

        A memo whose conversation has no case here yet (its messages were all skipped, or are still to
        come) is stored without a case and given to the conversation's case when one appears, in a later
        page of it (`Store.adopt_memos`). Skipping it would lose it for good: the cursor moves past the
        note and the platform does not send it again.
        """
        now = int(self.clock())
        touched: set[int] = set()
        events: list[Event] = []
        waiting = self.store.has_memos_without_case()  # seldom: then each conversation of the page asks
        for thread in dict.fromkeys([*threads, *(memo.thread for memo in memos)]) if waiting else ():
            if thread and (case_id := case_of(thread)) is not None:
                if adopted := self.store.adopt_memos(thread, case_id):
                    events += [Event(case_id, now, platform, "memo", {"memo_id": memo_id}) for memo_id in adopted]
                    touched.add(case_id)
        for memo in memos:
            case_id = case_of(memo.thread)
            if self.store.has_memo(memo.external_id) or self._ours(memo, case_id, now):
                continue
            author_id = self.store.case_state(case_id).author_id if case_id is not None else None
            agent = memo.agent or platform
            memo_id = self.store.add_memo(case_id, author_id, agent, memo.text, memo.created_at, memo.external_id)
            if case_id is not None:
                events.append(Event(case_id, memo.created_at, agent, "memo",
                                    {"memo_id": memo_id, "external_id": memo.external_id}))
                touched.add(case_id)
        self.store.add_events(events)
        return touched

    def _ours(self, memo: RemoteMemo, case_id: int | None, now: int) -> bool:
        """Whether `memo` is one of ours come back from the platform (it is in the case already).

        Ours is known by the outbox row that sent it: its `remote_id` is the note's id. A row that went
        out without the id coming back (being sent right now, found sent after a crash, or of unknown
        outcome) is known by the same text in the same conversation instead, and takes the note's id
        (a memo of unknown outcome is sent, then: the platform has it).
        """
        if any(row["kind"] == "case_action" and row["payload"].get("action") == "memo"
               for row in self.store.outbox_by_remote_id(memo.external_id)):
            return True
        if case_id is None:
            return False
        for row in self.store.outbox_unconfirmed_memos(case_id):
            payload = row["payload"]
            if ((payload.get("in_reply_to") or "").startswith(memo.thread)
                    and str(payload["value"].get("text", "")).strip() == memo.text.strip()):
                settled = {"state": "sent", "last_error": None} if row["state"] == "unknown" else {}
                self.store.update_outbox(row["id"], now, remote_id=memo.external_id, **settled)
                return True
        return False

    def _take_failures(self, failures: Sequence[DeliveryFailure]) -> set[int]:
        """Fail the sent reply each failure names (call inside the page's transaction), with the platform's
        reason, as a reply the platform refused at once is failed: the case shows it undelivered, to retry
        or discard. Returns the cases touched. A failure read again changes nothing (the row is no longer
        "sent"), nor does one of a message that is not ours or was sent again since (another remote_id)."""
        now = int(self.clock())
        touched: set[int] = set()
        for failure in failures:
            for row in self.store.outbox_by_remote_id(failure.external_id):
                if row["kind"] == "reply" and row["state"] == "sent":
                    self.store.update_outbox(row["id"], now, state="failed", last_error=_cut(failure.reason))
                    touched.add(row["case_id"])
        return touched

    async def sync_account(self, account: str) -> SyncStatus:
        """Fetch every ready page of one account; returns its status. A connector's failure is the
        status; a failure of the store (locked too long, disk full) is raised, for the supervisor."""
        connector = self.connectors[account]
        total, skipped, touched = 0, [], set()
        try:
            for _ in range(MAX_PAGES):
                cursor = (await asyncio.to_thread(self.store.sync_state, account))["cursor"]
                page = await connector.fetch(cursor)
                # one boundary for every message, imported or synced: what is out of range is said, not stored
                page.messages, refused = check_messages(page.messages, now=self.clock())
                page.skipped += refused
                page.memos, refused = check_memos(page.memos, now=self.clock())
                page.skipped += refused
                # the platform's words are stored (an outbox row's last_error): never with the token in them
                page.failed_sends = [replace(failure, reason=connector.redact(failure.reason))
                                     for failure in page.failed_sends]
                counts = await asyncio.to_thread(self._ingest_page, account, page, connector.platform)
                total += counts.new_messages
                touched |= counts.cases
                skipped += [connector.redact(reason) for reason in page.skipped]
                if not page.more:
                    break
        except ConnectorError as error:
            return await self._failed(account, connector.safe(error), total)
        except (*StoreFailure, StoreError):
            raise
        except Exception as error:  # a connector bug must not kill the app: show it, retry later
            unexpected = connector.safe(ConnectorError(f"unexpected error: {type(error).__name__}: {error}"))
            log.error("sync of %s failed: %s", account, unexpected.message)  # no traceback: it may quote the token
            return await self._failed(account, unexpected, total, state="error")
        if total:  # new history may hold pending cases that closed by themselves meanwhile
            await asyncio.to_thread(self.cases.close_due)
        status = SyncStatus(account, "online", new_messages=total, skipped=tuple(skipped), cases=frozenset(touched))
        self.on_status(status)
        return status

    async def _failed(self, account: str, error: ConnectorError, total: int, state: str | None = None) -> SyncStatus:
        state = state or ("needs_auth" if error.needs_auth else "rate_limited" if error.retry_after else (
            "offline" if error.retryable else "error"))
        saved = await asyncio.to_thread(partial(self._save, account, failed=True, state=state, last_error=error.message))
        failures = saved["failures"]
        retry_in = error.retry_after if error.retry_after is not None else backoff(failures, 5.0, self.rng)
        status = SyncStatus(account, state, error.message, total, retry_in)
        self.on_status(status)
        return status

    async def sync_once(self) -> list[SyncStatus]:
        """One round over every account, then the auto-close sweep."""
        statuses = [await self.sync_account(account) for account in self.connectors]
        await asyncio.to_thread(self.cases.close_due)
        return statuses

    async def run(self, interval: float = 5.0) -> None:
        """Sync every account forever, each every `interval` seconds and at once when woken (`wake`);
        cancel the task to stop."""

        async def loop(account: str) -> None:
            woken = self._wakes[account]
            while True:
                woken.clear()  # what woke the loop is read by this round
                status = await self.sync_account(account)
                if status.retry_in is not None:
                    await asyncio.sleep(status.retry_in)  # a failing platform's wait is kept, even when woken
                else:
                    # the interval is up: poll as ever. asyncio.timeout, not wait_for: on 3.11 wait_for drops a
                    # cancellation that comes with a wake, and the loop would never stop
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(interval):
                            await woken.wait()

        async def sweep() -> None:
            while True:
                await asyncio.to_thread(self.cases.close_due)
                await asyncio.sleep(60)

        async with asyncio.TaskGroup() as group:
            for account in self.connectors:
                group.create_task(loop(account))
            group.create_task(sweep())
