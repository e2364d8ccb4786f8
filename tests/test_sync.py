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


# -- memos and refused deliveries a platform reports (team mode; see test_chatwoot_defects for Chatwoot) ----


async def test_memos_out_of_range_are_reported_and_the_rest_kept_once(store):
    from webcare_tui.connectors.base import RemoteMemo
    from webcare_tui.message_format import TEXT_LIMIT

    memos = [RemoteMemo("t1:", "t1:n1", None, "Klant gebeld", T0 + 10),
             RemoteMemo("t1:", "t1:n2", "tim", "lang " * 20_000, T0 + 20),
             RemoteMemo("t1:", "t1:n3", None, "uit 1970", 5),
             RemoteMemo("t1:", "t2:n4", None, "van een ander gesprek", T0)]
    page = FetchResult([msg(0, external_id="t1:1")], cursor="c1", memos=memos)
    connector = Scripted({None: page, "c1": FetchResult([], cursor="c1", memos=memos)})
    runner = SyncRunner(store, {"brand-x": connector}, clock=lambda: T0 + HOUR)
    [status] = await runner.sync_once()
    assert status.skipped == ("t1:n3: memo dated 5, out of range",
                              "t2:n4: memo whose id is not of its conversation 't1:'")
    [case] = store.list_cases()
    assert status.cases == {case["id"]}
    kept = store.case_memos(case["id"])
    assert [(m["agent"], m["created_at"]) for m in kept] == [("x", T0 + 10), ("tim", T0 + 20)]  # no agent: the platform
    assert len(kept[1]["text"]) <= TEXT_LIMIT and "[cut:" in kept[1]["text"]
    await runner.sync_once()  # the same memos again
    assert len(store.case_memos(case["id"])) == 2


async def test_a_refused_delivery_fails_only_our_sent_reply_and_never_stores_the_token(store):
    from webcare_tui.connectors.base import DeliveryFailure
    from webcare_tui.ingest import ingest

    ingest(store, [msg(0, external_id="t1:1")])
    [case] = store.list_cases()
    with store.transaction():
        sent = store.add_outbox("k1", case["id"], "brand-x", "x", "reply", {"text": "Hoi", "message_id": None}, T0)
        store.update_outbox(sent, T0, state="sent", remote_id="t1:2")
        note = store.add_outbox("k2", case["id"], "brand-x", "x", "case_action", {"action": "memo"}, T0)
        store.update_outbox(note, T0, state="sent", remote_id="t1:3")
    failures = [DeliveryFailure("t1:2", "X could not deliver the message: token s3cret-token refused"),
                DeliveryFailure("t1:3", "X could not deliver the message: not a reply"),
                DeliveryFailure("t1:9", "X could not deliver the message: a teammate's")]
    connector = Scripted({None: FetchResult([], cursor="c1", failed_sends=failures)})
    connector._secret = "s3cret-token"
    [status] = await SyncRunner(store, {"brand-x": connector}, clock=lambda: T0 + HOUR).sync_once()
    assert status.cases == {case["id"]}
    assert (store.outbox_row(sent)["state"], store.outbox_row(sent)["last_error"]) == (
        "failed", "X could not deliver the message: token ••• refused")
    assert store.outbox_row(note)["state"] == "sent"


def test_migration_13_gives_memos_an_external_id_and_the_outbox_a_lookup_by_remote_id(tmp_path):
    import sqlite3

    from webcare_tui.store.migrations import migrate

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, str(path), target=12)
    conn.execute("INSERT INTO memos (id, agent, text, created_at) VALUES (1, 'tim', 'terugbellen', 0)")
    conn.close()
    with Store(path) as store:
        assert store.schema_before == 12
        assert store.has_memo("42:1") is False
        with store.transaction():
            store.add_memo(None, None, "jeroen", "van Chatwoot", T0, external_id="42:1")
        assert store.has_memo("42:1") and store.counts()["memos"] == 2
        with pytest.raises(sqlite3.IntegrityError), store.transaction():  # once per platform id
            store.add_memo(None, None, "jeroen", "nog eens", T0, external_id="42:1")
        plans = store.conn.execute("EXPLAIN QUERY PLAN SELECT * FROM outbox WHERE remote_id = ?", ("42:1",)).fetchall()
        assert "outbox_remote" in str(plans)


async def test_a_routing_rules_team_is_ours_alone_where_the_platform_keeps_no_teams(store):
    import tomllib

    from webcare_tui.rules import Router, load_rules

    config = ('[team]\nagents = [{ id = "jeroen", name = "Jeroen", team = "hypotheken" }]\n\n'
              '[[rule]]\nname = "Hypotheken"\nwords = ["hypotheek"]\nassign_team = "hypotheken"\n')
    book = load_rules(tomllib.loads(config), config, "config.toml")
    page = FetchResult([msg(0, external_id="1", text="Vraag over mijn hypotheek")], cursor="c1")
    runner = SyncRunner(store, {"brand-x": Scripted({None: page})}, clock=lambda: T0 + HOUR,
                        router=Router(book, store.last_rule_assignment, lambda: T0 + HOUR))
    await runner.sync_once()
    [case] = store.list_cases()
    assert (store.get_case(case["id"])["team"], store.get_case(case["id"])["owner"]) == ("hypotheken", "jeroen")
    assert store.case_outbox(case["id"]) == []  # X keeps no teams: nothing to tell it
