"""The sync worker: cursors, resuming, errors and backoff; the demo connector through it."""

from __future__ import annotations

import random

import pytest
from conftest import HOUR, T0, msg

from webcare_tui.config import Account
from webcare_tui.connectors.base import Connector, ConnectorError, FetchResult, OutgoingReply, SentReply
from webcare_tui.connectors.demo import DemoConnector
from webcare_tui.store import Store
from webcare_tui.sync import SyncRunner, backoff


class Scripted(Connector):
    """A connector that answers fetches from a script: pages by cursor, or errors."""

    platform = "x"

    def __init__(self, script):
        super().__init__(Account("brand-x", "x"))
        self.script = script
        self.asked: list[str | None] = []

    async def fetch(self, cursor):
        self.asked.append(cursor)
        step = self.script[cursor]
        if isinstance(step, BaseException):
            raise step
        return step

    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        raise NotImplementedError


PAGES = {
    None: FetchResult([msg(0, external_id="1"), msg(60, external_id="2")], cursor="c1", more=True),
    "c1": FetchResult([msg(HOUR, "out", external_id="3")], cursor="c2"),
    "c2": FetchResult([], cursor="c2"),
}


async def test_pages_are_ingested_with_their_cursor_and_a_restart_resumes(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as store:
        connector = Scripted(PAGES)
        [status] = await SyncRunner(store, {"brand-x": connector}).sync_once()
        assert (status.state, status.new_messages) == ("online", 3)
        assert connector.asked == [None, "c1"]  # the second page came at once (more=True)
        assert store.sync_state("brand-x")["cursor"] == "c2"
    with Store(path) as store:  # the app restarted
        connector = Scripted(PAGES)
        [status] = await SyncRunner(store, {"brand-x": connector}).sync_once()
        assert connector.asked == ["c2"] and status.new_messages == 0
        assert store.counts()["messages"] == 3


@pytest.mark.parametrize("error, state", [
    (ConnectorError("rate limited", retry_after=90), "rate_limited"),
    (ConnectorError("token revoked", retryable=False, needs_auth=True), "needs_auth"),
    (ConnectorError("connection refused"), "offline"),
    (ConnectorError("bad request", retryable=False), "error"),
    (ValueError("unexpected payload"), "error"),
])
async def test_a_failing_connector_is_reported_and_keeps_its_cursor(store, error, state):
    reported = []
    connector = Scripted({None: PAGES[None], "c1": error})
    runner = SyncRunner(store, {"brand-x": connector}, on_status=reported.append)
    [status] = await runner.sync_once()
    assert status.state == state and reported == [status]
    assert "unexpected payload" in status.error if isinstance(error, ValueError) else status.error == error.message
    saved = store.sync_state("brand-x")
    assert (saved["cursor"], saved["state"], saved["failures"]) == ("c1", state, 1)
    assert store.counts()["messages"] == 2  # the page before the failure is kept
    if state == "rate_limited":
        assert status.retry_in == 90
    else:
        assert 4 <= status.retry_in <= 6  # first failure: ~5 s
    await runner.sync_once()
    assert store.sync_state("brand-x")["failures"] == 2


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(1)
    delays = [backoff(n, 5.0, rng) for n in range(1, 10)]
    assert 4 <= delays[0] <= 6 and 8 <= delays[1] <= 12 and 16 <= delays[2] <= 24
    assert max(delays) <= 300 * 1.2 and delays[-1] >= 300 * 0.8


def demo(clock):
    return DemoConnector(Account("demo", "demo", {"seed": 11, "history_days": 1, "conversations_per_day": 80}),
                         clock=lambda: clock[0])


async def test_the_demo_connector_is_deterministic_for_a_seed_and_a_clock(tmp_path):
    clock = [T0]
    first, second = await demo(clock).fetch(None), await demo(clock).fetch(None)
    assert [m.external_id for m in first.messages] == [m.external_id for m in second.messages]
    assert len(first.messages) > 100 and first.cursor == str(T0)
    assert {m.platform for m in first.messages} == {"x", "facebook", "instagram", "whatsapp", "messenger"}
    assert max(m.created_at for m in first.messages) <= T0


async def test_the_demo_streams_live_messages_and_customers_answer_our_replies(store):
    clock = [T0]
    connector = demo(clock)
    runner = SyncRunner(store, {"demo": connector}, clock=lambda: clock[0])
    await runner.sync_once()
    history = store.counts()["messages"]
    clock[0] += 20 * 60
    [status] = await runner.sync_once()
    assert status.new_messages > 10  # ~3 a minute
    assert store.counts()["messages"] == history + status.new_messages
    # Reply to waiting customers; some of them answer a minute or so later.
    waiting = [c for c in store.list_cases() if c["status"] in ("new", "open")][:10]
    for case in waiting:
        await connector.send_reply(OutgoingReply(f"k{case['id']}", case["platform"], case["account"],
                                                 case["author_id"], "Hoi! We kijken ernaar.", "private"))
    clock[0] += 100
    before = {c["id"]: c["message_count"] for c in store.list_cases()}
    await runner.sync_once()
    answered = [c for c in waiting if store.get_case(c["id"])["message_count"] > before[c["id"]]]
    assert 1 <= len(answered) <= len(waiting)


async def test_a_token_quoted_in_an_error_never_reaches_the_screen_the_log_or_the_store(store, caplog):
    class Leaky(Scripted):
        def __init__(self):
            super().__init__({None: ValueError("GET https://api.telegram.org/bot123:S3CRET-token/getUpdates: 502")})
            self._secret = "123:S3CRET-token"

    [status] = await SyncRunner(store, {"brand-x": Leaky()}).sync_once()
    assert "api.telegram.org/bot•••/getUpdates" in status.error and "S3CRET" not in status.error
    assert "S3CRET" not in caplog.text and "bot•••" in caplog.text
    assert "S3CRET" not in store.sync_state("brand-x")["last_error"]
    dump = "\n".join(store.conn.iterdump())
    assert "S3CRET" not in dump
