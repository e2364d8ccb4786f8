"""Provides `Undo`: an agent's last action taken back within the grace period, in one transaction.

Every action of an agent (close, assign, label, status, priority, team, memo, a reply, a macro)
is recorded in the transaction that does it: its cases' rows and labels before and after,
and the memos and outbox rows it made. What it queued for a platform (a reply, a like,
Chatwoot's side of a change) waits in the outbox for the grace period, so undoing it
reaches nobody. Undoing restores, of what the action set, only what still holds the
action's value (a teammate's or the sync's later change stays), puts the labels back,
deletes its memos and discards its outbox rows, all in one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from webcare_tui.case_rules import Event
from webcare_tui.config import DEFAULT_UNDO_GRACE
from webcare_tui.outbox import Outbox
from webcare_tui.store import CASE_FIELDS, Store, case_row, changed_columns

Result = TypeVar("Result")

RESTORED_FIELDS = ("status", "owner", "priority", "team", "closed_at", "waiting_since")  # what an action sets on a case
UNDOABLE_STATES = ("queued", "failed", "awaiting_approval")  # an outbox row that reached no platform


class UndoError(ValueError):
    """The action cannot be taken back (too late, or part of it reached a platform); nothing changed."""


@dataclass
class Undoable:
    """What one action did, enough to take it back."""

    what: str  # "closed 2 cases", "Pakket": said when it is undone
    at: int
    cases: dict[int, tuple] = field(default_factory=dict)  # case id → case row before
    after: dict[int, tuple] = field(default_factory=dict)  # case id → case row as the action left it
    labels: dict[int, list[str]] = field(default_factory=dict)  # case id → labels before
    memos: list[int] = field(default_factory=list)
    outbox: list[int] = field(default_factory=list)


class Undo:
    def __init__(self, store: Store, outbox: Outbox, actor: str, *, grace: int = DEFAULT_UNDO_GRACE,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.outbox = outbox
        self.actor = actor
        self.grace = grace
        self.clock = clock

    def record(self, what: str, case_ids: list[int], action: Callable[[], Result]) -> tuple[Result, Undoable]:
        """Do `action` to these cases in one transaction, recording what it did; what it queued for a
        platform is held until the grace period ends."""
        now = int(self.clock())
        done = Undoable(what, now)
        with self.store.transaction():
            memos_before, outbox_before = self.store.last_memo_id(), self.store.last_outbox_id()
            for case_id in case_ids:
                done.cases[case_id] = case_row(self.store.case_state(case_id))
                done.labels[case_id] = self.store.case_labels(case_id)
            result = action()
            for case_id in case_ids:
                done.after[case_id] = case_row(self.store.case_state(case_id))
            done.memos = self.store.memos_after(memos_before, case_ids)
            for row in self.store.outbox_after(outbox_before, case_ids):
                done.outbox.append(row["id"])
                if row["state"] in ("queued", "awaiting_approval"):  # a draft approved early still waits
                    self.store.update_outbox(row["id"], now, next_attempt_at=max(row["next_attempt_at"] or 0, now + self.grace))
        return result, done

    def undo(self, done: Undoable) -> str:
        """Take the whole action back, if its grace period has not passed.

        Raises:
            UndoError: too late (something may have reached a platform), or part of it was delivered.
        """
        now = int(self.clock())
        if now > done.at + self.grace:
            raise UndoError(f"too late to undo {done.what}: it is more than {self.grace} s ago")
        with self.store.transaction():
            # of what the action set, restore only what still holds its value: a later change, a
            # teammate's or the sync's, stays (read before the discards below move the status)
            restore: dict[int, dict[str, Any]] = {}
            for case_id, before in done.cases.items():
                made = changed_columns(before, done.after[case_id])
                current, was = (dict(zip(CASE_FIELDS, row)) for row in (case_row(self.store.case_state(case_id)), before))
                restore[case_id] = {name: was[name] for name in RESTORED_FIELDS if name in made and current[name] == made[name]}
            for outbox_id in done.outbox:
                row = self.store.outbox_row(outbox_id)
                if row["state"] not in UNDOABLE_STATES:
                    raise UndoError(f"cannot undo {done.what}: its {row['kind'].replace('_', ' ')} is {row['state']}")
                self.outbox.discard(outbox_id, actor=self.actor)
            for memo_id in done.memos:
                self.store.delete_memo(memo_id)
            for case_id, fields in restore.items():
                if fields:
                    self.store.update_case_fields(tuple(fields), [(*fields.values(), case_id)])
                labels_now = set(self.store.case_labels(case_id))
                self.store.set_labels(case_id, add=set(done.labels[case_id]) - labels_now,
                                      remove=labels_now - set(done.labels[case_id]))
                self.store.add_events([Event(case_id, now, self.actor, "undone", {"name": done.what})])
        return f"undone: {done.what}"
