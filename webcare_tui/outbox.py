"""Provides the outbox: a reply is stored at once and delivered in order, never lost, never twice.

`Outbox.queue_reply` writes the agent's reply into the case (which moves to
pending) and an outbox row with an idempotency key, in one transaction, online
or offline. `OutboxWorker` delivers due rows through the account's connector:
retrying network faults with backoff, waiting out rate limits, failing on a
permanent refusal with the platform's words. A row whose outcome is unknown
(a crash or timeout mid-send) is repeated only where the platform honours the
idempotency key (`Connector.sends_once_per_key`: for Mastodon, where the server's
software promises it, within the hour it keeps a key); elsewhere it is looked up among the account's own posts, and
when that cannot tell, it waits for the agent instead of risking a double post.

Rows of kind "case_action" carry an agent's label, assignment, status or memo change
to a platform that keeps case state itself (Chatwoot); `CaseService` queues them with
the local change. They go in order with the case's replies, under the same retry,
backoff and failure rules. Setting labels, owner or status twice is harmless, so
those are simply repeated after an unknown outcome; a memo (a note on the platform)
is looked up first, like a reply.

A reply that needs a lead's approval (the agent is marked `needs_approval`, or a
macro asks for it) is stored as a draft: an outbox row in state "awaiting_approval"
that the worker never selects, with no message in the case yet. `approvals.Approvals`
turns it into a queued reply or rejects it.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from webcare_tui import case_rules
from webcare_tui.case_rules import Event, ThreadingRules
from webcare_tui.connectors.base import CaseAction, Connector, ConnectorError, OutgoingReply, SentReply
from webcare_tui.model import CaseStatus
from webcare_tui.platforms import LIKE_PLATFORMS, MAX_PRIVATE_REPLY_LENGTH, MAX_REPLY_LENGTH, reply_length
from webcare_tui.store import Store, StoreError
from webcare_tui.sync import backoff

UNKNOWN_HELP = "it may have reached the platform; check there, then retry or discard it"


UNDELIVERED = ("failed", "unknown")  # states an agent may retry or discard


class ReplyError(ValueError):
    """A reply that cannot be queued as it is; the message says why."""



def reply_limit(platform: str, visibility: str = "public") -> int | None:
    """The most characters a reply may have (an Instagram DM allows 1000, a comment 2200)."""
    if visibility == "private" and platform in MAX_PRIVATE_REPLY_LENGTH:
        return MAX_PRIVATE_REPLY_LENGTH[platform]
    return MAX_REPLY_LENGTH.get(platform)


def checked_text(text: str, platform: str, visibility: str = "public") -> str:
    """The reply text as it will be sent.

    Raises:
        ReplyError: empty, or longer than the platform allows.
    """
    text = text.strip()
    if not text:
        raise ReplyError("the reply is empty")
    limit = reply_limit(platform, visibility)
    length = reply_length(platform, text)
    if limit is not None and length > limit:
        raise ReplyError(f"the reply has {length} characters; {platform} allows {limit}"
                         + (" in a private message" if limit != reply_limit(platform) else ""))
    return text


def nobody_needs_approval(agent: str) -> bool:
    """The default: every agent's replies go straight to the outbox."""
    return False


def post_reply(store: Store, case_id: int, context: dict, key: str, text: str, visibility: str, agent: str,
               account: str, now: int) -> tuple[int, list[Event]]:
    """Write our reply into its case (call inside a transaction): the message, and what it does to the case.

    Returns:
        The message id and the events the reply caused (owner by replying, status).
    """
    message_id = store.insert_message(case_id, context["author_row"], context["platform"], account, f"local:{key}",
                                      text, now, "out", visibility, context["last_inbound_id"], agent)
    case = store.case_state(case_id)
    events = case_rules.add_message(case, now, "out", agent)
    if store.case_drafts(case_id):  # a draft still waits for a lead: so does the case
        case.status, case.closed_at = CaseStatus.AWAITING_APPROVAL, None
    store.save_case(case)
    return message_id, events


