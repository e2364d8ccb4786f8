"""The Facebook Page and Instagram connectors (Meta Graph API), against recorded and documented payloads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import respx
from conftest import SHARED_DATA

from webcare_tui.config import Account
from webcare_tui.connectors.base import ConnectorError, OutgoingReply
from webcare_tui.connectors.meta import (
    FacebookConnector,
    InstagramConnector,
    Skip,
    conversation_message,
    facebook_comment,
    graph_time,
    instagram_comment,
)
from webcare_tui.ingest import ingest
from webcare_tui.outbox import Outbox, OutboxWorker
from webcare_tui.sync import SyncRunner

FIXTURES = Path(__file__).parent / "fixtures" / "meta"
SHARED = SHARED_DATA
RECORDED = SHARED / "recorded" / "python-facebook" / "testdata"
SPEC = SHARED / "api-specs" / "whatsapp-business-openapi" / "business-messaging-api_v23.0.yaml"

BASE = "https://graph.facebook.com/v23.0"
PAGE = "2121008874780932"
IG = "17841406338772941"
POST = "2121008874780932_2954961744718970"
OTHER_POST = "19292868552_10158347294088553"
TOKEN = "EAAGm0PX4ZCpsBAKsecretpagetoken"
NOW = 1_627_040_000  # 2021-07-23 11:33 UTC, after every fixture


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def at(text: str) -> int:
    return graph_time(text)


def facebook(http, **options) -> FacebookConnector:
    return FacebookConnector(Account("brand-fb", "facebook", {"page_id": PAGE, "posts": 1} | options), TOKEN, http,
                             clock=lambda: NOW)


def instagram(http, **options) -> InstagramConnector:
    return InstagramConnector(Account("brand-ig", "instagram", {"page_id": PAGE, "ig_user_id": IG} | options),
                              TOKEN, http, clock=lambda: NOW)


def fb_routes(mock, *, feed=None, comments=None, conversations=None):
    """The Page's feed, one post's comments and its inbox, answering the documented paths."""
    routes = {
        "feed": mock.get(f"{BASE}/{PAGE}/feed").respond(json=feed or fixture("fb_feed.json")),
        "comments": mock.get(f"{BASE}/{POST}/comments").respond(json=comments or fixture("fb_comments.json")),
        "conversations": mock.get(f"{BASE}/{PAGE}/conversations").respond(
            json=conversations or fixture("fb_conversations.json")),
    }
    return routes


# -- the whole recorded set -----------------------------------------------------------------

def recorded(*parts: str) -> list[Path]:
    if not RECORDED.is_dir():
        pytest.skip(f"recorded Graph API responses not found at {RECORDED}")
    return sorted(path for part in parts for path in (RECORDED / part).glob("*.json"))


def items_of(body):
    """The objects of a recorded answer: a list's `data`, a multi-id map's values, or the object itself."""
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        return body["data"]
    if isinstance(body, dict) and body and all(isinstance(v, dict) and v.get("id") == k for k, v in body.items()):
        return list(body.values())
    return [body]


def test_every_recorded_facebook_comment_and_message_parses_or_is_skipped_with_a_reason():
    parsed, skipped = {}, {}
    for path in recorded("facebook/apidata/comments", "facebook/apidata/messages", "facebook/models"):
        if path.name not in ("comment.json", "message.json") and path.parent.name == "models":
            continue
        for item in items_of(json.loads(path.read_text())):
            parse = conversation_message if "message" in path.parent.name or path.name == "message.json" else None
            try:
                if parse:
                    message = parse(item, {PAGE}, "messenger", "brand-fb")
                else:
                    message = facebook_comment(item, PAGE, "brand-fb")
            except Skip as reason:
                skipped.setdefault(path.name, []).append(str(reason))
                continue
            parsed.setdefault(path.name, []).append(message)
            assert message.external_id and message.author_id and message.text and message.created_at > 1.5e9
    # The app-token recordings hide `from`/`id` (Graph's rule since v11): every such comment is skipped, with why.
    assert skipped["comments_p1.json"] == ["no id"] * 10 and len(skipped["comments_p2.json"]) == 5
    assert skipped["comment_info.json"] == ["no author (`from` needs a Page token with the MODERATE task)"]
    [comment] = parsed["comment.json"]
    assert (comment.external_id, comment.author_id, comment.author_name, comment.text, comment.created_at) == (
        "2954961744718970_2966313500250461", "2711636948859886", "Kun Liu", "My Nice Car [photo]",
        at("2021-07-23T08:35:18+0000"))
    assert (comment.platform, comment.direction, comment.visibility, comment.in_reply_to) == (
        "facebook", "in", "public", None)
    assert comment.url == "https://www.facebook.com/2121008874780932/posts/2954961744718970/?comment_id=2966313500250461"
    [message] = parsed["message.json"]
    assert (message.text, message.platform, message.direction, message.visibility, message.author_id) == (
        "Love is peace!😏 [image]", "messenger", "in", "private", "2711636948859886")
    [photo] = parsed["message_info.json"]  # an attachment with no text
    assert photo.text == "[image]" and photo.created_at == at("2021-07-23T09:50:48+0000")
    assert [m.text for m in parsed["messages_info.json"]] == ["[image]", "[video]"]
    conversations = [c for p in recorded("facebook/apidata/conversations") for c in items_of(json.loads(p.read_text()))]
    assert [graph_time(c["updated_time"]) for c in conversations] == [
        at("2021-07-23T09:28:50+0000"), at("2021-07-23T09:28:50+0000"), at("2021-07-23T09:30:39+0000")]


def test_every_recorded_instagram_comment_and_reply_parses_or_is_skipped_with_a_reason():
    parsed, skipped = [], []
    for path in recorded("instagram/apidata/comments", "instagram/apidata/medias", "instagram/models"):
        if path.parent.name == "medias" and not path.name.startswith("comments"):
            continue
        if path.parent.name == "models" and path.name not in ("ig_comment.json", "ig_reply.json"):
            continue
        for item in items_of(json.loads(path.read_text())):
            try:
                parsed.append((path.name, instagram_comment(item, {IG}, "brand-ig")))
            except Skip as reason:
                skipped.append((path.name, str(reason)))
    by_id = {message.external_id: (name, message) for name, message in parsed}
    name, beautiful = by_id["17858154961981086"]
    assert (beautiful.author_id, beautiful.author_handle, beautiful.text, beautiful.created_at) == (
        "lixiangguodu123", "lixiangguodu123", "Beautiful!", at("2020-06-01T10:56:52+0000"))
    assert (beautiful.platform, beautiful.direction, beautiful.visibility) == ("instagram", "in", "public")
    # `user` is only returned for the account's own comments: with no customer above them they are skipped.
    assert ("ig_comment.json", "a comment of our own that answers no customer") in skipped
    assert ("ig_reply.json", "a comment of our own that answers no customer") in skipped
    # The paged lists were recorded without `username`: no author, skipped with the reason.
    assert skipped.count(("comments_p1.json", "no author (neither `from` nor `username`)")) == 2
    [hey] = [m for name, m in parsed if name == "comment_fields.json"]
    assert (hey.external_id, hey.text, hey.author_id) == ("17892250648466172", "@ikroskun Hey, guys", "ikroskun")


def test_the_mentioned_comment_recording_reads_as_an_inbound_comment():
    [path] = [p for p in recorded("instagram/apidata/users") if p.name == "mentioned_comment.json"]
    message = instagram_comment(json.loads(path.read_text())["mentioned_comment"], {"999"}, "brand-ig")
    assert (message.external_id, message.text, message.author_handle) == ("17967008497439572", "@ikroskun good",
                                                                        "ikroskun")


# -- Facebook comments --------------------------------------------------------------------

@respx.mock(assert_all_called=False)
async def test_first_sync_reads_the_page_comments_field_by_field(http, respx_mock):
    routes = fb_routes(respx_mock)
    result = await facebook(http).fetch(None)
    comments = [m for m in result.messages if m.platform == "facebook"]
    assert [m.external_id for m in comments] == [  # oldest first
        "2954961744718970_2966313500250461", "2954961744718970_10158407903973553", "2954961744718970_10158409983033553"]
    customer, anna, answer = comments
    assert (anna.author_id, anna.author_name, anna.direction, anna.created_at) == (
        "5512345678901234", "Anna de Vries", "in", at("2021-07-23T08:50:00+0000"))
    assert anna.text.endswith("livelihood 😕 Facebook for Developers")
    # The Page's answer is ours, threaded to the customer it answered.
    assert (answer.direction, answer.author_id, answer.author_name, answer.in_reply_to) == (
        "out", "5512345678901234", "Anna de Vries", "2954961744718970_10158407903973553")
    assert answer.url.endswith("reply_comment_id=10158409983033553")
    request = routes["comments"].calls.last.request
    assert request.headers["authorization"] == f"Bearer {TOKEN}" and TOKEN not in str(request.url)
    assert (request.url.params["filter"], request.url.params["order"]) == ("stream", "reverse_chronological")
    assert set(request.url.params["fields"].split(",")) >= {"id", "message", "from", "created_time",
                                                            "permalink_url", "parent{id", "from}"}
    state = json.loads(result.cursor)
    assert state["objects"] == {POST: [at("2021-07-23T09:05:00+0000"), at("2021-07-23T09:10:00+0000")]}
    assert result.more is False and result.skipped == []


@respx.mock(assert_all_called=False)
async def test_a_post_whose_updated_time_did_not_move_is_not_read_again(http, respx_mock):
    routes = fb_routes(respx_mock)
    connector = facebook(http)
    first = await connector.fetch(None)
    second = await connector.fetch(first.cursor)
    assert routes["comments"].call_count == 1 and routes["feed"].call_count == 2
    assert [m for m in second.messages if m.platform == "facebook"] == []
    assert json.loads(second.cursor)["objects"] == json.loads(first.cursor)["objects"]


@respx.mock(assert_all_called=False)
async def test_a_new_comment_is_read_newest_first_until_a_known_one(http, respx_mock):
    feed = fixture("fb_feed.json")
    routes = fb_routes(respx_mock)
    connector = facebook(http)
    first = await connector.fetch(None)
    feed["data"][0]["updated_time"] = "2021-07-23T10:00:00+0000"
    newer = {"id": "2954961744718970_999", "message": "Nog steeds geen antwoord? 🙄", "created_time":
             "2021-07-23T10:00:00+0000", "from": {"name": "Kun Liu", "id": "2711636948859886"},
             "brand_new_field": {"nested": [1, 2]}}  # an unknown extra field is ignored
    page = fixture("fb_comments.json")
    page["data"].insert(0, newer)
    page["paging"]["next"] = f"{BASE}/{POST}/comments?after=QVFIUmF"  # more exist, but they are known
    routes["feed"].respond(json=feed)
    routes["comments"].respond(json=page)
    second = await connector.fetch(first.cursor)
    # The comment of the cursor's very second comes again (another one of that second may be new; ingest
    # drops the repeat); the older ones end the read.
    assert [(m.external_id, m.text) for m in second.messages if m.platform == "facebook"] == [
        ("2954961744718970_10158409983033553", fixture("fb_comments.json")["data"][0]["message"]),
        ("2954961744718970_999", "Nog steeds geen antwoord? 🙄")]
    assert routes["comments"].call_count == 2  # stopped at the known comments: no second page
    assert json.loads(second.cursor)["objects"][POST][0] == at("2021-07-23T10:00:00+0000")


@respx.mock(assert_all_called=False)
async def test_comments_follow_the_after_cursor_up_to_history_pages(http, respx_mock):
    fb_routes(respx_mock)
    first_page = fixture("fb_comments.json")
    first_page["paging"]["next"] = f"{BASE}/{POST}/comments?after=QVFIUmF&limit=25"
    pages = []

    def answer(request):
        pages.append(request.url.params.get("after"))
        if len(pages) == 1:
            return httpx.Response(200, json=first_page)
        older = {"id": f"2954961744718970_{len(pages)}", "message": f"ouder {len(pages)}", "created_time":
                 f"2021-07-2{3 - len(pages)}T08:00:00+0000", "from": {"id": "77", "name": "Piet"}}
        return httpx.Response(200, json={"data": [older], "paging": {
            "cursors": {"after": f"page{len(pages)}"}, "next": f"{BASE}/{POST}/comments?after=page{len(pages)}"}})

    respx_mock.get(f"{BASE}/{POST}/comments").mock(side_effect=answer)
    result = await facebook(http, history_pages=3).fetch(None)
    assert pages == [None, "QVFIUmF", "page2"]  # the cursor of each page, and no more than history_pages
    assert [m.text for m in result.messages if m.platform == "facebook"][:2] == ["ouder 3", "ouder 2"]


@respx.mock(assert_all_called=False)
async def test_a_next_link_to_another_host_is_never_followed(http, respx_mock):
    fb_routes(respx_mock)
    page = fixture("fb_comments.json")
    page["paging"] = {"next": "https://evil.example/steal?x=1"}  # no cursor: only the link
    respx_mock.get(f"{BASE}/{POST}/comments").respond(json=page)
    evil = respx_mock.get("https://evil.example/steal")
    await facebook(http, history_pages=3).fetch(None)
    assert evil.call_count == 0


@respx.mock(assert_all_called=False)
async def test_empty_pages_give_no_messages_and_a_usable_cursor(http, respx_mock):
    fb_routes(respx_mock, feed={"data": []}, conversations={"data": []})
    connector = facebook(http)
    result = await connector.fetch(None)
    assert result.messages == [] and result.skipped == []
    assert json.loads(result.cursor) == {"dm": 0, "objects": {}}
    again = await connector.fetch(result.cursor)
    assert again.messages == []


@respx.mock(assert_all_called=False)
async def test_unreadable_items_are_skipped_and_the_rest_of_the_page_counts(http, respx_mock):
    page = fixture("fb_comments.json")
    page["data"] += [
        {"id": "2954961744718970_1", "message": "zonder tijd", "from": {"id": "5"}},
        {"id": "2954961744718970_2", "created_time": "2021-07-23T08:00:00+0000", "from": {"id": "5"}},  # no text
        {"message": "zonder id", "created_time": "2021-07-23T08:00:00+0000"},
        "not an object",
        {"id": "2954961744718970_3", "message": ["geen tekst"], "created_time": "2021-07-23T08:00:00+0000",
         "from": {"id": {"nested": 1}}},  # wrong types: no author
    ]
    fb_routes(respx_mock, comments=page)
    result = await facebook(http).fetch(None)
    assert len([m for m in result.messages if m.platform == "facebook"]) == 3
    assert result.skipped == ["2954961744718970_1: no readable time (None)",
                              "2954961744718970_2: no text (deleted, or a type we do not show)",
                              "?: no id", "?: no id",
                              "2954961744718970_3: no author (`from` needs a Page token with the MODERATE task)"]


@respx.mock(assert_all_called=False)
async def test_missing_optional_fields_leave_them_empty(http, respx_mock):
    bare = {"data": [{"id": "2954961744718970_5", "message": "Hallo", "created_time": "2021-07-23T08:00:00+0000",
                      "from": {"id": "5512345678901234"}}]}
    fb_routes(respx_mock, comments=bare, conversations={"data": []})
    [message] = (await facebook(http).fetch(None)).messages
    assert (message.author_name, message.url, message.in_reply_to, message.author_handle) == (None, None, None, None)
    assert message.text == "Hallo" and message.author_id == "5512345678901234"


@respx.mock(assert_all_called=False)
async def test_a_wrongly_shaped_answer_is_a_connector_error(http, respx_mock):
    fb_routes(respx_mock, feed={"posts": []})
    with pytest.raises(ConnectorError, match="Facebook sent the Page's feed in an unexpected shape") as caught:
        await facebook(http).fetch(None)
    assert caught.value.retryable is False


async def test_a_missing_page_id_is_reported_not_raised_at_startup(http):
    connector = FacebookConnector(Account("brand-fb", "facebook", {}), TOKEN, http)
    with pytest.raises(ConnectorError, match="option page_id is required"):
        await connector.fetch(None)
    connector = InstagramConnector(Account("brand-ig", "instagram", {"page_id": PAGE, "posts": "veel"}), TOKEN, http)
    with pytest.raises(ConnectorError, match="option ig_user_id is required"):
        await connector.fetch(None)


# -- Messenger and Instagram direct messages ---------------------------------------------------

@respx.mock(assert_all_called=False)
async def test_messenger_conversations_are_private_and_the_page_answers_are_outbound(http, respx_mock):
    routes = fb_routes(respx_mock)
    result = await facebook(http).fetch(None)
    dms = [m for m in result.messages if m.platform == "messenger"]
    assert [(m.direction, m.author_id, m.author_name, m.visibility) for m in dms] == [
        ("in", "2711636948859886", "Kun Liu", "private"), ("out", "2711636948859886", "Kun Liu", "private")]
    assert dms[0].text == "Love is peace!😏" and dms[1].text == "Dank je! Kan ik je ergens mee helpen?"
    assert dms[0].external_id.startswith("m_ToF35NI1")
    params = routes["conversations"].calls.last.request.url.params
    assert params["platform"] == "messenger"
    assert "messages.limit(25){id,message,from,to,created_time" in params["fields"]
    assert json.loads(result.cursor)["dm"] == at("2021-07-23T09:58:02+0000")


@respx.mock(assert_all_called=False)
async def test_conversations_older_than_the_cursor_end_the_inbox_read(http, respx_mock):
    routes = fb_routes(respx_mock)
    connector = facebook(http)
    first = await connector.fetch(None)
    inbox = fixture("fb_conversations.json")
    inbox["paging"]["next"] = f"{BASE}/{PAGE}/conversations?after=QVFIV"
    unsent = {"id": "m_unsent", "created_time": "2021-07-23T10:30:00+0000", "from": {"id": "2711636948859886"},
              "message": ""}  # an unsent (deleted) message comes back empty
    newer = {"id": "t_new", "updated_time": "2021-07-23T10:30:00+0000", "messages": {"data": [unsent, {
        "id": "m_new", "created_time": "2021-07-23T10:29:00+0000", "message": "Hallo? 👋",
        "from": {"id": "2711636948859886", "name": "Kun Liu"}, "to": {"data": [{"id": PAGE}]}}]}}
    older = {"id": "t_old", "updated_time": "2021-07-20T08:00:00+0000", "messages": {"data": [{
        "id": "m_old", "created_time": "2021-07-20T08:00:00+0000", "message": "oud", "from": {"id": "42"}}]}}
    inbox["data"] = [newer, *inbox["data"], older]
    routes["conversations"].respond(json=inbox)
    second = await connector.fetch(first.cursor)
    # The conversation updated in the very second of the cursor is read again (a message of that same second
    # may be new); its known message comes back once more and ingest drops it. Older ones are not read.
    assert [(m.external_id, m.text) for m in second.messages if m.platform == "messenger"] == [
        (first.messages[-1].external_id, "Dank je! Kan ik je ergens mee helpen?"), ("m_new", "Hallo? 👋")]
    assert second.skipped == ["m_unsent: no text (deleted, or a type we do not show)"]
    assert routes["conversations"].call_count == 2  # the older conversation ended it: no second page


@respx.mock(assert_all_called=False)
async def test_conversations_can_be_switched_off(http, respx_mock):
    routes = fb_routes(respx_mock)
    result = await facebook(http, conversations="false").fetch(None)
    assert routes["conversations"].call_count == 0 and "dm" not in json.loads(result.cursor)


# -- Instagram comments ------------------------------------------------------------------

def ig_routes(mock):
    return {
        "media": mock.get(f"{BASE}/{IG}/media").respond(json=fixture("ig_media.json")),
        "comments": mock.get(f"{BASE}/17896622936197745/comments").respond(json=fixture("ig_comments.json")),
        "empty": mock.get(f"{BASE}/17895731045244887/comments").respond(json={"data": []}),
        "conversations": mock.get(f"{BASE}/{PAGE}/conversations").respond(json={"data": []}),
    }


@respx.mock(assert_all_called=False)
async def test_instagram_comments_and_our_replies(http, respx_mock):
    routes = ig_routes(respx_mock)
    connector = instagram(http)
    result = await connector.fetch(None)
    assert [(m.external_id, m.direction, m.author_id, m.author_handle, m.in_reply_to) for m in result.messages] == [
        ("17858154961981086", "in", "17841401234567890", "lixiangguodu123", None),
        ("17845747489952795", "out", "17841401234567890", "lixiangguodu123", "17858154961981086")]
    assert result.messages[1].text == "@lixiangguodu123 Dank je wel! 🌷"
    assert all(m.url == "https://www.instagram.com/p/CSgdWACBeKr/" for m in result.messages)
    assert result.skipped == ["17914413430382429: a comment of our own that answers no customer"]
    assert routes["empty"].call_count == 0  # a medium with no comments is not asked
    params = routes["comments"].calls.last.request.url.params
    assert "replies{id,text,timestamp,username,from,user,parent_id}" in params["fields"]
    assert routes["conversations"].calls.last.request.url.params["platform"] == "instagram"
    again = await connector.fetch(result.cursor)  # comments_count unchanged: not read again
    assert again.messages == [] and routes["comments"].call_count == 1


@respx.mock(assert_all_called=False)
async def test_instagram_direct_messages_and_our_answers(http, respx_mock):
    routes = ig_routes(respx_mock)
    customer = {"username": "lixiangguodu123", "id": "6543210987654321"}
    us = {"username": "ikroskun", "id": IG}
    routes["conversations"].respond(json={"data": [{"id": "aWdfZAGl0ZAW1fY29udg", "updated_time":
                                                    "2021-08-13T09:01:00+0000", "messages": {"data": [
        {"id": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3", "created_time": "2021-08-13T09:01:00+0000",
         "from": us, "to": {"data": [customer]}, "message": "Hoi! Wat is je bestelnummer?"},
        {"id": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE2", "created_time": "2021-08-13T09:00:00+0000",
         "from": customer, "to": {"data": [us]}, "message": "Mijn pakket is niet aangekomen 📦"}]}}]})
    result = await instagram(http).fetch(None)
    dms = [m for m in result.messages if m.visibility == "private"]
    assert [(m.platform, m.direction, m.author_id, m.author_handle, m.text) for m in dms] == [
        ("instagram", "in", "6543210987654321", "lixiangguodu123", "Mijn pakket is niet aangekomen 📦"),
        ("instagram", "out", "6543210987654321", "lixiangguodu123", "Hoi! Wat is je bestelnummer?")]
    route = respx_mock.post(f"{BASE}/{PAGE}/messages").respond(json={"recipient_id": "6543210987654321",
                                                                   "message_id": "aWdfZAG1faXRlbTox_new"})
    sent = await instagram(http).send_reply(reply("private", in_reply_to=dms[0].external_id,
                                                  recipient="6543210987654321", platform="instagram"))
    assert sent.external_id == "aWdfZAG1faXRlbTox_new"
    assert json.loads(route.calls.last.request.content)["recipient"] == {"id": "6543210987654321"}
    with pytest.raises(ConnectorError, match="allows 1000 characters"):
        await instagram(http).send_reply(reply("private", in_reply_to="aWdf", text="é" * 1001))


@respx.mock(assert_all_called=False)
async def test_instagram_find_sent_looks_under_the_top_level_comment_too(http, respx_mock):
    ours = {"id": "17873440459141021", "text": "Wat vervelend! We kijken mee. ^TR", "timestamp":
            "2021-08-13T10:00:00+0000", "username": "ikroskun", "user": {"id": IG}}
    under_reply = respx_mock.get(f"{BASE}/17845747489952795/replies").respond(json={"data": []})
    lookup = respx_mock.get(f"{BASE}/17845747489952795").respond(
        json={"parent_id": "17858154961981086", "id": "17845747489952795"})
    respx_mock.get(f"{BASE}/17858154961981086/replies").respond(json={"data": [ours]})
    found = await instagram(http).find_sent(reply(in_reply_to="17845747489952795", platform="instagram"))
    assert (found.external_id, found.created_at) == ("17873440459141021", at("2021-08-13T10:00:00+0000"))
    assert under_reply.call_count == 1 and lookup.calls.last.request.url.params["fields"] == "parent_id"


@respx.mock(assert_all_called=False)
async def test_an_unreadable_cursor_starts_a_bounded_first_sync(http, respx_mock):
    routes = fb_routes(respx_mock)
    result = await facebook(http).fetch("{not json")
    assert len(result.messages) == 5 and routes["comments"].call_count == 1


# -- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("status, body, headers, expect", [
    (400, "error_190.json", {}, {"needs_auth": True, "retryable": False}),
    (401, None, {}, {"needs_auth": True, "retryable": False}),
    (400, "error_rate_limit.json", {"X-Business-Use-Case-Usage": json.dumps({PAGE: [
        {"type": "pages", "call_count": 100, "total_cputime": 12, "total_time": 20,
         "estimated_time_to_regain_access": 5}]})}, {"retry_after": 300.0, "needs_auth": False}),
    (403, {"error": {"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4,
                     "is_transient": True}}, {}, {"retry_after": 60.0}),
    (429, {"error": {"message": "(#80001) There have been too many calls to this Page account", "code": 80001,
                     "type": "OAuthException"}}, {"Retry-After": "120"}, {"retry_after": 120.0}),
    (400, "error_100.json", {}, {"retryable": False, "needs_auth": False, "retry_after": None}),
    (403, {"error": {"message": "(#200) Requires pages_read_engagement permission", "type": "OAuthException",
                     "code": 200}}, {}, {"retryable": False, "needs_auth": False}),
    (500, {"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1}}, {},
     {"retryable": True, "retry_after": None}),
    (503, None, {}, {"retryable": True, "needs_auth": False}),
])
@respx.mock(assert_all_called=False)
async def test_graph_errors_are_mapped_by_their_code(http, respx_mock, status, body, headers, expect):
    payload = fixture(body) if isinstance(body, str) else body
    respx_mock.get(f"{BASE}/{PAGE}/feed").respond(status, json=payload, headers=headers) if payload else \
        respx_mock.get(f"{BASE}/{PAGE}/feed").respond(status, text="Service Unavailable", headers=headers)
    connector = facebook(http)
    with pytest.raises(ConnectorError) as caught:
        await connector.fetch(None)
    error = connector.safe(caught.value)
    for name, value in expect.items():
        assert getattr(error, name) == value, name
    assert TOKEN not in error.message
    if payload:
        assert payload["error"]["message"][:40] in error.message
        assert f"code {payload['error']['code']}" in error.message


@respx.mock(assert_all_called=False)
async def test_a_timeout_while_reading_is_retryable_and_while_sending_unknown(http, respx_mock):
    respx_mock.get(f"{BASE}/{PAGE}/feed").mock(side_effect=httpx.ReadTimeout("slow"))
    respx_mock.post(f"{BASE}/2954961744718970_1/comments").mock(side_effect=httpx.ReadTimeout("slow"))
    connector = facebook(http)
    with pytest.raises(ConnectorError) as reading:
        await connector.fetch(None)
    assert reading.value.retryable and not reading.value.outcome_unknown
    with pytest.raises(ConnectorError) as sending:
        await connector.send_reply(OutgoingReply("k", "facebook", "brand-fb", "5", "Hoi", "public",
                                                 "2954961744718970_1"))
    assert sending.value.outcome_unknown and not connector.capabilities.idempotent_send


@respx.mock(assert_all_called=False)
async def test_a_revoked_token_through_the_sync_keeps_what_was_stored(store, http, respx_mock):
    routes = fb_routes(respx_mock)
    connector = facebook(http)
    runner = SyncRunner(store, {"brand-fb": connector}, clock=lambda: NOW)
    [status] = await runner.sync_once()
    assert (status.state, status.new_messages) == ("online", 5)
    cursor = store.sync_state("brand-fb")["cursor"]
    routes["feed"].respond(400, json=fixture("error_190.json"))
    [status] = await runner.sync_once()
    assert status.state == "needs_auth" and "Session has expired" in status.error and TOKEN not in status.error
    saved = store.sync_state("brand-fb")
    assert (saved["state"], saved["cursor"]) == ("needs_auth", cursor)
    assert store.counts()["messages"] == 5


# -- replies, likes, find_sent -------------------------------------------------------------------

def reply(visibility="public", in_reply_to="2954961744718970_10158407903973553", recipient="5512345678901234",
          text="Wat vervelend! We kijken mee. ^TR", platform="facebook"):
    return OutgoingReply("key-1", platform, "brand-fb", recipient, text, visibility, in_reply_to)


@respx.mock(assert_all_called=False)
async def test_a_public_reply_answers_the_comment(http, respx_mock):
    route = respx_mock.post(f"{BASE}/2954961744718970_10158407903973553/comments").respond(
        json=fixture("fb_comment_created.json"))
    sent = await facebook(http).send_reply(reply())
    request = route.calls.last.request
    assert json.loads(request.content) == {"message": "Wat vervelend! We kijken mee. ^TR"}
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert (sent.external_id, sent.created_at) == ("245778718206154_229887283291835", at("2023-07-14T10:45:55+0000"))
    assert sent.url == "https://www.facebook.com/245628824887810/posts/245778718206154?comment_id=229887283291835"


@respx.mock(assert_all_called=False)
async def test_private_replies_use_the_send_api(http, respx_mock):
    route = respx_mock.post(f"{BASE}/{PAGE}/messages").respond(json=fixture("send_api_response.json"))
    connector = facebook(http)
    to_comment = await connector.send_reply(reply("private"))
    assert json.loads(route.calls.last.request.content) == {
        "recipient": {"comment_id": "2954961744718970_10158407903973553"},
        "message": {"text": "Wat vervelend! We kijken mee. ^TR"}}
    in_conversation = await connector.send_reply(reply("private", in_reply_to="m_ToF35NI1", recipient="2711636948859886",
                                                       platform="messenger"))
    assert json.loads(route.calls.last.request.content) == {
        "recipient": {"id": "2711636948859886"}, "messaging_type": "RESPONSE",
        "message": {"text": "Wat vervelend! We kijken mee. ^TR"}}
    assert to_comment.external_id == in_conversation.external_id == fixture("send_api_response.json")["message_id"]
    assert in_conversation.created_at == NOW


@respx.mock(assert_all_called=False)
async def test_replies_that_cannot_be_sent_say_why_and_send_nothing(http, respx_mock):
    route = respx_mock.post(url__regex=r".*").respond(json={"id": "1"})
    connector = facebook(http)
    with pytest.raises(ConnectorError, match="a direct message can only be answered privately"):
        await connector.send_reply(reply(in_reply_to="m_ToF35NI1"))
    with pytest.raises(ConnectorError, match="allows 2000 characters here; the reply has 2001"):
        await connector.send_reply(reply("private", in_reply_to="m_x", text="a" * 2001))
    with pytest.raises(ConnectorError, match="needs the comment it answers"):
        await connector.send_reply(reply(in_reply_to=None))
    assert route.call_count == 0


@respx.mock(assert_all_called=False)
async def test_instagram_replies_and_likes(http, respx_mock):
    route = respx_mock.post(f"{BASE}/17858154961981086/replies").respond(json={"id": "17873440459141021"})
    connector = instagram(http)
    sent = await connector.send_reply(reply(in_reply_to="17858154961981086", platform="instagram"))
    assert sent.external_id == "17873440459141021"
    assert json.loads(route.calls.last.request.content) == {"message": "Wat vervelend! We kijken mee. ^TR"}
    assert connector.capabilities.like is False
    with pytest.raises(ConnectorError, match="Instagram's API cannot like") as caught:
        await connector.like("17858154961981086")
    assert caught.value.retryable is False


@respx.mock(assert_all_called=False)
async def test_facebook_likes_a_comment(http, respx_mock):
    route = respx_mock.post(f"{BASE}/2954961744718970_10158407903973553/likes").respond(json={"success": True})
    connector = facebook(http)
    await connector.like("2954961744718970_10158407903973553")
    assert route.call_count == 1 and connector.capabilities.like
    with pytest.raises(ConnectorError, match="not Messenger messages"):
        await connector.like("m_ToF35NI1")


@respx.mock(assert_all_called=False)
async def test_find_sent_reads_the_replies_under_the_comment(http, respx_mock):
    target = "2954961744718970_10158407903973553"
    ours = {"id": "2954961744718970_777", "message": "Wat vervelend! We kijken mee. ^TR ",
            "created_time": "2021-07-23T11:00:00+0000", "from": {"id": PAGE, "name": "MyLife"},
            "permalink_url": "https://www.facebook.com/x?comment_id=777"}
    someone = dict(ours, id="2954961744718970_778", **{"from": {"id": "5", "name": "Copycat"}})
    route = respx_mock.get(f"{BASE}/{target}/comments").respond(json={"data": [someone, ours]})
    connector = facebook(http)
    found = await connector.find_sent(reply())
    assert (found.external_id, found.created_at, found.url) == (
        "2954961744718970_777", at("2021-07-23T11:00:00+0000"), "https://www.facebook.com/x?comment_id=777")
    route.respond(json={"data": [someone]})
    parent = respx_mock.get(f"{BASE}/{target}").respond(json={"id": target})  # top-level: no parent
    assert await connector.find_sent(reply()) is None and parent.call_count == 1


@respx.mock(assert_all_called=False)
async def test_find_sent_reads_the_customers_conversation(http, respx_mock):
    inbox = fixture("fb_conversations.json")
    route = respx_mock.get(f"{BASE}/{PAGE}/conversations").respond(json=inbox)
    connector = facebook(http)
    dm = reply("private", in_reply_to="m_ToF35NI1", recipient="2711636948859886",
               text="Dank je! Kan ik je ergens mee helpen?", platform="messenger")
    found = await connector.find_sent(dm)
    assert found.external_id.startswith("m_4mK0b1Ue") and found.created_at == at("2021-07-23T09:58:02+0000")
    assert route.calls.last.request.url.params["user_id"] == "2711636948859886"
    assert await connector.find_sent(reply("private", in_reply_to="m_x", recipient="2711636948859886")) is None
    with pytest.raises(ConnectorError, match="cannot be looked up"):
        await connector.find_sent(reply("private"))  # a private reply to a comment


# -- the documented request contract --------------------------------------------------------------

# (method, path after the version, required query parameters, required JSON body keys), from
# developers.facebook.com: Page feed, Object comments, IG User media, IG Media comments, IG Comment replies,
# Page conversations (Conversations API), Send API and Private Replies, Object likes.
DOCUMENTED = [
    ("GET", r"/(?P<page>\d+)/feed", {"fields"}, set()),
    ("GET", r"/\d+_\d+/comments", {"fields", "filter", "order"}, set()),
    ("GET", r"/\d+/media", {"fields"}, set()),
    ("GET", r"/\d+/comments", {"fields"}, set()),
    ("GET", r"/\d+/replies", {"fields"}, set()),
    ("GET", r"/(\d+|\d+_\d+)", {"fields"}, set()),
    ("GET", r"/\d+/conversations", {"platform", "fields"}, set()),
    ("POST", r"/\d+_\d+/comments", set(), {"message"}),
    ("POST", r"/\d+/replies", set(), {"message"}),
    ("POST", r"/\d+/messages", set(), {"recipient", "message"}),
    ("POST", r"/(\d+|\d+_\d+)/likes", set(), set()),
]


def documented(request: httpx.Request) -> bool:
    path = request.url.path.removeprefix("/v23.0")
    body = json.loads(request.content) if request.content else {}
    for method, pattern, params, keys in DOCUMENTED:
        if request.method == method and re.fullmatch(pattern, path) and params <= set(request.url.params) \
                and keys <= set(body):
            if path.endswith("/messages") and "id" in body["recipient"]:
                return body.get("messaging_type") == "RESPONSE" and set(body["message"]) == {"text"}
            if path.endswith("/conversations"):
                return request.url.params["platform"] in ("messenger", "instagram")
            return True
    return False


@respx.mock(assert_all_called=False)
async def test_every_request_matches_the_documented_path_method_and_fields(http, respx_mock):
    fb_routes(respx_mock)
    ig_routes(respx_mock)
    respx_mock.post(path__regex=r"/(comments|replies)$").respond(json={"id": "1"})
    respx_mock.post(path__regex=r"/messages$").respond(json=fixture("send_api_response.json"))
    respx_mock.post(path__regex=r"/likes$").respond(json={"success": True})
    respx_mock.get(path__regex=r"/\d+(_\d+)?/(comments|replies)$").respond(json={"data": []})
    respx_mock.get(path__regex=r"/\d+(_\d+)?$").respond(json={"id": "1"})
    fb, ig = facebook(http), instagram(http)
    await fb.fetch(None)
    await ig.fetch(None)
    for connector, comment in ((fb, "2954961744718970_1"), (ig, "17858154961981086")):
        for visibility, target in (("public", comment), ("private", comment), ("private", "m_abc")):
            await connector.send_reply(reply(visibility, in_reply_to=target))
            if not (visibility == "private" and target == comment):
                await connector.find_sent(reply(visibility, in_reply_to=target))
    await fb.like("2954961744718970_1")
    requests = [call.request for call in respx_mock.calls]
    assert len(requests) == 19  # 6 reading, 6 sending, 6 looking up, 1 like
    assert [f"{r.method} {r.url.path}" for r in requests if not documented(r)] == []
    assert all(r.url.host == "graph.facebook.com" and "access_token" not in r.url.params for r in requests)


def test_the_error_fixtures_have_the_graph_error_shape_of_the_spec():
    if not SPEC.exists():
        pytest.skip(f"Graph API spec not found at {SPEC}")
    yaml = pytest.importorskip("yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the spec is 1 MB
    spec = yaml.load(SPEC.read_text(), Loader=loader)
    schema = spec["components"]["schemas"]["GraphAPIError"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"  # the token as we send it
    required = set(schema["properties"]["error"]["required"])
    assert required == {"message", "type", "code"}
    for name in ("error_100.json", "error_190.json", "error_rate_limit.json"):
        error = fixture(name)["error"]
        assert required <= set(error) and isinstance(error["code"], int), name


# -- end to end -------------------------------------------------------------------------------

@respx.mock(assert_all_called=False)
async def test_end_to_end_a_facebook_comment_is_answered_from_the_store(store, http, respx_mock):
    fb_routes(respx_mock, conversations={"data": []})
    connector = facebook(http)
    [status] = await SyncRunner(store, {"brand-fb": connector}, clock=lambda: NOW).sync_once()
    assert status.new_messages == 3
    case = next(c for c in store.list_cases() if c["platform"] == "facebook" and c["message_count"] == 2)
    [inbound, ours] = store.case_messages(case["id"])
    assert (inbound["direction"], ours["direction"], ours["external_id"]) == (
        "in", "out", "2954961744718970_10158409983033553")
    kun = next(c for c in store.list_cases() if c["message_count"] == 1)
    created = fixture("fb_comment_created.json")
    route = respx_mock.post(f"{BASE}/2954961744718970_2966313500250461/comments").respond(json=created)
    Outbox(store, clock=lambda: NOW).queue_reply(kun["id"], "Mooie auto! 🚗 ^TR", agent="tim")
    [delivery] = await OutboxWorker(store, {"brand-fb": connector}, clock=lambda: NOW).deliver_due()
    assert delivery.state == "sent"
    request = route.calls.last.request
    assert (request.method, request.url.path) == ("POST", "/v23.0/2954961744718970_2966313500250461/comments")
    assert json.loads(request.content) == {"message": "Mooie auto! 🚗 ^TR"}
    sent = store.case_messages(kun["id"])[-1]
    assert (sent["external_id"], sent["direction"], sent["visibility"], sent["url"]) == (
        created["id"], "out", "public", created["permalink_url"])


@respx.mock(assert_all_called=False)
async def test_end_to_end_a_messenger_message_is_answered_privately(store, http, respx_mock):
    inbox = fixture("fb_conversations.json")
    inbox["data"][0]["messages"]["data"] = inbox["data"][0]["messages"]["data"][1:]  # only the customer's message
    fb_routes(respx_mock, feed={"data": []}, conversations=inbox)
    connector = facebook(http)
    await SyncRunner(store, {"brand-fb": connector}, clock=lambda: NOW).sync_once()
    [case] = store.list_cases()
    assert case["platform"] == "messenger"
    route = respx_mock.post(f"{BASE}/{PAGE}/messages").respond(json=fixture("send_api_response.json"))
    Outbox(store, clock=lambda: NOW).queue_reply(case["id"], "Hoi Kun, waarmee kan ik helpen?", agent="tim")
    [delivery] = await OutboxWorker(store, {"brand-fb": connector}, clock=lambda: NOW).deliver_due()
    assert delivery.state == "sent"
    assert json.loads(route.calls.last.request.content) == {
        "recipient": {"id": "2711636948859886"}, "messaging_type": "RESPONSE",
        "message": {"text": "Hoi Kun, waarmee kan ik helpen?"}}
    sent = store.case_messages(case["id"])[-1]
    assert (sent["external_id"], sent["visibility"]) == (fixture("send_api_response.json")["message_id"], "private")
    # The next poll sees our message in the conversation: it is the same message, not a second one.
    inbox = fixture("fb_conversations.json")
    inbox["data"][0]["messages"]["data"][0]["id"] = sent["external_id"]
    respx_mock.get(f"{BASE}/{PAGE}/conversations").respond(json=inbox)
    [status] = await SyncRunner(store, {"brand-fb": connector}, clock=lambda: NOW).sync_once()
    assert status.new_messages == 0 and len(store.case_messages(case["id"])) == 2


def test_ingest_of_an_edited_comment_keeps_one_copy(store):
    first = facebook_comment(fixture("fb_comments.json")["data"][2], PAGE, "brand-fb")
    edited = facebook_comment(dict(fixture("fb_comments.json")["data"][2], message="My Nice Car (edited)"), PAGE,
                              "brand-fb")
    ingest(store, [first])
    counts = ingest(store, [edited])
    assert (counts.new_messages, counts.duplicates) == (0, 1) and store.counts()["messages"] == 1


@pytest.mark.parametrize("item", [
    None, [], "text", {"id": True}, {"id": "1", "from": "anna"}, {"id": "1", "from": {"id": "5", "username": ["x"]},
                                                               "created_time": 12, "timestamp": 12, "message": 7},
    {"id": "1", "from": {"id": "5"}, "created_time": "gisteren", "message": "hoi"},
    {"id": "1", "from": {"id": PAGE}, "to": {"data": "nobody"}, "created_time": 12, "message": "hoi"},
    {"id": "1", "username": {"x": 1}, "timestamp": "2021-07-23T08:00:00+0000", "text": "hoi", "user": "me"},
    {"id": "1", "from": {"id": "5"}, "created_time": 12, "attachments": {"data": [{"mime_type": 5}, "x"]}},
])
def test_hostile_shapes_are_skipped_never_crash(item):
    for parse in (lambda i: facebook_comment(i, PAGE, "a"), lambda i: instagram_comment(i, {IG, "ikroskun"}, "a"),
                  lambda i: conversation_message(i, {PAGE}, "messenger", "a")):
        try:
            message = parse(item)
        except Skip as reason:
            assert str(reason)
        else:
            assert isinstance(message.text, str) and message.text and isinstance(message.author_id, str)
