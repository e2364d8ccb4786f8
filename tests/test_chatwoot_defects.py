"""Issue 17, the Chatwoot connector: paging, private notes, "was this reply sent?", delivery failures, meaning.

The fake server is the one of tests/test_connector_chatwoot.py (payloads built from the swagger's
`conversation_list` and `message` schemas), varied where the swagger leaves Chatwoot free: the
page size (the server's CONVERSATION_RESULTS_PER_PAGE), the list order, and a message's
`status` "failed" with `content_attributes.external_error` (Chatwoot's Message model stores the
channel's error there).
"""

from __future__ import annotations

import copy
import json

import httpx
import pytest
import respx
from conftest import HOUR, MINUTE, T0
from test_connector_chatwoot import PREFIX, Chatwoot, Team, action, make, many_conversations, reply

from webcare_tui.connectors import chatwoot as chatwoot_connector
from webcare_tui.connectors.base import ConnectorError
from webcare_tui.macros import Macro


class Server(Chatwoot):
    """Chatwoot with a configurable page size and list order, and a channel that may refuse messages."""

    def __init__(self) -> None:
        super().__init__()
        self.page_size = 25
        self.order = "last_activity_at_desc"
        self.refuse: str | None = None  # the channel's error for every message sent from now on

    def list_page(self, page: int, status: str) -> httpx.Response:
        response = super().list_page(1, status)
        body = response.json()
        found = [c for c in self.conversations.values() if status == "all" or c["status"] == status]
        if self.order == "id_desc":
            found.sort(key=lambda c: -c["id"])
        else:
            found.sort(key=lambda c: -c["last_activity_at"])
        body["data"]["payload"] = found[(page - 1) * self.page_size:page * self.page_size]
        return httpx.Response(200, json=body)

    def create_message(self, conversation: dict, body: dict) -> dict:
        message = super().create_message(conversation, body)
        if self.refuse is not None:
            message["status"] = "failed"
            message["content_attributes"] = {"external_error": self.refuse}
        return message


@pytest.fixture
def server():
    chatwoot = Server()
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="chat.example.com").mock(side_effect=chatwoot.handle)
        yield chatwoot


def outgoing(message_id: int, text: str, **fields) -> dict:
    return {"id": message_id, "content": text, "inbox_id": 7, "conversation_id": 42, "message_type": 1,
            "content_type": "text", "content_attributes": {}, "created_at": T0 + 200 + message_id % 100,
            "private": False, "status": "sent", "sender": {"id": 12, "type": "user", "name": "Jeroen de Vries"}} | fields


# -- paging: neither the page size nor the order is in the swagger --------------------------------------


async def test_a_server_with_smaller_pages_is_read_to_the_end(server, http):
    server.page_size = 10  # CONVERSATION_RESULTS_PER_PAGE=10
    many_conversations(server, 30)
    page = await make(http, initial_pages=5).fetch(None)
    assert len(page.remote_cases) == 30 and len(page.messages) == 30
    pages = [r.url.params["page"] for r in server.requests if r.url.path == PREFIX]
    assert pages == ["1", "2", "3"]  # meta.all_count says when it is over: no empty page asked for


async def test_a_list_not_newest_first_is_walked_past_an_older_conversation(server, http):
    server.order = "id_desc"  # e.g. created_at desc: the first sync happens to be in activity order
    many_conversations(server, 5)
    connector = make(http)
    first = await connector.fetch(None)
    server.conversations[101]["last_activity_at"] = T0 + 2 * HOUR  # listed after older ones
    server.messages[101].append({**server.messages[101][0], "id": 30_000, "content": "Nog steeds stuk",
                                 "created_at": T0 + 2 * HOUR})
    page = await connector.fetch(first.cursor)
    assert "101:30000" in [m.external_id for m in page.messages]
    assert page.more is False and json.loads(page.cursor)["unordered"] is True
    # now known to be unordered: every sync walks the whole list, past pages of older conversations
    server.page_size = 2  # [104, 103] [102, 101] [100]: the first page alone would say "nothing newer"
    server.conversations[100]["last_activity_at"] = T0 + 3 * HOUR  # listed last
    server.messages[100].append({**server.messages[100][0], "id": 30_001, "content": "Hallo?",
                                 "created_at": T0 + 3 * HOUR})
    later = await connector.fetch(page.cursor)
    assert "100:30001" in [m.external_id for m in later.messages] and later.more is False
    assert [r.url.params["page"] for r in server.requests if r.url.path == PREFIX][-3:] == ["1", "2", "3"]


