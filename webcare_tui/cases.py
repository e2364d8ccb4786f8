"""Provides `CaseService`: what an agent (or the system) does to cases.

Each method is one transaction that changes the case and writes its case events,
so the TUI, the CLI and scripts share one path and one audit trail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from webcare_tui import case_rules
from webcare_tui.case_rules import CaseState, Event, ThreadingRules
from webcare_tui.model import CaseStatus
from webcare_tui.store import Store, StoreError


class CaseError(ValueError):
    """An action that the rules do not allow; the message says why."""


class CaseService:
    def __init__(self, store: Store, rules: ThreadingRules = ThreadingRules(),
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock

    def _now(self) -> int:
        return int(self.clock())

    def _case(self, case_id: int) -> CaseState:
        try:
            return self.store.case_state(case_id)
        except StoreError as error:
            raise CaseError(str(error)) from None

    def assign(self, case_id: int, agent: str | None, actor: str) -> None:
        """Give the case to `agent` (None: back to the unassigned queue)."""
        with self.store.transaction():
            case = self._case(case_id)
            if case.owner == agent:
                return
            now = self._now()
            events = [Event(case_id, now, actor, "assigned", {"from": case.owner, "to": agent})]
            case.owner = agent
            if case.status in (CaseStatus.NEW, CaseStatus.OPEN):
                new_status = CaseStatus.OPEN if agent else CaseStatus.NEW
                if new_status != case.status:
                    events.append(Event(case_id, now, actor, "status", {"from": case.status, "to": new_status}))
                    case.status = new_status
            self.store.save_case(case)
            self.store.add_events(events)

    def set_status(self, case_id: int, status: str, actor: str) -> None:
        """Move a case to `status` (pending, closed, or open to reopen)."""
        if status not in CaseStatus.__members__.values():
            raise CaseError(f"{status!r} is not a status (new, open, pending, awaiting_approval, closed)")
        with self.store.transaction():
            case = self._case(case_id)
            if case.status == status:
                return
            now = self._now()
            if status == CaseStatus.OPEN and not case.owner:
                status = CaseStatus.NEW  # open means somebody owns it
            event = Event(case_id, now, actor, "status", {"from": case.status, "to": status})
            case.status = status
            case.closed_at = now if status == CaseStatus.CLOSED else None
            if status in (CaseStatus.NEW, CaseStatus.OPEN) and case.waiting_since is None:
                case.waiting_since = now  # reopened by hand: it waits on us from now on
            self.store.save_case(case)
            self.store.add_events([event])

    def set_priority(self, case_id: int, priority: int, actor: str) -> None:
        """0 normal … 3 urgent."""
        if priority not in range(4):
            raise CaseError("priority is 0 (normal) to 3 (urgent)")
        with self.store.transaction():
            case = self._case(case_id)
            if case.priority != priority:
                event = Event(case_id, self._now(), actor, "priority", {"from": case.priority, "to": priority})
                case.priority = priority
                self.store.save_case(case)
                self.store.add_events([event])

    def label(self, case_id: int, actor: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        add = [name.strip() for name in add if name.strip()]
        remove = [name.strip() for name in remove if name.strip()]
        with self.store.transaction():
            self._case(case_id)
            before = set(self.store.case_labels(case_id))
            self.store.set_labels(case_id, add, remove)
            after = set(self.store.case_labels(case_id))
            if before != after:
                detail = {"added": sorted(after - before), "removed": sorted(before - after)}
                self.store.add_events([Event(case_id, self._now(), actor, "labels", detail)])

    def memo(self, case_id: int, actor: str, text: str) -> int:
        """An internal note on the case; never sent to the customer."""
        if not text.strip():
            raise CaseError("a memo needs some text")
        with self.store.transaction():
            case = self._case(case_id)
            now = self._now()
            memo_id = self.store.add_memo(case_id, case.author_id, actor, text, now)
            self.store.add_events([Event(case_id, now, actor, "memo", {"memo_id": memo_id})])
            return memo_id

    def split(self, message_id: int, actor: str) -> int:
        """Move a message and every later one of its case into a new case; returns its id."""
        with self.store.transaction():
            case_id, created_at = self.store.message_position(message_id)
            old = self._case(case_id)
            now = self._now()
            new = case_rules.open_case(None, old.author_id, old.platform, old.account, created_at)  # type: ignore[arg-type]
            new.id = self.store.insert_case(new)
            self.store.move_messages_from(case_id, message_id, created_at, new.id)
            if not self.store.case_message_times(case_id):  # raising rolls the whole split back
                raise CaseError("that is the case's first message: there is nothing to split it from")
            for case in (old, new):
                case_rules.summarize(case, self.store.case_message_times(case.id))
                case.status = case_rules.status_from_messages(case)
                self.store.save_case(case)
            self.store.add_events([
                Event(case_id, now, actor, "split", {"to": new.id, "message_id": message_id}),
                Event(new.id, now, actor, "created", {"split_from": case_id, "message_id": message_id}),
            ])
            return new.id

    def merge(self, target_id: int, source_id: int, actor: str) -> None:
        """Fold case `source_id` into `target_id`: messages, memos and labels move; source closes."""
        if target_id == source_id:
            raise CaseError("a case cannot be merged with itself")
        with self.store.transaction():
            target, source = self._case(target_id), self._case(source_id)
            if target.author_id != source.author_id:
                raise CaseError(f"cases {target_id} and {source_id} are with different authors; only one author's cases merge")
            was_closed = target.status == CaseStatus.CLOSED and source.status != CaseStatus.CLOSED
            self.store.move_case_contents(source_id, target_id)
            case_rules.summarize(target, self.store.case_message_times(target_id))
            if was_closed:  # the merged-in conversation is still going on
                target.status, target.closed_at = source.status, None
            target.status = case_rules.status_from_messages(target)
            self.store.save_case(target)
            now = self._now()
            self.store.add_events([
                Event(target_id, now, actor, "merged", {"from": source_id}),
                Event(source_id, now, actor, "merged", {"into": target_id}),
            ])

    def close_due(self, now: int | None = None) -> int:
        """Close pending cases whose customer stayed silent for `auto_close_after`; returns how many."""
        now = self._now() if now is None else now
        with self.store.transaction():
            closed = self.store.close_due_pending(now, self.rules.auto_close_after)
            self.store.add_events(
                Event(case_id, at, case_rules.SYSTEM, "status", {"from": "pending", "to": "closed", "reason": "no answer"})
                for case_id, at in closed
            )
            return len(closed)
