"""Provides `CaseService`: what an agent (or the system) does to cases.

Each method is one transaction that changes the case and writes its case events,
so the TUI, the CLI and scripts share one path and one audit trail.

Team mode: where the case's account keeps case state itself (a helpdesk such as
Chatwoot, see `Capabilities.case_actions`), the same transaction queues the change
in the outbox as a "case_action" row, and `apply_remote` takes in what teammates
changed there. A teammate's newer change of the owner, status or team wins over ours
that has not gone out yet; ours is then failed with the reason, and the case says
so: nothing is overwritten silently. A teammate's priority is taken too, unless ours
waits to go out; one seen for the first time only raises ours. What the platform last
reported is kept in the store (`remote_case_state`), so "changed there since we last
looked" holds across restarts.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from webcare_tui import case_rules
from webcare_tui.case_rules import CaseState, Event, ThreadingRules
from webcare_tui.connectors.base import Connector, RemoteCase
from webcare_tui.model import CaseStatus
from webcare_tui.store import Store, StoreError

Result = TypeVar("Result")
NOT_SENT = ("queued", "failed", "unknown")  # outbox states of a change that has not reached the platform


PRIORITIES = ("normal", "raised", "high", "urgent")  # a case's priority is an index into this


def next_priority(priority: int) -> int:
    """The priority one key press gives: one step up, and from urgent back to normal."""
    return (priority + 1) % len(PRIORITIES)


class CaseError(ValueError):
    """An action that the rules do not allow; the message says why."""


def case_actions_of(connectors: Mapping[str, Connector]) -> Callable[[str], frozenset[str]]:
    """Which case actions each account's platform keeps itself: `CaseService(remote_actions=...)`."""
    return lambda account: connectors[account].capabilities.case_actions if account in connectors else frozenset()


def no_remote_actions(account: str) -> frozenset[str]:
    """The default: no platform keeps case state, every case is ours alone."""
    return frozenset()


