"""The outbox against a fake Mastodon server at the HTTP edge: it fails, times out, rate-limits,
and accepts a reply just before we crash. Nothing is lost and nothing is posted twice."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from webcare_tui.config import Account
from webcare_tui.connectors.mastodon import MastodonConnector
from webcare_tui.outbox import Outbox, OutboxWorker
from webcare_tui.sync import SyncRunner

BASE = "https://social.example"
FIXTURES = Path(__file__).parent / "fixtures" / "mastodon"
NOW = 1_785_600_000  # after the recorded mention


def load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Server:
    """Mastodon's POST /api/v1/statuses as documented: the same Idempotency-Key gives the same status."""

    def __init__(self) -> None:
        self.statuses: dict[str, dict] = {}  # by idempotency key: what was published
        self.script: list = []  # what the next requests get before the server behaves normally

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            if step == "accept-then-drop":  # published, but the answer never reaches us
                self._publish(request)
                raise httpx.ReadTimeout("connection reset after the request was sent")
            return step
        return httpx.Response(200, json=self._publish(request))

    def _publish(self, request: httpx.Request) -> dict:
        key = request.headers["Idempotency-Key"]
        if key not in self.statuses:
            status = dict(load("status_reply.json")["body"], id=str(117020583258292382 + len(self.statuses)))
            status["content"] = json.loads(request.content)["status"]
            self.statuses[key] = status
        return self.statuses[key]


@pytest.fixture
async def setup(store):
    server = Server()
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get("/api/v1/accounts/verify_credentials").respond(200, json=load("verify_credentials.json"))
        mention = load("notifications_mention.json")["body"]
        mock.get("/api/v1/notifications").respond(200, json=mention)
        mock.get(f"/api/v1/statuses/{mention[0]['status']['id']}").respond(200, json=mention[0]["status"])
        posts = mock.post("/api/v1/statuses").mock(side_effect=server)
        async with httpx.AsyncClient() as client:
            connector = MastodonConnector(Account("brand-masto", "mastodon", {"base_url": BASE}), "tok-123456",
                                          client, clock=lambda: NOW)
            await SyncRunner(store, {"brand-masto": connector}, clock=lambda: NOW).sync_once()
            [case] = store.list_cases()
            outbox_id = Outbox(store, clock=lambda: NOW).queue_reply(case["id"], "We kijken ernaar!", agent="tim")
            yield server, posts, connector, outbox_id


def worker(store, connector, at: float) -> OutboxWorker:
    return OutboxWorker(store, {"brand-masto": connector}, clock=lambda: at)


async def test_a_server_error_backs_off_and_the_retry_goes_out_once(store, setup):
    server, posts, connector, outbox_id = setup
    server.script = [httpx.Response(502, json={"error": "Bad gateway"})]
    [first] = await worker(store, connector, NOW).deliver_due()
    row = store.outbox_row(outbox_id)
    assert first.state == "queued" and "502" in row["last_error"] and row["next_attempt_at"] > NOW
    assert await worker(store, connector, NOW + 1).deliver_due() == []  # not yet
    [second] = await worker(store, connector, row["next_attempt_at"]).deliver_due()
    assert second.state == "sent" and len(server.statuses) == 1 and posts.call_count == 2


async def test_a_rate_limit_waits_for_retry_after(store, setup):
    server, posts, connector, outbox_id = setup
    server.script = [httpx.Response(429, headers={"Retry-After": "120"}, json={"error": "Too many requests"})]
    [result] = await worker(store, connector, NOW).deliver_due()
    assert result.state == "queued" and store.outbox_row(outbox_id)["next_attempt_at"] == NOW + 120
    assert await worker(store, connector, NOW + 119).deliver_due() == []
    assert (await worker(store, connector, NOW + 120).deliver_due())[0].state == "sent"


async def test_a_timeout_is_repeated_with_the_same_key_and_published_once(store, setup):
    server, posts, connector, outbox_id = setup
    server.script = ["accept-then-drop"]
    [result] = await worker(store, connector, NOW).deliver_due()
    assert result.state == "queued"  # Mastodon honours the key: repeating is safe
    later = store.outbox_row(outbox_id)["next_attempt_at"]
    [again] = await worker(store, connector, later).deliver_due()
    assert again.state == "sent" and posts.call_count == 2 and len(server.statuses) == 1
    keys = {call.request.headers["Idempotency-Key"] for call in posts.calls}
    assert keys == {store.outbox_row(outbox_id)["idempotency_key"]}


async def test_accepted_then_crashed_is_settled_after_a_restart_without_a_second_post(store, setup, monkeypatch):
    server, posts, connector, outbox_id = setup
    # the platform accepts, then the process dies before the row is marked sent
    monkeypatch.setattr(OutboxWorker, "_sent", lambda self, row, sent: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        await worker(store, connector, NOW).deliver_due()
    monkeypatch.undo()
    assert store.outbox_row(outbox_id)["state"] == "sending" and len(server.statuses) == 1
    restarted = worker(store, connector, NOW + 60)
    await restarted.recover()
    [result] = await restarted.deliver_due()
    row = store.outbox_row(outbox_id)
    assert result.state == "sent" and row["remote_id"] == next(iter(server.statuses.values()))["id"]
    assert len(server.statuses) == 1  # the repeat carried the same key: still one status
    case_id = row["case_id"]
    assert [m["external_id"] for m in store.case_messages(case_id) if m["direction"] == "out"] == [row["remote_id"]]
