"""The outbox: replies stored at once, delivered in order, never lost, never sent twice."""

from __future__ import annotations

import itertools

import pytest
from conftest import HOUR, MINUTE, T0, msg

from webcare_tui.case_query import CaseQuery
from webcare_tui.config import Account
from webcare_tui.connectors.base import Capabilities, Connector, ConnectorError, SentReply
from webcare_tui.ingest import ingest
from webcare_tui.outbox import Outbox, OutboxWorker, ReplyError
from webcare_tui.store.inbox import SORTS


class Platform(Connector):
    """A platform at the connector edge that records what reached it, and fails on cue."""

    platform = "x"

    def __init__(self, *, idempotent=False, can_check=True):
        super().__init__(Account("brand-x", "x"))
        self.capabilities = Capabilities(max_reply_length=280, idempotent_send=idempotent)
        self.can_check = can_check
        self.published: dict[str, SentReply] = {}  # what customers can see, by idempotency key
        self.failures: list[ConnectorError] = []
        self.ids = itertools.count(9000)
        self.crash_after_publishing = False

    async def fetch(self, cursor):
        raise NotImplementedError

    async def send_reply(self, reply):
        if self.failures:
            raise self.failures.pop(0)
        if self.capabilities.idempotent_send and reply.idempotency_key in self.published:
            return self.published[reply.idempotency_key]
        sent = SentReply(str(next(self.ids)), T0, f"https://x.com/brand/status/{len(self.published)}")
        self.published[reply.idempotency_key + ("" if reply.idempotency_key not in self.published else "+dup")] = sent
        if self.crash_after_publishing:
            raise KeyboardInterrupt  # the app dies after the platform took the reply
        return sent

    async def find_sent(self, reply):
        if not self.can_check:
            raise ConnectorError("no way to list our own replies", retryable=False)
        return self.published.get(reply.idempotency_key)


@pytest.fixture
def case_id(store):
    ingest(store, [msg(0, author="anna", text="Waar blijft mijn pakket?", platform="x")])
    return store.list_cases()[0]["id"]


def keys():
    counter = itertools.count(1)
    return lambda: f"key-{next(counter)}"


@pytest.fixture
def outbox(store):
    return Outbox(store, clock=lambda: T0 + HOUR, new_key=keys())


def test_a_reply_is_in_the_case_at_once_and_queued(store, outbox, case_id):
    outbox_id = outbox.queue_reply(case_id, "We zoeken het uit ^TR", agent="tim")
    case = store.get_case(case_id)
    assert (case["status"], case["owner"], case["message_count"]) == ("pending", "tim", 2)
    reply = store.case_messages(case_id)[-1]
    assert (reply["direction"], reply["agent"], reply["visibility"], reply["external_id"]) == (
        "out", "tim", "public", "local:key-1")
    row = store.outbox_row(outbox_id)
    assert (row["state"], row["idempotency_key"], row["payload"]["recipient_id"]) == ("queued", "key-1", "anna")
    assert row["payload"]["in_reply_to"] == store.case_messages(case_id)[0]["external_id"]


def test_too_long_for_x_is_refused_and_nothing_is_stored(store, outbox, case_id):
    before = store.counts()
    with pytest.raises(ReplyError, match="281 characters; x allows 280"):
        outbox.queue_reply(case_id, "a" * 281, agent="tim")
    assert store.counts() == before and store.get_case(case_id)["status"] == "new"


async def test_delivery_gives_the_message_its_platform_id(store, outbox, case_id):
    outbox_id = outbox.queue_reply(case_id, "Komt goed", agent="tim")
    platform = Platform()
    [result] = await OutboxWorker(store, {"brand-x": platform}, clock=lambda: T0 + HOUR).deliver_due()
    assert result.state == "sent"
    assert store.outbox_row(outbox_id)["state"] == "sent"
    assert store.case_messages(case_id)[-1]["external_id"] == "9000"
    assert list(platform.published) == ["key-1"]


