"""The Chatwoot connector (team mode): sync, case actions on the platform, teammates' changes, conflicts.

The network edge is a small fake Chatwoot server (respx) that answers as the swagger and
Chatwoot's views document: 25 conversations a page, newest activity first, with `meta`
counts; messages after an id (100) or the latest 20; `message_type` as an integer;
labels POST replacing the set. Payloads come from tests/fixtures/chatwoot/.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path

import httpx
import pytest
import respx
from conftest import HOUR, MINUTE, SHARED_DATA, T0

from webcare_tui.cases import CaseService, case_actions_of
from webcare_tui.config import Account, Agent
from webcare_tui.connectors.base import CaseAction, ConnectorError, OutgoingReply
from webcare_tui.connectors.chatwoot import ChatwootConnector
from webcare_tui.macro_runner import MacroRunner
from webcare_tui.macros import Macro
from webcare_tui.outbox import Outbox, OutboxWorker
from webcare_tui.rules import Router, load_rules
from webcare_tui.store import Store
from webcare_tui.sync import SyncRunner

FIXTURES = Path(__file__).parent / "fixtures" / "chatwoot"
SPEC = SHARED_DATA / "api-specs" / "chatwoot-swagger" / "swagger" / (
    "swagger.json")
BASE = "https://chat.example.com"
TOKEN = "cw-token-5ecret"
PREFIX = "/api/v1/accounts/3/conversations"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# GET /api/v1/profile: the swagger's `user` schema, field by field (the signed-in agent, Jeroen)
PUBSUB = "pubsub-Zq8Xk2VtM4nWcB7r"
PROFILE = {"id": 12, "access_token": TOKEN, "account_id": 3, "available_name": "Jeroen", "avatar_url": "",
           "confirmed": True, "display_name": None, "message_signature": None, "email": "jeroen@example.nl",
           "hmac_identifier": "", "inviter_id": 1, "name": "Jeroen de Vries", "provider": "email",
           "pubsub_token": PUBSUB, "role": "agent", "ui_settings": {}, "uid": "jeroen@example.nl", "type": "User",
           "custom_attributes": {}, "accounts": [{"id": 3, "name": "Webcare", "status": "active", "role": "agent",
                                                 "availability": "online", "availability_status": "online",
                                                 "auto_offline": True, "custom_role_id": None, "custom_role": None}]}
# GET /api/v1/accounts/3/teams: the swagger's `team` schema (Chatwoot keeps team names in lower case)
TEAMS = [{"id": 3, "name": "hypotheken", "description": "Hypotheekvragen", "allow_auto_assign": False,
          "account_id": 3, "is_member": True},
         {"id": 4, "name": "storingen", "description": "Storingen", "allow_auto_assign": False, "account_id": 3,
          "is_member": False}]


class Chatwoot:
    """A Chatwoot server at the HTTP edge: the documented behaviour of the endpoints we call."""

    def __init__(self) -> None:
        listed = fixture("conversations.json")["data"]["payload"]
        self.conversations = {c["id"]: c for c in listed}
        self.messages = {42: fixture("messages_42.json")["payload"], 43: fixture("messages_43.json")["payload"]}
        self.requests: list[httpx.Request] = []
        self.next_id = 9500
        self.failures: list[httpx.Response | Exception] = []
        self.now = T0 + HOUR

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("api_access_token") != TOKEN:
            return httpx.Response(401, json=fixture("error_401.json"))
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        path, params = request.url.path, request.url.params
        if path == PREFIX and request.method == "GET":
            return self.list_page(int(params.get("page", 1)), params.get("status", "open"))
        if path == "/api/v1/profile" and request.method == "GET":
            return httpx.Response(200, json=PROFILE)
        if path == "/api/v1/accounts/3/teams" and request.method == "GET":
            return httpx.Response(200, json=TEAMS)
        show = re.fullmatch(rf"{PREFIX}/(\d+)", path)
        if show and request.method == "GET" and int(show[1]) in self.conversations:  # the conversation partial
            return httpx.Response(200, json=self.conversations[int(show[1])])
        match = re.fullmatch(rf"{PREFIX}/(\d+)/(messages|labels|assignments|toggle_status|toggle_priority"
                             r"|toggle_typing_status)", path)
        if not match or int(match[1]) not in self.conversations:
            return httpx.Response(404, json={"error": "Resource could not be found"})
        conversation, what = self.conversations[int(match[1])], match[2]
        body = json.loads(request.content) if request.content else {}
        if what == "toggle_priority":  # Conversation#toggle_priority: priority.presence, then `head :ok`
            conversation["priority"] = body.get("priority") or None
            conversation["updated_at"] = self.now
            return httpx.Response(200)
        if what == "toggle_typing_status":  # TypingStatusManager broadcasts it; `head :ok`
            return httpx.Response(200)
        if what == "assignments" and "assignee_id" not in body and "team_id" in body:  # set_team
            team = next((t for t in TEAMS if t["id"] == body["team_id"]), None)
            conversation["meta"].pop("team", None)  # the conversation partial leaves it out when there is none
            if team is not None:
                conversation["meta"]["team"] = team
            conversation["updated_at"] = self.now
            return httpx.Response(200, content=json.dumps(team).encode(), headers={"content-type": "application/json"})
        if what == "messages" and request.method == "GET":
            return httpx.Response(200, json={"meta": {"labels": conversation.get("labels", [])},
                                             "payload": self.page_of(conversation["id"], params)})
        if what == "messages":
            return httpx.Response(200, json=self.create_message(conversation, body))
        if what == "labels" and request.method == "GET":
            return httpx.Response(200, json={"payload": list(conversation["labels"])})
        if what == "labels":
            conversation["labels"] = body["labels"]  # replaces the whole set, as documented
            return httpx.Response(200, json={"payload": body["labels"]})
        if what == "assignments":
            agents = {12: fixture("assignment.json"), 14: fixture("assignment.json") | {"id": 14, "name": "Sanne"}}
            conversation["meta"].pop("assignee", None)
            if body["assignee_id"] is not None:
                conversation["meta"]["assignee"] = agents[body["assignee_id"]]
            return httpx.Response(200, content=json.dumps(conversation["meta"].get("assignee")).encode(),
                                  headers={"content-type": "application/json"})  # `render json: nil` is "null"
        conversation["status"] = body["status"]
        return httpx.Response(200, json={"meta": {}, "payload": {"success": True, "current_status": body["status"],
                                                                  "conversation_id": conversation["id"]}})

    def list_page(self, page: int, status: str) -> httpx.Response:
        found = [c for c in self.conversations.values() if status == "all" or c["status"] == status]
        found.sort(key=lambda c: -c["last_activity_at"])
        meta = {"mine_count": 0, "assigned_count": sum(1 for c in found if "assignee" in c["meta"]),
                "unassigned_count": sum(1 for c in found if "assignee" not in c["meta"]), "all_count": len(found)}
        return httpx.Response(200, json={"data": {"meta": meta, "payload": found[(page - 1) * 25:page * 25]}})

    def page_of(self, conversation_id: int, params) -> list:
        items = sorted((m for m in self.messages.get(conversation_id, []) if "id" in m), key=lambda m: m["id"])
        items += [m for m in self.messages.get(conversation_id, []) if "id" not in m]
        if "after" in params:
            return [m for m in items if m.get("id", 0) > int(params["after"])][:100]
        if "before" in params:
            return [m for m in items if m.get("id", 10**9) < int(params["before"])][-20:]
        return items[-20:]

    def create_message(self, conversation: dict, body: dict) -> dict:
        self.next_id += 1
        message = fixture("message_created.json") | {
            "id": self.next_id, "content": body["content"], "private": body.get("private", False),
            "conversation_id": conversation["id"], "created_at": self.now}
        self.messages.setdefault(conversation["id"], []).append(message)
        conversation["last_activity_at"] = conversation["updated_at"] = self.now
        return message

    def calls(self) -> list[tuple[str, str, dict | None]]:
        """(method, path and query, JSON body) of every request, in order."""
        return [(r.method, r.url.raw_path.decode(), json.loads(r.content) if r.content else None)
                for r in self.requests]


@pytest.fixture
def server():
    chatwoot = Chatwoot()
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="chat.example.com").mock(side_effect=chatwoot.handle)
        yield chatwoot


def make(http, token: str = TOKEN, **options) -> ChatwootConnector:
    settings = {"base_url": BASE, "account_id": 3, "agents": {"12": "jeroen", "sanne@example.nl": "sanne",
                                                              "14": "sanne"}} | options
    return ChatwootConnector(Account("team", "chatwoot", settings), token, http=http, clock=lambda: T0 + HOUR)


# -- reading ----------------------------------------------------------------------------------------


async def test_first_sync_reads_conversations_and_messages_field_by_field(server, http):
    page = await make(http).fetch(None)
    by_id = {m.external_id: m for m in page.messages}
    assert list(by_id) == ["42:9001", "42:9003", "42:9005", "43:9100", "42:9007", "42:9008"]  # oldest first
    first = by_id["42:9001"]
    assert (first.platform, first.account, first.author_id, first.author_name, first.author_handle) == (
        "chatwoot", "team", "501", "Anna Jansen 🌷", "+31612345678")
    assert (first.text, first.created_at, first.direction, first.visibility, first.agent) == (
        "Hoi! Vraag over mijn hypotheek 🏠 — kan ik extra aflossen?", T0, "in", "private", None)
    assert first.url == f"{BASE}/app/accounts/3/conversations/42"
    ours = by_id["42:9003"]  # outgoing (1), written by agent 12: ours, with the customer as author
    assert (ours.direction, ours.author_id, ours.agent, ours.created_at) == ("out", "501", "jeroen", T0 + 120)
    assert by_id["42:9005"].text == "[attachment: image]"  # no content, one attachment
    assert by_id["42:9007"].text == "Nog één ding: 🙏"  # unknown extra fields are ignored
    assert (by_id["42:9008"].direction, by_id["42:9008"].agent) == ("out", None)  # a template (3) is ours
    tweet = by_id["43:9100"]
    assert (tweet.visibility, tweet.author_handle, tweet.author_id) == ("public", "bramb", "502")
    # activity (2) and the private note are not customer messages: neither stored nor reported
    assert "42:9002" not in by_id and "42:9004" not in by_id
    assert page.skipped == ["42:9006: deleted", "42:9009: message_type 9 is not one we read",
                            "42:?: no id or created_at"]
    remote = {r.thread: r for r in page.remote_cases}
    assert (remote["42:"].status, remote["42:"].owner, remote["42:"].labels, remote["42:"].updated_at) == (
        "open", "jeroen", ("vraag",), T0 + 300)
    assert (remote["43:"].status, remote["43:"].owner, remote["43:"].labels) == ("pending", None, ())  # snoozed
    assert page.more is False
    listing = server.requests[0]
    assert listing.url.path == PREFIX and dict(listing.url.params) == {
        "status": "all", "assignee_type": "all", "page": "1"}
    assert listing.headers["api_access_token"] == TOKEN


async def test_agents_not_in_the_mapping_show_as_their_chatwoot_id(server, http):
    page = await make(http, agents={}).fetch(None)
    assert next(r for r in page.remote_cases if r.thread == "42:").owner == "chatwoot:12"
    assert next(m for m in page.messages if m.external_id == "42:9003").agent == "chatwoot:12"
    server.conversations[42]["meta"]["assignee"] |= {"id": 15, "email": "Sanne@Example.nl"}
    page = await make(http, agents={"sanne@example.nl": "sanne"}).fetch(None)
    assert next(r for r in page.remote_cases if r.thread == "42:").owner == "sanne"  # by e-mail


def many_conversations(server: Chatwoot, count: int) -> None:
    template = server.conversations[43]
    server.conversations = {}
    for n in range(count):
        conversation = copy.deepcopy(template) | {"id": 100 + n, "last_activity_at": T0 + n, "updated_at": T0 + n}
        server.conversations[100 + n] = conversation
        server.messages[100 + n] = [{**server.messages[43][0], "id": 20_000 + n, "conversation_id": 100 + n,
                                     "created_at": T0 + n}]


async def test_conversations_page_by_25_and_the_first_sync_is_bounded(server, http):
    many_conversations(server, 60)
    page = await make(http, initial_pages=2).fetch(None)
    pages = [r.url.params["page"] for r in server.requests if r.url.path == PREFIX]
    assert pages == ["1", "2"] and len(page.remote_cases) == 50 and page.more is False  # not the whole history
    assert min(m.created_at for m in page.messages) == T0 + 10  # the 50 most recently active


async def test_later_syncs_stop_at_the_last_activity_seen_and_ask_after_the_last_message(server, http):
    connector = make(http)
    first = await connector.fetch(None)
    server.requests.clear()
    assert (await connector.fetch(first.cursor)).messages == []  # nothing new: only the newest is looked at again
    server.now = T0 + 2 * HOUR
    server.conversations[42]["last_activity_at"] = T0 + 2 * HOUR
    server.messages[42].append({**server.messages[42][0], "id": 9200, "content": "Nog steeds niks 😡",
                                "created_at": T0 + 2 * HOUR})
    server.requests.clear()
    page = await connector.fetch(first.cursor)
    assert [m.external_id for m in page.messages] == ["42:9200"]
    message_requests = [r for r in server.requests if r.url.path.endswith("/messages")]
    assert [r.url.path for r in message_requests] == [f"{PREFIX}/42/messages"]  # 43 is older than the cursor
    assert int(message_requests[0].url.params["after"]) >= 9100  # the floor: messages after the last seen


async def test_a_conversation_with_more_than_100_new_messages_is_read_to_the_end(server, http):
    connector = make(http)
    first = await connector.fetch(None)
    server.conversations[42]["last_activity_at"] = T0 + 2 * HOUR
    server.messages[42] += [{**server.messages[42][0], "id": 10_000 + n, "content": f"bericht {n}",
                             "created_at": T0 + HOUR + n} for n in range(130)]
    server.requests.clear()
    page = await connector.fetch(first.cursor)
    afters = [int(r.url.params["after"]) for r in server.requests if r.url.path.endswith("/42/messages")]
    assert len(afters) == 2 and afters[1] == 10_099  # the second page starts after the first page's last id
    assert sum(1 for m in page.messages if m.text.startswith("bericht")) == 130


async def test_a_long_walk_continues_at_once_with_more(server, http):
    connector = make(http, max_pages=1)
    first = await connector.fetch(None)
    many_conversations(server, 40)
    for conversation in server.conversations.values():
        conversation["last_activity_at"] += 2 * HOUR
    server.requests.clear()
    page = await connector.fetch(first.cursor)
    assert page.more is True and len(page.remote_cases) == 25
    rest = await connector.fetch(page.cursor)
    assert rest.more is False and len(rest.remote_cases) == 15
    assert [r.url.params["page"] for r in server.requests if r.url.path == PREFIX] == ["1", "2"]


async def test_missing_optional_fields(server, http):
    conversation = server.conversations[43]
    for name in ("labels", "can_reply", "updated_at", "additional_attributes", "uuid", "snoozed_until"):
        conversation.pop(name)
    conversation["meta"] = {"sender": {"id": 502}}  # no channel, no name, no handle
    server.messages[43][0].pop("sender")
    page = await make(http).fetch(None)
    tweet = next(m for m in page.messages if m.external_id == "43:9100")
    assert (tweet.author_id, tweet.author_name, tweet.author_handle, tweet.visibility) == ("502", None, None, "private")
    remote = next(r for r in page.remote_cases if r.thread == "43:")
    assert (remote.labels, remote.updated_at, remote.owner) == (None, T0 + 200, None)  # labels not reported


async def test_an_empty_account(server, http):
    server.conversations = {}
    page = await make(http).fetch(None)
    assert (page.messages, page.remote_cases, page.skipped, page.more) == ([], [], [], False)


async def test_inbox_filter(server, http):
    page = await make(http, inbox_ids=[8]).fetch(None)
    assert [r.thread for r in page.remote_cases] == ["43:"]
    assert server.requests[0].url.params["inbox_id"] == "8"


async def test_a_response_of_the_wrong_shape_is_a_clear_error(server, http):
    server.failures = [httpx.Response(200, json={"data": []})]
    with pytest.raises(ConnectorError, match="without data.payload"):
        await make(http).fetch(None)


async def test_a_misconfigured_account_fails_its_calls_in_plain_words(server, http):
    missing_url = ChatwootConnector(Account("team", "chatwoot", {"account_id": 3}), TOKEN, http=http)
    with pytest.raises(ConnectorError, match="base_url must be the Chatwoot server's address") as error:
        await missing_url.fetch(None)
    assert not error.value.retryable
    bad_id = ChatwootConnector(Account("team", "chatwoot", {"base_url": BASE, "account_id": "drie"}), TOKEN, http=http)
    with pytest.raises(ConnectorError, match="account_id must be the numeric"):
        await bad_id.send_reply(reply("Hallo"))
    no_token = ChatwootConnector(Account("team", "chatwoot", {"base_url": BASE, "account_id": "3"}), None, http=http)
    with pytest.raises(ConnectorError, match="no Chatwoot access token") as error:
        await no_token.fetch(None)
    assert error.value.needs_auth and server.requests == []


# -- failures -----------------------------------------------------------------------------------------


async def test_a_refused_token_needs_auth_and_the_sync_loses_nothing(server, http, store):
    runner = SyncRunner(store, {"team": make(http)})
    await runner.sync_once()
    before = store.counts()
    runner.connectors["team"] = make(http, token="revoked-token")
    [status] = await runner.sync_once()
    assert status.state == "needs_auth" and "Chatwoot refused the token (401: Invalid Access Token)" in status.error
    assert TOKEN not in status.error and store.counts() == before
    assert store.sync_state("team")["state"] == "needs_auth"


async def test_rate_limits_server_errors_and_timeouts(server, http):
    connector = make(http)
    server.failures = [httpx.Response(429, headers={"Retry-After": "30"}, json={"error": "Too many requests"})]
    with pytest.raises(ConnectorError) as limited:
        await connector.fetch(None)
    assert limited.value.retry_after == 30
    server.failures = [httpx.Response(503, text="upstream down")]
    with pytest.raises(ConnectorError) as down:
        await connector.fetch(None)
    assert down.value.retryable and not down.value.needs_auth
    server.failures = [httpx.ReadTimeout("slow")]
    with pytest.raises(ConnectorError) as slow_read:
        await connector.fetch(None)
    assert slow_read.value.retryable and not slow_read.value.outcome_unknown
    server.failures = [httpx.ReadTimeout("slow")]
    with pytest.raises(ConnectorError) as slow_send:
        await connector.send_reply(reply("Komt goed"))
    assert slow_send.value.outcome_unknown  # Chatwoot has no idempotency key: it may be out


# -- writing ------------------------------------------------------------------------------------------


def reply(text: str, in_reply_to: str = "42:9007") -> OutgoingReply:
    return OutgoingReply("key-1", "chatwoot", "team", "501", text, "private", in_reply_to)


def action(kind: str, **value) -> CaseAction:
    return CaseAction("key-2", "chatwoot", "team", kind, value, "42:9007")


async def test_a_reply_is_an_outgoing_message_and_gets_chatwoots_id(server, http):
    sent = await make(http).send_reply(reply("Bedankt voor je vraag!"))
    assert (sent.external_id, sent.created_at, sent.url) == ("42:9501", T0 + HOUR, f"{BASE}/app/accounts/3/conversations/42")
    assert server.calls() == [("POST", f"{PREFIX}/42/messages", {
        "content": "Bedankt voor je vraag!", "message_type": "outgoing", "private": False, "content_type": "text"})]


async def test_a_closed_reply_window_refuses_the_reply_with_the_reason(server, http):
    server.conversations[42]["can_reply"] = False
    connector = make(http)
    await connector.fetch(None)
    server.requests.clear()
    with pytest.raises(ConnectorError, match="reply window .* has closed") as closed:
        await connector.send_reply(reply("Hallo?"))
    assert not closed.value.retryable and server.requests == []


async def test_find_sent_looks_among_the_latest_messages(server, http):
    connector = make(http)
    await connector.send_reply(reply("Bedankt voor je vraag!"))
    found = await connector.find_sent(reply("Bedankt voor je vraag!"))
    assert found is not None and found.external_id == "42:9501"
    assert await connector.find_sent(reply("Iets anders")) is None
    assert await connector.find_case_action(action("memo", text="Bedankt voor je vraag!")) is False  # not a note


async def test_labels_are_read_merged_and_written_back_whole(server, http):
    server.conversations[42]["labels"] = ["vraag", "klacht"]
    await make(http).apply_case_action(action("labels", add=["Hypotheken", "Vraag"], remove=["klacht"]))
    assert server.calls() == [("GET", f"{PREFIX}/42/labels", None),
                              ("POST", f"{PREFIX}/42/labels", {"labels": ["vraag", "Hypotheken"]})]
    server.requests.clear()
    await make(http).apply_case_action(action("labels", add=["vraag"], remove=[]))
    assert [c[0] for c in server.calls()] == ["GET"]  # already so: nothing written


async def test_assignment_status_and_memo(server, http):
    connector = make(http)
    assert await connector.apply_case_action(action("assign", owner="sanne")) is None
    await connector.apply_case_action(action("assign", owner=None))
    await connector.apply_case_action(action("assign", owner="chatwoot:12"))
    await connector.apply_case_action(action("status", status="pending"))
    await connector.apply_case_action(action("status", status="closed"))
    note = await connector.apply_case_action(action("memo", text="Hoi Jeroen, kun jij hiernaar kijken?"))
    assert note == "42:9501"
    assert server.calls() == [
        ("POST", f"{PREFIX}/42/assignments", {"assignee_id": 14}),
        ("POST", f"{PREFIX}/42/assignments", {"assignee_id": None}),  # Chatwoot unassigns on a null id
        ("POST", f"{PREFIX}/42/assignments", {"assignee_id": 12}),
        ("POST", f"{PREFIX}/42/toggle_status", {"status": "snoozed"}),  # until the customer writes again
        ("POST", f"{PREFIX}/42/toggle_status", {"status": "resolved"}),
        ("POST", f"{PREFIX}/42/messages", {"content": "Hoi Jeroen, kun jij hiernaar kijken?",
                                           "message_type": "outgoing", "private": True, "content_type": "text"}),
    ]
    assert await connector.find_case_action(action("memo", text="Hoi Jeroen, kun jij hiernaar kijken?")) is True
    with pytest.raises(ConnectorError, match="no Chatwoot agent id for 'piet'") as unknown:
        await connector.apply_case_action(action("assign", owner="piet"))
    assert not unknown.value.retryable
    with pytest.raises(ConnectorError, match="names no Chatwoot conversation"):
        await connector.apply_case_action(CaseAction("k", "chatwoot", "team", "status", {"status": "open"}, None))


async def test_typing_goes_out_as_chatwoots_conversations_controller_takes_it(server, http):
    connector = make(http)
    await connector.set_typing("42:9007", True)  # a message of the conversation, or its thread
    await connector.set_typing("42:", False)
    await connector.set_typing("43:", True, private=True)  # writing a note: not shown to the customer
    # ConversationsController#toggle_typing_status (not in the swagger): params typing_status "on"/"off",
    # is_private; Conversations::TypingStatusManager dispatches conversation.typing_on/off
    assert server.calls() == [
        ("POST", f"{PREFIX}/42/toggle_typing_status", {"typing_status": "on"}),
        ("POST", f"{PREFIX}/42/toggle_typing_status", {"typing_status": "off"}),
        ("POST", f"{PREFIX}/43/toggle_typing_status", {"typing_status": "on", "is_private": True}),
    ]
    with pytest.raises(ConnectorError, match="names no Chatwoot conversation"):
        await connector.set_typing("x", True)


async def test_platforms_without_typing_do_nothing_by_default():
    from webcare_tui.connectors.demo import DemoConnector

    demo = DemoConnector(Account("demo-x", "demo"))
    assert await demo.set_typing("m1", True) is None
    demo.note_changed(["42:"])  # the default: the cursor finds changes by itself


@pytest.mark.parametrize("priority, ours", [(None, 0), ("low", 0), ("medium", 1), ("high", 2), ("urgent", 3),
                                            ("critical", None), (7, None)])
async def test_chatwoots_priority_is_read_into_ours(server, http, priority, ours):
    server.conversations[42]["priority"] = priority  # the conversation partial: json.priority (its enum, or null)
    page = await make(http).fetch(None)
    assert next(r for r in page.remote_cases if r.thread == "42:").priority == ours


async def test_a_conversations_team_is_read_by_our_name_or_chatwoots(server, http):
    server.conversations[42]["meta"]["team"] = TEAMS[0]  # the team partial, under meta, only when there is one
    server.conversations[43]["meta"]["team"] = TEAMS[1]
    page = await make(http, teams={"3": "Hypotheken"}).fetch(None)
    remote = {r.thread: r for r in page.remote_cases}
    assert (remote["42:"].team, remote["43:"].team) == ("Hypotheken", "storingen")  # mapped; Chatwoot's own name
    del server.conversations[42]["meta"]["team"]
    server.conversations[43].pop("priority")  # an older server without priority
    page = await make(http).fetch(None)
    remote = {r.thread: r for r in page.remote_cases}
    assert (remote["42:"].team, remote["43:"].priority) == ("", None)  # no team; priority not reported


async def test_priority_and_team_go_out_as_documented(server, http):
    connector = make(http, teams={"3": "hypotheken"})
    for priority in (3, 2, 1, 0):
        await connector.apply_case_action(action("priority", priority=priority))
    await connector.apply_case_action(action("team", team="Hypotheken"))  # by the teams option
    await connector.apply_case_action(action("team", team="storingen"))  # by Chatwoot's list, asked once
    await connector.apply_case_action(action("team", team="Storingen"))
    await connector.apply_case_action(action("team", team=None))
    assert server.calls() == [
        ("POST", f"{PREFIX}/42/toggle_priority", {"priority": "urgent"}),
        ("POST", f"{PREFIX}/42/toggle_priority", {"priority": "high"}),
        ("POST", f"{PREFIX}/42/toggle_priority", {"priority": "medium"}),
        ("POST", f"{PREFIX}/42/toggle_priority", {"priority": None}),  # priority.presence: none
        ("POST", f"{PREFIX}/42/assignments", {"team_id": 3}),
        ("GET", "/api/v1/accounts/3/teams", None),
        ("POST", f"{PREFIX}/42/assignments", {"team_id": 4}),
        ("POST", f"{PREFIX}/42/assignments", {"team_id": 4}),
        ("POST", f"{PREFIX}/42/assignments", {"team_id": None}),  # AssignmentsController: params.key?(:team_id)
    ]
    assert server.conversations[42]["priority"] is None and "team" not in server.conversations[42]["meta"]
    with pytest.raises(ConnectorError, match="no team 'verzekeringen' .*hypotheken, storingen") as unknown:
        await connector.apply_case_action(action("team", team="verzekeringen"))
    assert not unknown.value.retryable
    with pytest.raises(ConnectorError, match="no priority for 7"):
        await connector.apply_case_action(action("priority", priority=7))
    with pytest.raises(ConnectorError, match="teams maps Chatwoot team ids"):
        await make(http, teams={"drie": "hypotheken"}).fetch(None)


# -- through the sync, the case service, macros and the outbox --------------------------------------


class Team:
    """One agent's console in team mode: sync, case service, macros and outbox on one store."""

    def __init__(self, store, connector, now):
        self.store, self.connector, self.now = store, connector, now
        clock = lambda: self.now[0]  # noqa: E731
        self.cases = CaseService(store, clock=clock, remote_actions=case_actions_of({"team": connector}))
        self.sync = SyncRunner(store, {"team": connector}, clock=clock)
        self.outbox = Outbox(store, clock=clock)
        self.worker = OutboxWorker(store, {"team": connector}, clock=clock)
        self.macros = MacroRunner(store, self.cases, self.outbox, Agent(id="tim", name="Tim Ruiter", initials="TR",
                                                                        signature={"default": "\n\nGroetjes, Tim"}),
                                  grace=0, clock=clock)

    async def deliver_all(self) -> list[str]:
        states = []
        for _ in range(50):  # a case's rows go one after another
            if not (deliveries := await self.worker.deliver_due()):
                return states
            states += [d.state for d in deliveries]
        pytest.fail(f"the outbox never drained: {states}")

    def case_of(self, thread: str) -> int:
        return self.store.case_of_thread("chatwoot", thread)


