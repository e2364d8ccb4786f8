"""The Matrix connector at the httpx edge, with responses recorded from a real Synapse (tests/fixtures/matrix)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
import pytest
import respx
from conftest import T0

from webcare_tui.cases import CaseService
from webcare_tui.config import Account, Agent
from webcare_tui.connectors.base import ConnectorError, OutgoingReply
from webcare_tui.connectors.matrix import GAP_PAGES, MAX_REPLY_LENGTH, MatrixConnector
from webcare_tui.macro_runner import MacroRunner
from webcare_tui.macros import Macro
from webcare_tui.outbox import Outbox, OutboxWorker
from webcare_tui.sync import SyncRunner

FIXTURES = Path(__file__).parent / "fixtures" / "matrix"
BASE = "https://matrix.example.org"
V3 = f"{BASE}/_matrix/client/v3"
TOKEN = "syt_d2ViY2FyZQ_secretsecret_0abc12"
BRAND, ANNA, BRAM = "@webcare:localhost", "@anna:localhost", "@bram:localhost"
DM = "!4FVvhVdUzQqPB6UnD7UyVmHpK3lz79IT1EGrGmctGWA"  # anna's direct room (is_direct invite)
PUBLIC = "!UCWDFIMbAB8ozleIP7evBP6Q8_KkQNayGr106GYUx38"  # bram's public room "Klantenservice"
QUESTION = "$l8HRxdM_zhpB6jLVlVlEsLMqZ2XYHfsVnxjfaztqfuA"  # anna: "Waar blijft mijn pakket? 📦"
CRASH = "$AfX4v0K_NzOeXGFZ_DyAEQdYskrK4e77YOYn1hbcSys"  # bram: "Jullie app crasht steeds…"
DIRECT_PATH = f"{V3}/user/{quote(BRAND, safe='')}/account_data/m.direct"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def room_path(room_id: str) -> str:
    return f"{V3}/rooms/{quote(room_id, safe='')}"


def matrix(**options) -> MatrixConnector:
    return MatrixConnector(Account("brand-matrix", "matrix", {"base_url": BASE, "user_id": BRAND} | options), TOKEN,
                           httpx.AsyncClient(), clock=lambda: T0)


@pytest.fixture
async def connector():
    opened = matrix(timeline_limit=10)
    yield opened
    await opened.aclose()
    await opened.api.http.aclose()


def syncs(pages: dict[str | None, dict | httpx.Response]) -> respx.Route:
    """/sync answered by the `since` it asks for."""

    def answer(request: httpx.Request) -> httpx.Response:
        since = request.url.params.get("since")
        page = pages[since]
        return page if isinstance(page, httpx.Response) else httpx.Response(200, json=page)

    return respx.get(f"{V3}/sync").mock(side_effect=answer)


def stored_direct(content: dict | None = None) -> tuple[respx.Route, respx.Route]:
    """The account's m.direct account data: GET gives `content` (404 when None), PUT takes a new one."""
    missing = load("error_no_direct.json")
    read = respx.get(DIRECT_PATH).mock(return_value=httpx.Response(200, json=content) if content is not None
                                       else httpx.Response(missing["status"], json=missing["body"]))
    return read, respx.put(DIRECT_PATH).respond(200, json={})


def joins() -> respx.Route:
    return respx.post(url__regex=rf"{re.escape(V3)}/join/.+").mock(
        side_effect=lambda request: httpx.Response(200, json={"room_id": unquote(request.url.path.rsplit("/", 1)[1])}))


INVITES, JOINED, INCREMENTAL = load("sync_invites.json"), load("sync_joined.json"), load("sync_incremental.json")
PAGES = {None: INVITES, INVITES["next_batch"]: JOINED, JOINED["next_batch"]: INCREMENTAL}


# ---------------------------------------------------------------- fetch


