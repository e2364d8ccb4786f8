"""Provides the case threading rules of DESIGN.md as pure functions over a case's state.

No SQL and no I/O here: the ingest path and the case service load a `CaseState`,
ask these functions what a message or an action does to it, and write the result.

The rules:
- an inbound message joins its author's case that is not closed;
- a pending case (we spoke last) with no customer message for `auto_close_after`
  is closed at its last activity + that period;
- a message within `reopen_window` after the close reopens the case, a later one
  starts a new case;
- our reply moves the case to pending; a customer message moves a pending case
  back to open (or new, when nobody owns it).
A message older than the case's last message (late delivery) joins the case as
history and changes no status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from webcare_tui.model import CaseStatus, Direction

DAY = 86_400
SYSTEM = "system"

# A case waits on us while the team still has it (new, open or a reply awaiting a lead's
# approval) and the customer had the last word. This one definition serves the inbox, the
# alerts, the KPIs and the triggers that keep open_case_counts (migration 9 holds a copy:
# changing it here takes a new migration of those triggers; a test checks the two agree).
OPEN_STATUSES = ("new", "open", "awaiting_approval")
WAITS_ON_US = "{row}.status IN ('new', 'open', 'awaiting_approval') AND {row}.last_direction = 'in'"


def waits_on_us(status: str, last_direction: str) -> bool:
    """Whether a case with this status and last direction waits on us (see WAITS_ON_US)."""
    return status in OPEN_STATUSES and last_direction == Direction.IN


@dataclass(frozen=True, slots=True)
class ThreadingRules:
    """The team's settings for threading and closing (seconds)."""

    reopen_window: int = 7 * DAY
    auto_close_after: int = 7 * DAY


@dataclass(slots=True)
class CaseState:
    """What threading needs to know of one case; mirrors a row of `cases`."""

    id: int
    author_id: int
    platform: str
    account: str
    status: str
    owner: str | None
    created_at: int
    last_message_at: int
    last_direction: str
    last_inbound_at: int | None = None
    waiting_since: int | None = None
    closed_at: int | None = None
    message_count: int = 0
    priority: int = 0
    team: str | None = None  # the team the case is for (a routing rule's assign_team, or the helpdesk's)


@dataclass(slots=True)
class Event:
    """One line of a case's audit trail."""

    case_id: int
    at: int
    actor: str
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


class Placement(Enum):
    JOIN = "join"  # into the current case
    REOPEN = "reopen"  # the current case was closed and reopens
    NEW = "new"  # a new case


def due_close_time(case: CaseState, rules: ThreadingRules) -> int:
    """When a pending case closes by itself: its last activity + `auto_close_after`."""
    return case.last_message_at + rules.auto_close_after


def place(case: CaseState | None, at: int, rules: ThreadingRules) -> tuple[Placement, int | None]:
    """Where a message created at `at` goes, given its author's current case.

    Returns:
        The placement and, when the current case was pending long enough to have
        closed by itself before `at`, the time it closed (the caller records it).
    """
    if case is None:
        return Placement.NEW, None
    if at < case.last_message_at:
        return Placement.JOIN, None
    closed_at = case.closed_at if case.status == CaseStatus.CLOSED else None
    auto_closed_at = None
    if case.status == CaseStatus.PENDING and at >= due_close_time(case, rules):
        closed_at = auto_closed_at = due_close_time(case, rules)
    if closed_at is None:
        return Placement.JOIN, None
    if at - closed_at <= rules.reopen_window:
        return Placement.REOPEN, auto_closed_at
    return Placement.NEW, auto_closed_at


def auto_close(case: CaseState, closed_at: int) -> Event:
    """Close a pending case that waited `auto_close_after` for the customer."""
    case.status = CaseStatus.CLOSED
    case.closed_at = closed_at
    return Event(case.id, closed_at, SYSTEM, "status", {"from": "pending", "to": "closed", "reason": "no answer"})