@pytest.fixture
async def team(server, http, store):
    now = [T0 + HOUR]
    console = Team(store, make(http), now)
    await console.sync.sync_once()
    server.requests.clear()
    return console


async def test_end_to_end_a_macro_on_a_chatwoot_case_makes_the_documented_requests_in_order(server, team):
    case_id = team.case_of("42:")
    case = team.store.get_case(case_id)
    assert (case["platform"], case["owner"], case["status"], case["labels"]) == ("chatwoot", "jeroen", "open", ["vraag"])
    hypotheken = Macro(name="Hypotheken", assign="sanne", labels_add=("Hypotheken",), labels_remove=("vraag",),
                       memo="Hoi Sanne, kun jij hiernaar kijken?", reply="Bedankt voor je vraag, {author.name}!",
                       status="pending")
    team.macros.apply(hypotheken, [case_id])
    assert [r["payload"].get("action", r["kind"]) for r in team.store.case_outbox(case_id)] == [
        "assign", "labels", "memo", "reply", "status"]  # pending here by the reply; Chatwoot is told too
    team.now[0] += 1
    assert await team.deliver_all() == ["sent"] * 5
    assert server.calls() == [
        ("POST", f"{PREFIX}/42/assignments", {"assignee_id": 14}),
        ("GET", f"{PREFIX}/42/labels", None),
        ("POST", f"{PREFIX}/42/labels", {"labels": ["Hypotheken"]}),
        ("POST", f"{PREFIX}/42/messages", {"content": "Hoi Sanne, kun jij hiernaar kijken?",
                                           "message_type": "outgoing", "private": True, "content_type": "text"}),
        ("POST", f"{PREFIX}/42/messages", {"content": "Bedankt voor je vraag, Anna Jansen 🌷!\n\nGroetjes, Tim",
                                           "message_type": "outgoing", "private": False, "content_type": "text"}),
        ("POST", f"{PREFIX}/42/toggle_status", {"status": "snoozed"}),
    ]
    ours = team.store.case_messages(case_id)[-1]
    assert (ours["external_id"], ours["direction"], ours["agent"]) == ("42:9502", "out", "tim")
    memo_row = team.store.case_outbox(case_id)[2]
    assert memo_row["remote_id"] == "42:9501"
    # the next sync brings our own note and reply back: nothing twice, nothing changed
    before = team.store.counts()["messages"]
    server.requests.clear()
    await team.sync.sync_once()
    assert team.store.counts()["messages"] == before
    case = team.store.get_case(case_id)
    assert (case["owner"], case["labels"], case["status"]) == ("sanne", ["Hypotheken"], "pending")
    assert [c for c in server.calls() if c[0] == "POST"] == []  # and nothing echoed back
    # the teammate's note (the first sync) and ours (it came back as 42:9501, the outbox's remote_id): once each
    assert [(m["agent"], m["text"]) for m in team.store.case_memos(case_id)] == [
        ("jeroen", "Klant is al bekend bij ons"), ("tim", "Hoi Sanne, kun jij hiernaar kijken?")]


