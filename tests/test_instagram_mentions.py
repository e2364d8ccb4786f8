"""Instagram @mentions in the Meta connector: tagged media polled, caption and comment mentions read by the
ids webhooks announce (`read_mention`; the receiver is tests/test_meta_webhook.py), answered through `POST /{ig-user-id}/mentions`, each once.

Payloads: `fixtures/meta/ig_mentions.json`, built from the recorded `tagged_medias.json`,
`mentioned_media.json` and `mentioned_comment.json` of python-facebook (its `_source` says how), and
the documented request shapes (IG User Tags, Mentioned Media, Mentioned Comment, IG User Mentions).
"""

from __future__ import annotations

import copy
import json
import re

import httpx
import pytest
import respx
from test_connector_meta import BASE, IG, NOW, RECORDED, TOKEN, at, fixture, ig_routes, instagram, reply
from test_meta_bursts import drain, iso, paged

from webcare_tui.connectors.base import ConnectorError
from webcare_tui.connectors.meta import FIND_PAGES, Skip, instagram_comment_mention, instagram_post_mention
from webcare_tui.outbox import Outbox, OutboxWorker
from webcare_tui.sync import SyncRunner

MENTIONS = fixture("ig_mentions.json")
TAGS = MENTIONS["tags"]
MEDIA_ID = MENTIONS["mentioned_media"]["mentioned_media"]["id"]  # 17889114512354744
COMMENT_ID = MENTIONS["mentioned_comment"]["mentioned_comment"]["id"]  # 17967008497439572
ON_MEDIA = "17918195224117851"  # the medium a webhook names with the comment id
ANSWER = "Dank je voor het taggen! Stuur ons een DM met je bestelnummer. ^TR"


def tags() -> dict:
    return copy.deepcopy(TAGS)


def tagged(n: int, seconds: int, username: str | None = None) -> dict:
    """A tagged medium of the recorded shape (`tagged_medias.json` item, with the documented `username`)."""
    return {"id": f"1790{n:013d}", "caption": f"tag {n} @onzewinkel", "comments_count": 0, "like_count": 0,
            "media_type": "IMAGE", "permalink": f"https://www.instagram.com/p/T{n}/", "timestamp": iso(seconds),
            "username": username or f"klant{n}"}


def quiet_routes(mock) -> dict:
    """The account's own media and inbox, with nothing new: only mentions can bring messages."""
    routes = ig_routes(mock)
    routes["media"].respond(json={"data": []})
    return routes


def mentioned(answers: dict[str, httpx.Response | dict]):
    """`GET /{ig-user-id}?fields=username,mentioned_…(id){…}` answered per mentioned id."""
    def answer(request: httpx.Request) -> httpx.Response:
        fields = request.url.params["fields"]
        found = re.search(r"mentioned_(?:media\.media_id|comment\.comment_id)\((\d+)\)", fields)
        assert found and fields.startswith("username,"), fields
        got = answers[found.group(1)]
        return got if isinstance(got, httpx.Response) else httpx.Response(200, json=got)
    return answer


# -- tagged media (GET /{ig-user-id}/tags) ----------------------------------------------------------

@respx.mock(assert_all_called=False)
async def test_tagged_media_become_inbound_public_messages_by_their_authors(http, respx_mock):
    ig_routes(respx_mock)
    route = respx_mock.get(f"{BASE}/{IG}/tags").respond(json=tags())
    result = await instagram(http, tags=True).fetch(None)
    mentions = {m.external_id: m for m in result.messages if m.external_id.startswith("mention:")}
    assert sorted(mentions) == ["mention:17846368219941692", "mention:17892354025952911",
                                "mention:17913531439230186", "mention:17997587032316367"]
    cute = mentions["mention:17846368219941692"]
    assert (cute.platform, cute.direction, cute.visibility, cute.author_id, cute.author_handle) == (
        "instagram", "in", "public", "lixiangguodu123", "lixiangguodu123")
    assert (cute.text, cute.created_at, cute.url, cute.in_reply_to) == (
        "Cute.. #cute #loveyou  @ikroskun [photo]", at("2020-02-13T10:35:40+0000"),
        "https://www.instagram.com/p/B8gQCApHMT-/", None)
    # the recorded item asked without `username` has no author: skipped with the reason, not dropped silently
    assert "17978630677077508: no author (no `username`)" in result.skipped
    params = route.calls.last.request.url.params
    assert set(params["fields"].split(",")) >= {"id", "caption", "username", "timestamp", "permalink", "media_type"}
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}" and "access_token" not in params
    plain = respx_mock.get(f"{BASE}/{IG}/tags")
    plain.reset()
    await instagram(http).fetch(None)  # the option is off unless the account asks for it
    assert plain.call_count == 0


