"""Provides `SyncRunner`: background sync of every connector into the store.

Plain asyncio, no Textual: the TUI runs it as a worker, `webcare sync --once` runs
one round. Each fetched page is ingested and its cursor saved in one transaction,
so a restart resumes exactly where the last stored page ended. A connector that
fails is retried with exponential backoff (or after the platform's Retry-After) and
its error reported, never raised into the app.

Platforms that keep case state themselves (Chatwoot: team mode) report it with each
page (`FetchResult.remote_cases`); it is applied in the page's transaction, after
its messages, through `CaseService.apply_remote`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from webcare_tui.case_rules import ThreadingRules
from webcare_tui.cases import CaseService
from webcare_tui.connectors.base import Connector, ConnectorError, RemoteCase
from webcare_tui.ingest import IngestCounts, ingest
from webcare_tui.message_format import check_messages
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
    cases: frozenset[int] = frozenset()  # the cases the new messages went to


def backoff(failures: int, base: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: base·2^(failures-1), capped, ±20 %."""
    delay = min(base * 2 ** max(failures - 1, 0), MAX_BACKOFF)
    return delay * rng.uniform(0.8, 1.2)


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
        self.cases = CaseService(store, rules, clock)
        self.clock = clock
        self.rng = random.Random()

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

    def _ingest_page(self, account: str, page_messages: list, cursor: str | None,
                     remote_cases: Sequence[RemoteCase] = (), platform: str = "") -> IngestCounts:
        with self.store.transaction():  # the page and its cursor land together or not at all
            counts = ingest(self.store, page_messages, self.rules, router=self.router)
            for remote in remote_cases:  # a teammate's change in the helpdesk: its case is touched too
                changed = self.cases.apply_remote(account, platform, remote)
                if changed and (case_id := self.store.case_of_thread(platform, remote.thread)) is not None:
                    counts.cases.add(case_id)
            self._save(account, cursor=cursor, state="online", last_error=None,
                       last_sync_at=int(self.clock()), failures=0)
        return counts

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
                counts = await asyncio.to_thread(self._ingest_page, account, page.messages, page.cursor,
                                                 page.remote_cases, connector.platform)
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
        """Sync every account forever, each on its own schedule (cancel the task to stop)."""

        async def loop(account: str) -> None:
            while True:
                status = await self.sync_account(account)
                if status.retry_in is not None:
                    await asyncio.sleep(status.retry_in)
                else:
                    await asyncio.sleep(interval)

        async def sweep() -> None:
            while True:
                await asyncio.to_thread(self.cases.close_due)
                await asyncio.sleep(60)

        async with asyncio.TaskGroup() as group:
            for account in self.connectors:
                group.create_task(loop(account))
            group.create_task(sweep())