@respx.mock
async def test_the_first_sync_joins_the_rooms_it_is_invited_to_and_remembers_direct_ones(connector):
    sync = syncs(PAGES)
    join = joins()
    _, direct = stored_direct({"@someone:example.org": ["!old:example.org"]})
    page = await connector.fetch(None)
    assert (page.messages, page.cursor, page.more, page.skipped) == ([], INVITES["next_batch"], True, [])
    request = sync.calls.last.request
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    params = request.url.params
    assert "since" not in params and params["timeout"] == "0"
    sent_filter = json.loads(params["filter"])
    assert sent_filter["room"]["timeline"] == {"limit": 10, "types": ["m.room.message", "m.room.encrypted",
                                                                      "m.room.redaction", "m.room.member"]}
    assert sent_filter["room"]["state"]["lazy_load_members"] is True
    assert sorted(unquote(call.request.url.path).rsplit("/", 1)[1] for call in join.calls) == sorted([DM, PUBLIC])
    # anna's invite said is_direct: her room goes into m.direct, as a client does
    assert json.loads(direct.calls.last.request.content) == {"@someone:example.org": ["!old:example.org"], ANNA: [DM]}


@respx.mock
async def test_joined_rooms_become_messages_field_by_field(connector):
    syncs(PAGES)
    joins()
    stored_direct()
    messages_route = respx.get(url__regex=r".*/messages").respond(500)
    first = await connector.fetch(None)
    page = await connector.fetch(first.cursor)
    assert page.cursor == JOINED["next_batch"] and page.more is False
    assert not messages_route.called  # a room just joined starts from its bounded timeline, no gap to fill
    assert [(m.author_id, m.text, m.visibility) for m in page.messages] == [
        # the edit (m.replace) arrived with its original: the original carries the new text
        (ANNA, "Waar blijft mijn pakket?? Besteld op 3 november 📦", "private"),
        (ANNA, "[image] pakketje.jpg", "private"),
        (BRAM, "Jullie app crasht steeds bij het inloggen", "public"),
        (BRAM, "[emote] zucht", "public"),
    ]
    question = page.messages[0]
    assert question.platform == "matrix" and question.account == "brand-matrix"
    assert question.external_id == f"{DM}|{QUESTION}"
    assert (question.author_handle, question.author_name) == (ANNA, "Anna de Vries 🌷")
    assert question.created_at == 1795627883992 // 1000
    assert (question.direction, question.in_reply_to) == ("in", None)
    assert question.url == f"https://matrix.to/#/{quote(DM, safe='')}/{quote(QUESTION, safe='')}?via=localhost"
    assert page.messages[2].author_name == "Bram"
    [redacted] = page.skipped
    assert redacted.startswith(f"{DM}|$efUb") and "redacted" in redacted


@respx.mock
async def test_our_own_replies_come_back_as_outbound_to_the_customer_and_later_edits_arrive(connector):
    syncs(PAGES)
    joins()
    stored_direct()
    cursor = (await connector.fetch(None)).cursor
    cursor = (await connector.fetch(cursor)).cursor
    page = await connector.fetch(cursor)
    assert page.skipped == []
    assert [(m.direction, m.author_id, m.visibility, m.text, m.in_reply_to) for m in page.messages] == [
        ("out", ANNA, "private", "We zoeken het voor je uit!", f"{DM}|{QUESTION}"),
        ("out", BRAM, "public", "Welke versie van de app heb je?", f"{PUBLIC}|{CRASH}"),
        # an edit whose original came in an earlier sync arrives as its own message, answering it
        ("in", ANNA, "private", "[edited] Waar blijft mijn pakket? Het is er nog steeds niet", f"{DM}|{QUESTION}"),
        # a reply's legacy "> <@user> quote" fallback is not the customer's text
        ("in", BRAM, "public", "Versie 4.2", f"{PUBLIC}|$czTVHwCkfAydWIdQ2kyBIfiotaETWp4cQg1hs74kYFU"),
    ]
    ours = page.messages[0]
    assert (ours.author_handle, ours.author_name) == (ANNA, "Anna de Vries 🌷")


@respx.mock
async def test_after_a_restart_direct_rooms_are_read_from_account_data():
    connector = matrix()
    try:
        syncs(PAGES)
        stored = respx.get(DIRECT_PATH).respond(200, json={ANNA: [DM], "@someone:example.org": ["!old:example.org"]})
        page = await connector.fetch(JOINED["next_batch"])
        assert stored.called
        by_text = {m.text: m for m in page.messages}
        reply = by_text["We zoeken het voor je uit!"]
        assert (reply.direction, reply.author_id, reply.visibility) == ("out", ANNA, "private")
        # in the public room the only other member (from the state) is whom our reply was for
        assert by_text["Welke versie van de app heb je?"].author_id == BRAM
    finally:
        await connector.aclose()
        await connector.api.http.aclose()