async def test_the_walk_ends_at_an_empty_page_without_counts(server, http):
    server.page_size = 10
    many_conversations(server, 20)
    original = server.list_page

    def no_meta(page: int, status: str) -> httpx.Response:
        body = original(page, status).json()
        body["data"].pop("meta")
        return httpx.Response(200, json=body)

    server.list_page = no_meta
    page = await make(http, initial_pages=5).fetch(None)
    assert len(page.remote_cases) == 20
    assert [r.url.params["page"] for r in server.requests if r.url.path == PREFIX] == ["1", "2", "3"]


# -- private notes arrive as memos ------------------------------------------------------------------------


async def test_a_teammates_private_note_arrives_as_a_memo(server, http):
    page = await make(http).fetch(None)
    assert [(m.thread, m.external_id, m.agent, m.text, m.created_at) for m in page.memos] == [
        ("42:", "42:9004", "jeroen", "Klant is al bekend bij ons", T0 + 130)]
    assert "42:9004" not in {m.external_id for m in page.messages}  # never a customer message


# -- "was this reply sent?" is bounded at the message answered --------------------------------------------


async def test_an_earlier_identical_reply_is_not_taken_for_this_one(server, http):
    server.messages[42].insert(0, outgoing(8990, "Bedankt voor je vraag!"))  # a macro reply to an older message
    connector = make(http)
    assert await connector.find_sent(reply("Bedankt voor je vraag!", in_reply_to="42:9007")) is None
    lookups = [r for r in server.requests if r.url.path == f"{PREFIX}/42/messages"]
    assert lookups[0].url.params["after"] == "9007"
    # the same for a note: an identical older one is not this memo
    assert await connector.find_case_action(action("memo", text="Klant is al bekend bij ons")) is False


async def test_newer_messages_do_not_hide_the_reply(server, http):
    connector = make(http)
    sent = await connector.send_reply(reply("Komt goed, Anna!"))
    server.messages[42] += [{**server.messages[42][0], "id": 9600 + n, "content": f"bericht {n}",
                             "created_at": T0 + 2 * HOUR + n} for n in range(130)]
    found = await connector.find_sent(reply("Komt goed, Anna!"))
    assert found is not None and found.external_id == sent.external_id
    await connector.apply_case_action(action("memo", text="Belt morgen"))
    server.messages[42] += [{**server.messages[42][0], "id": 9800 + n, "created_at": T0 + 3 * HOUR + n}
                            for n in range(25)]
    assert await connector.find_case_action(action("memo", text="Belt morgen")) is True


async def test_find_sent_reads_to_a_short_page_and_gives_up_past_its_bound(server, http, monkeypatch):
    server.messages[42] += [{**server.messages[42][0], "id": 9100 + n, "content": f"bericht {n}",
                             "created_at": T0 + HOUR + n} for n in range(150)]
    connector = make(http)
    sent = await connector.send_reply(reply("Komt goed, Anna!"))  # after the 150
    server.requests.clear()
    assert (await connector.find_sent(reply("Komt goed, Anna!"))).external_id == sent.external_id
    assert await connector.find_sent(reply("Iets anders")) is None
    lookups = [r.url.params["after"] for r in server.requests if r.url.path == f"{PREFIX}/42/messages"]
    assert len(lookups) == 4 and lookups[0] == lookups[2] == "9007"  # a page of fewer than 100 is the last
    monkeypatch.setattr(chatwoot_connector, "MAX_LOOKUP_PAGES", 1)
    with pytest.raises(ConnectorError, match="more than 100 messages follow 42:9007") as raised:
        await connector.find_sent(reply("Iets anders"))
    assert not raised.value.retryable


# -- delivery failures ------------------------------------------------------------------------------------


