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

from webcare_tui.case_rules import Event
from webcare_tui.cases import CaseError, CaseService
from webcare_tui.config import DEFAULT_UNDO_GRACE, Agent
from webcare_tui.macros import Macro
from webcare_tui.outbox import Outbox, ReplyError
from webcare_tui.store import Store, StoreError
from webcare_tui.templates import TemplateError, case_values, customer_language, render, sign
from webcare_tui.undo import Undo, Undoable, UndoError

DEFAULT_GRACE = DEFAULT_UNDO_GRACE  # seconds; the config's [macros] undo_grace


class MacroError(ValueError):
    """A macro that cannot be applied here; nothing was changed."""


@dataclass
class Applied:
    """What one application did: what to say, and what `undo` takes back."""

    macro: str
    summary: str
    undoable: Undoable
    notes: list[str] = field(default_factory=list)  # actions the platform could not take
    drafts: int = 0  # replies put up for a lead's approval

    @property
    def outbox(self) -> list[int]:
        return self.undoable.outbox


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
        self.undo_log = Undo(store, outbox, agent.id, grace=grace, clock=clock)

    def _texts(self, macro: Macro, case_id: int, ask: str | None) -> tuple[str | None, str | None]:
        """The macro's reply (signed) and memo for this case."""
        template = macro.reply or (self.blocks.get(macro.reply_block) if macro.reply_block else None)
        if not template and not macro.memo:
            return None, None  # nothing to write: the case's messages (its language) need not be read
        case = self.store.get_case(case_id)
        signature = self.agent.signature_for(case["platform"], customer_language(self.store.case_messages(case_id)))
        values = case_values(case, self.agent.name, self.agent.initials, signature, ask)
        try:
            reply = render(template, values) if template else None
            memo = render(macro.memo, values) if macro.memo else None
        except TemplateError as error:
            raise MacroError(f"{macro.name}: {error}") from None
        if template and reply is not None and "{agent.signature}" not in template:
            reply = sign(reply, signature)
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
        actor = self.agent.id
        notes: list[str] = []
        drafts = 0

        def apply_all() -> None:
            nonlocal drafts
            for case_id in case_ids:
                drafts += self._apply_one(macro, case_id, ask, actor, notes)

        try:
            _, undoable = self.undo_log.record(macro.name, case_ids, apply_all)
        except (CaseError, ReplyError, TemplateError, StoreError) as error:
            raise MacroError(f"{macro.name}: {error}; nothing was changed") from None
        return Applied(macro.name, self._summary(macro, len(case_ids), notes, drafts), undoable, notes, drafts)

    def _apply_one(self, macro: Macro, case_id: int, ask: str | None, actor: str, notes: list[str]) -> bool:
        """Apply the macro to one case (inside the transaction); whether its reply became a draft.
        What it queues for a platform is held for the undo grace period (`Undo.record`)."""
        reply, memo = self._texts(macro, case_id, ask)
        if macro.assign:
            self.cases.assign(case_id, macro.assign, actor)
        if macro.unassign:
            self.cases.assign(case_id, None, actor)
        if macro.labels_add or macro.labels_remove:
            self.cases.label(case_id, actor, add=macro.labels_add, remove=macro.labels_remove)
        if memo:
            self.cases.memo(case_id, actor, memo)
        drafted = False
        if reply:
            outbox_id = self.outbox.queue_reply(case_id, reply, agent=actor, visibility=macro.visibility,
                                                approval=macro.request_approval)
            drafted = self.store.outbox_row(outbox_id)["state"] == "awaiting_approval"
        if macro.like:
            try:
                self.outbox.queue_like(case_id, agent=actor)
            except ReplyError as error:
                notes.append(f"no like: {error}")  # reported, not silently dropped
        if macro.priority is not None:
            self.cases.set_priority(case_id, macro.priority, actor)
        if macro.request_approval and not drafted:
            self.cases.set_status(case_id, "awaiting_approval", actor)
        if macro.status and drafted:  # the lead's decision moves the case (approved: pending; rejected: open)
            note = f"status {macro.status} left to the lead: the reply awaits approval"
            if note not in notes:
                notes.append(note)
        elif macro.status:
            self.cases.set_status(case_id, macro.status, actor)
        self.store.add_events([Event(case_id, int(self.clock()), actor, "macro", {"name": macro.name})])
        return drafted

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
        try:
            return self.undo_log.undo(applied.undoable)
        except UndoError as error:
            raise MacroError(str(error)) from None