def open_case(case_id: int, author_id: int, platform: str, account: str, at: int) -> CaseState:
    """A new, empty case; `add_message` then records its first message."""
    return CaseState(
        id=case_id, author_id=author_id, platform=platform, account=account,
        status=CaseStatus.NEW, owner=None, created_at=at, last_message_at=at, last_direction="",
    )


def _set_status(case: CaseState, status: str, at: int, actor: str, events: list[Event], **detail: Any) -> None:
    if case.status != status:
        events.append(Event(case.id, at, actor, "status", {"from": case.status, "to": status, **detail}))
        case.status = status
        if status != CaseStatus.CLOSED:
            case.closed_at = None


FIRST_MESSAGE, AFTER_OURS = 2, 1  # a message's run_start: where a run of customer messages starts


def is_late(case: CaseState, at: int) -> bool:
    """Whether a message at `at` comes before the case's last one (delivered late)."""
    return bool(case.message_count) and at < case.last_message_at


def run_start(case: CaseState, direction: str) -> int | None:
    """Whether a message placed after the case's last one starts a run of customer messages:
    FIRST_MESSAGE, AFTER_OURS or None. (The store's RUN_START says the same in SQL, for
    messages that arrive late or move between cases.)"""
    if direction != Direction.IN:
        return None
    if not case.message_count:
        return FIRST_MESSAGE
    return AFTER_OURS if case.last_direction == Direction.OUT else None


def add_message(case: CaseState, at: int, direction: str, agent: str | None) -> list[Event]:
    """Record a message in `case` and move its status as the rules say.

    A status change that follows from the message itself (our reply → pending, the
    customer's answer → open) is recorded by the message; reopening a closed case
    and taking ownership by replying are recorded as events.

    Returns:
        The events the message caused.
    """
    events: list[Event] = []
    case.message_count += 1
    if case.message_count > 1 and at < case.last_message_at:
        return events  # late delivery: history only
    if direction == Direction.IN:
        if case.status == CaseStatus.CLOSED:
            _set_status(case, CaseStatus.OPEN if case.owner else CaseStatus.NEW, at, SYSTEM, events, reason="reopened")
        elif case.status == CaseStatus.PENDING:
            case.status = CaseStatus.OPEN if case.owner else CaseStatus.NEW  # the message itself records it
        if case.last_direction != Direction.IN or case.waiting_since is None:
            case.waiting_since = at
        case.last_inbound_at = at
    else:
        actor = agent or SYSTEM
        if case.owner is None and agent:
            events.append(Event(case.id, at, actor, "assigned", {"from": None, "to": agent, "reason": "replied"}))
            case.owner = agent
        if case.status == CaseStatus.CLOSED:
            _set_status(case, CaseStatus.PENDING, at, actor, events, reason="reopened")
        else:
            case.status = CaseStatus.PENDING  # the reply itself records it
        case.closed_at = None
        case.waiting_since = None
    case.last_message_at = at
    case.last_direction = direction
    return events


def summarize(case: CaseState, messages: list[tuple[int, str]]) -> None:
    """Recompute a case's derived fields from its messages [(created_at, direction)] in order.

    Used after a split or merge moved messages between cases; status and owner stay.
    """
    case.message_count = len(messages)
    if not messages:
        return
    case.created_at = messages[0][0]
    case.last_message_at, case.last_direction = messages[-1]
    inbound = [at for at, direction in messages if direction == Direction.IN]
    case.last_inbound_at = inbound[-1] if inbound else None
    case.waiting_since = None
    for at, direction in reversed(messages):
        if direction != Direction.IN:
            break
        case.waiting_since = at


def status_from_messages(case: CaseState) -> str:
    """The status a case's messages imply, for a case whose messages were moved.

    A closed case or a draft awaiting approval stays as it is.
    """
    if case.status in (CaseStatus.CLOSED, CaseStatus.AWAITING_APPROVAL):
        return case.status
    if case.last_direction == Direction.OUT:
        return CaseStatus.PENDING
    return CaseStatus.OPEN if case.owner else CaseStatus.NEW