async def test_a_teammates_change_in_chatwoot_shows_up_on_the_next_sync(server, team):
    case_id = team.case_of("42:")
    conversation = server.conversations[42]
    conversation.update(status="resolved", labels=["vraag", "klacht"], last_activity_at=T0 + 2 * HOUR,
                        updated_at=T0 + 2 * HOUR)
    conversation["meta"]["assignee"] = {**conversation["meta"]["assignee"], "id": 14, "email": "sanne@example.nl"}
    team.now[0] = T0 + 2 * HOUR
    await team.sync.sync_once()
    case = team.store.get_case(case_id)
    assert (case["owner"], case["status"], case["labels"]) == ("sanne", "closed", ["klacht", "vraag"])
    remote = [(e["actor"], e["kind"], e["detail"]) for e in team.store.case_events(case_id) if e["actor"] == "chatwoot"]
    assert ("chatwoot", "assigned", {"from": "jeroen", "to": "sanne"}) in remote
    assert ("chatwoot", "status", {"from": "open", "to": "closed"}) in remote
    assert ("chatwoot", "labels", {"added": ["klacht"], "removed": []}) in remote
    assert team.store.case_outbox(case_id) == []  # taken in, not echoed back


async def test_a_newer_remote_change_wins_over_ours_not_yet_sent_and_the_agent_is_told(server, team):
    case_id = team.case_of("42:")
    team.now[0] = T0 + HOUR + MINUTE
    team.cases.assign(case_id, "tim", "tim")  # queued; Chatwoot is unreachable for now
    [row] = team.store.case_outbox(case_id)
    assert row["payload"] == {"action": "assign", "value": {"owner": "tim"}, "in_reply_to": "42:9007"}
    server.conversations[42]["meta"]["assignee"]["id"] = 14  # Sanne took it in Chatwoot, later
    server.conversations[42].update(last_activity_at=T0 + HOUR + 5 * MINUTE, updated_at=T0 + HOUR + 5 * MINUTE)
    team.now[0] = T0 + HOUR + 6 * MINUTE
    await team.sync.sync_once()
    assert team.store.get_case(case_id)["owner"] == "sanne"
    row = team.store.outbox_row(row["id"])
    assert row["state"] == "failed" and "changed to sanne after you set it to tim; theirs is kept" in row["last_error"]
    [conflict] = [e for e in team.store.case_events(case_id) if e["kind"] == "conflict"]
    assert conflict["detail"] | {"message": ""} == {"field": "owner", "yours": "tim", "theirs": "sanne",
                                                      "outbox_id": row["id"], "message": ""}
    assert await team.deliver_all() == []  # ours is not sent over theirs