@respx.mock
async def test_without_m_direct_account_data_rooms_are_public_until_an_is_direct_invite(connector):
    syncs(PAGES)
    missing = load("error_no_direct.json")
    respx.get(DIRECT_PATH).respond(missing["status"], json=missing["body"])
    page = await connector.fetch(INVITES["next_batch"])  # restarted after joining, before m.direct was written
    # our own member event still carries is_direct from anna's invite
    assert {m.visibility for m in page.messages if m.author_id == ANNA} == {"private"}
    assert {m.visibility for m in page.messages if m.author_id == BRAM} == {"public"}


@respx.mock
async def test_a_limited_sync_fills_its_gap_from_the_room_history(connector):
    cursor = INCREMENTAL["next_batch"]
    limited = load("sync_limited.json")
    syncs({cursor: limited})
    respx.get(DIRECT_PATH).respond(200, json={ANNA: [DM]})
    gap = load("messages_gap.json")
    pages = [httpx.Response(200, json=gap), httpx.Response(200, json={"chunk": [], "start": gap["end"]})]
    history = respx.get(f"{room_path(PUBLIC)}/messages").mock(side_effect=pages)
    page = await connector.fetch(cursor)
    assert [m.text for m in page.messages] == [f"Bericht {n} van 5" for n in range(1, 6)]
    assert {m.author_name for m in page.messages} == {"Bram"}
    first, second = (call.request.url.params for call in history.calls)
    prev_batch = limited["rooms"]["join"][PUBLIC]["timeline"]["prev_batch"]
    assert (first["dir"], first["from"], first["to"], first["limit"]) == ("b", prev_batch, cursor, "10")
    assert second["from"] == gap["end"]  # paged on until no `end` came back
    assert page.skipped == []


@respx.mock
async def test_a_gap_longer_than_the_pages_we_fetch_is_reported(connector):
    cursor = INCREMENTAL["next_batch"]
    syncs({cursor: load("sync_limited.json")})
    respx.get(DIRECT_PATH).respond(200, json={})
    gap = load("messages_gap.json")
    tokens = iter(range(100))
    history = respx.get(f"{room_path(PUBLIC)}/messages").mock(
        side_effect=lambda request: httpx.Response(200, json=gap | {"end": f"t{next(tokens)}"}))
    page = await connector.fetch(cursor)
    assert history.call_count == GAP_PAGES
    assert len(page.skipped) == 1 and "were not fetched" in page.skipped[0]
    assert "Bericht 5 van 5" in [m.text for m in page.messages]


def event(event_id: str, content: dict, *, sender: str = ANNA, ts: int = 1_764_000_000_000, kind: str = "m.room.message",
          **extra) -> dict:
    return {"type": kind, "event_id": event_id, "sender": sender, "origin_server_ts": ts, "content": content} | extra


def one_room(events: list[dict], **room) -> dict:
    return {"next_batch": "s2", "rooms": {"join": {"!r:example.org": {"timeline": {"events": events}} | room}}}