class Outbox:
    """What an agent's send, retry and discard do to the store.

    Args:
        needs_approval: whether an agent's replies wait for a lead (`approvals.approval_rule(team)`).
    """

    def __init__(self, store: Store, rules: ThreadingRules = ThreadingRules(), clock: Callable[[], float] = time.time,
                 new_key: Callable[[], str] = lambda: uuid.uuid4().hex, *,
                 needs_approval: Callable[[str], bool] = nobody_needs_approval) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock
        self.new_key = new_key
        self.needs_approval = needs_approval

    def queue_reply(self, case_id: int, text: str, *, agent: str, visibility: str = "same",
                    approval: bool = False) -> int:
        """Store `text` (signature included) as our reply in the case and queue it; returns the outbox id.

        An agent's action holds it for the undo grace period (`undo.Undo.record`). With `approval` (a macro's request_approval), or when `agent` needs approval, the
        reply becomes a draft that waits for a lead instead (see `is_draft`).

        Raises:
            ReplyError: empty, or longer than the platform allows.
        """
        if not text.strip():
            raise ReplyError("the reply is empty")
        now = int(self.clock())
        with self.store.transaction():
            context = self.store.reply_context(case_id)
            platform = context["platform"]
            visibility = reply_visibility(context, visibility)
            if visibility not in ("public", "private"):
                raise ReplyError(f"visibility is public, private or same, not {visibility!r}")
            text = checked_text(text, platform, visibility)
            account = context["last_inbound_account"] or context["account"]
            key = self.new_key()
            if approval or self.needs_approval(agent):
                return self._queue_draft(case_id, context, key, text, visibility, agent, account, now)
            message_id, events = post_reply(self.store, case_id, context, key, text, visibility, agent, account, now)
            outbox_id = self.store.add_outbox(key, case_id, account, platform, "reply", {
                "message_id": message_id, "text": text, "visibility": visibility,
                "recipient_id": context["recipient_id"], "in_reply_to": context["last_inbound_id"],
            }, now)
            self.store.add_events([*events, Event(case_id, now, agent, "reply", {"outbox_id": outbox_id})])
            return outbox_id

    def _queue_draft(self, case_id: int, context: dict, key: str, text: str, visibility: str, agent: str,
                     account: str, now: int) -> int:
        """A reply that waits for a lead: no message in the case yet (nothing was sent), the case
        awaits approval, and the drafting agent owns it as a reply would make them."""
        outbox_id = self.store.add_outbox(key, case_id, account, context["platform"], "reply", {
            "message_id": None, "text": text, "visibility": visibility, "recipient_id": context["recipient_id"],
            "in_reply_to": context["last_inbound_id"], "agent": agent,
        }, now, state="awaiting_approval")
        case = self.store.case_state(case_id)
        events = []
        if case.owner is None:
            events.append(Event(case_id, now, agent, "assigned", {"from": None, "to": agent, "reason": "drafted"}))
            case.owner = agent
        if case.status != CaseStatus.AWAITING_APPROVAL:
            events.append(Event(case_id, now, agent, "status", {"from": case.status, "to": "awaiting_approval"}))
            case.status, case.closed_at = CaseStatus.AWAITING_APPROVAL, None
        self.store.save_case(case)
        self.store.add_events([*events, Event(case_id, now, agent, "approval requested", {"outbox_id": outbox_id})])
        return outbox_id

    def queue_like(self, case_id: int, *, agent: str) -> int:
        """Like the customer's last message on its platform; returns the outbox id.

        Raises:
            ReplyError: the platform has no likes, or there is no customer message.
        """
        now = int(self.clock())
        with self.store.transaction():
            context = self.store.reply_context(case_id)
            if context["platform"] not in LIKE_PLATFORMS:
                raise ReplyError(f"{context['platform']} has no likes")
            if not context["last_inbound_id"]:
                raise ReplyError("there is no customer message to like")
            account = context["last_inbound_account"] or context["account"]
            outbox_id = self.store.add_outbox(self.new_key(), case_id, account, context["platform"], "like",
                                              {"external_id": context["last_inbound_id"]}, now)
            self.store.add_events([Event(case_id, now, agent, "like", {"outbox_id": outbox_id})])
            return outbox_id

    def last_undelivered(self, case_id: int) -> dict:
        """The case's newest outbox row that failed or whose outcome is unknown (what retry and discard act on).

        Raises:
            ReplyError: the case has none.
        """
        rows = [row for row in self.store.case_outbox(case_id) if row["state"] in UNDELIVERED]
        if not rows:
            raise ReplyError("no failed reply in this case")
        return rows[-1]

    def retry(self, outbox_id: int, actor: str) -> None:
        """Send a failed (or unknown) row again."""
        with self.store.transaction():
            row = self.store.outbox_row(outbox_id)
            if row["state"] not in UNDELIVERED:
                raise ReplyError(f"that reply is {row['state']}, not failed")
            now = int(self.clock())
            self.store.update_outbox(outbox_id, now, state="queued", next_attempt_at=None, last_error=None)
            self.store.add_events([Event(row["case_id"], now, actor, "reply retried", {"outbox_id": outbox_id})])

    def discard(self, outbox_id: int, actor: str) -> None:
        """Give up on a row that was not delivered: the reply leaves the case too."""
        with self.store.transaction():
            row = self.store.outbox_row(outbox_id)
            if row["state"] in ("sent", "discarded", "sending", "rejected"):
                raise ReplyError(f"that reply is {row['state']}; only a queued, failed or unknown one can be discarded")
            now = int(self.clock())
            self.store.update_outbox(outbox_id, now, state="discarded")
            if row["kind"] != "reply":
                self.store.add_events([Event(row["case_id"], now, actor, f"{row['kind']} discarded",
                                             {"outbox_id": outbox_id})])
                return
            if is_draft(row):  # never in the case: the case stops waiting for a lead once no draft is left
                events = [Event(row["case_id"], now, actor, "draft discarded", {"outbox_id": outbox_id})]
                events += settle_after_draft(self.store, row["case_id"], now, actor)
                self.store.add_events(events)
                return
            self.store.delete_message(row["payload"]["message_id"])
            case = self.store.case_state(row["case_id"])
            case_rules.summarize(case, self.store.case_message_times(case.id))
            if case.status == "pending" and case.last_direction == "in":  # the customer waits again
                case.status = "open" if case.owner else "new"
            self.store.save_case(case)
            self.store.add_events([Event(row["case_id"], now, actor, "reply discarded", {"outbox_id": outbox_id})])


