"""The X API v2 connector: mentions and DMs parsed, paged and rate-limited; replies, DMs, likes and
find_sent sent as documented; every request checked against the OpenAPI spec; one end-to-end run."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import respx
from conftest import SHARED_DATA, T0

from webcare_tui.config import Account
from webcare_tui.connectors import x as xmod
from webcare_tui.connectors.base import ConnectorError, OutgoingReply
from webcare_tui.connectors.http import MAX_WAIT
from webcare_tui.connectors.x import XConnector, read_dm_event, read_post, snowflake_time
from webcare_tui.outbox import Outbox, OutboxWorker
from webcare_tui.platforms import weighted_length
from webcare_tui.sync import SyncRunner

FIXTURES = Path(__file__).parent / "fixtures" / "x"
DATA = SHARED_DATA
API = "https://api.x.com"
US = "1072250532645998596"  # our account (@TweepyDev in the tweepy recordings)
ANNA = "750362064426721281"
MENTIONS = f"/2/users/{US}/mentions"
TOKEN = "secret-user-token-123"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def ok(name_or_body, status: int = 200, **headers: str) -> httpx.Response:
    body = fixture(name_or_body) if isinstance(name_or_body, str) else name_or_body
    return httpx.Response(status, json=body, headers=headers)


def pages(*responses: httpx.Response):
    """A respx side effect answering each call with the next response (and failing past the end)."""
    queue = list(responses)

    def answer(request: httpx.Request) -> httpx.Response:
        assert queue, f"unexpected extra call {request.url}"
        return queue.pop(0)

    return answer


@pytest.fixture
def now():
    return [float(T0)]


@pytest.fixture
def connector(http, now):
    return XConnector(Account("brand-x", "x", {"user_id": US, "history_pages": 2}), TOKEN, http,
                      clock=lambda: now[0])


@pytest.fixture
def x_api():
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        yield mock


def params_of(call) -> dict[str, str]:
    return dict(call.request.url.params)


# --- parsing -----------------------------------------------------------------------------------


async def test_a_mentions_page_is_parsed_field_by_field(connector, x_api):
    x_api.get(MENTIONS).mock(side_effect=pages(ok("mentions_page1.json"), ok("mentions_page2.json")))
    x_api.get("/2/dm_events").mock(return_value=ok("recorded_dm_events_empty.json"))
    result = await connector.fetch(None)
    by_id = {m.external_id: m for m in result.messages}
    assert [m.created_at for m in result.messages] == sorted(m.created_at for m in result.messages)  # oldest first

    anna = by_id["1992971466961846278"]
    assert (anna.platform, anna.account, anna.author_id, anna.direction, anna.visibility) == (
        "x", "brand-x", ANNA, "in", "public")
    assert anna.text == "@TweepyDev waar is mijn koffer? Al drie dagen niks gehoord 😡"  # emoji intact
    assert (anna.author_handle, anna.author_name, anna.author_followers) == ("@anna_reist", "Anna de Vries ✈️", 321)
    assert anna.created_at == T0 - 3600 and anna.language == "nl" and anna.in_reply_to is None
    assert anna.url == "https://x.com/anna_reist/status/1992971466961846278"

    ours = by_id["1992973983544246279"]  # our own reply: "out", the customer as author
    assert (ours.direction, ours.author_id, ours.author_handle) == ("out", ANNA, "@anna_reist")
    assert ours.in_reply_to == "1992971466961846278"
    assert ours.text == "@anna_reist Vervelend! Stuur ons een DM met je bagagenummer & we zoeken het uit ^TR"
    assert ours.url == "https://x.com/TweepyDev/status/1992973983544246279"

    long = by_id["1992978177848246276"]  # note_tweet: the whole text; its answered post was deleted
    assert len(long.text) > 280 and long.text.endswith("want ik heb de bonnetjes bij de hand.")
    assert long.in_reply_to == "1992609079096246279" and long.author_followers == 58210

    edited = by_id["1992980275000246275"]  # the edit is the version the timeline shows
    assert edited.text.endswith("(bewerkt)") and edited.author_followers is None  # no public_metrics: unknown

    cjk = by_id["1992984049873846273"]
    assert cjk.text == "@TweepyDev 你好，我的行李在哪里？ 🧳" and cjk.language == "zh"

    assert result.skipped == ["1992981533291446274: no author_id",
                              "1992976080696246277: a repost (retweet), nothing to answer"]
    assert len(result.messages) == 6 and result.more is False
    assert json.loads(result.cursor) == {"mentions": {"since": "1992984049873846273"}, "dms": {}}


async def test_direct_messages_in_and_out_are_private(connector, x_api):
    x_api.get(MENTIONS).mock(return_value=ok("mentions_empty.json"))
    x_api.get("/2/dm_events").mock(side_effect=pages(ok("dm_events_page1.json"), ok("dm_events_page2.json")))
    result = await connector.fetch(None)
    by_id = {m.external_id: m for m in result.messages}
    theirs = by_id["dm:1992975241835446285"]
    assert (theirs.author_id, theirs.direction, theirs.visibility, theirs.author_handle) == (
        ANNA, "in", "private", "@anna_reist")
    assert theirs.text == "Mijn bagagenummer is AMSKL12345 🙏\nGroetjes, Anna"
    assert theirs.created_at == T0 - 2700
    assert theirs.url == f"https://x.com/messages/{ANNA}-{US}"
    ours = by_id["dm:1992976500126646284"]
    assert (ours.author_id, ours.direction, ours.author_name) == (ANNA, "out", "Anna de Vries ✈️")
    bram = by_id["dm:1992974402974646286"]
    assert (bram.author_id, bram.author_followers) == ("1499222000111222333", 58210)
    assert result.skipped == ["dm:1992977338987446283: no sender_id"]
    assert json.loads(result.cursor)["dms"] == {"since": "1992977338987446283"}
    dm_params = params_of(x_api.calls[1])
    assert dm_params["event_types"] == "MessageCreate" and "sender_id" in dm_params["dm_event.fields"]


async def test_a_later_dm_fetch_stops_at_the_newest_event_already_seen(connector, x_api):
    cursor = json.dumps({"mentions": {"since": "1"}, "dms": {"since": "1992975241835446285"}})
    x_api.get(MENTIONS).mock(return_value=ok("mentions_empty.json"))
    dms = x_api.get("/2/dm_events").mock(side_effect=pages(ok("dm_events_page1.json")))
    result = await connector.fetch(cursor)
    assert [m.external_id for m in result.messages] == ["dm:1992976500126646284"]  # only the newer one
    assert dms.call_count == 1  # page 2 holds only older events: never asked for
    assert json.loads(result.cursor)["dms"] == {"since": "1992977338987446283"}


async def test_empty_pages_keep_the_cursor(connector, x_api):
    cursor = json.dumps({"mentions": {"since": "1992984049873846273"}, "dms": {"since": "1992977338987446283"}})
    mentions = x_api.get(MENTIONS).mock(return_value=ok("mentions_empty.json"))
    x_api.get("/2/dm_events").mock(return_value=ok("recorded_dm_events_empty.json"))
    result = await connector.fetch(cursor)
    assert result.messages == [] and result.skipped == [] and json.loads(result.cursor) == json.loads(cursor)
    assert params_of(mentions.calls[0])["since_id"] == "1992984049873846273"


async def test_first_sync_reads_a_bounded_history_then_only_newer_mentions(http, now, x_api):
    connector = XConnector(Account("brand-x", "x", {"user_id": US, "history_pages": 1,
                                                    "direct_messages": False}), TOKEN, http, clock=lambda: now[0])
    route = x_api.get(MENTIONS).mock(side_effect=pages(ok("mentions_page1.json"), ok("mentions_newer.json")))
    first = await connector.fetch(None)
    assert len(first.messages) == 5 and first.more is False  # page 2 (older history) is not read
    second = await connector.fetch(first.cursor)
    assert [m.external_id for m in second.messages] == ["1992987824747446281"]
    assert second.messages[0].in_reply_to == "1992973983544246279"  # answers our reply
    assert "pagination_token" not in params_of(route.calls[1])
    assert params_of(route.calls[1])["since_id"] == "1992984049873846273"
    assert json.loads(second.cursor) == {"mentions": {"since": "1992987824747446281"}, "dms": {}}
    assert all(call.request.url.path != "/2/dm_events" for call in x_api.calls)  # DMs switched off


async def test_a_long_backlog_is_paged_with_the_same_since_id_and_more(connector, x_api, monkeypatch):
    monkeypatch.setattr(xmod, "CATCH_UP_PAGES", 1)
    cursor = json.dumps({"mentions": {"since": "1992000000000000000"}, "dms": {"since": "1"}})
    route = x_api.get(MENTIONS).mock(side_effect=pages(ok("mentions_page1.json"), ok("mentions_page2.json")))
    x_api.get("/2/dm_events").mock(return_value=ok("recorded_dm_events_empty.json"))
    first = await connector.fetch(cursor)
    assert first.more is True
    assert json.loads(first.cursor)["mentions"] == {"since": "1992000000000000000",
                                                    "next": "7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i",
                                                    "top": "1992984049873846273"}
    second = await connector.fetch(first.cursor)
    asked = params_of(route.calls[1])
    assert (asked["since_id"], asked["pagination_token"]) == ("1992000000000000000",
                                                              "7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i")
    assert [m.external_id for m in second.messages] == ["1992624178590646280"] and second.more is False
    assert json.loads(second.cursor)["mentions"] == {"since": "1992984049873846273"}  # the backlog's newest


async def test_unknown_fields_missing_optional_ones_and_odd_items(connector, x_api):
    body = {
        "data": [
            {"id": "1992971466961846278", "text": "@TweepyDev hoi", "author_id": ANNA},  # no created_at, no users
            {"id": "not-an-id", "text": "x", "author_id": ANNA},
            {"id": "1992971466961846279", "author_id": ANNA, "created_at": "2025-11-24T15:00:00.000Z"},
            {"id": "1992971466961846280", "text": "y", "author_id": ANNA, "created_at": "yesterday"},
            "a string",
        ],
        "meta": {"result_count": 5, "newest_id": "1992971466961846280", "brand_new_meta": True},
        "brand_new_top_level": {"anything": 1},
    }
    x_api.get(MENTIONS).mock(return_value=ok(body))
    x_api.get("/2/dm_events").mock(return_value=ok("recorded_dm_events_empty.json"))
    result = await connector.fetch(None)
    [only] = result.messages
    assert only.created_at == T0 - 3600  # from the snowflake id
    assert (only.author_handle, only.author_name, only.author_followers, only.language) == (None, None, None, None)
    assert only.url == "https://x.com/i/status/1992971466961846278"
    assert result.skipped == ["not-an-id: no valid id", "1992971466961846279: no text",
                              "1992971466961846280: created_at 'yesterday' is not a time", "?: not an object"]


@pytest.mark.parametrize("body, says", [
    ({"errors": [{"title": "Not Found Error", "detail": f"Could not find user with id: [{US}].",
                  "type": "https://api.twitter.com/2/problems/resource-not-found"}]}, "Could not find user"),
    ({"data": {"id": "1"}, "meta": {}}, "unexpected shape"),
    ({"data": [], "meta": []}, "unexpected shape"),
    ({"meta": "none"}, "unexpected shape"),
    ({"something": "else"}, "neither data nor meta"),
    (["not", "an", "object"], "not a JSON object"),
])
async def test_a_response_of_the_wrong_shape_is_a_clear_error(connector, x_api, body, says):
    x_api.get(MENTIONS).mock(return_value=ok(body))
    with pytest.raises(ConnectorError, match=says):
        await connector.fetch(None)


async def test_a_non_json_answer_is_a_retryable_error(connector, x_api):
    x_api.get(MENTIONS).mock(return_value=httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(ConnectorError) as error:
        await connector.fetch(None)
    assert error.value.retryable and "server error (502" in error.value.message


async def test_an_unreadable_cursor_is_refused_in_plain_words(connector):
    with pytest.raises(ConnectorError, match="cursor .* is unreadable") as error:
        await connector.fetch("{not json")
    assert not error.value.retryable


# --- errors and rate limits --------------------------------------------------------------------

X_401 = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}


async def test_401_needs_auth_and_through_the_sync_nothing_stored_is_lost(store, connector, x_api):
    mentions = x_api.get(MENTIONS).mock(side_effect=pages(ok("mentions_page1.json"), ok("mentions_page2.json"),
                                                          ok(X_401, 401)))
    x_api.get("/2/dm_events").mock(return_value=ok("recorded_dm_events_empty.json"))
    runner = SyncRunner(store, {"brand-x": connector}, clock=lambda: T0)
    [status] = await runner.sync_once()
    assert (status.state, status.new_messages) == ("online", 6)
    cursor = store.sync_state("brand-x")["cursor"]
    [status] = await runner.sync_once()
    assert status.state == "needs_auth" and "refused the token (401: Unauthorized)" in status.error
    assert TOKEN not in status.error
    assert store.sync_state("brand-x")["cursor"] == cursor and store.counts()["messages"] == 6
    assert mentions.calls[0].request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_429_waits_until_the_reset_and_asks_nothing_meanwhile(connector, x_api, now):
    reset = str(int(now[0]) + 600)
    limited = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
    mentions = x_api.get(MENTIONS).mock(return_value=ok(limited, 429, **{"x-rate-limit-remaining": "0",
                                                                           "x-rate-limit-reset": reset}))
    dms = x_api.get("/2/dm_events").mock(return_value=ok(limited, 429, **{"x-rate-limit-reset": reset}))
    with pytest.raises(ConnectorError) as error:
        await connector.fetch(None)
    assert error.value.retry_after == 600 and error.value.retryable
    now[0] += 100
    with pytest.raises(ConnectorError) as again:
        await connector.fetch(None)
    assert again.value.retry_after == 500 and (mentions.call_count, dms.call_count) == (1, 1)  # no hammering
    now[0] += 500
    mentions.mock(return_value=ok("mentions_empty.json"))
    dms.mock(return_value=ok("recorded_dm_events_empty.json"))
    result = await connector.fetch(None)
    assert result.messages == [] and (mentions.call_count, dms.call_count) == (2, 2)


async def test_nothing_remaining_after_a_success_holds_that_endpoint_only(connector, x_api, now):
    reset = str(int(now[0]) + 900)
    mentions = x_api.get(MENTIONS).mock(return_value=ok("mentions_page2.json", **{
        "x-rate-limit-limit": "10", "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}))
    dms = x_api.get("/2/dm_events").mock(return_value=ok("dm_events_page2.json", **{
        "x-rate-limit-remaining": "14", "x-rate-limit-reset": reset}))
    first = await connector.fetch(None)
    assert len(first.messages) == 2
    now[0] += 61
    second = await connector.fetch(first.cursor)  # mentions held, DMs read
    assert (mentions.call_count, dms.call_count) == (1, 2)
    assert json.loads(second.cursor)["mentions"] == json.loads(first.cursor)["mentions"]
    now[0] += 61
    dms.mock(return_value=ok("recorded_dm_events_empty.json", **{"x-rate-limit-remaining": "0",
                                                                 "x-rate-limit-reset": str(int(now[0]) + 60)}))
    await connector.fetch(second.cursor)
    with pytest.raises(ConnectorError) as error:  # both held: nothing to ask
        await connector.fetch(second.cursor)
    assert error.value.retry_after == 60 and (mentions.call_count, dms.call_count) == (1, 3)


async def test_a_small_quota_is_spread_over_its_window(connector, x_api, now):
    window = {"x-rate-limit-remaining": "14", "x-rate-limit-reset": str(int(now[0]) + 900)}
    mentions = x_api.get(MENTIONS).mock(return_value=ok("mentions_empty.json", **window))
    dms = x_api.get("/2/dm_events").mock(return_value=ok("recorded_dm_events_empty.json"))  # no headers: no pacing
    first = await connector.fetch(None)
    now[0] += 30
    second = await connector.fetch(first.cursor)  # 14 calls left for 900 s: mentions wait 60 s; no error
    assert second.cursor == first.cursor and (mentions.call_count, dms.call_count) == (1, 2)
    now[0] += 31
    await connector.fetch(second.cursor)
    assert (mentions.call_count, dms.call_count) == (2, 3)


async def test_a_rate_limit_mid_backlog_keeps_the_pages_read(connector, x_api, now):
    cursor = json.dumps({"mentions": {"since": "1992000000000000000"}, "dms": {"since": "1"}})
    x_api.get(MENTIONS).mock(side_effect=pages(ok("mentions_page1.json"), ok(
        {"title": "Too Many Requests"}, 429, **{"x-rate-limit-reset": str(int(now[0]) + 300)})))
    x_api.get("/2/dm_events").mock(return_value=ok("recorded_dm_events_empty.json"))
    result = await connector.fetch(cursor)
    assert len(result.messages) == 5 and result.more is False  # the rest after the reset, not now
    assert json.loads(result.cursor)["mentions"] == {"since": "1992000000000000000",
                                                     "next": "7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i",
                                                     "top": "1992984049873846273"}


async def test_a_rate_limit_on_one_feed_still_returns_the_other(connector, x_api, now):
    x_api.get(MENTIONS).mock(return_value=ok("mentions_page2.json"))
    x_api.get("/2/dm_events").mock(return_value=ok({"title": "Too Many Requests"}, 429,
                                                   **{"x-rate-limit-reset": str(int(now[0]) + 120)}))
    result = await connector.fetch(None)
    assert [m.external_id for m in result.messages] == ["1992624178590646280"]
    assert json.loads(result.cursor)["dms"] == {}  # the DMs are read from the start once the limit resets


async def test_5xx_is_retryable_and_401_on_dms_is_not_swallowed(connector, x_api):
    x_api.get(MENTIONS).mock(return_value=ok({"title": "Service Unavailable", "detail": "Service Unavailable"}, 503))
    with pytest.raises(ConnectorError) as error:
        await connector.fetch(None)
    assert error.value.retryable and not error.value.needs_auth and "503" in error.value.message
    x_api.get(MENTIONS).mock(return_value=ok("mentions_empty.json"))
    x_api.get("/2/dm_events").mock(return_value=ok(X_401, 401))
    with pytest.raises(ConnectorError) as auth:
        await connector.fetch(None)
    assert auth.value.needs_auth


async def test_timeouts_fetch_retryable_send_outcome_unknown(connector, x_api):
    x_api.get(MENTIONS).mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(ConnectorError) as fetching:
        await connector.fetch(None)
    assert fetching.value.retryable and not fetching.value.outcome_unknown
    x_api.post("/2/tweets").mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(ConnectorError) as sending:
        await connector.send_reply(public("Komt goed ^TR"))
    assert sending.value.outcome_unknown
    x_api.post(f"/2/dm_conversations/with/{ANNA}/messages").mock(side_effect=httpx.ConnectTimeout("no route"))
    with pytest.raises(ConnectorError) as connecting:
        await connector.send_reply(private("Komt goed ^TR"))
    assert not connecting.value.outcome_unknown  # it never left


async def test_a_missing_token_needs_auth_and_asks_nothing(store, http, x_api):
    connector = XConnector(Account("brand-x", "x", {"user_id": US}), None, http)
    [status] = await SyncRunner(store, {"brand-x": connector}, clock=lambda: T0).sync_once()
    assert status.state == "needs_auth" and "no X access token" in status.error
    assert not x_api.calls


async def test_a_misconfigured_account_asks_nothing(http, x_api):
    connector = XConnector(Account("brand-x", "x", {"user_id": "@TweepyDev"}), TOKEN, http)
    with pytest.raises(ConnectorError, match="user_id must be the account's numeric X id") as error:
        await connector.fetch(None)
    assert not error.value.retryable and not x_api.calls


async def test_aclose_closes_the_client_it_made():
    connector = XConnector(Account("brand-x", "x", {"user_id": US}), TOKEN)
    await connector.aclose()
    assert connector.api.http.is_closed


# --- replies, DMs, likes -----------------------------------------------------------------------


def public(text: str, in_reply_to: str | None = "1992971466961846278") -> OutgoingReply:
    return OutgoingReply("key-1", "x", "brand-x", ANNA, text, "public", in_reply_to)


def private(text: str, in_reply_to: str | None = "dm:1992975241835446285") -> OutgoingReply:
    return OutgoingReply("key-2", "x", "brand-x", ANNA, text, "private", in_reply_to)


async def test_a_public_reply_answers_the_post(connector, x_api):
    route = x_api.post("/2/tweets").mock(return_value=ok("recorded_create_tweet.json", 201))
    sent = await connector.send_reply(public("Vervelend! We zoeken het uit 🧳 ^TR"))
    assert json.loads(route.calls[0].request.content) == {
        "text": "Vervelend! We zoeken het uit 🧳 ^TR", "reply": {"in_reply_to_tweet_id": "1992971466961846278"}}
    assert route.calls[0].request.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.external_id == "1456012973835788293"
    assert sent.created_at == int(datetime(2021, 11, 3, 21, 38, 39, tzinfo=timezone.utc).timestamp())
    assert sent.url == "https://x.com/i/status/1456012973835788293"


async def test_a_private_reply_is_a_dm_to_the_customer(connector, x_api):
    route = x_api.post(f"/2/dm_conversations/with/{ANNA}/messages").mock(return_value=ok("recorded_dm_send.json", 201))
    sent = await connector.send_reply(private("Stuur je bagagenummer? ^TR"))
    assert json.loads(route.calls[0].request.content) == {"text": "Stuur je bagagenummer? ^TR"}
    assert sent.external_id == "dm:1585800613253812228"
    assert sent.url == "https://x.com/messages/750362064426721281-1072250532645998596"
    assert sent.created_at == snowflake_time("1585800613253812228")


@pytest.mark.parametrize("reply, says", [
    (public("😀" * 141), "counts 282 characters as X counts them"),  # 141 code points, but emoji weigh 2
    (public("x" * 258 + " https://example.com/a"), "counts 282"),  # the link counts 23
    (public("Hoi", in_reply_to="dm:1992975241835446285"), "wrote a direct message: answer privately"),
    (public("Hoi", in_reply_to=None), "answers a post"),
    (public("   "), "empty"),
    (private("a" * 10_001), "X allows 10000 in a direct message"),
])
async def test_what_x_would_refuse_is_refused_before_sending(connector, x_api, reply, says):
    with pytest.raises(ConnectorError, match=says) as error:
        await connector.send_reply(reply)
    assert not error.value.retryable and not x_api.calls  # refused, never cut short and sent


async def test_the_daily_posting_cap_holds_posting_for_at_most_max_wait(connector, x_api, now):
    route = x_api.post("/2/tweets").mock(return_value=ok(
        {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}, 429,
        **{"x-rate-limit-remaining": "99", "x-rate-limit-reset": str(int(now[0]) + 60),
           "x-user-limit-24hour-limit": "17", "x-user-limit-24hour-remaining": "0",
           "x-user-limit-24hour-reset": str(int(now[0]) + 20_000)}))
    with pytest.raises(ConnectorError, match="24-hour limit") as error:
        await connector.send_reply(public("Komt goed"))
    # The 24-hour reset outweighs the 15-minute one, but no wait is longer than MAX_WAIT.
    assert error.value.retry_after == MAX_WAIT and error.value.retryable and not error.value.outcome_unknown
    now[0] += 600
    with pytest.raises(ConnectorError) as again:
        await connector.send_reply(public("Komt goed"))
    assert again.value.retry_after == MAX_WAIT - 600 and route.call_count == 1  # not asked again meanwhile
    now[0] += MAX_WAIT - 600
    with pytest.raises(ConnectorError, match="24-hour limit"):
        await connector.send_reply(public("Komt goed"))
    assert route.call_count == 2  # the hold is over: X is asked again, and holds it again


async def test_a_refusal_by_x_is_permanent_in_its_own_words(connector, x_api):
    x_api.post("/2/tweets").mock(return_value=ok({
        "detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank",
        "title": "Forbidden", "status": 403}, 403))
    with pytest.raises(ConnectorError, match="duplicate content") as error:
        await connector.send_reply(public("Komt goed"))
    assert not error.value.retryable and not error.value.needs_auth


async def test_an_answer_without_an_id_may_be_published(connector, x_api):
    x_api.post("/2/tweets").mock(return_value=ok({"errors": [{"title": "odd"}]}, 201))
    with pytest.raises(ConnectorError) as error:
        await connector.send_reply(public("Komt goed"))
    assert error.value.outcome_unknown


async def test_like(connector, x_api):
    route = x_api.post(f"/2/users/{US}/likes").mock(return_value=ok("recorded_like.json"))
    await connector.like("1992971466961846278")
    assert json.loads(route.calls[0].request.content) == {"tweet_id": "1992971466961846278"}
    with pytest.raises(ConnectorError, match="no likes for direct messages"):
        await connector.like("dm:1992975241835446285")
    route.mock(return_value=ok({"data": {"liked": False}}))
    with pytest.raises(ConnectorError, match="did not like"):
        await connector.like("1992971466961846278")


def test_weighted_length_follows_x_counting():
    assert weighted_length("a" * 280) == 280
    assert weighted_length("你好") == 4  # CJK weighs 2
    assert weighted_length("“quotes” – café") == 15  # general punctuation and Latin-1 weigh 1
    assert weighted_length("👩‍👩‍👧‍👦") == 2  # a ZWJ family is one emoji
    assert weighted_length("👍🏽") == 2 and weighted_length("🇳🇱") == 2 and weighted_length("❤️") == 2
    assert weighted_length("zie https://www.klm.nl/nl/service/bagage?x=1 of klm.com") == 4 + 23 + 4 + 23
    assert weighted_length("Cafe\u0301") == 4  # NFC: é is one character


# --- find_sent ---------------------------------------------------------------------------------

OWN_TWEETS = f"/2/users/{US}/tweets"


def own_posts(*posts: dict, next_token: str | None = None) -> dict:
    meta = {"result_count": len(posts)} | ({"next_token": next_token} if next_token else {})
    return {"data": list(posts), "meta": meta} if posts else {"meta": meta}


async def test_find_sent_finds_our_reply_as_x_stores_it(connector, x_api):
    mine = {"id": "1992990000000000001", "created_at": "2025-11-24T16:05:00.000Z",
            "text": "@anna_reist Bagage &amp; vluchten: zie https://t.co/AbCdEf123 ^TR",
            "referenced_tweets": [{"type": "replied_to", "id": "1992971466961846278"}],
            "edit_history_tweet_ids": ["1992990000000000001"]}
    other = mine | {"id": "1992990000000000002", "referenced_tweets": [{"type": "replied_to", "id": "123"}]}
    route = x_api.get(OWN_TWEETS).mock(return_value=ok(own_posts(other, mine)))
    found = await connector.find_sent(public("Bagage & vluchten: zie https://www.klm.nl/bagage ^TR"))
    assert (found.external_id, found.created_at) == ("1992990000000000001", T0 + 300)
    asked = params_of(route.calls[0])
    assert asked["since_id"] == "1992971466961846278" and "referenced_tweets" in asked["tweet.fields"]


async def test_find_sent_is_none_when_certainly_not_sent_and_an_error_when_it_cannot_tell(connector, x_api):
    route = x_api.get(OWN_TWEETS).mock(return_value=ok(own_posts()))
    assert await connector.find_sent(public("Komt goed")) is None
    route.mock(return_value=ok(own_posts({"id": "1992990000000000003", "text": "iets anders"}, next_token="more")))
    with pytest.raises(ConnectorError, match="cannot|too many") as error:
        await connector.find_sent(public("Komt goed"))
    assert route.call_count == 1 + xmod.FIND_PAGES and params_of(route.calls[-1])["pagination_token"] == "more"
    assert not error.value.retryable


async def test_find_sent_for_a_dm_looks_in_the_conversation_back_to_the_answered_message(connector, x_api):
    page = {"data": [
        {"id": "1992999000000000000", "event_type": "MessageCreate", "text": "Anders", "sender_id": US},
        {"id": "1992998000000000000", "event_type": "MessageCreate", "text": "Komt  goed ^TR", "sender_id": US,
         "created_at": "2025-11-24T16:10:00.000Z", "dm_conversation_id": f"{ANNA}-{US}"},
    ], "meta": {"result_count": 2}}
    route = x_api.get(f"/2/dm_conversations/with/{ANNA}/dm_events").mock(return_value=ok(page))
    found = await connector.find_sent(private("Komt goed ^TR"))
    assert (found.external_id, found.created_at) == ("dm:1992998000000000000", T0 + 600)
    assert found.url == f"https://x.com/messages/{ANNA}-{US}"
    older = {"data": [{"id": "1992975241835446285", "event_type": "MessageCreate", "text": "Komt goed ^TR",
                       "sender_id": US}], "meta": {"result_count": 1, "next_token": "18LAA5G1SL0NR5OG0G00ZZZZ"}}
    route.mock(return_value=ok(older))  # as old as the answered message: not our reply; stop there
    assert await connector.find_sent(private("Komt goed ^TR")) is None and route.call_count == 2


# --- the request contract against the OpenAPI spec ----------------------------------------------

SPEC_DIR = DATA / "api-specs" / "x-api-v2-openapi"


def load_specs() -> dict[str, dict]:
    files = {"2.159": SPEC_DIR / "latest-openapi.json", "2.167": SPEC_DIR / "specs" / "openapi.json"}
    if not all(path.exists() for path in files.values()):
        pytest.skip(f"the X API v2 OpenAPI specs are not in {SPEC_DIR}")
    return {version: json.loads(path.read_text(encoding="utf-8")) for version, path in files.items()}


def resolve(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def operation(spec: dict, method: str, path: str) -> dict | None:
    for template, item in spec["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path) and method.lower() in item:
            return item[method.lower()]
    return None


def body_problems(spec: dict, schema: dict, body, where: str = "body") -> list[str]:
    """What in `body` breaks `schema`: missing required fields, undeclared ones, wrong nested shapes."""
    schema = resolve(spec, schema)
    problems = []
    for part in schema.get("allOf", []):
        problems += body_problems(spec, part, body, where)
    for key in ("anyOf", "oneOf"):
        if key in schema and all(body_problems(spec, alt, body, where) for alt in schema[key]):
            problems.append(f"{where} matches none of {key}")
    if schema.get("type") == "object" or "properties" in schema:
        if not isinstance(body, dict):
            return [*problems, f"{where} is not an object"]
        problems += [f"{where}.{name} is required" for name in schema.get("required", []) if name not in body]
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            problems += [f"{where}.{name} is not in the spec" for name in body if name not in properties]
        for name, value in body.items():
            if name in properties:
                problems += body_problems(spec, properties[name], value, f"{where}.{name}")
    elif schema.get("type") == "string":
        if not isinstance(body, str):
            problems.append(f"{where} is not a string")
        elif "pattern" in schema and not re.search(schema["pattern"], body):
            problems.append(f"{where} does not match {schema['pattern']}")
    return problems


def query_problems(spec: dict, op: dict, params: dict[str, str]) -> list[str]:
    declared = {}
    for parameter in op.get("parameters", []):
        parameter = resolve(spec, parameter)
        if parameter.get("in") == "query":
            declared[parameter["name"]] = resolve(spec, parameter.get("schema", {}))
    problems = []
    for name, value in params.items():
        if name not in declared:
            problems.append(f"query {name} is not declared")
            continue
        schema = declared[name]
        enum = resolve(spec, schema.get("items", {})).get("enum") if schema.get("type") == "array" else None
        for item in value.split(",") if enum else ():
            if item not in enum:
                problems.append(f"query {name}: {item!r} is not one of the documented values")
        if schema.get("type") == "integer" and not (schema.get("minimum", 0) <= int(value) <= schema.get("maximum",
                                                                                                      10**9)):
            problems.append(f"query {name}={value} is out of range")
    return problems


async def test_every_request_matches_the_openapi_spec(connector, x_api, monkeypatch):
    specs = load_specs()
    monkeypatch.setattr(xmod, "CATCH_UP_PAGES", 1)
    x_api.get(MENTIONS).mock(side_effect=pages(ok("mentions_page1.json"), ok("mentions_page2.json"),
                                               ok("mentions_page1.json")))
    x_api.get("/2/dm_events").mock(side_effect=pages(ok("dm_events_page1.json"), ok("dm_events_page2.json"),
                                                     ok("dm_events_page1.json")))
    x_api.post("/2/tweets").mock(return_value=ok("recorded_create_tweet.json", 201))
    x_api.post(f"/2/dm_conversations/with/{ANNA}/messages").mock(return_value=ok("recorded_dm_send.json", 201))
    x_api.post(f"/2/users/{US}/likes").mock(return_value=ok("recorded_like.json"))
    last_page = fixture("recorded_users_tweets.json")
    del last_page["meta"]["next_token"]
    x_api.get(OWN_TWEETS).mock(return_value=ok(last_page))
    x_api.get(f"/2/dm_conversations/with/{ANNA}/dm_events").mock(return_value=ok("recorded_dm_conversation.json"))
    first = await connector.fetch(None)
    await connector.fetch(json.dumps({"mentions": {"since": "1992000000000000000"}, "dms": {"since": "1"}}))
    await connector.send_reply(public("Komt goed ^TR"))
    await connector.send_reply(private("Komt goed ^TR"))
    await connector.like("1992971466961846278")
    await connector.find_sent(public("Komt goed ^TR"))
    await connector.find_sent(private("Komt goed ^TR"))
    assert first.messages
    seen = {(call.request.method, call.request.url.path) for call in x_api.calls}
    assert len(seen) == 7
    for call in x_api.calls:
        request = call.request
        for version, spec in specs.items():
            op = operation(spec, request.method, request.url.path)
            assert op is not None, f"{request.method} {request.url.path} is not in spec {version}"
            if request.content:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                assert body_problems(spec, schema, json.loads(request.content)) == [], (version, request.url.path)
            else:
                assert not op.get("requestBody", {}).get("required"), f"{request.url.path} needs a body"
        # 2.167 renamed the field parameters (post.fields); the API and 2.159 take tweet.fields.
        problems = query_problems(specs["2.159"], operation(specs["2.159"], request.method, request.url.path),
                                  dict(request.url.params))
        assert problems == [], (request.url.path, problems)


def test_the_contract_check_catches_a_wrong_body():
    specs = load_specs()
    spec = specs["2.159"]
    schema = operation(spec, "POST", "/2/tweets")["requestBody"]["content"]["application/json"]["schema"]
    assert body_problems(spec, schema, {"text": "x", "reply": {"tweet_id": "1"}}) != []
    likes = operation(spec, "POST", f"/2/users/{US}/likes")["requestBody"]["content"]["application/json"]["schema"]
    assert body_problems(spec, likes, {"id": "1"}) == ["body.tweet_id is required"]
    op = operation(spec, "GET", MENTIONS)
    assert query_problems(spec, op, {"expansions": "author"}) != []


# --- the whole recorded set --------------------------------------------------------------------

RECORDED = DATA / "recorded" / "tweepy-decoded"
POST_PATHS = re.compile(r"/2/(users/\d+/(mentions|tweets|liked_tweets|bookmarks|timelines/reverse_chronological)"
                        r"|tweets|tweets/\d+|tweets/\d+/quote_tweets|tweets/search/(recent|all)|lists/\d+/tweets)")
DM_PATHS = re.compile(r"/2/(dm_events|dm_conversations/[^/]+/dm_events|dm_conversations/with/\d+/dm_events)")


def recorded(pattern: re.Pattern) -> list[tuple[str, dict]]:
    if not RECORDED.is_dir():
        pytest.skip(f"the recorded tweepy cassettes are not in {RECORDED}")
    found = []
    for path in sorted(RECORDED.glob("*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8")):
            url = httpx.URL(entry["uri"])
            if entry["method"] == "GET" and entry["status"] == 200 and pattern.fullmatch(url.path):
                found.append((f"{path.name} {url.path}", entry["response_body"]))
    return found


def test_every_recorded_post_is_read():
    responses = recorded(POST_PATHS)
    assert len(responses) >= 20
    read = {}
    for where, body in responses:
        items = body.get("data", [])
        for item in items if isinstance(items, list) else [items]:
            post = read_post(item)
            assert (post.id, post.created_at) == (item["id"], snowflake_time(item["id"])), where
            assert post.text == item["text"].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
            read[post.id] = post
    assert len(read) >= 100
    feed = read["1578516295611748353"]
    assert feed.text.startswith("@Twitter @TwitterSupport this is my ENTIRE feed")
    assert feed.created_at == int(datetime(2022, 10, 7, 22, 43, 6, tzinfo=timezone.utc).timestamp())
    assert (feed.author_id, feed.replied_to, feed.repost) == (None, None, False)  # tweepy asked for no more
    assert read["1578516220231397376"].text == "@Twitter make 🤨 an available reaction emoji in dms"
    assert read["1293593516040269825"].text.startswith("It’s finally here! 🥁 Say hello to the new #TwitterAPI.")


def test_every_recorded_dm_event_is_read():
    responses = recorded(DM_PATHS)
    assert len(responses) >= 6
    events = [read_dm_event(item) for _, body in responses for item in body.get("data", [])]
    assert len(events) == 8
    assert {("1585800613752881156", "Testing 2"), ("1585800613253812228", "Testing 1")} <= {
        (e.id, e.text) for e in events}
    assert {e.text for e in events} == {"Testing 1", "Testing 2"} and {e.event_type for e in events} == {
        "MessageCreate"}
    assert all(e.sender_id is None and e.created_at == snowflake_time(e.id) for e in events)


async def test_the_recorded_mentions_page_through_fetch(connector, x_api):
    body = fixture("recorded_mentions.json")
    x_api.get(MENTIONS).mock(return_value=ok(body))
    x_api.get("/2/dm_events").mock(return_value=ok("recorded_dm_events_empty.json"))
    result = await connector.fetch(None)  # its next_token is not followed past history_pages=2: one more page
    assert result.messages == []  # tweepy asked without expansions=author_id: no author to thread by
    assert len(result.skipped) == 20 and all(s.endswith(": no author_id") for s in result.skipped)
    assert json.loads(result.cursor)["mentions"] == {"since": "1578516295611748353"}


# --- end to end --------------------------------------------------------------------------------


async def test_sync_then_reply_publicly_and_privately_through_the_outbox(store, connector, x_api):
    x_api.get(MENTIONS).mock(side_effect=pages(ok("mentions_page1.json"), ok("mentions_page2.json")))
    x_api.get("/2/dm_events").mock(side_effect=pages(ok("dm_events_page1.json"), ok("dm_events_page2.json")))
    tweet = x_api.post("/2/tweets").mock(return_value=ok("recorded_create_tweet.json", 201))
    dm = x_api.post(f"/2/dm_conversations/with/{ANNA}/messages").mock(return_value=ok("recorded_dm_send.json", 201))
    like = x_api.post(f"/2/users/{US}/likes").mock(return_value=ok("recorded_like.json"))
    [status] = await SyncRunner(store, {"brand-x": connector}, clock=lambda: T0).sync_once()
    assert (status.state, status.new_messages) == ("online", 9)
    cases = {c["author_id"]: c for c in store.list_cases()}
    assert set(cases) == {ANNA, "1499222000111222333", "2244994945", "987654321"}

    outbox = Outbox(store, clock=lambda: T0 + 60)
    dora = cases["987654321"]["id"]
    anna = cases[ANNA]["id"]
    outbox.queue_reply(dora, "We kijken het na ^TR", agent="tim")  # she wrote publicly: a public reply
    outbox.queue_reply(anna, "We hebben je koffer gevonden ^TR", agent="tim")  # her last message was a DM
    outbox.queue_like(dora, agent="tim")
    worker = OutboxWorker(store, {"brand-x": connector}, clock=lambda: T0 + 60)
    deliveries = await worker.deliver_due()
    deliveries += await worker.deliver_due()  # the like waits for the reply before it in Dora's case
    assert [d.state for d in deliveries] == ["sent", "sent", "sent"]
    assert json.loads(like.calls[0].request.content) == {"tweet_id": "1992984049873846273"}

    assert json.loads(tweet.calls[0].request.content) == {
        "text": "We kijken het na ^TR", "reply": {"in_reply_to_tweet_id": "1992984049873846273"}}
    assert json.loads(dm.calls[0].request.content) == {"text": "We hebben je koffer gevonden ^TR"}
    public_reply = store.case_messages(dora)[-1]
    assert (public_reply["external_id"], public_reply["url"], public_reply["visibility"]) == (
        "1456012973835788293", "https://x.com/i/status/1456012973835788293", "public")
    private_reply = store.case_messages(anna)[-1]
    assert (private_reply["external_id"], private_reply["visibility"], private_reply["direction"]) == (
        "dm:1585800613253812228", "private", "out")
    assert store.get_case(anna)["status"] == "pending"


async def test_a_reply_whose_send_timed_out_is_found_among_our_posts_not_sent_twice(store, connector, x_api):
    x_api.get(MENTIONS).mock(return_value=ok("mentions_page2.json"))
    x_api.get("/2/dm_events").mock(return_value=ok("recorded_dm_events_empty.json"))
    await SyncRunner(store, {"brand-x": connector}, clock=lambda: T0).sync_once()
    [case] = store.list_cases()
    outbox_id = Outbox(store, clock=lambda: T0 + 60).queue_reply(case["id"], "Graag gedaan! ^TR", agent="tim")
    tweet = x_api.post("/2/tweets").mock(side_effect=httpx.ReadTimeout("read timed out"))
    worker = OutboxWorker(store, {"brand-x": connector}, clock=lambda: T0 + 60)
    [delivery] = await worker.deliver_due()
    assert delivery.state == "unknown" and store.outbox_row(outbox_id)["state"] == "unknown"
    published = {"id": "1992990000000000009", "created_at": "2025-11-24T16:01:00.000Z",
                 "text": "@anna_reist Graag gedaan! ^TR", "edit_history_tweet_ids": ["1992990000000000009"],
                 "referenced_tweets": [{"type": "replied_to", "id": "1992624178590646280"}]}
    mine = x_api.get(OWN_TWEETS).mock(return_value=ok(own_posts(published)))
    [settled] = await worker.recover()
    assert settled.state == "sent" and tweet.call_count == 1  # found, not posted again
    assert params_of(mine.calls[0])["since_id"] == "1992624178590646280"
    assert store.case_messages(case["id"])[-1]["external_id"] == "1992990000000000009"
