"""Provides `Approvals`: a lead approves, edits and approves, or rejects a reply draft.

Agents marked `needs_approval = true` in the config's team (new hires), and macros with
`request_approval = true`, write replies that wait for a lead: `Outbox.queue_reply` stores
them as drafts, outbox rows in state "awaiting_approval" that the outbox worker never
selects, with no message in the case (nothing was sent). The case awaits approval while
a draft waits. Only agents with `role = "lead"` decide, and never on their own draft:

- approve: the draft becomes our reply in the case and its row is queued, in one
  transaction with an "approved" event naming the lead; the case goes to pending as
  with any reply (it keeps awaiting approval while another draft waits);
- edit and approve: the same with the lead's text, checked against the platform's limit;
- reject: the row becomes "rejected" (never sent), the lead's explanation is an event
  and a memo the agent sees on the case, and the case is open again (owner unchanged).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from webcare_tui.case_rules import Event
from webcare_tui.outbox import checked_text, post_reply, settle_after_draft
from webcare_tui.store import Store, StoreError

LEAD = "lead"


class ApprovalError(ValueError):
    """An approval or rejection that cannot be done; the message says why, nothing changed."""


def member(team: Iterable[dict[str, Any]], agent: str) -> dict[str, Any]:
    """The team entry of `agent` ({} when the config does not list them)."""
    return next((entry for entry in team if isinstance(entry, dict) and str(entry.get("id")) == agent), {})


def is_lead(team: Iterable[dict[str, Any]], agent: str) -> bool:
    """Whether `agent` has `role = "lead"` in the config's team."""
    return member(team, agent).get("role") == LEAD


def leads(team: Iterable[dict[str, Any]]) -> list[str]:
    return [str(entry["id"]) for entry in team if isinstance(entry, dict) and entry.get("role") == LEAD]


def needs_approval(team: Iterable[dict[str, Any]], agent: str) -> bool:
    """Whether `agent`'s replies wait for a lead. Anything but an absent or false
    `needs_approval` counts as yes: a typo must not let a reply out unapproved."""
    return member(team, agent).get("needs_approval", False) is not False


def approval_rule(team: Iterable[dict[str, Any]]) -> Callable[[str], bool]:
    """`needs_approval` for this team, as `Outbox(needs_approval=...)` takes it."""
    entries = tuple(team)
    return lambda agent: needs_approval(entries, agent)


def team_problems(team: Iterable[dict[str, Any]]) -> list[str]:
    """What is wrong with the approval settings of the team entries (for the config check)."""
    problems = []
    for entry in team:
        if not isinstance(entry, dict):
            continue
        who = entry.get("id", "?")
        if "needs_approval" in entry and not isinstance(entry["needs_approval"], bool):
            problems.append(f"team agent {who!r}: needs_approval is true or false")
        if "role" in entry and entry["role"] != LEAD:
            problems.append(f"team agent {who!r}: role is \"lead\" or left out, not {entry['role']!r}")
    return problems


class Approvals:
    """What a lead does with reply drafts; each decision is one transaction with its case events.

    Args:
        team: the config's `[team] agents` entries (`Config.team`).
    """

    def __init__(self, store: Store, team: Iterable[dict[str, Any]], clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.team = tuple(team)
        self.clock = clock

    def drafts(self, case_id: int) -> list[dict[str, Any]]:
        """The case's drafts waiting for a lead, oldest first (outbox rows; text in payload["text"])."""
        return self.store.case_drafts(case_id)

    def check_lead(self, agent: str, verb: str = "approve") -> None:
        """Raises ApprovalError unless `agent` is a lead (the message names the leads)."""
        if not is_lead(self.team, agent):
            names = ", ".join(leads(self.team)) or "nobody: give someone role = \"lead\" in [team]"
            raise ApprovalError(f"only a lead can {verb} a reply (leads: {names})")

    def _draft(self, outbox_id: int, lead: str, verb: str) -> dict[str, Any]:
        """The waiting draft `outbox_id`, once `lead` may decide on it (inside the transaction)."""
        self.check_lead(lead, verb)
        try:
            row = self.store.outbox_row(outbox_id)
        except StoreError as error:
            raise ApprovalError(str(error)) from None
        if row["kind"] != "reply" or row["state"] != "awaiting_approval":
            raise ApprovalError(f"that reply is {row['state']}, not awaiting approval")
        return row

    def approve(self, outbox_id: int, lead: str, *, text: str | None = None) -> None:
        """Send the draft as it is, or with the lead's `text` (edit and approve).

        Raises:
            ApprovalError: `lead` is not a lead, wrote the draft, or it no longer waits.
            ReplyError: the edited text is empty or too long for the platform.
        """
        now = int(self.clock())
        with self.store.transaction():
            row = self._draft(outbox_id, lead, "approve")
            payload = row["payload"]
            author = payload["agent"]
            if author == lead:
                raise ApprovalError("you wrote this reply: another lead approves it")
            final = payload["text"] if text is None else checked_text(text, row["platform"], payload["visibility"])
            case_id = row["case_id"]
            context = self.store.reply_context(case_id)  # the customer may have written since
            status_before = self.store.case_state(case_id).status
            self.store.update_outbox(outbox_id, now, state="queued")  # no longer a draft the case waits for
            message_id, events = post_reply(self.store, case_id, context, row["idempotency_key"], final,
                                            payload["visibility"], author, row["account"], now)
            self.store.set_outbox_payload(outbox_id, {
                "message_id": message_id, "text": final, "visibility": payload["visibility"],
                "recipient_id": context["recipient_id"], "in_reply_to": context["last_inbound_id"],
                "agent": author, "approved_by": lead,
            }, now)
            case = self.store.case_state(case_id)
            detail: dict[str, Any] = {"outbox_id": outbox_id, "agent": author}
            if final != payload["text"]:
                detail |= {"edited": True, "draft": payload["text"]}
            events.append(Event(case_id, now, lead, "approved", detail))
            if case.status != status_before and not any(event.kind == "status" for event in events):
                events.append(Event(case_id, now, lead, "status", {"from": status_before, "to": case.status}))
            events.append(Event(case_id, now, author, "reply", {"outbox_id": outbox_id, "approved_by": lead}))
            self.store.add_events(events)

    def reject(self, outbox_id: int, lead: str, reason: str) -> int:
        """Refuse the draft with an explanation for its agent; returns the memo's id.

        The draft is never sent and no message of it stays in the case; the explanation is
        a "rejected" event and a memo on the case.

        Raises:
            ApprovalError: no reason, `lead` is not a lead, or the draft no longer waits.
        """
        reason = " ".join(reason.split())
        if not reason:
            raise ApprovalError("give the agent a reason for the rejection")
        now = int(self.clock())
        with self.store.transaction():
            row = self._draft(outbox_id, lead, "reject")
            case_id, author = row["case_id"], row["payload"]["agent"]
            self.store.update_outbox(outbox_id, now, state="rejected", last_error=reason)
            case = self.store.case_state(case_id)
            memo_id = self.store.add_memo(case_id, case.author_id, lead,
                                          f"Reply of {author} not approved by {lead}: {reason}", now)
            events = [
                Event(case_id, now, lead, "rejected", {"outbox_id": outbox_id, "agent": author, "reason": reason}),
                Event(case_id, now, lead, "memo", {"memo_id": memo_id}),
                *settle_after_draft(self.store, case_id, now, lead),
            ]
            self.store.add_events(events)
            return memo_id

