"""Provides `read_case`: everything the case screen shows of one case, read in one go off the
UI thread (the screen only turns it into text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webcare_tui.outbox import is_draft
from webcare_tui.store import Store


@dataclass(frozen=True, slots=True)
class CaseView:
    """One case as read at one moment: the case row with its author, its timeline (messages,
    outbox rows, memos, events), what a reply needs, and the author's side panel."""

    case: dict[str, Any]
    messages: list[dict[str, Any]]
    outbox: list[dict[str, Any]]  # deliveries and drafts, oldest first
    memos: list[dict[str, Any]]
    events: list[dict[str, Any]]
    reply_context: dict[str, Any]
    moods: list[tuple[str | None, float | None]]
    author_cases: list[dict[str, Any]]  # newest first
    crm: dict[str, Any]
    author_memos: list[dict[str, Any]]
    drafts: list[dict[str, Any]]  # the outbox's replies waiting for a lead, oldest first (the footer asks on every key)
    reply_draft: str = ""  # the reply the agent began and left in the composer (see CaseService.keep_draft)


def read_case(store: Store, case_id: int) -> CaseView:
    """The case as the screen shows it (raises StoreError when there is no such case)."""
    with store.snapshot():
        return _read(store, case_id)


def _read(store: Store, case_id: int) -> CaseView:
    case = store.get_case(case_id)
    author_id = case["author_id"]
    outbox = store.case_outbox(case_id)
    return CaseView(
        case=case,
        messages=store.case_messages(case_id),
        outbox=outbox,
        memos=store.case_memos(case_id),
        events=store.case_events(case_id),
        reply_context=store.reply_context(case_id),
        moods=store.author_moods(author_id),
        author_cases=store.author_cases(author_id),
        crm=store.author_crm(author_id) or {},
        author_memos=store.author_memos(author_id),
        drafts=[row for row in outbox if is_draft(row) and row["state"] == "awaiting_approval"],
        reply_draft=draft["text"] if (draft := store.draft(case_id)) is not None else "",
    )