async def test_our_newer_change_is_kept_and_goes_out(server, team):
    case_id = team.case_of("42:")
    server.conversations[42].update(status="resolved", last_activity_at=T0 + HOUR + MINUTE,
                                    updated_at=T0 + HOUR + MINUTE)  # a teammate resolved it...
    team.now[0] = T0 + HOUR + 5 * MINUTE
    team.cases.set_status(case_id, "pending", "tim")  # ...and we, later and not yet synced, set it pending
    await team.sync.sync_once()
    assert team.store.get_case(case_id)["status"] == "pending"
    assert await team.deliver_all() == ["sent"]
    assert server.conversations[42]["status"] == "snoozed"
    assert not [e for e in team.store.case_events(case_id) if e["kind"] == "conflict"]


async def test_label_changes_merge_with_ours_not_yet_sent(server, team):
    case_id = team.case_of("42:")
    team.cases.label(case_id, "tim", add=["Hypotheken"])
    server.conversations[42].update(labels=["vraag", "klacht"], last_activity_at=T0 + 2 * HOUR,
                                    updated_at=T0 + 2 * HOUR)
    team.now[0] = T0 + 2 * HOUR
    await team.sync.sync_once()
    assert team.store.get_case(case_id)["labels"] == ["Hypotheken", "klacht", "vraag"]
    await team.deliver_all()
    assert server.conversations[42]["labels"] == ["vraag", "klacht", "Hypotheken"]  # theirs kept


