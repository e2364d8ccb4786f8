"""Provides `MacroRunner`: apply a macro to cases as one transaction, preview it, undo it.

Undo works for `grace` seconds: the bundle's reply and like wait in the outbox
until then, so undoing restores owner, status, priority and labels, deletes the
memo and takes the reply back before anything reached the platform. A macro with
`request_approval` (or any macro of an agent who needs approval) puts its reply up for a
lead's approval as a draft (see `approvals`); the macro's status then waits for that
decision too, since the approval makes the case pending. In team mode
(Chatwoot) the label, assignment, status and memo changes the case service queues
for the platform wait with them, in the macro's order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from webcare_tui.case_rules import Event
from webcare_tui.cases import CaseError, CaseService
from webcare_tui.config import DEFAULT_UNDO_GRACE, Agent
from webcare_tui.macros import Macro
from webcare_tui.outbox import Outbox, ReplyError, signature_for, signed
from webcare_tui.store import CASE_FIELDS, Store, StoreError, case_row, changed_columns
from webcare_tui.templates import TemplateError, case_values, render

DEFAULT_GRACE = DEFAULT_UNDO_GRACE  # seconds; the config's [macros] undo_grace


class MacroError(ValueError):
    """A macro that cannot be applied here; nothing was changed."""


@dataclass
class Applied:
    """What one application did, enough to show it and to undo it."""

    macro: str
    summary: str
    at: int
    cases: dict[int, tuple] = field(default_factory=dict)  # case id → case row before
    after: dict[int, tuple] = field(default_factory=dict)  # case id → case row as the macro left it
    labels: dict[int, list[str]] = field(default_factory=dict)  # case id → labels before
    memos: list[int] = field(default_factory=list)
    outbox: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # actions the platform could not take
    drafts: int = 0  # replies put up for a lead's approval


UNDONE_FIELDS = ("status", "owner", "priority", "closed_at")  # what a macro sets on the case row


@dataclass(frozen=True)
class Preview:
    case_id: int
    summary: str
    reply: str | None
    memo: str | None


class MacroRunner:
    def __init__(self, store: Store, cases: CaseService, outbox: Outbox, agent: Agent, *,
                 blocks: dict[str, str] | None = None, grace: int = DEFAULT_GRACE,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.cases = cases
        self.outbox = outbox
        self.agent = agent
        self.blocks = blocks or {}
        self.grace = grace
        self.clock = clock

    def _texts(self, macro: Macro, case_id: int, ask: str | None) -> tuple[str | None, str | None]:
        """The macro's reply (signed) and memo for this case."""
        case = self.store.get_case(case_id)
        signature = signature_for(case["platform"], self.agent.signature)
        values = case_values(case, self.agent.name, self.agent.initials, signature, ask)
        template = macro.reply or (self.blocks.get(macro.reply_block) if macro.reply_block else None)
        try:
            reply = render(template, values) if template else None
            memo = render(macro.memo, values) if macro.memo else None
        except TemplateError as error:
            raise MacroError(f"{macro.name}: {error}") from None
        if template and reply is not None and "{agent.signature}" not in template:
            reply = signed(reply, case["platform"], self.agent.signature)
        return reply, memo

    def preview(self, macro: Macro, case_id: int, ask: str | None = None) -> Preview:
        """What the macro would do to this case, with the rendered texts; changes nothing."""
        if macro.ask and not ask:
            ask = f"<{macro.ask}>"
        reply, memo = self._texts(macro, case_id, ask)
        return Preview(case_id, macro.summary(), reply, memo)

    def apply(self, macro: Macro, case_ids: list[int], *, ask: str | None = None) -> Applied:
        """Every action on every case, or none of them.

        Raises:
            MacroError: with the reason; nothing was changed.
        """
        if not case_ids:
            raise MacroError("no case to apply it to")
        if macro.ask and not (ask or "").strip():
            raise MacroError(f"{macro.name} needs an answer to: {macro.ask}")
        now = int(self.clock())
        hold = now + self.grace
        actor = self.agent.id
        applied = Applied(macro.name, "", now)
        try:
            with self.store.transaction():
                for case_id in case_ids:
                    self._apply_one(macro, case_id, ask, actor, hold, applied)
        except (CaseError, ReplyError, TemplateError, StoreError) as error:
            raise MacroError(f"{macro.name}: {error}; nothing was changed") from None
        applied.summary = self._summary(macro, len(case_ids), applied.notes, applied.drafts)
        return applied

    def _apply_one(self, macro: Macro, case_id: int, ask: str | None, actor: str, hold: int,
                   applied: Applied) -> None:
        queued_before = {row["id"] for row in self.store.case_outbox(case_id)}
        applied.cases[case_id] = case_row(self.store.case_state(case_id))
        applied.labels[case_id] = self.store.case_labels(case_id)
        reply, memo = self._texts(macro, case_id, ask)
        if macro.assign:
            self.cases.assign(case_id, macro.assign, actor)
        if macro.unassign:
            self.cases.assign(case_id, None, actor)
        if macro.labels_add or macro.labels_remove:
            self.cases.label(case_id, actor, add=macro.labels_add, remove=macro.labels_remove)
        if memo:
            applied.memos.append(self.cases.memo(case_id, actor, memo))
        drafted = False
        if reply:
            outbox_id = self.outbox.queue_reply(case_id, reply, agent=actor, visibility=macro.visibility,
                                                hold_until=hold, approval=macro.request_approval)
            applied.outbox.append(outbox_id)
            drafted = self.store.outbox_row(outbox_id)["state"] == "awaiting_approval"
            applied.drafts += drafted
        if macro.like:
            try:
                applied.outbox.append(self.outbox.queue_like(case_id, agent=actor, hold_until=hold))
            except ReplyError as error:
                applied.notes.append(f"no like: {error}")  # reported, not silently dropped
        if macro.priority is not None:
            self.cases.set_priority(case_id, macro.priority, actor)
        if macro.request_approval and not drafted:
            self.cases.set_status(case_id, "awaiting_approval", actor)
        if macro.status and drafted:  # the lead's decision moves the case (approved: pending; rejected: open)
            note = f"status {macro.status} left to the lead: the reply awaits approval"
            if note not in applied.notes:
                applied.notes.append(note)
        elif macro.status:
            self.cases.set_status(case_id, macro.status, actor)
        for row in self.store.case_outbox(case_id):  # the platform's side of assign, labels, memo, status
            if row["kind"] == "case_action" and row["id"] not in queued_before:
                self.store.update_outbox(row["id"], int(self.clock()), next_attempt_at=hold)
                applied.outbox.append(row["id"])
        self.store.add_events([Event(case_id, int(self.clock()), actor, "macro", {"name": macro.name})])
        applied.after[case_id] = case_row(self.store.case_state(case_id))

    def _summary(self, macro: Macro, count: int, notes: list[str], drafts: int = 0) -> str:
        where = f" ({count} cases)" if count > 1 else ""
        refused = sum(1 for note in notes if note.startswith("no like:"))
        done = macro.summary(done=True, liked=refused < count)  # a like some platform could take
        if drafts:  # the status is the lead's to set now: a note says so
            done = done.replace(", approval requested", "").replace("reply queued", "reply sent for approval")
            done = done.removesuffix(f", {macro.status}") if macro.status else done
        return f"{macro.name}{where}: " + ", ".join([done, *notes] if done else notes)

    def undo(self, applied: Applied) -> str:
        """Take the whole bundle back, if its grace period has not passed.

        Raises:
            MacroError: too late (something may have reached the platform), or it changed meanwhile.
        """
        now = int(self.clock())
        if now > applied.at + self.grace:
            raise MacroError(f"too late to undo {applied.macro}: it is more than {self.grace} s ago")
        with self.store.transaction():
            # of what the macro set, restore only what still holds its value: a later change, a
            # teammate's or the sync's, stays (read before the discards below move the status)
            undone: dict[int, dict[str, Any]] = {}
            for case_id, before in applied.cases.items():
                made = changed_columns(before, applied.after[case_id])
                current, was = (dict(zip(CASE_FIELDS, row)) for row in (case_row(self.store.case_state(case_id)), before))
                undone[case_id] = {name: was[name] for name in UNDONE_FIELDS if name in made and current[name] == made[name]}
            for outbox_id in applied.outbox:
                row = self.store.outbox_row(outbox_id)
                if row["state"] not in ("queued", "failed", "awaiting_approval"):
                    raise MacroError(f"cannot undo {applied.macro}: its {row['kind']} is {row['state']}")
                self.outbox.discard(outbox_id, actor=self.agent.id)
            for memo_id in applied.memos:
                self.store.delete_memo(memo_id)
            for case_id in applied.cases:
                if restore := undone[case_id]:
                    self.store.update_case_fields(tuple(restore), [(*restore.values(), case_id)])
                labels_now = set(self.store.case_labels(case_id))
                self.store.set_labels(case_id, add=set(applied.labels[case_id]) - labels_now,
                                      remove=labels_now - set(applied.labels[case_id]))
                self.store.add_events([Event(case_id, now, self.agent.id, "macro undone", {"name": applied.macro})])
        return f"undone: {applied.macro}"