async def test_network_errors_back_off_and_rate_limits_wait(store, outbox, case_id):
    outbox_id = outbox.queue_reply(case_id, "Komt goed", agent="tim")
    platform = Platform()
    platform.failures = [ConnectorError("connection reset"), ConnectorError("rate limited", retry_after=900)]
    now = [T0 + HOUR]
    worker = OutboxWorker(store, {"brand-x": platform}, clock=lambda: now[0])
    [first] = await worker.deliver_due()
    row = store.outbox_row(outbox_id)
    assert first.state == "queued" and row["attempts"] == 1 and 4 <= row["next_attempt_at"] - now[0] <= 6
    assert await worker.deliver_due() == []  # not due yet
    now[0] += 10
    [second] = await worker.deliver_due()
    assert second.error == "rate limited" and store.outbox_row(outbox_id)["next_attempt_at"] == now[0] + 900
    now[0] += 900
    [third] = await worker.deliver_due()
    assert third.state == "sent" and len(platform.published) == 1


async def test_a_permanent_refusal_fails_in_plain_words_until_retried(store, outbox, case_id):
    outbox_id = outbox.queue_reply(case_id, "Komt goed", agent="tim")
    platform = Platform()
    platform.failures = [ConnectorError("You are not allowed to reply to this conversation", retryable=False)]
    worker = OutboxWorker(store, {"brand-x": platform}, clock=lambda: T0 + HOUR)
    [result] = await worker.deliver_due()
    row = store.outbox_row(outbox_id)
    assert (row["state"], row["last_error"]) == ("failed", "You are not allowed to reply to this conversation")
    assert await worker.deliver_due() == []
    outbox.retry(outbox_id, actor="tim")
    [again] = await worker.deliver_due()
    assert again.state == "sent"


async def test_replies_in_one_case_go_in_order(store, outbox, case_id):
    first = outbox.queue_reply(case_id, "Eerste", agent="tim")
    second = outbox.queue_reply(case_id, "Tweede", agent="tim")
    platform = Platform()
    platform.failures = [ConnectorError("timeout before sending")]
    worker = OutboxWorker(store, {"brand-x": platform}, clock=lambda: T0 + 2 * HOUR)
    assert [d.outbox_id for d in await worker.deliver_due()] == [first]  # the second waits for the first
    assert store.outbox_row(second)["state"] == "queued" and not platform.published


async def test_crash_after_the_platform_accepted_is_not_sent_twice(store, outbox, case_id):
    outbox_id = outbox.queue_reply(case_id, "Komt goed", agent="tim")
    platform = Platform()
    platform.crash_after_publishing = True
    with pytest.raises(KeyboardInterrupt):
        await OutboxWorker(store, {"brand-x": platform}).deliver_due()
    assert store.outbox_row(outbox_id)["state"] == "sending"  # what a kill leaves on disk
    platform.crash_after_publishing = False
    restarted = OutboxWorker(store, {"brand-x": platform}, clock=lambda: T0 + HOUR)
    [settled] = await restarted.recover()
    assert settled.state == "sent" and store.outbox_row(outbox_id)["remote_id"] == "9000"
    assert await restarted.deliver_due() == []
    assert list(platform.published) == ["key-1"]  # once


async def test_unknown_outcome_waits_for_the_agent_where_the_platform_cannot_tell(store, outbox, case_id):
    outbox_id = outbox.queue_reply(case_id, "Komt goed", agent="tim")
    platform = Platform(can_check=False)
    platform.failures = [ConnectorError("read timeout", outcome_unknown=True)]
    worker = OutboxWorker(store, {"brand-x": platform}, clock=lambda: T0 + HOUR)
    [result] = await worker.deliver_due()
    row = store.outbox_row(outbox_id)
    assert result.state == "unknown" and "check there, then retry or discard" in row["last_error"]
    await worker.recover()
    assert await worker.deliver_due() == [] and not platform.published  # never resent on a guess
    assert store.outbox_waiting() == 1


async def test_where_the_key_is_honoured_an_unknown_send_is_simply_repeated(store, outbox, case_id):
    outbox_id = outbox.queue_reply(case_id, "Komt goed", agent="tim")
    platform = Platform(idempotent=True)
    platform.crash_after_publishing = True
    with pytest.raises(KeyboardInterrupt):
        await OutboxWorker(store, {"brand-x": platform}).deliver_due()
    platform.crash_after_publishing = False
    worker = OutboxWorker(store, {"brand-x": platform}, clock=lambda: T0 + HOUR)
    await worker.recover()
    [result] = await worker.deliver_due()
    assert result.state == "sent" and list(platform.published) == ["key-1"]
    assert store.outbox_row(outbox_id)["state"] == "sent"