async def test_case_actions_retry_like_replies_and_a_memo_of_unknown_outcome_is_looked_up(server, team):
    case_id = team.case_of("42:")
    team.cases.label(case_id, "tim", add=["Hypotheken"])
    server.failures = [httpx.Response(502, text="bad gateway")]
    [delivery] = await team.worker.deliver_due()
    row = team.store.case_outbox(case_id)[0]
    assert delivery.state == "queued" and row["attempts"] == 1 and row["next_attempt_at"] > team.now[0]
    team.now[0] += MINUTE
    server.failures = [httpx.ReadTimeout("slow")]  # labels: setting them again is harmless
    [delivery] = await team.worker.deliver_due()
    assert delivery.state == "queued"
    team.now[0] += 10 * MINUTE
    assert await team.deliver_all() == ["sent"]
    team.cases.memo(case_id, "tim", "Klant belt morgen terug")
    server.failures = [httpx.WriteTimeout("slow")]
    [delivery] = await team.worker.deliver_due()
    assert delivery.state == "unknown"  # a note twice would be a double: look first
    [settled] = await team.worker.recover()
    assert settled.state == "queued"  # the timeout came before Chatwoot had it
    assert await team.deliver_all() == ["sent"]
    assert sum(1 for m in server.messages[42] if m.get("private") and m["content"] == "Klant belt morgen terug") == 1