async def test_a_reply_the_channel_refused_is_a_failed_send(server, http):
    server.refuse = "(#131047) Re-engagement message: more than 24 hours have passed"
    with pytest.raises(ConnectorError, match="could not deliver.*131047") as refused:
        await make(http).send_reply(reply("Hallo?"))
    assert not refused.value.retryable and not refused.value.outcome_unknown


async def test_a_failed_reply_is_not_found_as_sent(server, http):
    server.messages[42].append(outgoing(9300, "Komt goed!", status="failed",
                                        content_attributes={"external_error": "131047 - window closed"}))
    with pytest.raises(ConnectorError, match="131047") as failed:
        await make(http).find_sent(reply("Komt goed!"))
    assert not failed.value.retryable


async def test_a_failed_message_is_reported_not_read_as_sent(server, http):
    server.messages[42].append(outgoing(9300, "Komt goed!", status="failed",
                                        content_attributes={"external_error": "131047 - window closed"}))
    page = await make(http).fetch(None)
    assert "42:9300" not in {m.external_id for m in page.messages}
    assert [(f.external_id, f.reason) for f in page.failed_sends] == [
        ("42:9300", "Chatwoot could not deliver the message: 131047 - window closed")]
    assert "42:9300: not delivered (131047 - window closed)" in page.skipped


async def test_the_outbox_marks_a_refused_reply_failed(server, http, store):
    console = Team(store, make(http), [T0 + HOUR])
    await console.sync.sync_once()
    case_id = console.case_of("42:")
    server.refuse = "window closed"
    console.macros.apply(Macro(name="Antwoord", reply="Komt goed!"), [case_id])
    console.now[0] += 1
    assert "failed" in await console.deliver_all()
    row = next(r for r in store.case_outbox(case_id) if r["kind"] == "reply")
    assert row["state"] == "failed" and "window closed" in row["last_error"]


# -- meaning ----------------------------------------------------------------------------------------------


async def test_chatwoot_pending_is_not_yet_picked_up_our_new(server, http):
    server.conversations[42]["status"] = "pending"
    page = await make(http).fetch(None)
    assert next(r for r in page.remote_cases if r.thread == "42:").status == "new"


async def test_the_x_limit_counts_as_x_does(server, http):
    connector = make(http)
    await connector.fetch(None)  # learns that 43 is an X conversation
    with pytest.raises(ConnectorError, match="X allows 280"):
        await connector.send_reply(reply("🙂" * 150, in_reply_to="43:9100"))  # 150 characters, X counts 300
    link = "https://www.example.nl/" + "a" * 200
    sent = await connector.send_reply(reply(f"Kijk hier: {link}", in_reply_to="43:9100"))  # a link counts 23
    assert sent.external_id.startswith("43:")


# -- into the store: teammates' notes become memos, refused deliveries fail our reply ---------------------
# The note and the failed message are the swagger's `message` (private true; status "failed", one of its
# enum) as the fake server lists them; a teammate is a Chatwoot user (sender type "user").


def note(message_id: int, text: str, agent_id: int, created_at: int) -> dict:
    """A private note as Chatwoot lists it among the conversation's messages."""
    return outgoing(message_id, text, private=True, created_at=created_at,
                    sender={"id": agent_id, "type": "user", "name": "Sanne" if agent_id == 14 else "Jeroen"})


def active(server: Server, conversation_id: int, at: int) -> None:
    """Something happened in the conversation at `at` (Chatwoot moves last_activity_at)."""
    server.conversations[conversation_id].update(last_activity_at=at, updated_at=at)


@pytest.fixture
async def team(server, http, store):
    console = Team(store, make(http), [T0 + HOUR])
    [status] = await console.sync.sync_once()
    assert status.state == "online"
    server.requests.clear()
    return console


def memos(store, case_id: int) -> list[tuple[str, str, int]]:
    return [(m["agent"], m["text"], m["created_at"]) for m in store.case_memos(case_id)]