@respx.mock(assert_all_called=False)
async def test_a_tagged_post_seen_in_one_poll_never_comes_again(http, respx_mock):
    ig_routes(respx_mock)
    route = respx_mock.get(f"{BASE}/{IG}/tags").respond(json=tags())
    connector = instagram(http, tags=True)
    first = await connector.fetch(None)
    assert len([m for m in first.messages if m.external_id.startswith("mention:")]) == 4
    second = await connector.fetch(first.cursor)
    assert [m for m in second.messages if m.external_id.startswith("mention:")] == [] and second.skipped == []
    # Tagging is what orders the list: a post from 2019 tagged today comes first, with its old timestamp.
    newer = tags()
    newer["data"].insert(0, tagged(1, at("2019-05-01T12:00:00+0000"), "late_tagger"))
    newer["paging"] = {"cursors": {"after": "QVFIU"}, "next": f"{BASE}/{IG}/tags?after=QVFIU"}  # older ones exist
    route.respond(json=newer)
    third = await connector.fetch(second.cursor)
    assert [(m.external_id, m.author_id) for m in third.messages if m.external_id.startswith("mention:")] == [
        ("mention:17900000000000001", "late_tagger")]
    fourth = await connector.fetch(third.cursor)
    assert [m for m in fourth.messages if m.external_id.startswith("mention:")] == []
    assert route.call_count == 4  # one page each time: the first page held known posts
    assert [call.request.url.params.get("after") for call in route.calls] == [None] * 4


@respx.mock(assert_all_called=False)
async def test_a_burst_of_tags_is_read_in_full_with_more_and_once(http, respx_mock):
    ig_routes(respx_mock)
    route = respx_mock.get(f"{BASE}/{IG}/tags").respond(json=tags())
    connector = instagram(http, tags=True)
    first = await connector.fetch(None)
    start = at("2021-08-20T10:00:00+0000")
    burst = [tagged(n, start + n) for n in range(300)][::-1]  # newest first
    route.mock(side_effect=paged(burst + tags()["data"], f"{IG}/tags"))
    got, results = await drain(connector, first.cursor)
    assert results[0].more is True and results[-1].more is False
    ids = [m.external_id for m in got if m.external_id.startswith("mention:")]
    assert sorted(ids) == sorted(f"mention:1790{n:013d}" for n in range(300)) and len(ids) == len(set(ids))
    afters = [call.request.url.params.get("after") for call in route.calls[1:]]
    assert afters == [None] + [str(25 * n) for n in range(1, 13)]  # on from exactly where each fetch stopped
    again, _ = await drain(connector, results[-1].cursor)
    assert [m for m in again if m.external_id.startswith("mention:")] == []


@respx.mock(assert_all_called=False)
async def test_tags_refused_by_graph_are_a_skip_and_the_comments_still_arrive(http, respx_mock):
    ig_routes(respx_mock)
    respx_mock.get(f"{BASE}/{IG}/tags").respond(400, json={"error": {
        "message": f"(#10) Application does not have permission for this action {TOKEN}", "type": "OAuthException",
        "code": 10}})
    result = await instagram(http, tags=True).fetch(None)
    assert "17858154961981086" in [m.external_id for m in result.messages]  # a comment on our own media
    [skip] = [s for s in result.skipped if s.startswith("tags:")]
    assert "permission" in skip and TOKEN not in skip
    assert "tags" not in json.loads(result.cursor)  # nothing was read: the first look is still to come


# -- caption and comment mentions announced by webhooks (read by the wall's /hooks/meta) -----------