async def test_our_macros_work_on_x_conversations_in_chatwoot(server, team):
    case_id = team.case_of("43:")  # a tweet that reached Chatwoot's X inbox
    compliment = Macro(name="Compliment", labels_add=("Compliment",), assign="jeroen", reply="Dank je wel!",
                       status="closed")
    team.macros.apply(compliment, [case_id])
    team.now[0] += 1
    assert await team.deliver_all() == ["sent"] * 4
    assert server.calls() == [
        ("POST", f"{PREFIX}/43/assignments", {"assignee_id": 12}),
        ("GET", f"{PREFIX}/43/labels", None),
        ("POST", f"{PREFIX}/43/labels", {"labels": ["Compliment"]}),
        ("POST", f"{PREFIX}/43/messages", {"content": "Dank je wel!\n\nGroetjes, Tim", "message_type": "outgoing",
                                           "private": False, "content_type": "text"}),
        ("POST", f"{PREFIX}/43/toggle_status", {"status": "resolved"}),
    ]


async def test_undo_takes_the_platform_side_back_before_it_leaves(server, team):
    case_id = team.case_of("42:")
    applied = team.macros.apply(Macro(name="Hypotheken", assign="sanne", labels_add=("Hypotheken",), memo="Memo",
                                      reply="Komt goed"), [case_id])
    assert len(applied.outbox) == 4
    team.macros.undo(applied)
    assert [r["state"] for r in team.store.case_outbox(case_id)] == ["discarded"] * 4
    team.now[0] += 1
    assert await team.deliver_all() == [] and server.requests == []
    case = team.store.get_case(case_id)
    assert (case["owner"], case["labels"]) == ("jeroen", ["vraag"])


async def test_an_older_report_changes_nothing_and_a_change_on_its_way_is_looked_at_again(server, team):
    case_id = team.case_of("42:")
    known = team.store.remote_case_state(case_id)
    assert (known["owner"], known["status"], known["labels"]) == ("jeroen", "open", ["vraag"])
    from webcare_tui.connectors.base import RemoteCase

    stale = RemoteCase("42:", known["updated_at"] - 1, status="closed", owner="sanne", labels=())
    assert team.cases.apply_remote("team", "chatwoot", stale) == 0
    assert team.store.get_case(case_id)["owner"] == "jeroen"
    team.cases.assign(case_id, "tim", "tim")
    [row] = team.store.case_outbox(case_id)
    team.store.update_outbox(row["id"], team.now[0], state="sending")  # the request is out right now
    newer = RemoteCase("42:", team.now[0] + 60, status="open", owner="sanne", labels=("vraag",))
    assert team.cases.apply_remote("team", "chatwoot", newer) == 0
    assert team.store.get_case(case_id)["owner"] == "tim" and team.store.remote_case_state(case_id)["owner"] == "jeroen"


def teammate_sets_priority(server: Chatwoot, priority: str | None, at: int) -> None:
    """A teammate sets the priority in Chatwoot: it moves updated_at, not last_activity_at."""
    server.conversations[42].update(priority=priority, updated_at=at)
    server.conversations[42]["last_activity_at"] = at  # the poll only looks again at active conversations


async def test_a_teammates_priority_in_chatwoot_becomes_the_cases(server, team):
    case_id = team.case_of("42:")
    assert team.store.get_case(case_id)["priority"] == 0  # none in Chatwoot
    teammate_sets_priority(server, "urgent", T0 + 2 * HOUR)
    team.now[0] = T0 + 2 * HOUR
    [status] = await team.sync.sync_once()
    assert team.store.get_case(case_id)["priority"] == 3 and case_id in status.cases
    events = [(e["actor"], e["kind"], e["detail"]) for e in team.store.case_events(case_id) if e["kind"] == "priority"]
    assert events == [("chatwoot", "priority", {"from": 0, "to": 3})]
    teammate_sets_priority(server, None, T0 + 3 * HOUR)  # lowered there: lowered here
    team.now[0] = T0 + 3 * HOUR
    await team.sync.sync_once()
    assert team.store.get_case(case_id)["priority"] == 0
    assert team.store.case_outbox(case_id) == []  # taken in, not echoed back


async def test_a_priority_seen_first_only_raises_ours_and_ours_waiting_is_not_overwritten(server, team):
    case_id = team.case_of("42:")
    with team.store.transaction():  # as a routing rule raises it at ingest: ours alone, nothing queued
        team.store.update_case_fields(("priority",), [(2, case_id)])
    teammate_sets_priority(server, None, T0 + 2 * HOUR)
    team.now[0] = T0 + 2 * HOUR
    await team.sync.sync_once()
    assert team.store.get_case(case_id)["priority"] == 2  # nobody changed it there: ours stays
    # a priority not seen before (a store from before Chatwoot's priority was kept): its first sight only raises
    with team.store.transaction():
        team.store.conn.execute("UPDATE remote_case_state SET priority = NULL WHERE case_id = ?", (case_id,))
    teammate_sets_priority(server, "medium", T0 + 3 * HOUR)
    team.now[0] = T0 + 3 * HOUR
    await team.sync.sync_once()
    assert team.store.get_case(case_id)["priority"] == 2  # first sight, lower than ours: kept
    assert team.store.remote_case_state(case_id)["priority"] == 1  # and seen from now on
    teammate_sets_priority(server, "urgent", T0 + 4 * HOUR)
    team.now[0] = T0 + 4 * HOUR
    await team.sync.sync_once()
    assert team.store.get_case(case_id)["priority"] == 3  # changed there since: theirs
    # ours waiting in the outbox (as CaseService queues a case action) goes out and is not overwritten
    with team.store.transaction():
        case = team.store.case_state(case_id)
        case.priority = 1
        team.store.save_case(case)
        team.store.add_outbox("key-p", case_id, "team", "chatwoot", "case_action",
                              {"action": "priority", "value": {"priority": 1}, "in_reply_to": "42:9007"}, team.now[0])
    teammate_sets_priority(server, "high", T0 + 5 * HOUR)
    team.now[0] = T0 + 5 * HOUR
    await team.sync.sync_once()
    assert team.store.get_case(case_id)["priority"] == 1
    team.now[0] += 1
    server.requests.clear()
    assert await team.deliver_all() == ["sent"]
    assert server.calls() == [("POST", f"{PREFIX}/42/toggle_priority", {"priority": "medium"})]