async def test_a_teammates_private_note_becomes_a_memo_on_its_case_once(server, team):
    store = team.store
    case_id = team.case_of("42:")
    assert memos(store, case_id) == [("jeroen", "Klant is al bekend bij ons", T0 + 130)]  # read on the first sync
    server.messages[42].append(note(9600, "Sanne: klant belt om 17:00 terug", 14, T0 + 2 * HOUR))
    active(server, 42, T0 + 2 * HOUR)
    team.now[0] = T0 + 2 * HOUR
    [status] = await team.sync.sync_once()
    assert memos(store, case_id)[-1] == ("sanne", "Sanne: klant belt om 17:00 terug", T0 + 2 * HOUR)
    assert (status.state, status.new_messages, status.cases) == ("online", 0, frozenset({case_id}))  # announced
    # the customer writes again: the note is read once more (the floor of message ids lags a sync), and a
    # sync from scratch reads them all again; every note is still there once
    server.messages[42].append({**server.messages[42][0], "id": 9601, "content": "Prima!", "created_at": T0 + 3 * HOUR})
    active(server, 42, T0 + 3 * HOUR)
    team.now[0] = T0 + 3 * HOUR
    [status] = await team.sync.sync_once()
    afters = [int(r.url.params["after"]) for r in server.requests if r.url.path == f"{PREFIX}/42/messages"]
    assert afters and afters[-1] < 9600  # the note was in this page too
    assert status.new_messages == 1
    store.save_sync_state("team", cursor=None, state="online", last_error=None, last_sync_at=None, failures=0)
    [status] = await team.sync.sync_once()
    assert status.new_messages == 0 and "42:9006: deleted" in status.skipped  # the rest is reported as before
    assert memos(store, case_id) == [("jeroen", "Klant is al bekend bij ons", T0 + 130),
                                     ("sanne", "Sanne: klant belt om 17:00 terug", T0 + 2 * HOUR)]
    found = store.conn.execute("SELECT m.case_id FROM memos_fts JOIN memos m ON m.id = memos_fts.rowid"
                               " WHERE memos_fts MATCH 'belt'").fetchall()
    assert found == [(case_id,)]  # searchable, like a memo written here


async def test_our_own_memo_coming_back_is_not_doubled_even_when_its_id_never_came_back(server, team):
    store = team.store
    case_id = team.case_of("42:")
    team.cases.memo(case_id, "tim", "Klant belt morgen terug")
    assert await team.deliver_all() == ["sent"]
    sent = store.case_outbox(case_id)[0]
    assert sent["remote_id"] == "42:9501"
    # the next note reaches Chatwoot, but the answer is lost: the outbox finds it after a restart, without its id
    created = server.create_message

    def lost_answer(conversation: dict, body: dict) -> dict:
        created(conversation, body)
        raise httpx.ReadTimeout("the answer was lost")

    server.create_message = lost_answer
    team.now[0] += MINUTE
    team.cases.memo(case_id, "tim", "Offerte gemaild")
    assert await team.deliver_all() == ["unknown"]
    server.create_message = created
    [recovered] = await team.worker.recover()
    assert recovered.state == "sent"
    lost = store.case_outbox(case_id)[1]
    assert (lost["state"], lost["remote_id"]) == ("sent", None)
    server.messages[42].append(note(9600, "Ik bel de klant zelf wel", 14, T0 + HOUR + 2 * MINUTE))
    active(server, 42, T0 + HOUR + 2 * MINUTE)
    team.now[0] = T0 + HOUR + 3 * MINUTE
    await team.sync.sync_once()
    assert memos(store, case_id) == [("jeroen", "Klant is al bekend bij ons", T0 + 130),
                                     ("tim", "Klant belt morgen terug", T0 + HOUR),
                                     ("tim", "Offerte gemaild", T0 + HOUR + MINUTE),
                                     ("sanne", "Ik bel de klant zelf wel", T0 + HOUR + 2 * MINUTE)]
    assert store.outbox_row(lost["id"])["remote_id"] == "42:9502"  # now known by its note, like the first
    store.save_sync_state("team", cursor=None, state="online", last_error=None, last_sync_at=None, failures=0)
    server.requests.clear()
    await team.sync.sync_once()  # every note read again
    assert len(store.case_memos(case_id)) == 4 and [c for c in server.calls() if c[0] == "POST"] == []