@respx.mock(assert_all_called=False)
async def test_a_caption_mention_announced_by_a_webhook_is_read_by_its_ids(http, respx_mock):
    routes = quiet_routes(respx_mock)
    node = respx_mock.get(f"{BASE}/{IG}").mock(side_effect=mentioned({MEDIA_ID: MENTIONS["mentioned_media"]}))
    connector = instagram(http)
    message = await connector.read_mention(MEDIA_ID)
    assert (message.external_id, message.author_id, message.text, message.visibility, message.direction) == (
        f"mention:{MEDIA_ID}", "kunliu_fotografie", "@ikroskun hey [album]", "public", "in")
    assert (message.platform, message.account) == ("instagram", "brand-ig")
    assert message.created_at == at("2021-08-19T09:00:22+0000")
    fields = node.calls.last.request.url.params["fields"]
    assert fields.startswith(f"username,mentioned_media.media_id({MEDIA_ID}){{")
    assert set(fields.split("{", 1)[1].rstrip("}").split(",")) >= {"id", "caption", "timestamp", "username"}
    assert node.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
    for not_an_id in ("../../me?x=1", "", "17889114512354744&fields=access_token", "\u0661\u0662"):
        with pytest.raises(Skip, match="not a Graph id"):
            await connector.read_mention(not_an_id)
    with pytest.raises(Skip, match="not a Graph id"):
        await connector.read_mention(MEDIA_ID, "1/../2")
    assert node.call_count == 1  # never requested
    # a fetch holds no queue of announced mentions: it reads none
    result = await connector.fetch(None)
    assert [m for m in result.messages if m.external_id.startswith("mention:")] == [] and node.call_count == 1
    assert routes["media"].call_count == 1


@respx.mock(assert_all_called=False)
async def test_a_comment_mention_is_a_public_message_by_the_commenter(http, respx_mock):
    node = respx_mock.get(f"{BASE}/{IG}").mock(side_effect=mentioned({COMMENT_ID: MENTIONS["mentioned_comment"]}))
    message = await instagram(http).read_mention(ON_MEDIA, COMMENT_ID)
    assert (message.external_id, message.author_id, message.author_handle, message.text) == (
        f"mention:{ON_MEDIA}:{COMMENT_ID}", "ikroskun", "ikroskun", "@ikroskun good")
    assert (message.visibility, message.direction, message.created_at) == (
        "public", "in", at("2021-08-19T09:14:16+0000"))
    assert f"mentioned_comment.comment_id({COMMENT_ID}){{" in node.calls.last.request.url.params["fields"]


def test_the_recorded_mentions_parse_and_our_own_are_skipped():
    """The recordings as they are: in them the account mentioned itself, which is no customer's message."""
    path = RECORDED / "instagram" / "apidata" / "users" / "mentioned_comment.json"
    if not path.exists():
        pytest.skip(f"recorded mentions not found at {path}")
    comment = json.loads(path.read_text())["mentioned_comment"]
    media = json.loads(path.with_name("mentioned_media.json").read_text())["mentioned_media"]
    with pytest.raises(Skip, match="a comment of our own"):
        instagram_comment_mention(comment, ON_MEDIA, {IG, "ikroskun"}, "brand-ig")
    assert instagram_comment_mention(comment, ON_MEDIA, {IG}, "brand-ig").text == "@ikroskun good"
    with pytest.raises(Skip, match="no author"):  # recorded without `username`: we ask for it
        instagram_post_mention(media, {IG}, "brand-ig")
    assert instagram_post_mention(dict(media, username="kunliu_fotografie"), {IG}, "brand-ig").text == (
        "@ikroskun hey [album]")


GONE = httpx.Response(400, json={"error": {
    "message": "Unsupported get request. Object with ID '17800000000000404' does not exist, cannot be loaded"
               " due to missing permissions, or does not support this operation", "type": "GraphMethodException",
    "code": 100, "error_subcode": 33}})