def priority_trail(store, case_id: int) -> list[tuple[str, dict]]:
    return [(e["actor"], e["detail"]) for e in store.case_events(case_id) if e["kind"] == "priority"]


async def test_what_chatwoot_last_said_of_the_priority_survives_a_restart(server, http, tmp_path):
    path = tmp_path / "console.db"
    with Store(path) as store:
        console = Team(store, make(http), [T0 + HOUR])
        await console.sync.sync_once()
        case_id = console.case_of("42:")
        teammate_sets_priority(server, "urgent", T0 + 2 * HOUR)
        console.now[0] = T0 + 2 * HOUR
        await console.sync.sync_once()
        assert store.get_case(case_id)["priority"] == 3
        console.cases.set_priority(case_id, 2, "tim")  # lowered here; the change for Chatwoot is given up on
        [row] = store.case_outbox(case_id)
        console.outbox.discard(row["id"], "tim")
        assert store.get_case(case_id)["priority"] == 2  # ours alone now: Chatwoot still says urgent
    with Store(path) as store:  # the console restarted: a new store, sync and case service on the same file
        console = Team(store, make(http), [T0 + 3 * HOUR])
        teammate_sets_priority(server, "urgent", T0 + 3 * HOUR)  # active again; nobody touched the priority
        [status] = await console.sync.sync_once()
        assert status.state == "online"
        assert store.get_case(case_id)["priority"] == 2  # not changed there since we last looked: ours stays
        teammate_sets_priority(server, "medium", T0 + 4 * HOUR)  # a real change there, lower than ours
        console.now[0] = T0 + 4 * HOUR
        await console.sync.sync_once()
        assert store.get_case(case_id)["priority"] == 1
        assert priority_trail(store, case_id) == [
            ("chatwoot", {"from": 0, "to": 3}), ("tim", {"from": 3, "to": 2, "outbox_id": row["id"]}),
            ("chatwoot", {"from": 2, "to": 1})]  # the trail and the case agree
        assert [r["state"] for r in store.case_outbox(case_id)] == ["discarded"]  # nothing echoed back


def team_trail(store, case_id: int) -> list[tuple[str, dict]]:
    return [(e["actor"], e["detail"]) for e in store.case_events(case_id) if e["kind"] == "team"]


def teammate_sets_team(server: Chatwoot, team: dict | None, at: int) -> None:
    """A teammate puts the conversation with a team in Chatwoot (the team partial under meta; none: left out)."""
    server.conversations[42]["meta"].pop("team", None)
    if team is not None:
        server.conversations[42]["meta"]["team"] = team
    server.conversations[42].update(updated_at=at, last_activity_at=at)  # the poll looks again at active ones


async def test_a_teammates_team_in_chatwoot_arrives_on_the_case_with_an_event(server, team):
    case_id = team.case_of("42:")
    assert team.store.get_case(case_id)["team"] is None  # none in Chatwoot
    teammate_sets_team(server, TEAMS[0], T0 + 2 * HOUR)
    team.now[0] = T0 + 2 * HOUR
    [status] = await team.sync.sync_once()
    assert team.store.get_case(case_id)["team"] == "hypotheken" and case_id in status.cases
    teammate_sets_team(server, TEAMS[1], T0 + 3 * HOUR)
    team.now[0] = T0 + 3 * HOUR
    await team.sync.sync_once()
    assert team.store.get_case(case_id)["team"] == "storingen"
    fresh = SyncRunner(team.store, {"team": team.connector}, clock=lambda: team.now[0])  # after a restart
    teammate_sets_team(server, None, T0 + 4 * HOUR)  # taken off its team there
    team.now[0] = T0 + 4 * HOUR
    await fresh.sync_once()
    assert team.store.get_case(case_id)["team"] is None
    assert team_trail(team.store, case_id) == [
        ("chatwoot", {"from": None, "to": "hypotheken"}), ("chatwoot", {"from": "hypotheken", "to": "storingen"}),
        ("chatwoot", {"from": "storingen", "to": None})]
    assert team.store.case_outbox(case_id) == []  # taken in, not echoed back


async def test_our_team_change_goes_out_and_a_newer_one_there_wins_over_ours_not_yet_sent(server, team):
    case_id = team.case_of("42:")
    team.now[0] = T0 + HOUR + MINUTE
    team.cases.set_team(case_id, "Hypotheken", "tim")
    [row] = team.store.case_outbox(case_id)
    assert row["payload"] == {"action": "team", "value": {"team": "Hypotheken"}, "in_reply_to": "42:9007"}
    assert team_trail(team.store, case_id) == [("tim", {"from": None, "to": "Hypotheken", "outbox_id": row["id"]})]
    assert await team.deliver_all() == ["sent"]
    assert server.calls() == [("GET", "/api/v1/accounts/3/teams", None),
                              ("POST", f"{PREFIX}/42/assignments", {"team_id": 3})]
    teammate_sets_team(server, TEAMS[0], T0 + HOUR + MINUTE)  # what Chatwoot shows now: its own lower-case name
    team.now[0] = T0 + HOUR + 2 * MINUTE
    await team.sync.sync_once()
    assert len(team_trail(team.store, case_id)) == 1  # ours came back: no change, no event
    team.cases.set_team(case_id, "storingen", "tim")  # queued; Chatwoot is not reached for now
    [_, row] = team.store.case_outbox(case_id)
    teammate_sets_team(server, None, T0 + HOUR + 5 * MINUTE)  # Sanne took it off its team there, later
    team.now[0] = T0 + HOUR + 6 * MINUTE
    await team.sync.sync_once()
    assert team.store.get_case(case_id)["team"] is None
    row = team.store.outbox_row(row["id"])
    assert row["state"] == "failed" and "the team was changed to nobody after you set it to storingen" in row["last_error"]
    [conflict] = [e for e in team.store.case_events(case_id) if e["kind"] == "conflict"]
    assert conflict["detail"] | {"message": ""} == {"field": "team", "yours": "storingen", "theirs": None,
                                                      "outbox_id": row["id"], "message": ""}
    assert team_trail(team.store, case_id)[-1] == ("chatwoot", {"from": "storingen", "to": None})
    assert await team.deliver_all() == []  # ours is not sent over theirs