def reply_visibility(context: dict, asked: str) -> str:
    """The visibility of a reply: "same" is that of the customer's last message (public when unknown)."""
    return context["last_inbound_visibility"] or "public" if asked == "same" else asked


def is_draft(row: dict) -> bool:
    """Whether an outbox row is a reply that never went to the outbox: waiting for, or refused by, a lead."""
    return row["kind"] == "reply" and row["payload"].get("message_id") is None


def settle_after_draft(store: Store, case_id: int, now: int, actor: str) -> list[Event]:
    """A draft left the case without being sent (call inside the transaction): when no other
    draft waits, the case goes back to open (new without an owner), or to pending where our
    reply is still the last word. Returns the status event."""
    case = store.case_state(case_id)
    if case.status != CaseStatus.AWAITING_APPROVAL or store.case_drafts(case_id):
        return []
    if case.last_direction == "out":
        status = CaseStatus.PENDING
    else:
        status = CaseStatus.OPEN if case.owner else CaseStatus.NEW
    event = Event(case_id, now, actor, "status", {"from": case.status, "to": status})
    case.status = status
    store.save_case(case)
    return [event]


@dataclass(frozen=True)
class Delivery:
    outbox_id: int
    state: str  # sent, queued (will retry), failed, unknown
    error: str | None = None
    case_id: int | None = None


