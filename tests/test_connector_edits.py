"""Issue 17, deletions and edits: Matrix redactions and encrypted rooms, X edit chains, Telegram's
deleted business messages. Payloads follow the platforms' documented or recorded shapes: the Matrix
redaction is the one Synapse recorded in tests/fixtures/matrix/sync_joined.json; the X edit chain is
docs.x.com's "Edit posts" example applied to the mentions fixture; the Telegram update is the Bot
API's BusinessMessagesDeleted."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import respx
from conftest import HOUR, SHARED_DATA, T0

from webcare_tui.config import Account
from webcare_tui.connectors.matrix import ENCRYPTED_TEXT, MatrixConnector
from webcare_tui.connectors.telegram import TelegramConnector
from webcare_tui.connectors.x import XConnector
from webcare_tui.ingest import ingest

FIXTURES = Path(__file__).parent / "fixtures"

# ---------------------------------------------------------------- Matrix

BASE = "https://matrix.example.org"
V3 = f"{BASE}/_matrix/client/v3"
BRAND, ANNA, BRAM = "@webcare:localhost", "@anna:localhost", "@bram:localhost"
DM = "!4FVvhVdUzQqPB6UnD7UyVmHpK3lz79IT1EGrGmctGWA"
DIRECT_PATH = f"{V3}/user/{quote(BRAND, safe='')}/account_data/m.direct"


def _recorded_redaction() -> tuple[dict, dict]:
    """The message anna deleted and the redaction that deleted it, as Synapse recorded them."""
    joined = json.loads((FIXTURES / "matrix" / "sync_joined.json").read_text(encoding="utf-8"))
    redacted = next(event for event in joined["rooms"]["join"][DM]["timeline"]["events"]
                    if "redacted_because" in event.get("unsigned", {}))
    redaction = copy.deepcopy(redacted["unsigned"]["redacted_because"])
    original = {key: value for key, value in redacted.items() if key != "unsigned"}
    original["content"] = {"msgtype": "m.text", "body": "Mijn adres is Dorpsstraat 1, Ons Dorp"}
    return original, redaction


ORIGINAL, REDACTION = _recorded_redaction()
DELETED_ID, REDACTION_ID = ORIGINAL["event_id"], REDACTION["event_id"]


def _matrix() -> MatrixConnector:
    return MatrixConnector(Account("brand-matrix", "matrix", {"base_url": BASE, "user_id": BRAND}), "syt_token",
                           httpx.AsyncClient(), clock=lambda: T0)


@pytest.fixture
async def mx():
    opened = _matrix()
    yield opened
    await opened.aclose()
    await opened.api.http.aclose()


def _sync(pages: dict[str, list[dict]], room: str = DM) -> respx.Route:
    """/sync answered by `since`: the timeline events of one room, each with next_batch since+"x"."""
    def answer(request: httpx.Request) -> httpx.Response:
        since = request.url.params["since"]
        return httpx.Response(200, json={"next_batch": since + "x",
                                         "rooms": {"join": {room: {"timeline": {"events": pages[since]}}}}})
    return respx.get(f"{V3}/sync").mock(side_effect=answer)


def _event_path(room: str, event_id: str) -> str:
    return f"{V3}/rooms/{quote(room, safe='')}/event/{quote(event_id, safe='')}"


@respx.mock
async def test_matrix_a_message_the_customer_deletes_later_is_marked_deleted_in_its_case(mx, store):
    sync = _sync({"s1": [ORIGINAL], "s1x": [REDACTION]})
    respx.get(DIRECT_PATH).respond(200, json={ANNA: [DM]})
    first = await mx.fetch("s1")
    assert [m.text for m in first.messages] == ["Mijn adres is Dorpsstraat 1, Ons Dorp"]
    second = await mx.fetch(first.cursor)
    timeline_filter = json.loads(sync.calls.last.request.url.params["filter"])["room"]["timeline"]
    assert "m.room.redaction" in timeline_filter["types"]  # without it the redaction never arrives
    assert second.skipped == []
    [deleted] = second.messages
    assert deleted.text == "[deleted] the customer deleted this message (reason: privacy)"
    assert (deleted.external_id, deleted.in_reply_to) == (f"{DM}|{REDACTION_ID}", f"{DM}|{DELETED_ID}")
    assert (deleted.author_id, deleted.direction, deleted.visibility) == (ANNA, "in", "private")
    assert deleted.created_at == REDACTION["origin_server_ts"] // 1000
    assert deleted.url == mx.link(DM, DELETED_ID)  # the deleted message, where the agent can check
    # In the store: the same case, the mark answering the message it deletes (whose text is kept).
    ingest(store, first.messages)
    ingest(store, second.messages)
    [case] = store.list_cases()
    rows = store.case_messages(case["id"])
    assert [row["text"] for row in rows] == ["Mijn adres is Dorpsstraat 1, Ons Dorp", deleted.text]
    assert rows[1]["in_reply_to"] == rows[0]["external_id"]


@respx.mock
async def test_matrix_after_a_restart_the_homeserver_says_what_a_redaction_deleted(mx):
    taken_back = {"type": "m.room.redaction", "event_id": "$undo", "sender": ANNA, "origin_server_ts": 1_795_627_890_000,
                  "content": {"redacts": "$reaction"}}  # room version 11: redacts in content only
    gone = {"type": "m.room.redaction", "event_id": "$gone", "sender": ANNA, "origin_server_ts": 1_795_627_891_000,
            "redacts": "$unknown", "content": {}}  # room versions 1-10: redacts at the top
    by_moderator = copy.deepcopy(REDACTION) | {"event_id": "$mod", "sender": BRAM}
    by_moderator["content"] = {"redacts": DELETED_ID, "reason": "spam"}
    _sync({"s1": [REDACTION, taken_back, gone, by_moderator]})
    respx.get(DIRECT_PATH).respond(200, json={ANNA: [DM]})
    # GET /rooms/{roomId}/event/{eventId} gives the redacted event: its type and sender survive redaction
    respx.get(_event_path(DM, DELETED_ID)).respond(200, json={
        "type": "m.room.message", "event_id": DELETED_ID, "sender": ANNA, "room_id": DM, "content": {},
        "origin_server_ts": ORIGINAL["origin_server_ts"], "unsigned": {"redacted_because": REDACTION}})
    respx.get(_event_path(DM, "$reaction")).respond(200, json={
        "type": "m.reaction", "event_id": "$reaction", "sender": ANNA, "room_id": DM, "content": {},
        "origin_server_ts": 1})
    respx.get(_event_path(DM, "$unknown")).respond(404, json={"errcode": "M_NOT_FOUND", "error": "Event not found."})
    page = await mx.fetch("s1")
    assert [(m.external_id, m.text, m.in_reply_to) for m in page.messages] == [
        (f"{DM}|{REDACTION_ID}", "[deleted] the customer deleted this message (reason: privacy)", f"{DM}|{DELETED_ID}"),
        (f"{DM}|$mod", f"[deleted] {BRAM} deleted this message (reason: spam)", f"{DM}|{DELETED_ID}"),
    ]  # a reaction taken back and an event the homeserver will not show add nothing
    assert page.skipped == []


@respx.mock
async def test_matrix_a_redaction_in_the_batch_of_its_message_adds_nothing(mx):
    redacted = ORIGINAL | {"content": {}, "unsigned": {"redacted_because": REDACTION}}
    _sync({"s1": [redacted, REDACTION]})
    respx.get(DIRECT_PATH).respond(200, json={})
    page = await mx.fetch("s1")
    assert page.messages == []
    assert page.skipped == [f"{DM}|{DELETED_ID}: redacted by its sender"]


ENCRYPTED_ROOM = "!crypt:localhost"
MEGOLM = {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg...",
          "device_id": "RJYKSTBOIE", "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
          "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ"}  # the spec's m.room.encrypted example


@respx.mock
async def test_matrix_an_encrypted_room_becomes_a_case_that_says_why_its_text_is_missing(mx, store):
    events = [
        {"type": "m.room.encrypted", "event_id": "$c1", "sender": BRAM, "origin_server_ts": 1_795_627_900_000,
         "content": MEGOLM},
        {"type": "m.room.encrypted", "event_id": "$c2", "sender": BRAM, "origin_server_ts": 1_795_627_901_000,
         "content": MEGOLM | {"m.relates_to": {"m.in_reply_to": {"event_id": "$c1"}}}},  # relations stay in clear
    ]
    _sync({"s1": events}, room=ENCRYPTED_ROOM)
    respx.get(DIRECT_PATH).respond(200, json={BRAM: [ENCRYPTED_ROOM]})
    page = await mx.fetch("s1")
    assert page.skipped == []
    assert [(m.external_id, m.author_id, m.text, m.visibility, m.in_reply_to) for m in page.messages] == [
        (f"{ENCRYPTED_ROOM}|$c1", BRAM, ENCRYPTED_TEXT, "private", None),
        (f"{ENCRYPTED_ROOM}|$c2", BRAM, ENCRYPTED_TEXT, "private", f"{ENCRYPTED_ROOM}|$c1"),
    ]
    assert "end-to-end encrypted" in ENCRYPTED_TEXT
    counts = ingest(store, page.messages)
    assert counts.new_cases == 1
    [case] = store.list_cases()
    assert [row["text"] for row in store.case_messages(case["id"])] == [ENCRYPTED_TEXT, ENCRYPTED_TEXT]


# ---------------------------------------------------------------- X

X_API = "https://api.x.com"
US = "1072250532645998596"
X_ANNA = "750362064426721281"
MENTIONS = f"/2/users/{US}/mentions"
SINCE = "1992984049873846273"  # what the cursor had read before the customer's post
ORIGINAL_POST = "1992987824747446281"  # tests/fixtures/x/mentions_newer.json
EDITED_POST = "1992988580535812097"  # a later snowflake: each edit gets a new id


def _mentions() -> dict:
    return json.loads((FIXTURES / "x" / "mentions_newer.json").read_text(encoding="utf-8"))


def _edited(body: dict, *, also_original: bool, original_knows_edit: bool = True) -> dict:
    """The page after the customer edited her post: the edit names both versions, oldest first
    (docs.x.com, "Edit posts": `"edit_history_tweet_ids": ["1234567890", "1234567891"]`)."""
    original = body["data"][0]
    edit = copy.deepcopy(original) | {"id": EDITED_POST, "text": "@TweepyDev nog steeds geen koffer… label KL1234",
                                      "created_at": "2025-11-24T16:08:00.000Z",
                                      "edit_history_tweet_ids": [ORIGINAL_POST, EDITED_POST]}
    if original_knows_edit:
        original = original | {"edit_history_tweet_ids": [ORIGINAL_POST, EDITED_POST]}
    page = copy.deepcopy(body)
    page["data"] = [edit, original] if also_original else [edit]  # newest first
    page["meta"] |= {"newest_id": EDITED_POST, "result_count": len(page["data"])}
    return page


def _cursor(since: str) -> str:
    return json.dumps({"mentions": {"since": since}, "dms": {}})


@pytest.fixture
def xc(http):
    return XConnector(Account("brand-x", "x", {"user_id": US, "direct_messages": False}), "token", http,
                      clock=lambda: float(T0))


async def test_x_an_edit_of_a_post_read_earlier_arrives_linked_to_it_as_edited(xc, store):
    with respx.mock(base_url=X_API) as mock:
        mock.get(MENTIONS).mock(side_effect=[httpx.Response(200, json=_mentions()),
                                             httpx.Response(200, json=_edited(_mentions(), also_original=False))])
        first = await xc.fetch(_cursor(SINCE))
        second = await xc.fetch(first.cursor)
    assert [m.external_id for m in first.messages] == [ORIGINAL_POST]
    [edit] = second.messages
    assert (edit.external_id, edit.in_reply_to) == (EDITED_POST, ORIGINAL_POST)  # replies go to the latest version
    assert edit.text == "[edited] @TweepyDev nog steeds geen koffer… label KL1234"
    assert edit.url == f"https://x.com/anna_reist/status/{EDITED_POST}"
    ingest(store, first.messages)
    ingest(store, second.messages)
    [case] = store.list_cases()
    assert [(row["external_id"], row["in_reply_to"]) for row in store.case_messages(case["id"])][-1] == (
        EDITED_POST, ORIGINAL_POST)


@pytest.mark.parametrize("original_knows_edit", [True, False])
async def test_x_both_versions_in_one_fetch_show_only_the_latest(xc, original_knows_edit):
    page = _edited(_mentions(), also_original=True, original_knows_edit=original_knows_edit)
    with respx.mock(base_url=X_API) as mock:
        mock.get(MENTIONS).respond(200, json=page)
        result = await xc.fetch(_cursor(SINCE))
    [latest] = result.messages
    assert (latest.external_id, latest.text) == (EDITED_POST, "@TweepyDev nog steeds geen koffer… label KL1234")
    assert latest.in_reply_to == "1992973983544246279"  # never seen before: it is simply the post, in its thread
    assert [line.split(": ", 1)[0] for line in result.skipped] == [ORIGINAL_POST]
    assert "earlier version" in result.skipped[0]


async def test_x_an_earlier_version_read_after_its_edit_is_skipped(xc):
    page = _edited(_mentions(), also_original=True)
    page["data"] = page["data"][1:]  # a backlog read newest first: the original comes on a later page
    with respx.mock(base_url=X_API) as mock:
        mock.get(MENTIONS).respond(200, json=page)
        result = await xc.fetch(_cursor(SINCE))
    assert result.messages == []
    assert result.skipped == [f"{ORIGINAL_POST}: an earlier version of an edited post; the latest ({EDITED_POST})"
                              " is shown"]


# ---------------------------------------------------------------- Telegram

TG_TOKEN = "7001234567:AAH-S3CRETs3cretS3CRETs3cretS3CRETx"
TG_SPEC = SHARED_DATA / "api-specs" / "telegram-bot-api-spec" / "api.json"


async def test_telegram_asks_for_deleted_business_messages_and_reports_them(http):
    if not TG_SPEC.exists():
        pytest.skip(f"the Bot API spec is not at {TG_SPEC}")
    spec = json.loads(TG_SPEC.read_text(encoding="utf-8"))
    deleted_fields = {field["name"] for field in spec["types"]["BusinessMessagesDeleted"]["fields"]}
    update = {"update_id": 870000300, "deleted_business_messages": {
        "business_connection_id": "AbCdEfGhIjKlMnOp_qrs-tuv",
        "chat": {"id": 444555666, "type": "private", "first_name": "Eva", "username": "evaj"},
        "message_ids": [910, 911]}}
    assert set(update["deleted_business_messages"]) == deleted_fields
    tg = TelegramConnector(Account("brand-telegram", "telegram", {"poll_timeout": 0}), TG_TOKEN, http,
                           clock=lambda: T0 + HOUR)
    try:
        with respx.mock(base_url=f"https://api.telegram.org/bot{TG_TOKEN}") as mock:
            route = mock.post("/getUpdates").respond(200, json={"ok": True, "result": [update]})
            page = await tg.fetch("870000300")
    finally:
        await tg.aclose()
    asked = json.loads(route.calls.last.request.content)["allowed_updates"]
    # "If not specified, the previous setting will be used": a kind not listed never arrives
    assert "deleted_business_messages" in asked
    assert {"message", "edited_message", "business_message", "edited_business_message"} <= set(asked)
    update_fields = {field["name"] for field in spec["types"]["Update"]["fields"]}
    assert set(asked) <= update_fields
    assert page.messages == [] and page.cursor == "870000301"
    assert page.skipped == ["870000300: messages [910, 911] were deleted in a business chat (kept here)"]