async def test_a_note_in_a_conversation_without_a_case_waits_for_its_case(server, team):
    store = team.store
    server.conversations[44] = copy.deepcopy(server.conversations[42]) | {"id": 44}
    carla = server.conversations[44]["meta"]["sender"] | {"id": 503, "name": "Carla", "phone_number": "+31600000503"}
    server.conversations[44]["meta"]["sender"] = carla
    first = {**server.messages[42][0], "conversation_id": 44, "sender": carla}
    server.messages[44] = [{**first, "id": 9700, "content": None, "created_at": T0 + HOUR},  # nothing we can read
                           note(9701, "Bot-gesprek, klant komt nog terug", 12, T0 + HOUR + 10)]
    active(server, 44, T0 + HOUR + 10)
    team.now[0] = T0 + HOUR + MINUTE
    [status] = await team.sync.sync_once()
    assert "44:9700: no text and no attachment" in status.skipped and team.case_of("44:") is None
    assert store.counts()["memos"] == 2  # kept, not lost: Chatwoot will not list the note again
    server.messages[44].append({**first, "id": 9702, "content": "Hallo, ik ben er weer", "created_at": T0 + 2 * HOUR})
    active(server, 44, T0 + 2 * HOUR)
    team.now[0] = T0 + 2 * HOUR
    [status] = await team.sync.sync_once()
    case_id = team.case_of("44:")
    assert status.new_messages == 1 and case_id in status.cases
    assert memos(store, case_id) == [("jeroen", "Bot-gesprek, klant komt nog terug", T0 + HOUR + 10)]
    assert store.author_memos(store.get_case(case_id)["author_id"])[0]["text"] == "Bot-gesprek, klant komt nog terug"


async def test_a_reply_the_channel_refused_after_it_was_sent_is_failed_with_the_reason(server, team):
    from webcare_tui.case_view import read_case

    store = team.store
    case_id = team.case_of("42:")
    outbox_id = team.outbox.queue_reply(case_id, "Komt goed, Anna!", agent="tim")
    assert await team.deliver_all() == ["sent"]
    assert store.outbox_row(outbox_id)["remote_id"] == "42:9501"
    # WhatsApp refuses it a moment later; Chatwoot marks the message failed with the channel's error
    refused = next(m for m in server.messages[42] if m.get("id") == 9501)
    refused.update(status="failed", content_attributes={
        "external_error": "(#131047) Re-engagement message: more than 24 hours have passed"})
    team.now[0] = T0 + HOUR + MINUTE
    [status] = await team.sync.sync_once()
    row = store.outbox_row(outbox_id)
    assert (row["state"], row["last_error"]) == ("failed", "Chatwoot could not deliver the message: (#131047)"
                                                           " Re-engagement message: more than 24 hours have passed")
    assert case_id in status.cases and status.state == "online"  # the open case screen reads it again
    assert "42:9501: not delivered ((#131047) Re-engagement message: more than 24 hours have passed)" in status.skipped
    # shown as a reply refused at once is: undelivered in the case, counted in the header, to retry or discard
    view = read_case(store, case_id)
    ours = next(m for m in view.messages if m["external_id"] == "42:9501")
    assert next(r for r in view.outbox if r["payload"].get("message_id") == ours["id"])["state"] == "failed"
    assert team.outbox.last_undelivered(case_id)["id"] == outbox_id and store.outbox_waiting() == 1
    # read again: nothing changes
    before = store.outbox_row(outbox_id)
    team.now[0] += MINUTE
    store.save_sync_state("team", cursor=None, state="online", last_error=None, last_sync_at=None, failures=0)
    await team.sync.sync_once()
    assert store.outbox_row(outbox_id) == before
    # sent again, it is delivered; the old failure, read once more, does not touch it
    team.outbox.retry(outbox_id, "tim")
    assert await team.deliver_all() == ["sent"]
    store.save_sync_state("team", cursor=None, state="online", last_error=None, last_sync_at=None, failures=0)
    await team.sync.sync_once()
    assert store.outbox_row(outbox_id)["state"] == "sent" and store.outbox_waiting() == 0