def _delivery(row: dict, state: str, error: str | None = None) -> Delivery:
    return Delivery(row["id"], state, error, row["case_id"])


class OutboxWorker:
    """Delivers due outbox rows through the connectors (plain asyncio; the TUI runs it)."""

    def __init__(self, store: Store, connectors: dict[str, Connector], clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.connectors = connectors
        self.clock = clock
        self.rng = rng or random.Random()

    def _connector(self, account: str) -> Connector | None:
        if account in self.connectors:
            return self.connectors[account]
        demo = [c for c in self.connectors.values() if c.platform == "demo"]
        return demo[0] if demo else None  # the demo speaks for all its demo-* accounts

    @staticmethod
    def _reply(row: dict) -> OutgoingReply:
        payload = row["payload"]
        return OutgoingReply(row["idempotency_key"], row["platform"], row["account"], payload["recipient_id"],
                             payload["text"], payload["visibility"], payload["in_reply_to"])

    @staticmethod
    def _case_action(row: dict) -> CaseAction:
        payload = row["payload"]
        return CaseAction(row["idempotency_key"], row["platform"], row["account"], payload["action"],
                          payload["value"], payload.get("in_reply_to"))

    def _idempotent(self, row: dict, connector: Connector) -> bool:
        """Whether sending the row again cannot publish it twice."""
        if row["kind"] == "case_action":
            return row["payload"]["action"] != "memo"  # labels, owner and status are set, not added
        if row["kind"] == "like":
            return True  # liking twice is one like
        # Mastodon: only where the server's software promises it, and for an hour; the key was made when
        # the row was, so it is at least this old
        return connector.sends_once_per_key(key_age=self.clock() - row["created_at"])

    async def _mark(self, row: dict, **fields) -> None:
        await asyncio.to_thread(self._write_mark, row["id"], fields)  # SQL off the event loop

    def _write_mark(self, outbox_id: int, fields: dict) -> None:
        with self.store.transaction():
            self.store.update_outbox(outbox_id, int(self.clock()), **fields)

    async def _sent(self, row: dict, sent: SentReply) -> Delivery:
        await asyncio.to_thread(self._write_sent, row, sent)
        return _delivery(row, "sent")

    def _write_sent(self, row: dict, sent: SentReply) -> None:
        with self.store.transaction():
            self.store.update_outbox(row["id"], int(self.clock()), state="sent", remote_id=sent.external_id,
                                     last_error=None)
            self.store.confirm_message(row["payload"]["message_id"], sent.external_id, sent.url)

    async def prepare(self) -> None:
        """Let every connector learn what its platform promises (`Connector.prepare`: a Mastodon
        server's software, whether it keeps Idempotency-Key) before anything is recovered or sent."""
        connectors = list({id(connector): connector for connector in self.connectors.values()}.values())
        await asyncio.gather(*(connector.prepare() for connector in connectors))

    async def recover(self) -> list[Delivery]:
        """After a crash: settle rows left 'sending' (and earlier 'unknown' ones) without sending twice."""
        results = []
        rows = await asyncio.to_thread(lambda: self.store.outbox_in_state("sending") + self.store.outbox_in_state("unknown"))
        for row in rows:
            connector = self._connector(row["account"])
            if connector is None:
                continue
            if self._idempotent(row, connector):
                await self._mark(row, state="queued", next_attempt_at=None)  # a repeat is harmless
                results.append(_delivery(row, "queued"))
                continue
            try:
                if row["kind"] == "case_action":
                    applied = await connector.find_case_action(self._case_action(row))
                    if applied:
                        await self._mark(row, state="sent", last_error=None)
                        results.append(_delivery(row, "sent"))
                    else:
                        await self._mark(row, state="queued", next_attempt_at=None)
                        results.append(_delivery(row, "queued"))
                    continue
                found = await connector.find_sent(self._reply(row))
            except ConnectorError as error:
                error = connector.safe(error)
                await self._mark(row, state="unknown", last_error=f"{UNKNOWN_HELP} ({error.message})")
                results.append(_delivery(row, "unknown", error.message))
                continue
            if found is not None:
                results.append(await self._sent(row, found))
            else:
                await self._mark(row, state="queued", next_attempt_at=None)
                results.append(_delivery(row, "queued"))
        return results

    async def deliver_due(self) -> list[Delivery]:
        """Send every row that is due now, in order per case."""
        results = []
        for row in await asyncio.to_thread(self.store.outbox_due, int(self.clock())):
            if is_draft(row):  # cannot happen through Outbox and Approvals; a reply is never sent unapproved
                await self._mark(row, state="failed", last_error="a reply draft is sent only after a lead approves it")
                results.append(_delivery(row, "failed", "not approved"))
                continue
            connector = self._connector(row["account"])
            if connector is None:
                await self._mark(row, state="failed", last_error=f"no connector for account {row['account']}")
                results.append(_delivery(row, "failed", "no connector"))
                continue
            attempts = row["attempts"] + 1
            await self._mark(row, state="sending", attempts=attempts)  # on disk before the request leaves
            try:
                if row["kind"] == "like":
                    await connector.like(row["payload"]["external_id"])
                    await self._mark(row, state="sent", last_error=None)
                    results.append(_delivery(row, "sent"))
                    continue
                if row["kind"] == "case_action":
                    remote_id = await connector.apply_case_action(self._case_action(row))
                    await self._mark(row, state="sent", last_error=None, remote_id=remote_id)
                    results.append(_delivery(row, "sent"))
                    continue
                sent = await connector.send_reply(self._reply(row))
            except ConnectorError as error:
                results.append(await self._failed(row, connector, error, attempts))
                continue
            except Exception as error:  # a connector bug: the request may or may not have gone out
                unknown = ConnectorError(f"unexpected error: {type(error).__name__}: {error}", outcome_unknown=True)
                results.append(await self._failed(row, connector, unknown, attempts))
                continue
            results.append(await self._sent(row, sent))
        return results

    async def _failed(self, row: dict, connector: Connector, error: ConnectorError, attempts: int) -> Delivery:
        now = int(self.clock())
        error = connector.safe(error)
        if error.outcome_unknown and not self._idempotent(row, connector):
            await self._mark(row, state="unknown", last_error=f"{UNKNOWN_HELP} ({error.message})")
            return _delivery(row, "unknown", error.message)
        if error.needs_auth or not error.retryable:
            await self._mark(row, state="failed", last_error=error.message)
            return _delivery(row, "failed", error.message)
        delay = error.retry_after if error.retry_after is not None else backoff(attempts, 5.0, self.rng)
        await self._mark(row, state="queued", next_attempt_at=int(now + delay), last_error=error.message)
        return _delivery(row, "queued", error.message)

    async def run(self, interval: float = 2.0,
                  on_delivery: Callable[[list[Delivery]], None] = lambda deliveries: None,
                  on_round: Callable[[], None] = lambda: None) -> None:
        """Deliver forever (cancel the task to stop); `on_delivery` hears of every round that did
        something, `on_round` of every round that ended without a failure."""
        await self.prepare()
        if settled := await self.recover():
            on_delivery(settled)
        while True:  # any other failure (a store locked too long) ends the run: the supervisor restarts it
            try:
                if deliveries := await self.deliver_due():
                    on_delivery(deliveries)
                on_round()
            except StoreError:
                pass  # e.g. a row discarded meanwhile; the next round sees the new state
            await asyncio.sleep(interval)