ROUTING = """
[team]
agents = [{ id = "jeroen", name = "Jeroen", team = "hypotheken" }, { id = "sanne", name = "Sanne" }]

[[rule]]
name = "Hypotheken"
words = ["hypotheek"]
assign_team = "hypotheken"
"""


async def test_our_routings_team_goes_to_chatwoot_as_a_team_case_action(server, http, store):
    book = load_rules(tomllib.loads(ROUTING), ROUTING, "config.toml")
    assert book.errors == []
    console = Team(store, make(http), [T0 + HOUR])
    console.sync = SyncRunner(store, {"team": console.connector}, clock=lambda: console.now[0],
                              router=Router(book, store.last_rule_assignment, lambda: console.now[0]))
    await console.sync.sync_once()  # 42 asks about a mortgage ("hypotheek"), 43 about a suitcase
    case_id, other = console.case_of("42:"), console.case_of("43:")
    assert (store.get_case(case_id)["team"], store.get_case(other)["team"]) == ("hypotheken", None)
    [row] = store.case_outbox(case_id)
    assert (row["kind"], row["payload"]["action"], row["payload"]["value"]) == ("case_action", "team",
                                                                                {"team": "hypotheken"})
    assert store.case_outbox(other) == []
    # Chatwoot's older state (no team), read in the same sync, did not undo ours
    assert team_trail(store, case_id) == [("rule:Hypotheken", {"from": None, "to": "hypotheken"})]
    server.requests.clear()
    assert await console.deliver_all() == ["sent"]
    assert server.calls() == [("GET", "/api/v1/accounts/3/teams", None),
                              ("POST", f"{PREFIX}/42/assignments", {"team_id": 3})]
    assert server.conversations[42]["meta"]["team"]["name"] == "hypotheken"
    # the next sync reads it back, and a new message of the same case routes again: nothing goes out twice
    server.messages[42].append({**server.messages[42][0], "id": 9010, "content": "En mijn hypotheek?",
                                "created_at": T0 + 2 * HOUR})
    server.conversations[42].update(last_activity_at=T0 + 2 * HOUR, updated_at=T0 + 2 * HOUR)
    console.now[0] = T0 + 2 * HOUR
    await console.sync.sync_once()
    assert store.get_case(case_id)["team"] == "hypotheken" and len(team_trail(store, case_id)) == 1
    assert len(store.case_outbox(case_id)) == 1


def test_without_a_helpdesk_nothing_is_queued_for_the_platform(store):
    from conftest import msg

    from webcare_tui.ingest import ingest

    ingest(store, [msg(0)])
    case_id = store.list_cases()[0]["id"]
    cases = CaseService(store, clock=lambda: T0)
    cases.assign(case_id, "tim", "tim")
    cases.label(case_id, "tim", add=["Vraag"])
    cases.memo(case_id, "tim", "memo")
    cases.set_status(case_id, "closed", "tim")
    assert store.case_outbox(case_id) == []


# -- the requests against the swagger -----------------------------------------------------------------


def resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


async def test_every_request_matches_the_chatwoot_swagger(server, team, http):
    if not SPEC.is_file():
        pytest.skip(f"the Chatwoot swagger is not at {SPEC} (see /work/shared/data/README.md)")
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    # make every kind of request once: list, messages, labels GET/POST, assignments, toggle_status, replies
    server.conversations[42]["last_activity_at"] = server.conversations[42]["updated_at"] = T0 + 2 * HOUR
    team.now[0] = T0 + 2 * HOUR
    await team.sync.sync_once()
    case_id = team.case_of("42:")
    team.macros.apply(Macro(name="Alles", assign="sanne", labels_add=("Hypotheken",), memo="Memo",
                            reply="Antwoord", status="closed"), [case_id])
    team.cases.assign(case_id, None, "tim")
    team.now[0] += 1
    await team.deliver_all()
    await team.connector.find_sent(reply("Antwoord"))
    # team mode in real time: the profile (pubsub token), a conversation by id, priority and team both ways
    await team.connector.realtime_sign_in()
    team.connector.note_changed(["42:"])
    await team.sync.sync_once()
    for value in ({"priority": 3}, {"priority": 0}, {"team": "storingen"}, {"team": None}):
        await team.connector.apply_case_action(action(next(iter(value)), **value))
    assert {(r.method, r.url.path.rsplit("/", 1)[-1]) for r in server.requests} >= {
        ("GET", "conversations"), ("GET", "messages"), ("GET", "labels"), ("POST", "labels"),
        ("POST", "assignments"), ("POST", "toggle_status"), ("POST", "messages"), ("GET", "profile"),
        ("GET", "42"), ("POST", "toggle_priority"), ("GET", "teams")}
    templates = {re.sub(r"\{[^}]+\}", "[^/]+", path): path for path in spec["paths"]}
    for request in server.requests:
        path = next((template for pattern, template in templates.items() if re.fullmatch(pattern, request.url.path)),
                    None)
        assert path is not None, f"{request.url.path} is not in the swagger"
        operation = spec["paths"][path].get(request.method.lower())
        assert operation is not None, f"{request.method} {path} is not in the swagger"
        assert {"userApiKey": []} in operation["security"] and request.headers["api_access_token"] == TOKEN
        documented = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        undocumented = set(request.url.params) - documented - {"after", "before"}  # message paging: MessageFinder
        assert not undocumented, f"{request.method} {path}: {undocumented} not documented"
        if request.method == "POST":
            schema = resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
            body = json.loads(request.content)
            assert set(schema.get("required", [])) <= set(body), f"{path}: {schema.get('required')} missing"
            for name, value in body.items():
                assert name in schema["properties"], f"{path}: {name} is not a documented field"
                expected = resolve(spec, schema["properties"][name])
                kinds = {"string": str, "boolean": bool, "number": (int, float), "integer": int, "array": list}
                # Chatwoot's AssignmentsController unassigns on assignee_id or team_id null (params.key?), and
                # Conversation#toggle_priority clears on null (priority.presence; the swagger's "none" is no value
                # of its priority enum)
                nullable = name in ("assignee_id", "team_id", "priority") and value is None
                if "enum" in expected and not nullable:
                    assert value in expected["enum"], f"{path}: {name}={value!r} not in {expected['enum']}"
                assert isinstance(value, kinds[expected["type"]]) or nullable, (
                    f"{path}: {name}={value!r} is not {expected['type']}")


async def test_an_agents_priority_goes_to_chatwoot_through_the_outbox(server, team):
    case_id = team.case_of("42:")
    team.cases.set_priority(case_id, 3, "tim")
    [row] = team.store.case_outbox(case_id)
    assert row["payload"]["action"] == "priority" and row["payload"]["value"] == {"priority": 3}
    assert team.store.case_events(case_id)[-1]["detail"]["outbox_id"] == row["id"]  # the event names what went out
    assert await team.deliver_all() == ["sent"]
    assert server.calls()[-1] == ("POST", f"{PREFIX}/42/toggle_priority", {"priority": "urgent"})