@respx.mock
async def test_unknown_fields_missing_optional_ones_and_unreadable_events(connector):
    events = [
        event("$extra", {"msgtype": "m.text", "body": "Hoi 👋🏽", "org.example.field": {"x": 1}}, ts=1_764_000_000_000,
              **{"org.example.top": True}),
        event("$notice", {"msgtype": "m.notice", "body": "Automatisch bericht"}, ts=1_764_000_001_000),
        event("$poll", {"msgtype": "org.example.poll", "body": "Kies: A of B"}, ts=1_764_000_002_000),
        event("$file", {"msgtype": "m.file", "body": "factuur.pdf", "url": "mxc://e/f"}, ts=1_764_000_003_000),
        event("$thread", {"msgtype": "m.text", "body": "In de draad",
                          "m.relates_to": {"rel_type": "m.thread", "event_id": "$extra", "is_falling_back": True}},
              ts=1_764_000_004_000),
        event("$nobody", {"msgtype": "m.text"}),
        {"type": "m.room.message", "event_id": "$nosender", "origin_server_ts": 1, "content": {"body": "x"}},
        event("$secret", {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgA"}, kind="m.room.encrypted"),
        event("$otheredit", {"msgtype": "m.text", "body": "* gehackt", "m.new_content": {"msgtype": "m.text",
              "body": "gehackt"}, "m.relates_to": {"rel_type": "m.replace", "event_id": "$extra"}}, sender=BRAM),
        "not an event",
    ]
    syncs({"s1": one_room(events)})
    respx.get(DIRECT_PATH).respond(404, json={"errcode": "M_NOT_FOUND", "error": "Account data not found"})
    page = await connector.fetch("s1")
    assert [(m.external_id.split("|")[1], m.text, m.in_reply_to) for m in page.messages] == [
        ("$extra", "Hoi 👋🏽", None),
        ("$secret", "[encrypted message: webcare cannot read end-to-end encrypted rooms]", None),  # issue 17
        ("$notice", "Automatisch bericht", None),
        ("$poll", "Kies: A of B", None),  # an unknown msgtype shows its body, as the spec asks
        ("$file", "[file] factuur.pdf", None),
        ("$thread", "In de draad", "!r:example.org|$extra"),
    ]
    assert page.messages[0].author_name is None  # no member state: the name stays unknown
    assert [line.split(": ", 1) for line in page.skipped] == [
        ["!r:example.org|$nobody", "no body"],
        ["!r:example.org|$nosender", "missing event_id, sender, origin_server_ts or content"],
        ["!r:example.org|$otheredit", "an edit by someone other than the message's author"],
    ]


@respx.mock
async def test_an_empty_sync_keeps_going_from_its_new_token(connector):
    syncs({"s1": {"next_batch": "s2"}})
    respx.get(DIRECT_PATH).respond(200, json={})
    page = await connector.fetch("s1")
    assert (page.messages, page.cursor, page.more, page.skipped) == ([], "s2", False, [])


@respx.mock
@pytest.mark.parametrize("body", [[], {"rooms": {}}, {"next_batch": 5}, {"next_batch": "s2", "rooms": []}])
async def test_a_sync_of_the_wrong_shape_is_an_error_not_a_crash(connector, body):
    syncs({None: body})
    with pytest.raises(ConnectorError) as raised:
        await connector.fetch(None)
    assert "sync response" in raised.value.message


@respx.mock
async def test_an_invite_that_cannot_be_joined_is_reported_and_the_rest_goes_on(connector):
    syncs({None: INVITES})
    stored_direct()
    respx.post(f"{V3}/join/{quote(DM, safe='')}").respond(403, json={"errcode": "M_FORBIDDEN",
                                                                     "error": "You are not invited to this room."})
    respx.post(f"{V3}/join/{quote(PUBLIC, safe='')}").respond(200, json={"room_id": PUBLIC})
    page = await connector.fetch(None)
    assert page.more is True
    assert page.skipped == [f"{DM}: could not join (Matrix refused the request (403 M_FORBIDDEN: You are not invited"
                            " to this room.))"]


@respx.mock
async def test_a_join_that_may_work_later_fails_the_fetch_so_the_invite_is_seen_again(connector):
    syncs({None: INVITES})
    respx.post(url__regex=r".*/join/.*").respond(502, text="Bad gateway")
    with pytest.raises(ConnectorError) as raised:
        await connector.fetch(None)
    assert raised.value.retryable and not raised.value.needs_auth


# ---------------------------------------------------------------- errors


@respx.mock
@pytest.mark.parametrize("body", [load("error_unknown_token.json")["body"],
                                  {"errcode": "M_MISSING_TOKEN", "error": "Missing access token"}])
async def test_a_refused_token_needs_signing_in_again(connector, body):
    syncs({None: httpx.Response(401, json=body)})
    with pytest.raises(ConnectorError) as raised:
        await connector.fetch(None)
    error = raised.value
    assert error.needs_auth and not error.retryable
    assert body["errcode"] in error.message and "accounts add" in error.message and TOKEN not in error.message


@respx.mock
@pytest.mark.parametrize(("response", "wait"), [
    (httpx.Response(429, json={"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 2000}),
     2.0),
    (httpx.Response(429, headers={"Retry-After": "7"}, json={"errcode": "M_LIMIT_EXCEEDED", "error": "Slow down"}),
     7.0),
    (httpx.Response(429, json={"errcode": "M_LIMIT_EXCEEDED", "error": "Slow down"}), 60.0),
])
async def test_a_rate_limit_waits_as_the_homeserver_says(connector, response, wait):
    syncs({None: response})
    with pytest.raises(ConnectorError) as raised:
        await connector.fetch(None)
    assert raised.value.retryable and raised.value.retry_after == pytest.approx(wait)
    assert "M_LIMIT_EXCEEDED" in raised.value.message


@respx.mock
async def test_server_errors_retry_and_refusals_do_not(connector):
    syncs({None: httpx.Response(502, text="<html>Bad gateway</html>"),
           "s1": httpx.Response(500, json={"errcode": "M_UNKNOWN", "error": "Internal server error"}),
           "s2": httpx.Response(403, json={"errcode": "M_FORBIDDEN", "error": "Guest access disabled"})})
    respx.get(DIRECT_PATH).respond(200, json={})
    for cursor, retryable, said in [(None, True, "Bad gateway"), ("s1", True, "M_UNKNOWN: Internal server error"),
                                    ("s2", False, "403 M_FORBIDDEN: Guest access disabled")]:
        with pytest.raises(ConnectorError) as raised:
            await connector.fetch(cursor)
        assert raised.value.retryable is retryable and said in raised.value.message


@respx.mock
async def test_timeouts_retry_a_fetch_and_leave_a_send_unknown_which_the_txn_id_makes_safe(connector):
    respx.get(f"{V3}/sync").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ConnectorError) as raised:
        await connector.fetch(None)
    assert raised.value.retryable and not raised.value.outcome_unknown
    respx.put(url__regex=r".*/send/.*").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ConnectorError) as raised:
        await connector.send_reply(OutgoingReply("key-1", "matrix", "brand-matrix", BRAM, "Hoi", "public",
                                                 f"{PUBLIC}|{CRASH}"))
    assert raised.value.outcome_unknown and connector.capabilities.idempotent_send


@respx.mock
async def test_through_the_sync_runner_a_refused_token_marks_the_account_and_keeps_what_is_stored(store, connector):
    syncs(PAGES | {JOINED["next_batch"]: httpx.Response(401, json=load("error_unknown_token.json")["body"])})
    joins()
    stored_direct()
    runner = SyncRunner(store, {"brand-matrix": connector})
    [status] = await runner.sync_once()
    assert status.state == "online" and store.counts()["messages"] == 4
    [status] = await runner.sync_once()
    assert status.state == "needs_auth"
    state = store.sync_state("brand-matrix")
    assert (state["state"], state["cursor"]) == ("needs_auth", JOINED["next_batch"])
    assert store.counts()["messages"] == 4 and TOKEN not in state["last_error"]


# ---------------------------------------------------------------- send, like


def sent_route(room_id: str) -> respx.Route:
    return respx.put(url__regex=rf"{re.escape(room_path(room_id))}/send/m\.room\.message/.+").respond(
        200, json=load("send.json"))


@respx.mock
async def test_a_public_reply_answers_the_message_in_its_room_with_the_key_as_txn_id(connector):
    route = sent_route(PUBLIC)
    reply = OutgoingReply("key/1 ü", "matrix", "brand-matrix", BRAM, "Welke versie heb je? 🙂", "public",
                          f"{PUBLIC}|{CRASH}")
    sent = await connector.send_reply(reply)
    request = route.calls.last.request
    assert request.method == "PUT"
    assert request.url.raw_path.decode().endswith(f"/send/m.room.message/{quote('key/1 ü', safe='')}")
    assert json.loads(request.content) == {"msgtype": "m.text", "body": "Welke versie heb je? 🙂",
                                           "m.relates_to": {"m.in_reply_to": {"event_id": CRASH}}}
    event_id = load("send.json")["event_id"]
    assert (sent.external_id, sent.created_at) == (f"{PUBLIC}|{event_id}", T0)
    assert sent.url.startswith(f"https://matrix.to/#/{quote(PUBLIC, safe='')}/")


@respx.mock
async def test_a_private_reply_in_a_direct_room_stays_there(connector):
    respx.get(DIRECT_PATH).respond(200, json={ANNA: [DM]})
    route = sent_route(DM)
    sent = await connector.send_reply(OutgoingReply("k2", "matrix", "brand-matrix", ANNA, "Komt goed", "private",
                                                    f"{DM}|{QUESTION}"))
    assert json.loads(route.calls.last.request.content)["m.relates_to"] == {"m.in_reply_to": {"event_id": QUESTION}}
    assert sent.external_id.startswith(f"{DM}|")


@respx.mock
async def test_a_private_answer_to_a_public_message_opens_a_direct_room_once(connector):
    respx.get(DIRECT_PATH).respond(200, json={ANNA: [DM]})
    remembered = respx.put(DIRECT_PATH).respond(200, json={})
    new_room = load("create_room.json")["room_id"]
    create = respx.post(f"{V3}/createRoom").respond(200, json=load("create_room.json"))
    route = sent_route(new_room)
    reply = OutgoingReply("k3", "matrix", "brand-matrix", BRAM, "Mag ik je telefoonnummer?", "private",
                          f"{PUBLIC}|{CRASH}")
    sent = await connector.send_reply(reply)
    assert json.loads(create.calls.last.request.content) == {"is_direct": True, "invite": [BRAM],
                                                             "preset": "trusted_private_chat"}
    assert json.loads(remembered.calls.last.request.content) == {ANNA: [DM], BRAM: [new_room]}
    # the event it answers is in another room: no in_reply_to relation
    assert json.loads(route.calls.last.request.content) == {"msgtype": "m.text", "body": "Mag ik je telefoonnummer?"}
    assert sent.external_id.startswith(f"{new_room}|")
    await connector.send_reply(OutgoingReply("k4", "matrix", "brand-matrix", BRAM, "En je adres?", "private",
                                             f"{PUBLIC}|{CRASH}"))
    assert create.call_count == 1 and route.call_count == 2


@respx.mock
async def test_a_reply_too_long_or_with_nothing_to_answer_is_refused_before_any_request(connector):
    too_long = OutgoingReply("k", "matrix", "brand-matrix", BRAM, "x" * (MAX_REPLY_LENGTH + 1), "public",
                             f"{PUBLIC}|{CRASH}")
    nowhere = OutgoingReply("k", "matrix", "brand-matrix", BRAM, "Hoi", "public", None)
    bad_id = OutgoingReply("k", "matrix", "brand-matrix", BRAM, "Hoi", "public", "12345")
    for reply in (too_long, nowhere, bad_id):
        with pytest.raises(ConnectorError) as raised:
            await connector.send_reply(reply)
        assert not raised.value.retryable
    assert not respx.calls


@respx.mock
async def test_a_like_is_a_thumbs_up_reaction_and_liking_twice_is_harmless(connector):
    duplicate = load("error_duplicate_annotation.json")
    route = respx.put(url__regex=rf"{re.escape(room_path(PUBLIC))}/send/m\.reaction/.+").mock(side_effect=[
        httpx.Response(200, json={"event_id": "$reaction"}),
        httpx.Response(duplicate["status"], json=duplicate["body"]),
        httpx.Response(400, json={"errcode": "M_BAD_JSON", "error": "Content not JSON."}),
    ])
    await connector.like(f"{PUBLIC}|{CRASH}")
    await connector.like(f"{PUBLIC}|{CRASH}")  # M_DUPLICATE_ANNOTATION: it is liked already
    with pytest.raises(ConnectorError) as raised:
        await connector.like(f"{PUBLIC}|{CRASH}")
    assert "M_BAD_JSON" in raised.value.message and not raised.value.retryable
    first, second, _ = (call.request for call in route.calls)
    assert json.loads(first.content) == {"m.relates_to": {"rel_type": "m.annotation", "event_id": CRASH, "key": "👍"}}
    assert first.url.path == second.url.path  # the same txnId: the homeserver keeps one reaction


@pytest.mark.parametrize("options, problem", [({"user_id": BRAND}, "base_url"),
                                              ({"base_url": BASE}, "user_id"),
                                              ({"base_url": BASE, "user_id": "webcare"}, "user_id"),
                                              ({"base_url": BASE, "user_id": BRAND, "timeline_limit": "50"},
                                               "timeline_limit")])
def test_missing_options_are_named(options, problem):
    with pytest.raises(ValueError, match=problem):
        MatrixConnector(Account("brand-matrix", "matrix", options), TOKEN)


# ---------------------------------------------------------------- contract, end to end


CONTRACT = load("contract.json")


def _endpoint(request: httpx.Request) -> dict:
    path = unquote(request.url.raw_path.decode().split("?")[0]).removeprefix("/_matrix/client/v3")
    for endpoint in CONTRACT["endpoints"]:
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(endpoint["path"])) + "$"
        if endpoint["method"] == request.method and re.match(pattern, path):
            return endpoint
    raise AssertionError(f"{request.method} {path} is not in the Matrix client-server API")


@respx.mock
async def test_every_request_matches_the_client_server_api(connector):
    syncs(PAGES | {INCREMENTAL["next_batch"]: load("sync_limited.json")})
    joins()
    stored_direct()
    respx.get(f"{room_path(PUBLIC)}/messages").respond(200, json={"chunk": [], "start": "x"})
    respx.post(f"{V3}/createRoom").respond(200, json=load("create_room.json"))
    respx.put(url__regex=r".*/send/.*").respond(200, json={"event_id": "$e"})
    cursor = None
    for _ in range(4):
        cursor = (await connector.fetch(cursor)).cursor
    await connector.send_reply(OutgoingReply("k1", "matrix", "brand-matrix", BRAM, "Hoi", "public", f"{PUBLIC}|{CRASH}"))
    await connector.send_reply(OutgoingReply("k2", "matrix", "brand-matrix", BRAM, "Privé", "private",
                                             f"{PUBLIC}|{CRASH}"))
    await connector.like(f"{PUBLIC}|{CRASH}")
    restarted = matrix()  # after a restart m.direct is read first
    try:
        await restarted.fetch(INCREMENTAL["next_batch"])
    finally:
        await restarted.aclose()
        await restarted.api.http.aclose()
    seen = set()
    for call in respx.calls:
        request = call.request
        endpoint = _endpoint(request)
        seen.add((endpoint["method"], endpoint["path"]))
        assert request.headers["authorization"] == f"Bearer {TOKEN}" and TOKEN not in str(request.url)
        query = parse_qs(urlsplit(str(request.url)).query)
        assert set(endpoint["query_required"]) <= set(query) and set(query) <= set(endpoint["query"]), request.url
        if endpoint["body"] == "none":
            assert not request.content
            continue
        body = json.loads(request.content) if request.content else None
        if endpoint["body"] == "required":
            assert isinstance(body, dict)
        if body is not None and "body_fields" in endpoint:
            assert set(endpoint["body_required"]) <= set(body) and set(body) <= set(endpoint["body_fields"])
        if endpoint["path"] == "/createRoom":
            assert body["preset"] in CONTRACT["create_room_presets"]
        if "/send/" in request.url.path:
            event_type = request.url.path.split("/send/")[1].split("/")[0]
            assert set(CONTRACT["event_content_required"][event_type]) <= set(body)
    assert len(seen) == len(CONTRACT["endpoints"])  # every endpoint was exercised


@respx.mock
async def test_end_to_end_sync_macro_reply_outbox_delivery(store, connector):
    syncs(PAGES)
    joins()
    stored_direct()
    [status] = await SyncRunner(store, {"brand-matrix": connector}).sync_once()
    assert status.new_messages == 4
    anna = next(c for c in store.list_cases() if c["author_id"] == ANNA)
    assert anna["platform"] == "matrix" and anna["account"] == "brand-matrix"
    agent = Agent(id="tim", name="Tim Ruiter", initials="TR", signature={"default": "\n\nGroetjes, Tim"})
    macro = Macro(name="Pakket", reply="Hoi {author.first_name}, we zoeken het uit.", status="pending")
    MacroRunner(store, CaseService(store), Outbox(store), agent, grace=0).apply(macro, [anna["id"]])
    route = sent_route(DM)
    assert [d.state for d in await OutboxWorker(store, {"brand-matrix": connector}).deliver_due()] == ["sent"]
    [row] = store.case_outbox(anna["id"])
    request = route.calls.last.request
    assert request.method == "PUT"
    assert request.url.path == f"/_matrix/client/v3/rooms/{DM}/send/m.room.message/{row['idempotency_key']}"
    assert json.loads(request.content) == {
        "msgtype": "m.text", "body": "Hoi Anna, we zoeken het uit.\n\nGroetjes, Tim",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$mcnIaz__lk1zGhzMy0ErnWb_X4pRb8Yq41BOBd2kIT8"}}}
    reply = store.case_messages(anna["id"])[-1]
    assert reply["external_id"] == f"{DM}|{load('send.json')['event_id']}" and reply["direction"] == "out"
    assert store.get_case(anna["id"])["status"] == "pending"


# ---------------------------------------------------------------- a reply whose outcome is unknown

def messages_pages(room_id: str, pages: list[list[dict]]) -> respx.Route:
    """GET /messages backwards: page i is answered for `from` "t{i}" (the first without `from`)."""

    def answer(request: httpx.Request) -> httpx.Response:
        start = request.url.params.get("from")
        index = 0 if start is None else int(start[1:])
        body: dict = {"chunk": pages[index], "start": start or "t0"}
        if index + 1 < len(pages):
            body["end"] = f"t{index + 1}"
        return httpx.Response(200, json=body)

    return respx.get(f"{room_path(room_id)}/messages").mock(side_effect=answer)


def ours(event_id: str, text: str, *, txn: str | None = None, answers: str | None = CRASH) -> dict:
    content: dict = {"msgtype": "m.text", "body": text}
    if answers:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": answers}}
    return event(event_id, content, sender=BRAND, **({"unsigned": {"transaction_id": txn}} if txn else {}))


ANSWER = OutgoingReply("key-7", "matrix", "brand-matrix", BRAM, "Welke versie heb je?", "public", f"{PUBLIC}|{CRASH}")


def test_a_txn_id_is_trusted_for_25_minutes_as_synapse_keeps_it_at_least_30():
    connector = matrix()
    assert connector.sends_once_per_key(key_age=24 * 60) and not connector.sends_once_per_key(key_age=26 * 60)


@respx.mock
async def test_find_sent_reads_back_to_the_answered_message_and_knows_the_reply_by_its_txn_id(connector):
    earlier_same_text = ours("$old", "Welke versie heb je?", txn="key-3")  # an earlier macro reply, another key
    newer = [event(f"$n{i}", {"msgtype": "m.text", "body": f"bericht {i}"}, sender=BRAM) for i in range(10)]
    route = messages_pages(PUBLIC, [newer, [earlier_same_text, ours("$mine", "Welke versie heb je?", txn="key-7")]])
    sent = await connector.find_sent(ANSWER)
    assert sent is not None and sent.external_id == f"{PUBLIC}|$mine" and route.call_count == 2
    assert json.loads(route.calls[0].request.url.params["filter"]) == {"types": ["m.room.message", "m.room.encrypted"]}

    route = messages_pages(PUBLIC, [[earlier_same_text, event(CRASH, {"msgtype": "m.text", "body": "crash"}, sender=BRAM),
                                     ours("$before", "Welke versie heb je?", txn="key-7")]])
    assert await connector.find_sent(ANSWER) is None  # the answered message comes first: not sent


@respx.mock
async def test_find_sent_under_another_token_matches_text_and_the_answered_message(connector):
    messages_pages(PUBLIC, [[ours("$other", "Welke versie heb je?", answers=QUESTION),
                             ours("$it", "> <@bram:localhost> crash\n\nWelke versie heb je?")]])
    sent = await connector.find_sent(ANSWER)
    assert sent is not None and sent.external_id == f"{PUBLIC}|$it"


@respx.mock
async def test_find_sent_says_it_cannot_tell_when_the_answered_message_is_too_far_back(connector):
    filler = [event(f"$f{i}", {"msgtype": "m.text", "body": "."}, sender=BRAM) for i in range(10)]
    messages_pages(PUBLIC, [filler] * 7)
    with pytest.raises(ConnectorError, match="cannot tell") as raised:
        await connector.find_sent(ANSWER)
    assert not raised.value.retryable


@respx.mock
async def test_a_private_reply_without_a_direct_room_was_never_sent(connector):
    respx.get(DIRECT_PATH).respond(200, json={ANNA: [DM]})
    reply = OutgoingReply("k9", "matrix", "brand-matrix", BRAM, "Mag ik je nummer?", "private", f"{PUBLIC}|{CRASH}")
    assert await connector.find_sent(reply) is None