@respx.mock(assert_all_called=False)
async def test_a_mention_on_deleted_media_or_with_comments_hidden_is_gone_not_retryable(http, respx_mock):
    hidden = {"id": IG, "username": "onzewinkel"}  # comments turned off: Graph leaves the field out
    respx_mock.get(f"{BASE}/{IG}").mock(side_effect=mentioned({"17800000000000404": GONE, COMMENT_ID: hidden}))
    connector = instagram(http)
    with pytest.raises(ConnectorError, match="does not exist") as deleted:
        await connector.read_mention("17800000000000404")
    assert not deleted.value.retryable and not deleted.value.needs_auth
    with pytest.raises(ConnectorError, match="no mentioned_comment") as unreadable:
        await connector.read_mention(ON_MEDIA, COMMENT_ID)
    assert not unreadable.value.retryable and TOKEN not in connector.redact(unreadable.value.message)


@respx.mock(assert_all_called=False)
async def test_a_passing_fault_or_a_refused_token_is_retryable_or_needs_auth(http, respx_mock):
    node = respx_mock.get(f"{BASE}/{IG}").mock(side_effect=mentioned({MEDIA_ID: httpx.Response(500, json={
        "error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1}})}))
    connector = instagram(http)
    with pytest.raises(ConnectorError) as caught:
        await connector.read_mention(MEDIA_ID)
    assert caught.value.retryable
    node.side_effect = mentioned({MEDIA_ID: httpx.Response(400, json=fixture("error_190.json"))})
    with pytest.raises(ConnectorError) as refused:
        await connector.read_mention(MEDIA_ID)
    assert refused.value.needs_auth
    node.side_effect = mentioned({MEDIA_ID: MENTIONS["mentioned_media"]})
    assert (await connector.read_mention(MEDIA_ID)).external_id == f"mention:{MEDIA_ID}"


# -- replies and "was it sent?" ------------------------------------------------------------------

@respx.mock(assert_all_called=False)
async def test_a_reply_to_a_mention_goes_through_the_mentions_edge(http, respx_mock):
    route = respx_mock.post(f"{BASE}/{IG}/mentions").respond(json={"id": "17873440459141021"})
    connector = instagram(http)
    sent = await connector.send_reply(reply(in_reply_to=f"mention:{MEDIA_ID}", platform="instagram", text=ANSWER))
    assert (sent.external_id, sent.created_at) == ("17873440459141021", NOW)
    assert json.loads(route.calls.last.request.content) == {"media_id": MEDIA_ID, "message": ANSWER}
    await connector.send_reply(reply(in_reply_to=f"mention:{ON_MEDIA}:{COMMENT_ID}", platform="instagram",
                                     text=ANSWER))
    assert json.loads(route.calls.last.request.content) == {"media_id": ON_MEDIA, "comment_id": COMMENT_ID,
                                                            "message": ANSWER}
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(ConnectorError, match="only be answered publicly") as refused:
        await connector.send_reply(reply("private", in_reply_to=f"mention:{MEDIA_ID}", platform="instagram"))
    assert not refused.value.retryable and route.call_count == 2
    assert await connector.find_sent(reply("private", in_reply_to=f"mention:{MEDIA_ID}")) is None


def ours(n: int, text: str, seconds: int) -> dict:
    return {"id": f"1787344045914{n:04d}", "text": text, "timestamp": iso(seconds), "username": "onzewinkel",
            "from": {"id": IG, "username": "onzewinkel"}}


def theirs(n: int, seconds: int) -> dict:
    return {"id": f"1787000000000{n:04d}", "text": f"ook {n}", "timestamp": iso(seconds), "username": f"k{n}",
            "from": {"id": str(n), "username": f"k{n}"}}


def mention_with(edge: str, items: list, *, comment: bool = False):
    """The mentioned medium (or comment) with its `comments` (or `replies`) edge paged by `.after(n)`."""
    def answer(request: httpx.Request) -> httpx.Response:
        fields = request.url.params["fields"]
        assert re.search(rf"\.{'comment_id' if comment else 'media_id'}\(\d+\)\{{.*,{edge}(\.after\(\d+\))?"
                         rf"\.limit\(25\)\{{id,text,timestamp,username,from\}}\}}$", fields), fields
        offset = int((re.search(r"\.after\((\d+)\)", fields) or [0, 0])[1])
        listed: dict = {"data": items[offset:offset + 25], "paging": {"cursors": {"after": str(offset + 25)}}}
        if offset + 25 < len(items):
            listed["paging"]["next"] = f"{BASE}/x/{edge}?after={offset + 25}"
        base = MENTIONS["mentioned_comment" if comment else "mentioned_media"]
        name = "mentioned_comment" if comment else "mentioned_media"
        return httpx.Response(200, json=base | {name: base[name] | {edge: listed}})
    return answer


@respx.mock(assert_all_called=False)
async def test_find_sent_reads_our_comments_under_the_mentioned_media_page_by_page(http, respx_mock):
    posted = at("2021-08-19T09:00:22+0000")
    node = respx_mock.get(f"{BASE}/{IG}")
    others = [theirs(n, posted + 100 + n) for n in range(60)]
    node.mock(side_effect=mention_with("comments", others))
    connector = instagram(http)
    assert await connector.find_sent(reply(in_reply_to=f"mention:{MEDIA_ID}", platform="instagram",
                                            text=ANSWER)) is None  # so the outbox sends it
    node.mock(side_effect=mention_with("comments", [*others, ours(1, ANSWER, posted + 500)]))
    found = await connector.find_sent(reply(in_reply_to=f"mention:{MEDIA_ID}", platform="instagram", text=ANSWER))
    assert found is not None and (found.external_id, found.created_at) == ("17873440459140001", posted + 500)
    assert node.call_count == 6  # 3 pages each, by `.after()` on the edge


@respx.mock(assert_all_called=False)
async def test_find_sent_for_a_comment_mention_reads_the_replies_and_is_bounded(http, respx_mock):
    said = at("2021-08-19T09:14:16+0000")
    node = respx_mock.get(f"{BASE}/{IG}")
    before = ours(1, ANSWER, said - 60)  # an identical answer older than the mention is not this one's
    node.mock(side_effect=mention_with("replies", [before, theirs(2, said + 10)], comment=True))
    connector = instagram(http)
    target = reply(in_reply_to=f"mention:{ON_MEDIA}:{COMMENT_ID}", platform="instagram", text=ANSWER)
    assert await connector.find_sent(target) is None
    chatter = [theirs(n, said + n) for n in range(25 * FIND_PAGES)]
    node.mock(side_effect=mention_with("replies", [*chatter, ours(2, ANSWER, said + 9999)], comment=True))
    node.reset()
    with pytest.raises(ConnectorError, match="too many messages") as raised:
        await connector.find_sent(target)
    assert not raised.value.retryable and node.call_count == FIND_PAGES


# -- end to end -------------------------------------------------------------------------------

@respx.mock(assert_all_called=False)
async def test_end_to_end_a_tag_is_a_case_answered_through_the_mentions_edge(store, http, respx_mock):
    quiet_routes(respx_mock)
    only = tags()
    only["data"] = only["data"][2:3]  # lixiangguodu123's post that tags (and @mentions) us
    respx_mock.get(f"{BASE}/{IG}/tags").respond(json=only)
    connector = instagram(http, tags=True)
    runner = SyncRunner(store, {"brand-ig": connector}, clock=lambda: NOW)
    [status] = await runner.sync_once()
    assert status.new_messages == 1
    [case] = store.list_cases()
    assert case["platform"] == "instagram"
    route = respx_mock.post(f"{BASE}/{IG}/mentions").respond(json={"id": "17873440459141021"})
    Outbox(store, clock=lambda: NOW).queue_reply(case["id"], ANSWER, agent="tim")
    [delivery] = await OutboxWorker(store, {"brand-ig": connector}, clock=lambda: NOW).deliver_due()
    assert delivery.state == "sent"
    assert json.loads(route.calls.last.request.content) == {"media_id": "17846368219941692", "message": ANSWER}
    sent = store.case_messages(case["id"])[-1]
    assert (sent["external_id"], sent["direction"], sent["visibility"]) == ("17873440459141021", "out", "public")
    [status] = await runner.sync_once()  # the next poll: the same tag is no new message
    assert status.new_messages == 0 and len(store.case_messages(case["id"])) == 2