@pytest.mark.parametrize("later, looked_up", [(30 * MINUTE, False), (2 * HOUR, True)])
async def test_a_key_the_platform_no_longer_keeps_is_looked_up_before_sending_again(store, outbox, case_id,
                                                                                    later, looked_up):
    """Mastodon keeps an Idempotency-Key for an hour: after that, the same key would post again."""
    outbox_id = outbox.queue_reply(case_id, "Komt goed", agent="tim")
    made = store.outbox_row(outbox_id)["created_at"]
    platform = Platform(idempotent=True)
    platform.capabilities = Capabilities(max_reply_length=280, idempotent_send=True, keys_kept_for=HOUR)
    platform.crash_after_publishing = True
    with pytest.raises(KeyboardInterrupt):
        await OutboxWorker(store, {"brand-x": platform}, clock=lambda: made).deliver_due()
    platform.crash_after_publishing = False
    searches: list[str] = []
    find_sent = platform.find_sent

    async def noted(reply):
        searches.append(reply.idempotency_key)
        return await find_sent(reply)

    platform.find_sent = noted  # type: ignore[method-assign]
    worker = OutboxWorker(store, {"brand-x": platform}, clock=lambda: made + later)
    await worker.recover()
    await worker.deliver_due()
    assert searches == (["key-1"] if looked_up else [])
    assert store.outbox_row(outbox_id)["state"] == "sent" and list(platform.published) == ["key-1"]


def test_discarding_takes_the_reply_out_of_the_case(store, outbox, case_id):
    outbox_id = outbox.queue_reply(case_id, "Verkeerde tekst", agent="tim")
    outbox.discard(outbox_id, actor="tim")
    case = store.get_case(case_id)
    assert (case["status"], case["message_count"]) == ("open", 1)
    assert store.outbox_row(outbox_id)["state"] == "discarded" and store.outbox_waiting() == 0
    assert store.page_cases(CaseQuery(text=("Verkeerde",)), SORTS["recent"]) == []  # gone from search too


def test_offline_work_queues_up(store, outbox):
    ingest(store, [msg(i * MINUTE, author=f"c{i}") for i in range(3)])
    for case in store.list_cases():
        outbox.queue_reply(case["id"], "We kijken ernaar", agent="tim")
    assert store.outbox_waiting() == 3 and {c["status"] for c in store.list_cases()} == {"pending"}


async def test_a_token_in_a_send_error_is_not_stored(store, outbox, case_id):
    outbox_id = outbox.queue_reply(case_id, "Komt goed", agent="tim")
    platform = Platform()
    platform._secret = "tok-7781-SECRET"
    platform.failures = [ConnectorError("POST https://api.example/bottok-7781-SECRET/sendMessage: 403", retryable=False)]
    [result] = await OutboxWorker(store, {"brand-x": platform}, clock=lambda: T0 + HOUR).deliver_due()
    assert "SECRET" not in result.error and "SECRET" not in store.outbox_row(outbox_id)["last_error"]
    assert "bot•••/sendMessage" in store.outbox_row(outbox_id)["last_error"]


def test_x_counts_links_and_emoji_as_x_does_before_anything_is_queued(store, outbox, case_id):
    link = "https://example.com/" + "a" * 200  # one link counts 23 on X, whatever its length
    assert outbox.queue_reply(case_id, f"Kijk hier: {link}", agent="tim")
    with pytest.raises(ReplyError, match="the reply has 282 characters; x allows 280"):
        outbox.queue_reply(case_id, "🙏" * 141, agent="tim")  # 141 characters, but each emoji weighs 2


@pytest.mark.parametrize("platform, length, private, public", [("instagram", 1_470, 1000, 2200),
                                                                ("facebook", 2_100, 2000, 8000)])
def test_a_private_reply_is_held_to_what_the_platform_allows_in_private(store, outbox, platform, length,
                                                                        private, public):
    """An Instagram DM takes 1000 characters, a comment 2200; a Facebook private reply (through
    Messenger) 2000, a comment 8000."""
    ingest(store, [msg(0, author="ines", platform=platform, text="Waar blijft mijn bestelling?")])
    [case] = store.list_cases()
    long = ("Dank voor je geduld. " * 200)[:length]
    with pytest.raises(ReplyError, match=f"{platform} allows {private} in a private message"):
        outbox.queue_reply(case["id"], long, agent="tim", visibility="private")
    outbox.queue_reply(case["id"], long, agent="tim", visibility="public")  # a comment reply: up to `public`
    assert store.outbox_waiting() == 1 and length < public
