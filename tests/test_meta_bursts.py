"""Facebook and Instagram (Meta Graph API): nothing lost in a burst, nothing sent twice (issue 17).

Built from the documented and recorded payload shapes: newest-first comment lists with
`paging.cursors.after`, the Page inbox with `messages.limit(25)` and its nested paging, the
`/{conversation-id}/messages` edge, IG media with `comments_count`, `GET /?ids=` lookups.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
import respx
from test_connector_meta import BASE, IG, PAGE, POST, at, facebook, fb_routes, fixture, ig_routes, instagram, reply

from webcare_tui.connectors.base import ConnectorError
from webcare_tui.connectors.meta import FIND_PAGES
from webcare_tui.platforms import MAX_REPLY_LENGTH

KUN = {"name": "Kun Liu", "id": "2711636948859886"}
CUSTOMER = {"name": "Anna de Vries", "id": "5512345678901234"}


def iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(seconds))


def paged(items: list, path: str, size: int = 25):
    """A Graph list answered page by page: `after` is the offset, `paging.next` while more are left."""
    def answer(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("after") or 0)
        body: dict = {"data": items[offset:offset + size], "paging": {"cursors": {"before": str(offset),
                                                                               "after": str(offset + size)}}}
        if offset + size < len(items):
            body["paging"]["next"] = f"{BASE}/{path}?after={offset + size}&limit={size}"
        return httpx.Response(200, json=body)
    return answer


async def drain(connector, cursor):
    """Fetch like the sync does: again at once while `more` says so; still more after 20 fetches fails."""
    got, results = [], []
    for _ in range(20):
        result = await connector.fetch(cursor)
        results.append(result)
        got += result.messages
        cursor = result.cursor
        if not result.more:
            break
    else:
        raise AssertionError("still more after 20 fetches: the connector never catches up")
    return got, results


# -- bursts ------------------------------------------------------------------------------------

def comment(n: int, seconds: int) -> dict:
    return {"id": f"2954961744718970_{900000 + n}", "message": f"klacht {n}", "created_time": iso(seconds),
            "from": {"id": str(7000 + n), "name": f"Klant {n}"}}


@respx.mock(assert_all_called=False)
async def test_75_new_comments_on_a_watched_post_are_all_read(http, respx_mock):
    routes = fb_routes(respx_mock, conversations={"data": []})
    connector = facebook(http)
    first = await connector.fetch(None)
    known = fixture("fb_comments.json")["data"]
    start = at("2021-07-23T10:00:00+0000")
    burst = [comment(n, start + n) for n in range(75)][::-1]  # newest first
    feed = fixture("fb_feed.json")
    feed["data"][0]["updated_time"] = iso(start + 75)
    routes["feed"].respond(json=feed)
    routes["comments"].mock(side_effect=paged(burst + known, f"{POST}/comments"))
    got, results = await drain(connector, first.cursor)
    assert {m.text for m in got} >= {f"klacht {n}" for n in range(75)}
    again, _ = await drain(connector, results[-1].cursor)  # caught up: nothing new, nothing lost
    assert [m for m in again if m.text.startswith("klacht")] == []


@respx.mock(assert_all_called=False)
async def test_a_burst_longer_than_one_fetch_goes_on_with_more_exactly_where_it_stopped(http, respx_mock):
    routes = fb_routes(respx_mock, conversations={"data": []})
    connector = facebook(http)
    first = await connector.fetch(None)
    start = at("2021-07-23T10:00:00+0000")
    burst = [comment(n, start + n) for n in range(300)][::-1]
    feed = fixture("fb_feed.json")
    feed["data"][0]["updated_time"] = iso(start + 300)
    routes["feed"].respond(json=feed)
    routes["comments"].mock(side_effect=paged(burst + fixture("fb_comments.json")["data"], f"{POST}/comments"))
    got, results = await drain(connector, first.cursor)
    assert results[0].more is True and results[-1].more is False and len(results) == 2
    assert sorted(m.text for m in got if m.text.startswith("klacht")) == sorted(f"klacht {n}" for n in range(300))
    afters = [call.request.url.params.get("after") for call in routes["comments"].calls[1:]]
    assert afters == [None, "25", "50", "75", "100", "125", "150", "175", "200", "225", "250", "275", "300"]
    assert json.loads(results[-1].cursor)["objects"][POST][0] == start + 299


def conversation(n: int, seconds: int, messages: list | None = None) -> dict:
    customer = {"id": str(8000 + n), "name": f"Klant {n}"}
    data = messages if messages is not None else [
        {"id": f"m_{n}", "created_time": iso(seconds), "message": f"dm {n}", "from": customer,
         "to": {"data": [{"id": PAGE}]}}]
    return {"id": f"t_{n}", "updated_time": iso(seconds), "messages": {"data": data}}


@respx.mock(assert_all_called=False)
async def test_more_than_50_conversations_updated_between_polls_are_all_read(http, respx_mock):
    routes = fb_routes(respx_mock, feed={"data": []})
    connector = facebook(http)
    first = await connector.fetch(None)
    start = at("2021-07-23T10:00:00+0000")
    inbox = [conversation(n, start + n) for n in range(80)][::-1] + fixture("fb_conversations.json")["data"]
    routes["conversations"].mock(side_effect=paged(inbox, f"{PAGE}/conversations"))
    got, results = await drain(connector, first.cursor)
    assert {m.text for m in got} >= {f"dm {n}" for n in range(80)}
    assert json.loads(results[-1].cursor)["dm"] == start + 79


@respx.mock(assert_all_called=False)
async def test_more_than_25_messages_in_one_conversation_are_all_read(http, respx_mock):
    routes = fb_routes(respx_mock, feed={"data": []})
    connector = facebook(http)
    first = await connector.fetch(None)
    start = at("2021-07-23T10:00:00+0000")
    messages = [{"id": f"m_burst_{n}", "created_time": iso(start + n), "message": f"bericht {n}", "from": KUN,
                 "to": {"data": [{"id": PAGE}]}} for n in range(60)][::-1]
    messages += fixture("fb_conversations.json")["data"][0]["messages"]["data"]
    thread = {"id": "t_587956915396498", "updated_time": iso(start + 59), "messages": {
        "data": messages[:25], "paging": {"cursors": {"before": "0", "after": "25"},
                                          "next": f"{BASE}/t_587956915396498/messages?after=25"}}}
    routes["conversations"].respond(json={"data": [thread]})
    edge = respx_mock.get(f"{BASE}/t_587956915396498/messages").mock(
        side_effect=paged(messages, "t_587956915396498/messages"))
    got, _ = await drain(connector, first.cursor)
    assert {m.text for m in got} >= {f"bericht {n}" for n in range(60)}
    assert edge.calls[0].request.url.params["after"] == "25"
    assert "from" in edge.calls[0].request.url.params["fields"]


@respx.mock(assert_all_called=False)
async def test_instagram_comments_beyond_history_pages_are_all_read(http, respx_mock):
    routes = ig_routes(respx_mock)
    connector = instagram(http)
    first = await connector.fetch(None)
    start = at("2021-08-14T10:00:00+0000")
    burst = [{"id": f"1790000000000{n:04d}", "text": f"vraag {n}", "timestamp": iso(start + n),
              "from": {"id": str(6000 + n), "username": f"klant{n}"}} for n in range(80)][::-1]
    media = fixture("ig_media.json")
    media["data"][1]["comments_count"] += 80
    routes["media"].respond(json=media)
    routes["comments"].mock(side_effect=paged(burst + fixture("ig_comments.json")["data"],
                                              "17896622936197745/comments"))
    got, _ = await drain(connector, first.cursor)
    assert {m.text for m in got} >= {f"vraag {n}" for n in range(80)}


# -- sent twice or never -------------------------------------------------------------------------

def dm(n: int, sender: dict, text: str, seconds: int) -> dict:
    return {"id": f"m_{n}", "message": text, "from": sender, "created_time": iso(seconds)}


ANSWER = "Dank je! Kan ik je ergens mee helpen?"
US = {"name": "MyLife", "id": PAGE}


def thread_of(messages: list) -> dict:
    """The Page inbox answer for `user_id=...`: the conversation with its latest 25 messages, paged on."""
    listed = {"data": messages[:25]}
    if len(messages) > 25:
        listed["paging"] = {"cursors": {"after": "25"}, "next": f"{BASE}/t_1/messages?after=25"}
    return {"data": [{"id": "t_1", "messages": listed}]}


@respx.mock(assert_all_called=False)
async def test_an_earlier_identical_answer_does_not_count_as_the_new_one(http, respx_mock):
    start = at("2021-07-23T08:00:00+0000")
    messages = [dm(3, KUN, "Nog een vraag", start + 30),  # answered now; our answer never went out
                dm(2, US, ANSWER, start + 20), dm(1, KUN, "Hoi", start + 10)]  # newest first
    inbox = respx_mock.get(f"{BASE}/{PAGE}/conversations").respond(json=thread_of(messages))
    dm_reply = reply("private", in_reply_to="m_3", recipient=KUN["id"], text=ANSWER, platform="messenger")
    assert await facebook(http).find_sent(dm_reply) is None  # so the outbox sends it
    inbox.respond(json=thread_of([dm(4, US, ANSWER, start + 40), *messages]))  # it did go out, after m_3
    found = await facebook(http).find_sent(dm_reply)
    assert found is not None and (found.external_id, found.created_at) == ("m_4", start + 40)


@respx.mock(assert_all_called=False)
async def test_the_answer_behind_many_newer_messages_is_still_found(http, respx_mock):
    start = at("2021-07-23T08:00:00+0000")
    chatter = [dm(100 + n, KUN, f"en nog iets {n}", start + 100 + n) for n in range(40)][::-1]
    messages = chatter + [dm(2, US, ANSWER, start + 20), dm(1, KUN, "Hoi", start + 10)]
    respx_mock.get(f"{BASE}/{PAGE}/conversations").respond(json=thread_of(messages))
    respx_mock.get(f"{BASE}/t_1/messages").mock(side_effect=paged(messages, "t_1/messages"))
    found = await facebook(http).find_sent(reply("private", in_reply_to="m_1", recipient=KUN["id"], text=ANSWER,
                                                 platform="messenger"))
    assert found is not None and (found.external_id, found.created_at) == ("m_2", start + 20)


@respx.mock(assert_all_called=False)
async def test_find_sent_reads_a_conversation_back_at_most_find_pages_pages(http, respx_mock):
    start = at("2021-07-23T08:00:00+0000")
    chatter = [dm(100 + n, KUN, f"en nog iets {n}", start + 100 + n) for n in range(25 * FIND_PAGES - 2)][::-1]
    messages = chatter + [dm(2, US, ANSWER, start + 20), dm(1, KUN, "Hoi", start + 10)]  # m_1 ends the last page
    inbox = respx_mock.get(f"{BASE}/{PAGE}/conversations").respond(json=thread_of(messages))
    pages = respx_mock.get(f"{BASE}/t_1/messages").mock(side_effect=paged(messages, "t_1/messages"))
    dm_reply = reply("private", in_reply_to="m_1", recipient=KUN["id"], text=ANSWER, platform="messenger")
    found = await facebook(http).find_sent(dm_reply)
    assert found is not None and found.external_id == "m_2" and pages.call_count == FIND_PAGES - 1  # + the listed
    messages.insert(0, dm(99, KUN, "nog iets", start + 1000))  # the answered message one page further back
    inbox.respond(json=thread_of(messages))
    pages.side_effect = paged(messages, "t_1/messages")
    pages.reset()
    with pytest.raises(ConnectorError, match="too many messages") as raised:
        await facebook(http).find_sent(dm_reply)
    assert not raised.value.retryable and pages.call_count == FIND_PAGES - 1


def fb_comment(n: int, sender: dict, text: str, seconds: int, parent: str = "2954961744718970_1") -> dict:
    return {"id": f"2954961744718970_{n}", "message": text, "from": sender, "created_time": iso(seconds),
            "parent": {"id": parent}}


@respx.mock(assert_all_called=False)
async def test_facebook_a_reply_among_the_parents_replies_counts_only_after_the_answered_one(http, respx_mock):
    start = at("2021-07-23T08:00:00+0000")
    target = "2954961744718970_30"
    text = "Wat vervelend! We kijken mee. ^TR"
    respx_mock.get(f"{BASE}/{target}/comments").respond(json={"data": []})
    respx_mock.get(f"{BASE}/{target}").respond(json={"id": target, "parent": {"id": "2954961744718970_1"}})
    earlier = [fb_comment(30, CUSTOMER, "Nog steeds kapot", start + 30), fb_comment(20, US, text, start + 20),
               fb_comment(10, CUSTOMER, "Kapot", start + 10)]  # reverse chronological
    siblings = respx_mock.get(f"{BASE}/2954961744718970_1/comments").respond(json={"data": earlier})
    connector = facebook(http)
    assert await connector.find_sent(reply(in_reply_to=target)) is None
    newer = [fb_comment(100 + n, {"id": str(50 + n), "name": "x"}, f"ook {n}", start + 100 + n) for n in range(60)]
    ours = fb_comment(40, US, text, start + 40)
    siblings.mock(side_effect=paged([*newer[::-1], ours, *earlier], "2954961744718970_1/comments"))
    found = await connector.find_sent(reply(in_reply_to=target))
    assert found is not None and found.external_id == "2954961744718970_40"


@respx.mock(assert_all_called=False)
async def test_instagram_an_earlier_identical_reply_under_the_top_comment_does_not_count(http, respx_mock):
    target = "17845747489952795"
    text = "Wat vervelend! We kijken mee. ^TR"
    ours_before = {"id": "17873440459141000", "text": text, "timestamp": "2021-08-13T09:00:00+0000",
                   "username": "ikroskun", "user": {"id": IG}}
    answered = {"id": target, "text": "Nog een vraag", "timestamp": "2021-08-13T09:30:00+0000",
                "username": "lixiangguodu123", "from": {"id": "17841401234567890", "username": "lixiangguodu123"}}
    respx_mock.get(f"{BASE}/{target}/replies").respond(json={"data": []})
    respx_mock.get(f"{BASE}/{target}").respond(json={"parent_id": "17858154961981086", "id": target})
    replies = respx_mock.get(f"{BASE}/17858154961981086/replies").respond(json={"data": [ours_before, answered]})
    connector = instagram(http)
    assert await connector.find_sent(reply(in_reply_to=target, platform="instagram")) is None
    ours_after = dict(ours_before, id="17873440459141099", timestamp="2021-08-13T10:00:00+0000")
    others = [{"id": f"1787000000000{n:04d}", "text": f"ook {n}", "timestamp": "2021-08-13T11:00:00+0000",
               "username": f"k{n}", "from": {"id": str(n), "username": f"k{n}"}} for n in range(60)]
    replies.mock(side_effect=paged([ours_before, answered, ours_after, *others], "17858154961981086/replies"))
    found = await connector.find_sent(reply(in_reply_to=target, platform="instagram"))
    assert found is not None and found.external_id == "17873440459141099"


# -- the rest of the item --------------------------------------------------------------------------

@respx.mock(assert_all_called=False)
async def test_instagram_comment_replies_take_2200_characters_direct_messages_1000(http, respx_mock):
    route = respx_mock.post(f"{BASE}/17858154961981086/replies").respond(json={"id": "17873440459141021"})
    connector = instagram(http)
    long = "é" * 2200
    sent = await connector.send_reply(reply(in_reply_to="17858154961981086", platform="instagram", text=long))
    assert sent.external_id == "17873440459141021" and route.call_count == 1
    assert connector.capabilities.max_reply_length == 2200 and MAX_REPLY_LENGTH["instagram"] == 2200


@respx.mock(assert_all_called=False)
async def test_a_visitor_post_on_the_page_is_an_inbound_message(http, respx_mock):
    feed = fixture("fb_feed.json")
    feed["data"].insert(0, {"id": f"{PAGE}_4242", "created_time": "2021-07-23T09:20:00+0000",
                            "updated_time": "2021-07-23T09:20:00+0000", "message": "Mijn bestelling is zoek!",
                            "from": KUN, "permalink_url": f"https://www.facebook.com/{PAGE}/posts/4242/",
                            "attachments": {"data": [{"type": "photo"}]}})
    fb_routes(respx_mock, feed=feed, conversations={"data": []})
    respx_mock.get(f"{BASE}/{PAGE}_4242/comments").respond(json={"data": []})
    result = await facebook(http, posts=2).fetch(None)
    [post] = [m for m in result.messages if m.external_id == f"{PAGE}_4242"]
    assert (post.platform, post.direction, post.visibility, post.author_id, post.author_name, post.text) == (
        "facebook", "in", "public", KUN["id"], KUN["name"], "Mijn bestelling is zoek! [photo]")
    assert (post.created_at, post.in_reply_to, post.url) == (
        at("2021-07-23T09:20:00+0000"), None, f"https://www.facebook.com/{PAGE}/posts/4242/")


@respx.mock(assert_all_called=False)
async def test_instagram_a_deleted_comment_plus_a_new_one_is_not_missed(http, respx_mock):
    routes = ig_routes(respx_mock)
    connector = instagram(http)
    first = await connector.fetch(None)
    new = {"id": "17858154961989999", "text": "Waar blijft mijn pakket?", "timestamp": "2021-08-14T10:00:00+0000",
           "from": {"id": "17841409999999999", "username": "nieuweklant"}}
    page = fixture("ig_comments.json")
    page["data"] = [new] + page["data"][1:]  # one deleted, one added: the count stays the same
    media = fixture("ig_media.json")
    media["data"][1]["comments"] = {"data": [{"id": new["id"], "timestamp": new["timestamp"]}]}
    routes["media"].respond(json=media)
    routes["comments"].respond(json=page)
    second = await connector.fetch(first.cursor)
    assert "Waar blijft mijn pakket?" in [m.text for m in second.messages]


@respx.mock(assert_all_called=False)
async def test_a_post_that_left_the_newest_posts_is_still_watched(http, respx_mock):
    routes = fb_routes(respx_mock, conversations={"data": []})
    connector = facebook(http)  # posts=1
    first = await connector.fetch(None)
    feed = fixture("fb_feed.json")
    feed["data"] = [{"id": f"{PAGE}_5555", "created_time": "2021-07-23T10:00:00+0000",
                     "updated_time": "2021-07-23T10:00:00+0000"}]  # a newer post pushes ours out
    routes["feed"].respond(json=feed)
    respx_mock.get(f"{BASE}/{PAGE}_5555/comments").respond(json={"data": []})
    lookup = respx_mock.get(f"{BASE}/").respond(json={POST: {"id": POST, "updated_time": "2021-07-23T10:30:00+0000"}})
    late = comment(1, at("2021-07-23T10:30:00+0000"))
    page = fixture("fb_comments.json")
    page["data"].insert(0, late)
    routes["comments"].respond(json=page)
    second = await connector.fetch(first.cursor)
    assert "klacht 1" in [m.text for m in second.messages]
    assert lookup.calls.last.request.url.params["ids"] == POST
