"""The Telegram connector against respx fakes built from the Bot API's documented types (tests/fixtures/telegram)."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import httpx
import pytest
import respx
from conftest import HOUR, SHARED_DATA, T0

from webcare_tui.cases import CaseService
from webcare_tui.config import Account, Agent
from webcare_tui.connectors.base import ConnectorError, OutgoingReply
from webcare_tui.connectors.telegram import ALLOWED_UPDATES, TelegramConnector, message_ref, parse_ref
from webcare_tui.macro_runner import MacroRunner
from webcare_tui.macros import load_macros
from webcare_tui.outbox import Outbox, OutboxWorker
from webcare_tui.sync import SyncRunner

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
SHARED = SHARED_DATA
SPEC = SHARED / "api-specs" / "telegram-bot-api-spec" / "api.json"
MACROS = Path(__file__).parent.parent / "macros"
TOKEN = "7001234567:AAH-S3CRETs3cretS3CRETs3cretS3CRETx"
BASE = f"https://api.telegram.org/bot{TOKEN}"
ANNA, BRAM, CHRIS = "123456789", "555000111", "555000222"
GROUP = -1001987654321
TIM = Agent(id="tim", name="Tim Ruiter", initials="TR", signature={"x": " ^TR", "default": "\n\nGroetjes, Tim"})


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def ok(result) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": result})


def sent_json(route: respx.Route, index: int = -1) -> dict:
    return json.loads(route.calls[index].request.content)


@pytest.fixture
def api():
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.post("/getMe").mock(return_value=httpx.Response(200, json=load("getMe.json")))
        yield mock


@pytest.fixture
async def make(http):
    made = []

    def build(token: str | None = TOKEN, **options) -> TelegramConnector:
        connector = TelegramConnector(Account("brand-telegram", "telegram", {"poll_timeout": 0, **options}), token,
                                      http, clock=lambda: T0 + HOUR)
        made.append(connector)
        return connector

    yield build
    for connector in made:
        await connector.aclose()


@pytest.fixture
def tg(make):
    return make()


# --- fetch: field by field -----------------------------------------------------------------------

async def test_a_page_of_updates_maps_field_by_field(tg, api):
    route = api.post("/getUpdates").mock(return_value=httpx.Response(200, json=load("getUpdates_page.json")))
    page = await tg.fetch(None)
    body = sent_json(route)
    assert body == {"offset": -100, "limit": 100, "timeout": 0, "allowed_updates": ALLOWED_UPDATES}  # first sync
    assert page.cursor == "870000111" and page.more is False
    by_id = {m.external_id: m for m in page.messages}
    assert list(by_id) == [f"{ANNA}:15", f"{GROUP}:4021", f"{GROUP}:4023", f"{ANNA}:16", f"{ANNA}:17", "333444555:3",
                           f"{ANNA}:15|edit:1764000150"]  # oldest first

    anna = by_id[f"{ANNA}:15"]
    assert (anna.platform, anna.account, anna.author_id, anna.author_handle, anna.author_name) == (
        "telegram", "brand-telegram", ANNA, "@anna_dv", "Anna de Vries")
    assert anna.text == "Hoi! Mijn koffer 🧳 is niet aangekomen in Zürich 😢 — kunnen jullie helpen?"
    assert (anna.created_at, anna.direction, anna.visibility) == (1764000000, "in", "private")
    assert (anna.url, anna.in_reply_to, anna.author_followers, anna.author_type) == (None, None, None, None)

    bram = by_id[f"{GROUP}:4021"]  # a mention after an astral emoji: entity offsets are UTF-16 code units
    assert (bram.author_id, bram.author_handle, bram.author_name, bram.visibility) == (BRAM, None, "Bram", "public")
    assert bram.text.startswith("🛄 @WebcareDemoBot mijn vlucht KL1234")
    assert bram.url == "https://t.me/reisclub_community/4021"

    chris = by_id[f"{GROUP}:4023"]  # a reply to the bot's own message is addressed to it
    assert (chris.author_id, chris.author_handle, chris.in_reply_to) == (CHRIS, "@chris_nl", f"{GROUP}:4010")

    assert by_id[f"{ANNA}:16"].text == "[photo] Zo zag mijn koffer eruit"
    assert by_id[f"{ANNA}:17"].text == "[sticker 😭]"
    voice = by_id["333444555:3"]
    assert (voice.text, voice.author_name, voice.author_handle) == ("[voice 1:15]", "Дмитрий", None)

    edit = by_id[f"{ANNA}:15|edit:1764000150"]
    assert edit.text.startswith("[edited] Hoi! Mijn koffer 🧳") and "bagagelabel KL123456" in edit.text
    assert (edit.created_at, edit.author_id, edit.visibility) == (1764000150, ANNA, "private")

    assert page.skipped == ["870000103: a group message not addressed to the bot",
                            "870000108: service message (new_chat_members)",
                            "870000110: callback_query updates are not mapped"]


@pytest.mark.parametrize("content, text", [
    ({"location": {"latitude": 52.308613, "longitude": 4.763889}}, "[location 52.308613, 4.763889]"),
    ({"contact": {"phone_number": "+31612345678", "first_name": "Anna", "last_name": "de Vries"}},
     "[contact Anna de Vries +31612345678]"),
    ({"document": {"file_id": "BQACAgQ", "file_unique_id": "AgADZG9j", "file_name": "boekingsbevestiging.pdf"},
      "caption": "zie bijlage"}, "[document boekingsbevestiging.pdf] zie bijlage"),
    ({"video": {"file_id": "BAACAgQ", "file_unique_id": "AgADdmlk", "width": 720, "height": 1280, "duration": 9}},
     "[video 0:09]"),
    ({"poll": {"id": "5395", "question": "Welke stoel? 💺", "options": [], "total_voter_count": 0, "is_closed": False,
               "is_anonymous": True, "type": "regular", "allows_multiple_answers": False}}, "[poll] Welke stoel? 💺"),
    ({"dice": {"emoji": "🎲", "value": 4}}, "[dice 🎲 4]"),
    ({"text": "doorgestuurd", "forward_origin": {"type": "hidden_user", "date": 1763990000,
                                                 "sender_user_name": "Onbekend"}}, "[forwarded] doorgestuurd"),
    ({"text": "\x1b[31m[bold]geen markup[/bold]"}, "\x1b[31m[bold]geen markup[/bold]"),  # data, kept as sent
])
async def test_media_and_other_kinds_become_text(tg, api, content, text):
    update = load("getUpdates_page.json")["result"][0]
    del update["message"]["text"]
    update["message"].update(content)
    api.post("/getUpdates").mock(return_value=ok([update]))
    [message] = (await tg.fetch("870000101")).messages
    assert message.text == text


async def test_getme_is_asked_once_and_only_when_a_group_message_needs_it(tg, api):
    private = load("getUpdates_page.json")["result"][:1]
    api.post("/getUpdates").mock(side_effect=[ok(private), httpx.Response(200, json=load("getUpdates_page.json")),
                                              httpx.Response(200, json=load("getUpdates_page.json"))])
    await tg.fetch(None)
    me = [call for call in api.calls if call.request.url.path.endswith("/getMe")]
    assert me == []
    await tg.fetch("870000102")
    await tg.fetch("870000102")
    me = [call for call in api.calls if call.request.url.path.endswith("/getMe")]
    assert len(me) == 1


async def test_all_group_messages_when_the_account_asks(make, api):
    api.post("/getUpdates").mock(return_value=httpx.Response(200, json=load("getUpdates_page.json")))
    page = await make(group_messages="all").fetch(None)
    assert f"{GROUP}:4022" in {m.external_id for m in page.messages}
    assert not [call for call in api.calls if call.request.url.path.endswith("/getMe")]
    assert all("addressed" not in reason for reason in page.skipped)


async def test_paging_follows_the_offset_and_says_when_more_is_ready(make, api):
    updates = load("getUpdates_page.json")["result"]
    route = api.post("/getUpdates").mock(side_effect=[ok(updates[:2]), ok(updates[4:5]), ok([])])
    tg = make(page_size=2, poll_timeout=25)
    first = await tg.fetch(None)
    assert (first.cursor, first.more, len(first.messages)) == ("870000103", True, 2)
    second = await tg.fetch(first.cursor)
    assert (second.cursor, second.more, [m.external_id for m in second.messages]) == ("870000106", False,
                                                                                         [f"{ANNA}:16"])
    third = await tg.fetch(second.cursor)
    assert (third.cursor, third.more, third.messages, third.skipped) == ("870000106", False, [], [])  # empty page
    assert [sent_json(route, i)["offset"] for i in range(3)] == [-100, 870000103, 870000106]
    assert [sent_json(route, i)["timeout"] for i in range(3)] == [0, 25, 25]  # the first call of a session is quick
    assert sent_json(route, 1) | {"offset": 0} == {"offset": 0, "limit": 2, "timeout": 25,
                                                    "allowed_updates": ALLOWED_UPDATES}
    read_timeout = route.calls[1].request.extensions["timeout"]["read"]
    assert read_timeout > 25  # the HTTP read outlasts the long poll


async def test_an_empty_first_sync_keeps_no_cursor(tg, api):
    api.post("/getUpdates").mock(return_value=ok([]))
    page = await tg.fetch(None)
    assert (page.messages, page.cursor, page.more) == ([], None, False)


async def test_business_chats_are_private_and_our_side_is_outbound_with_the_customer_as_author(tg, api):
    api.post("/getUpdates").mock(return_value=httpx.Response(200, json=load("getUpdates_business.json")))
    page = await tg.fetch("870000201")
    customer, ours = page.messages
    assert customer.external_id == "444555666:912|business:AbCdEfGhIjKlMnOp_qrs-tuv"
    assert (customer.direction, customer.visibility, customer.author_id, customer.author_name) == (
        "in", "private", "444555666", "Eva Jansen")
    assert ours.external_id == "444555666:913|business:AbCdEfGhIjKlMnOp_qrs-tuv"
    assert (ours.direction, ours.author_id, ours.author_handle, ours.author_name, ours.text) == (
        "out", "444555666", "@evaj", "Eva Jansen", "Ja, van 8 tot 17 uur 🥐")
    assert page.skipped == ["870000203: messages [910, 911] were deleted in a business chat (kept here)"]
    assert page.cursor == "870000204"


async def test_unreadable_updates_are_skipped_and_the_rest_of_the_page_counts(tg, api):
    good = load("getUpdates_page.json")["result"][0]
    no_from = copy.deepcopy(good)
    no_from["update_id"], no_from["message"]["message_id"] = 5, 90
    del no_from["message"]["from"]
    no_date = copy.deepcopy(good)
    no_date["update_id"] = 6
    del no_date["message"]["date"]
    channel = copy.deepcopy(good)
    channel["update_id"], channel["message"]["chat"] = 7, {"id": -100555, "type": "channel", "title": "News"}
    anonymous_admin = copy.deepcopy(good)  # sent on behalf of the group: the author is that chat
    anonymous_admin["update_id"] = 8
    anonymous_admin["message"].update(
        chat={"id": -4012345678, "type": "group", "title": "Reisclub"},
        sender_chat={"id": -4012345678, "type": "group", "title": "Reisclub"},
        text="/status@WebcareDemoBot", entities=[{"offset": 0, "length": 22, "type": "bot_command"}],
        **{"from": {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}})
    api.post("/getUpdates").mock(return_value=ok([no_from, no_date, channel, anonymous_admin, "junk",
                                                  {"update_id": 9, "future_update_kind": {"x": 1}}, good]))
    page = await tg.fetch("5")
    assert [m.external_id for m in page.messages] == ["-4012345678:15", f"{ANNA}:15"]  # same time: update order
    admin = page.messages[0]
    assert (admin.author_id, admin.author_name, admin.visibility, admin.url) == ("-4012345678", "Reisclub", "public",
                                                                                 None)
    assert page.skipped == ["5: a message without a sender",
                            "6: a message without chat.id, chat.type, message_id or date",
                            "7: messages in channel chats are not mapped",
                            "?: an update without an update_id",
                            "9: future_update_kind updates are not mapped"]
    assert page.cursor == "870000102"


@pytest.mark.parametrize("body", [{"ok": True, "result": {"update_id": 1}}, {"ok": True}, ["not", "an", "object"]])
async def test_a_response_of_the_wrong_shape_is_a_connector_error(tg, api, body):
    api.post("/getUpdates").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ConnectorError) as caught:
        await tg.fetch("1")
    assert "Telegram" in caught.value.message


def test_every_service_message_of_the_spec_is_skipped_as_one_and_every_content_kind_exists():
    if not SPEC.exists():
        pytest.skip(f"the Telegram Bot API spec is not at {SPEC}")
    from webcare_tui.connectors import telegram

    fields = {f["name"]: f for f in json.loads(SPEC.read_text())["types"]["Message"]["fields"]}
    service = [name for name, f in fields.items() if f["description"].startswith("Optional. Service message")]
    assert len(service) > 30
    for name in service + sorted(telegram._SERVICE):
        assert name in fields
        assert telegram._service_field({name: {}}) == name
        assert telegram._content({name: {}}) is None
    assert set(telegram._CONTENT) <= set(fields)


# --- errors ------------------------------------------------------------------------------------

async def test_a_refused_token_needs_auth(tg, api):
    api.post("/getUpdates").mock(return_value=httpx.Response(401, json=load("errors.json")["unauthorized"]))
    with pytest.raises(ConnectorError) as caught:
        await tg.fetch(None)
    error = caught.value
    assert error.needs_auth and not error.retryable and "Unauthorized" in error.message
    assert TOKEN not in error.message


async def test_an_ok_false_body_with_status_200_is_an_error_too(tg, api):
    api.post("/getUpdates").mock(return_value=httpx.Response(200, json=load("errors.json")["unauthorized"]))
    with pytest.raises(ConnectorError) as caught:
        await tg.fetch(None)
    assert caught.value.needs_auth


async def test_flood_control_waits_retry_after_from_the_body(tg, api):
    api.post("/getUpdates").mock(return_value=httpx.Response(429, json=load("errors.json")["flood"]))
    with pytest.raises(ConnectorError) as caught:
        await tg.fetch(None)
    assert caught.value.retry_after == 35 and caught.value.retryable and "retry after 35" in caught.value.message


async def test_a_429_without_parameters_uses_the_retry_after_header(tg, api):
    api.post("/getUpdates").mock(return_value=httpx.Response(
        429, headers={"Retry-After": "12"}, json={"ok": False, "error_code": 429, "description": "Too Many Requests"}))
    with pytest.raises(ConnectorError) as caught:
        await tg.fetch(None)
    assert caught.value.retry_after == 12


@pytest.mark.parametrize("response", [
    httpx.Response(502, json={"ok": False, "error_code": 502, "description": "Bad Gateway"}),
    httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>", headers={"content-type": "text/html"}),
    httpx.Response(200, text="<html>captive portal</html>", headers={"content-type": "text/html"}),
])
async def test_server_errors_and_foreign_pages_are_retryable(tg, api, response):
    api.post("/getUpdates").mock(return_value=response)
    with pytest.raises(ConnectorError) as caught:
        await tg.fetch(None)
    assert caught.value.retryable and not caught.value.needs_auth and not caught.value.outcome_unknown


async def test_a_fetch_timeout_is_retryable(tg, api):
    api.post("/getUpdates").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(ConnectorError) as caught:
        await tg.fetch("870000111")
    assert caught.value.retryable and not caught.value.outcome_unknown


async def test_a_webhook_conflict_says_what_to_do(tg, api):
    api.post("/getUpdates").mock(return_value=httpx.Response(409, json=load("errors.json")["conflict_webhook"]))
    with pytest.raises(ConnectorError) as caught:
        await tg.fetch(None)
    assert not caught.value.retryable and "deleteWebhook" in caught.value.message and "webhook" in caught.value.message


@pytest.mark.parametrize("token", [None, "", "not-a-token", "123:abc/../../x"])
async def test_a_missing_or_malformed_token_needs_auth_without_a_request(make, api, token):
    with pytest.raises(ConnectorError) as caught:
        await make(token).fetch(None)
    assert caught.value.needs_auth and not api.calls


@pytest.mark.parametrize("options, says", [({"poll_timeout": "20"}, "poll_timeout"), ({"page_size": 500}, "page_size"),
                                           ({"group_messages": "some"}, "group_messages")])
async def test_a_bad_option_is_reported_on_use(make, api, options, says):
    with pytest.raises(ConnectorError) as caught:
        await make(**options).fetch(None)
    assert says in caught.value.message and "brand-telegram" in caught.value.message and not api.calls


# --- the token never leaks ----------------------------------------------------------------------

async def test_the_token_never_reaches_an_error_or_the_log(tg, api, caplog):
    caplog.set_level(logging.DEBUG)
    api.post("/getUpdates").mock(side_effect=[
        ok([]),
        httpx.InvalidURL(f"Invalid URL {BASE}/getUpdates"),  # httpx's own text quotes the URL
        httpx.Response(400, json={"ok": False, "error_code": 400, "description": f"Bad Request: bot{TOKEN} said no"}),
    ])
    await tg.fetch(None)
    assert "/bot•••/getUpdates" in caplog.text  # httpx logged the request, with the token taken out
    for _ in range(2):
        with pytest.raises(ConnectorError) as caught:
            await tg.fetch(None)
        assert "S3CRET" not in caught.value.message and "•••" in caught.value.message
        assert "S3CRET" not in str(caught.value)
    assert "S3CRET" not in caplog.text


async def test_through_sync_a_refused_token_marks_the_account_and_keeps_what_was_stored(store, tg, api):
    api.post("/getUpdates").mock(side_effect=[httpx.Response(200, json=load("getUpdates_page.json")),
                                              httpx.Response(401, json=load("errors.json")["unauthorized"])])
    runner = SyncRunner(store, {"brand-telegram": tg})
    [first] = await runner.sync_once()
    assert (first.state, first.new_messages) == ("online", 7)
    [second] = await runner.sync_once()
    saved = store.sync_state("brand-telegram")
    assert second.state == "needs_auth" and (saved["state"], saved["cursor"]) == ("needs_auth", "870000111")
    assert store.counts()["messages"] == 7
    assert "S3CRET" not in "\n".join(store.conn.iterdump())


# --- replies and likes ----------------------------------------------------------------------------

def reply(in_reply_to: str | None, visibility: str = "public", recipient: str = BRAM,
          text: str = "Vervelend! We kijken het na 🙏") -> OutgoingReply:
    return OutgoingReply("key-1", "telegram", "brand-telegram", recipient, text, visibility, in_reply_to)


async def test_a_public_reply_answers_the_group_message(tg, api):
    route = api.post("/sendMessage").mock(return_value=httpx.Response(200, json=load("sendMessage.json")))
    sent = await tg.send_reply(reply(f"{GROUP}:4021"))
    assert sent_json(route) == {"chat_id": GROUP, "text": "Vervelend! We kijken het na 🙏",
                                "reply_parameters": {"message_id": 4021, "allow_sending_without_reply": True}}
    assert (sent.external_id, sent.created_at, sent.url) == (f"{GROUP}:4030", 1764003700,
                                                             "https://t.me/reisclub_community/4030")


async def test_a_private_reply_to_a_group_message_goes_to_the_customers_chat_with_the_bot(tg, api):
    route = api.post("/sendMessage").mock(return_value=httpx.Response(200, json=load("sendMessage_private.json")))
    sent = await tg.send_reply(reply(f"{GROUP}:4021", "private"))
    assert sent_json(route) == {"chat_id": int(BRAM), "text": "Vervelend! We kijken het na 🙏"}
    assert (sent.external_id, sent.url) == (f"{BRAM}:58", None)


async def test_a_reply_in_a_private_chat_quotes_the_customers_message_even_when_it_was_edited(tg, api):
    route = api.post("/sendMessage").mock(return_value=httpx.Response(200, json=load("sendMessage_private.json")))
    await tg.send_reply(reply(f"{ANNA}:15|edit:1764000150", "private", ANNA))
    assert sent_json(route)["chat_id"] == int(ANNA)
    assert sent_json(route)["reply_parameters"] == {"message_id": 15, "allow_sending_without_reply": True}


async def test_a_reply_in_a_business_chat_goes_through_the_business_connection(tg, api):
    answer = load("sendMessage_private.json")
    answer["result"].update(chat={"id": 444555666, "first_name": "Eva", "type": "private"},
                            business_connection_id="AbCdEfGhIjKlMnOp_qrs-tuv")
    route = api.post("/sendMessage").mock(return_value=httpx.Response(200, json=answer))
    sent = await tg.send_reply(reply("444555666:912|business:AbCdEfGhIjKlMnOp_qrs-tuv", "private", "444555666"))
    assert sent_json(route) == {"chat_id": 444555666, "business_connection_id": "AbCdEfGhIjKlMnOp_qrs-tuv",
                                "text": "Vervelend! We kijken het na 🙏",
                                "reply_parameters": {"message_id": 912, "allow_sending_without_reply": True}}
    assert sent.external_id == "444555666:58|business:AbCdEfGhIjKlMnOp_qrs-tuv"


async def test_a_customer_who_never_started_the_bot_is_a_clear_permanent_error_not_a_sign_in(tg, api):
    api.post("/sendMessage").mock(return_value=httpx.Response(403, json=load("errors.json")["cannot_initiate"]))
    with pytest.raises(ConnectorError) as caught:
        await tg.send_reply(reply(f"{GROUP}:4021", "private"))
    error = caught.value
    assert not error.needs_auth and not error.retryable and not error.outcome_unknown
    assert "started a chat with the bot" in error.message and "can't initiate conversation" in error.message


@pytest.mark.parametrize("name, says", [("blocked", "blocked the bot"), ("migrated", "-1001987654321"),
                                        ("too_long", "message is too long")])
async def test_other_refusals_are_permanent_in_telegrams_words(tg, api, name, says):
    error_body = load("errors.json")[name]
    api.post("/sendMessage").mock(return_value=httpx.Response(error_body["error_code"], json=error_body))
    with pytest.raises(ConnectorError) as caught:
        await tg.send_reply(reply(f"{GROUP}:4021"))
    assert not caught.value.retryable and not caught.value.needs_auth and says in caught.value.message


async def test_a_send_timeout_leaves_the_outcome_unknown(tg, api):
    api.post("/sendMessage").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(ConnectorError) as caught:
        await tg.send_reply(reply(f"{GROUP}:4021"))
    assert caught.value.outcome_unknown and not tg.capabilities.idempotent_send


async def test_a_reply_telegram_cannot_take_is_refused_before_sending(tg, api):
    route = api.post("/sendMessage").mock(return_value=httpx.Response(200, json=load("sendMessage.json")))
    for bad, says in [(reply(f"{GROUP}:4021", text="é" * 4097), "4097 characters; Telegram allows 4096"),
                      (reply(None), "needs the message it answers"),
                      (reply(None, "private", recipient="@bram"), "not a Telegram user id"),
                      (reply("nonsense"), "not a Telegram message id")]:
        with pytest.raises(ConnectorError, match=says) as caught:
            await tg.send_reply(bad)
        assert not caught.value.retryable
    assert not route.calls
    await tg.send_reply(reply(f"{GROUP}:4021", text="🙏" * 4096))  # code points, not UTF-16 units, count
    assert route.call_count == 1


async def test_find_sent_cannot_tell(tg, api):
    with pytest.raises(ConnectorError, match="no way to list") as caught:
        await tg.find_sent(reply(f"{GROUP}:4021"))
    assert not caught.value.retryable and not api.calls


async def test_like_sets_a_thumbs_up_reaction(tg, api):
    route = api.post("/setMessageReaction").mock(return_value=httpx.Response(200, json=load("setMessageReaction.json")))
    await tg.like(f"{GROUP}:4021")
    assert sent_json(route) == {"chat_id": GROUP, "message_id": 4021, "reaction": [{"type": "emoji", "emoji": "👍"}]}
    with pytest.raises(ConnectorError, match="business"):
        await tg.like("444555666:912|business:AbC")
    assert route.call_count == 1


def test_external_ids_round_trip():
    assert parse_ref(message_ref(GROUP, 7)) == parse_ref(message_ref(GROUP, 7, edit_date=5))
    ref = parse_ref(message_ref(1, 2, edit_date=3, business="a:b|c"))
    assert (ref.chat_id, ref.message_id, ref.business) == (1, 2, "a:b|c")


# --- the spec contract ----------------------------------------------------------------------------

def check_object(spec_types: dict, type_name: str, value: dict, where: str) -> None:
    fields = {f["name"]: f for f in spec_types[type_name]["fields"]}
    assert set(value) <= set(fields), f"{where}: {set(value) - set(fields)} are not fields of {type_name}"
    missing = {name for name, f in fields.items() if f["required"]} - set(value)
    assert not missing, f"{where}: {type_name} needs {missing}"


async def test_every_request_matches_the_bot_api_spec(make, api):
    if not SPEC.exists():
        pytest.skip(f"the Telegram Bot API spec is not at {SPEC}")
    spec = json.loads(SPEC.read_text())
    api.post("/getUpdates").mock(return_value=httpx.Response(200, json=load("getUpdates_page.json")))
    api.post("/sendMessage").mock(return_value=httpx.Response(200, json=load("sendMessage.json")))
    api.post("/setMessageReaction").mock(return_value=httpx.Response(200, json=load("setMessageReaction.json")))
    tg = make()
    await tg.fetch(None)
    await tg.fetch("870000111")
    await tg.send_reply(reply(f"{GROUP}:4021"))
    await tg.send_reply(reply(f"{GROUP}:4021", "private"))
    await tg.send_reply(reply("444555666:912|business:AbC", "private", "444555666"))
    await tg.like(f"{GROUP}:4021")
    methods = set()
    update_fields = {f["name"] for f in spec["types"]["Update"]["fields"]}
    for call in api.calls:
        request = call.request
        assert request.method == "POST" and str(request.url).startswith(BASE + "/")
        method = request.url.path.rsplit("/", 1)[1]
        assert method in spec["methods"], f"{method} is not a Bot API method"
        methods.add(method)
        body = json.loads(request.content) if request.content else {}
        fields = {f["name"]: f for f in spec["methods"][method].get("fields", [])}
        assert set(body) <= set(fields), f"{method}: {set(body) - set(fields)} are not parameters"
        assert {name for name, f in fields.items() if f["required"]} <= set(body), f"{method}: required missing"
        if "reply_parameters" in body:
            check_object(spec["types"], "ReplyParameters", body["reply_parameters"], method)
        for reaction in body.get("reaction", []):
            check_object(spec["types"], "ReactionTypeEmoji", reaction, method)
        assert set(body.get("allowed_updates", [])) <= update_fields
        if "limit" in body:
            assert 1 <= body["limit"] <= 100
    assert methods == {"getUpdates", "getMe", "sendMessage", "setMessageReaction"}


# --- end to end ---------------------------------------------------------------------------------

async def test_sync_then_a_macro_reply_and_a_like_reach_telegram_and_take_its_ids(store, tg, api):
    api.post("/getUpdates").mock(return_value=httpx.Response(200, json=load("getUpdates_page.json")))
    send = api.post("/sendMessage").mock(return_value=httpx.Response(200, json=load("sendMessage_private.json")))
    react = api.post("/setMessageReaction").mock(return_value=httpx.Response(200, json=load("setMessageReaction.json")))
    [status] = await SyncRunner(store, {"brand-telegram": tg}).sync_once()
    assert status.state == "online" and store.sync_state("brand-telegram")["cursor"] == "870000111"
    cases = {c["author_id"]: c for c in store.list_cases()}
    assert set(cases) == {ANNA, BRAM, CHRIS, "333444555"} and cases[BRAM]["platform"] == "telegram"

    clock = [T0 + HOUR]
    macros = load_macros([MACROS])
    outbox = Outbox(store, clock=lambda: clock[0])
    cases_service = CaseService(store, clock=lambda: clock[0])
    runner = MacroRunner(store, cases_service, outbox, TIM, grace=0, clock=lambda: clock[0])
    runner.apply(macros.by_name("Terugbellen"), [cases[BRAM]["id"]])  # a private answer to a group mention
    runner.apply(macros.by_name("Compliment"), [cases[ANNA]["id"]])
    deliveries = await OutboxWorker(store, {"brand-telegram": tg}, clock=lambda: clock[0]).deliver_due()
    assert [d.state for d in deliveries] == ["sent", "sent"]

    request = send.calls[0].request
    assert (request.method, request.url.path) == ("POST", f"/bot{TOKEN}/sendMessage")
    assert json.loads(request.content) == {
        "chat_id": int(BRAM),
        "text": "Hoi Bram, we bellen je graag even. Op welk nummer en wanneer kunnen we je het beste bereiken?"
                "\n\nGroetjes, Tim"}  # the signature on its own line, never run on inline
    ours = store.case_messages(cases[BRAM]["id"])[-1]
    assert (ours["external_id"], ours["direction"], ours["visibility"], ours["agent"]) == (
        f"{BRAM}:58", "out", "private", "tim")
    # The compliment is liked on the customer's latest message: the edit of message 15.
    assert json.loads(react.calls[0].request.content) == {"chat_id": int(ANNA), "message_id": 15,
                                                          "reaction": [{"type": "emoji", "emoji": "👍"}]}


async def test_without_a_client_given_the_connector_owns_and_closes_its_own(api):
    api.post("/getUpdates").mock(return_value=ok([]))
    tg = TelegramConnector(Account("brand-telegram", "telegram", {"poll_timeout": 0}), TOKEN)
    await tg.fetch(None)
    await tg.aclose()
    assert tg.api.http.is_closed