class CaseService:
    """What an agent (or the system) does to cases, one transaction each.

    Args:
        remote_actions: the case actions ("labels", "assign", "status", "memo", "priority", "team") an
            account's platform keeps itself (`case_actions_of(connectors)`); those are queued for it too.
    """

    def __init__(self, store: Store, rules: ThreadingRules = ThreadingRules(),
                 clock: Callable[[], float] = time.time, *,
                 remote_actions: Callable[[str], frozenset[str]] = no_remote_actions,
                 new_key: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock
        self.remote_actions = remote_actions
        self.new_key = new_key

    def _now(self) -> int:
        return int(self.clock())

    def _queue_remote(self, case_id: int, action: str, value: dict[str, Any], now: int) -> dict[str, int]:
        """Queue the change for the case's platform where it keeps that itself (call inside the
        transaction of the local change); returns {"outbox_id": id} for the event, or {}."""
        if self.remote_actions is no_remote_actions:
            return {}
        context = self.store.reply_context(case_id)
        account = context["last_inbound_account"] or context["account"]
        if action not in self.remote_actions(account):
            return {}
        payload = {"action": action, "value": value, "in_reply_to": context["last_inbound_id"]}
        return {"outbox_id": self.store.add_outbox(self.new_key(), case_id, account, context["platform"],
                                                   "case_action", payload, now)}

    def _case(self, case_id: int) -> CaseState:
        try:
            return self.store.case_state(case_id)
        except StoreError as error:
            raise CaseError(str(error)) from None

    def for_all(self, case_ids: list[int], change: Callable[[int], None]) -> None:
        """`change` applied to every case in one transaction: all of them change, or none (bulk actions).

        Raises:
            CaseError: one case could not change; none did.
        """
        with self.store.transaction():
            for case_id in case_ids:
                change(case_id)

    def assign(self, case_id: int, agent: str | None, actor: str) -> None:
        """Give the case to `agent` (None: back to the unassigned queue)."""
        with self.store.transaction():
            case = self._case(case_id)
            if case.owner == agent:
                return
            now = self._now()
            queued = self._queue_remote(case_id, "assign", {"owner": agent}, now)
            events = [Event(case_id, now, actor, "assigned", {"from": case.owner, "to": agent} | queued)]
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
                self._align_remote_status(case_id, status)
                return
            now = self._now()
            if status == CaseStatus.OPEN and not case.owner:
                status = CaseStatus.NEW  # open means somebody owns it
            queued = {} if status == CaseStatus.AWAITING_APPROVAL else (  # an approval is ours alone
                self._queue_remote(case_id, "status", {"status": status}, now))
            event = Event(case_id, now, actor, "status", {"from": case.status, "to": status} | queued)
            case.status = status
            case.closed_at = now if status == CaseStatus.CLOSED else None
            if status in (CaseStatus.NEW, CaseStatus.OPEN) and case.waiting_since is None:
                case.waiting_since = now  # reopened by hand: it waits on us from now on
            self.store.save_case(case)
            self.store.add_events([event])

    def _align_remote_status(self, case_id: int, status: str) -> None:
        """The case has `status` here already (our reply made it pending), but the platform that
        keeps case state last said otherwise: ask it for `status` too (a macro's "pending")."""
        if self.remote_actions is no_remote_actions:
            return
        known = self.store.remote_case_state(case_id)
        if known is None or known["status"] is None or status == CaseStatus.AWAITING_APPROVAL:
            return
        same = CaseStatus.OPEN if status == CaseStatus.NEW else status  # the platform has no "new"
        waiting = any(row["payload"]["action"] == "status" for row in self.store.case_actions_waiting(case_id))
        if known["status"] != same and not waiting:
            self._queue_remote(case_id, "status", {"status": status}, self._now())

    def set_priority(self, case_id: int, priority: int, actor: str) -> None:
        """0 normal … 3 urgent (`PRIORITIES`)."""
        if priority not in range(len(PRIORITIES)):
            raise CaseError("priority is 0 (normal) to 3 (urgent)")
        with self.store.transaction():
            case = self._case(case_id)
            if case.priority != priority:
                now = self._now()
                queued = self._queue_remote(case_id, "priority", {"priority": priority}, now)  # Chatwoot keeps one too
                event = Event(case_id, now, actor, "priority", {"from": case.priority, "to": priority} | queued)
                case.priority = priority
                self.store.save_case(case)
                self.store.add_events([event])

    def set_team(self, case_id: int, team: str | None, actor: str) -> None:
        """Put the case with `team` (None: no team); where the platform keeps teams (Chatwoot), it is told too."""
        team = (team or "").strip() or None
        with self.store.transaction():
            case = self._case(case_id)
            if case.team == team:
                return
            now = self._now()
            queued = self._queue_remote(case_id, "team", {"team": team}, now)
            event = Event(case_id, now, actor, "team", {"from": case.team, "to": team} | queued)
            case.team = team
            self.store.save_case(case)
            self.store.add_events([event])

    def share_team(self, case_id: int) -> bool:
        """Tell the case's platform the team our side gave the case (a routing rule at ingest), where the
        platform keeps teams (team mode) and has not got it yet: a "team" case action in the outbox, as
        `set_team` queues one. Call it inside the transaction that gave the team, before `apply_remote`
        takes in the platform's state of the same page: ours, queued, then waits to go out.

        Returns:
            Whether a case action was queued.
        """
        with self.store.transaction():
            team = self._case(case_id).team
            known = self.store.remote_case_state(case_id)
            if known is not None and known["team"] is not None and _same_team(known["team"] or None, team):
                return False  # the platform has it already
            if any(row["payload"]["action"] == "team" and row["state"] != "failed"
                   and _same_team(row["payload"]["value"].get("team"), team)
                   for row in self.store.case_actions_waiting(case_id)):
                return False  # on its way
            return bool(self._queue_remote(case_id, "team", {"team": team}, self._now()))

    def label(self, case_id: int, actor: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        add = [name.strip() for name in add if name.strip()]
        remove = [name.strip() for name in remove if name.strip()]
        with self.store.transaction():
            self._case(case_id)
            before = set(self.store.case_labels(case_id))
            self.store.set_labels(case_id, add, remove)
            after = set(self.store.case_labels(case_id))
            if before != after:
                detail: dict[str, Any] = {"added": sorted(after - before), "removed": sorted(before - after)}
                now = self._now()
                detail |= self._queue_remote(case_id, "labels", {"add": detail["added"], "remove": detail["removed"]},
                                             now)
                self.store.add_events([Event(case_id, now, actor, "labels", detail)])

    def memo(self, case_id: int, actor: str, text: str) -> int:
        """An internal note on the case; never sent to the customer."""
        if not text.strip():
            raise CaseError("a memo needs some text")
        with self.store.transaction():
            case = self._case(case_id)
            now = self._now()
            memo_id = self.store.add_memo(case_id, case.author_id, actor, text, now)
            queued = self._queue_remote(case_id, "memo", {"text": text}, now)
            self.store.add_events([Event(case_id, now, actor, "memo", {"memo_id": memo_id} | queued)])
            return memo_id

    def keep_draft(self, case_id: int, agent: str, text: str) -> None:
        """Keep the reply `agent` began in the case, to finish later (also after a restart); an empty
        one is no draft: the case's draft goes."""
        with self.store.transaction():
            self._case(case_id)  # a case that is gone keeps no draft
            self.store.save_draft(case_id, agent, text, self._now())

    def without_draft(self, case_id: int, reply: Callable[[], Result]) -> Result:
        """`reply()` (the outbox queues the reply begun in the case) and the case's draft gone with it,
        in one transaction: a reply refused leaves the draft as it was."""
        with self.store.transaction():
            result = reply()
            self.store.delete_draft(case_id)
        return result

    def split(self, message_id: int, actor: str) -> int:
        """Move a message and every later one of its case into a new case; returns its id."""
        with self.store.transaction():
            case_id, created_at = self.store.message_position(message_id)
            old = self._case(case_id)
            now = self._now()
            new = case_rules.open_case(0, old.author_id, old.platform, old.account, created_at)  # SQLite picks its id
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
            drafts = self.store.move_drafts(source_id, target_id)  # a reply waiting for a lead goes along
            case_rules.summarize(target, self.store.case_message_times(target_id))
            if was_closed:  # the merged-in conversation is still going on
                target.status, target.closed_at = source.status, None
            target.status = case_rules.status_from_messages(target)
            if drafts:
                target.status, target.closed_at = CaseStatus.AWAITING_APPROVAL, None
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

    # -- team mode: what teammates changed on the platform --------------------

    def apply_remote(self, account: str, platform: str, remote: RemoteCase) -> int:
        """Take in the platform's state of one conversation (call it after its messages are ingested).

        A field the platform changed since it last reported becomes the case's, written to the
        case events with the platform as actor. Where our own change of the owner, status or team has
        not gone out yet: a newer remote change wins and ours is failed with the reason (an event
        "conflict" and the outbox row's last_error); an older one waits for ours to arrive. Labels
        merge: ours still queued are kept on top of theirs (the platform call is read-modify-write).
        The priority: a change there becomes ours unless ours waits to go out (it then becomes
        theirs); one seen for the first time only raises ours (a routing rule's priority is never
        lowered by a conversation nobody prioritised there). What was reported is kept in
        `remote_case_state`, so all of this holds across restarts.

        Returns:
            How many fields of the case changed; 0 when the conversation has no case here.
        """
        with self.store.transaction():
            case_id = self.store.case_of_thread(platform, remote.thread)
            if case_id is None:
                return 0
            known = self.store.remote_case_state(case_id)
            if known is not None and remote.updated_at < known["updated_at"]:
                return 0  # an older report than the one applied
            known = known or {"status": None, "owner": None, "labels": None, "priority": None, "team": None,
                              "updated_at": None}
            first = known["updated_at"] is None
            case = self._case(case_id)
            waiting = self.store.case_actions_waiting(case_id)
            now = self._now()
            events: list[Event] = []
            saved: dict[str, Any] = {"status": remote.status, "owner": remote.owner, "labels": remote.labels,
                                     "team": remote.team}
            for field, action in (("owner", "assign"), ("status", "status"), ("team", "team")):
                theirs = getattr(remote, field)
                # a team first seen (or first since the store kept teams) is taken like a change
                if (field != "owner" and theirs is None) or (not first and theirs == known[field]):
                    saved[field] = known[field]
                    continue  # not reported, or not changed there
                if field == "team":
                    theirs = theirs or None  # the connector's "" is no team
                ours = [row for row in waiting if row["payload"]["action"] == action]
                if any(row["state"] == "sending" for row in ours):
                    saved[field] = known[field]  # on its way: look again at the next sync
                    continue
                if ours and remote.updated_at <= max(row["created_at"] for row in ours):
                    continue  # ours is newer: it goes out and will be the platform's state
                for row in ours:
                    events.append(self._conflict(row, case_id, field, theirs, platform, now))
                events.extend(self._take_remote(case, field, theirs, platform, remote.updated_at))
            if remote.labels is not None and (first or _folded(remote.labels) != _folded(known["labels"] or [])):
                events.extend(self._take_remote_labels(case_id, remote.labels, waiting, platform, now))
            else:
                saved["labels"] = known["labels"] if remote.labels is None else list(remote.labels)
            saved["priority"] = known["priority"]
            if remote.priority is not None and remote.priority in range(len(PRIORITIES)):
                saved["priority"] = remote.priority
                if remote.priority != known["priority"]:  # changed there since we last looked, or first seen
                    events.extend(self._take_remote_priority(case, remote.priority, known["priority"], waiting,
                                                             platform, remote.updated_at))
            self.store.save_case(case)
            self.store.save_remote_case_state(case_id, account, saved["status"], saved["owner"],
                                              None if saved["labels"] is None else list(saved["labels"]),
                                              remote.updated_at, priority=saved["priority"], team=saved["team"])
            self.store.add_events(events)
            return sum(1 for event in events if event.kind != "conflict")

    def _conflict(self, row: dict, case_id: int, field: str, theirs: Any, platform: str, now: int) -> Event:
        yours = row["payload"]["value"].get(field)  # {"owner": …}, {"status": …}, {"team": …}
        reason = (f"not sent: on {platform} the {field} was changed to {theirs or 'nobody'} after you set it to"
                  f" {yours or 'nobody'}; theirs is kept. Apply yours again if it still holds.")
        self.store.update_outbox(row["id"], now, state="failed", last_error=reason)
        return Event(case_id, now, platform, "conflict", {"field": field, "yours": yours, "theirs": theirs,
                                                          "outbox_id": row["id"], "message": reason})

    @staticmethod
    def _take_remote(case: CaseState, field: str, theirs: Any, actor: str, at: int) -> list[Event]:
        """Set the case's owner, status or team to the platform's (in memory; the caller saves)."""
        if field == "owner":
            if case.owner == theirs:
                return []
            event = Event(case.id, at, actor, "assigned", {"from": case.owner, "to": theirs})
            case.owner = theirs
            return [event]
        if field == "team":
            if _same_team(case.team, theirs):
                return []  # Chatwoot keeps team names in lower case: "Hypotheken" is its "hypotheken"
            event = Event(case.id, at, actor, "team", {"from": case.team, "to": theirs})
            case.team = theirs
            return [event]
        status = CaseStatus.NEW if theirs == CaseStatus.OPEN and not case.owner else theirs
        if status not in CaseStatus.__members__.values() or case.status == status:
            return []
        event = Event(case.id, at, actor, "status", {"from": case.status, "to": status})
        case.status = status
        case.closed_at = at if status == CaseStatus.CLOSED else None
        if status in (CaseStatus.NEW, CaseStatus.OPEN) and case.waiting_since is None:
            case.waiting_since = at
        return [event]

    @staticmethod
    def _take_remote_priority(case: CaseState, theirs: int, last: int | None, waiting: list[dict], actor: str,
                              at: int) -> list[Event]:
        """Set the case's priority to the platform's, which is not `last` (what it reported before; None:
        never), in memory; the caller saves."""
        if case.priority == theirs or (last is None and theirs < case.priority):
            return []  # the same already; or seen for the first time, when it may only raise ours
        if any(row["payload"]["action"] == "priority" for row in waiting):
            return []  # ours goes out and becomes theirs
        event = Event(case.id, at, actor, "priority", {"from": case.priority, "to": theirs})
        case.priority = theirs
        return [event]

    def _take_remote_labels(self, case_id: int, theirs: Iterable[str], waiting: list[dict], actor: str,
                            now: int) -> list[Event]:
        """The case's labels become the platform's, with our label changes not yet sent on top."""
        wanted = {label.casefold(): label for label in theirs}
        for row in waiting:
            if row["payload"]["action"] == "labels":
                wanted |= {label.casefold(): label for label in row["payload"]["value"].get("add", [])}
                for label in row["payload"]["value"].get("remove", []):
                    wanted.pop(label.casefold(), None)
        before = {label.casefold(): label for label in self.store.case_labels(case_id)}
        add = [label for key, label in wanted.items() if key not in before]
        remove = [label for key, label in before.items() if key not in wanted]
        if not add and not remove:
            return []
        self.store.set_labels(case_id, add, remove)
        return [Event(case_id, now, actor, "labels", {"added": sorted(add), "removed": sorted(remove)})]


def _folded(labels: Iterable[str]) -> set[str]:
    return {label.casefold() for label in labels}


def _same_team(one: str | None, other: str | None) -> bool:
    """Whether two team names name one team (Chatwoot keeps its team names in lower case)."""
    return (one or "").casefold() == (other or "").casefold()
