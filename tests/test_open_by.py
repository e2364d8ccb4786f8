"""Issue 17, team mode in real time: who else has a case open, told through Chatwoot itself.

Chatwoot has no "viewing" event (chatwoot#11062), so each console keeps a marker in the conversation's
custom_attributes, `webcare_open:<agent id>` = until when (epoch seconds), through the documented
`POST /api/v1/accounts/{id}/conversations/{id}/custom_attributes`. Chatwoot's controller assigns that
hash (`@conversation.custom_attributes = params.permit(custom_attributes: {})[:custom_attributes]`; newer
servers merge only when asked with `merge`), so the fake server here REPLACES it, as Chatwoot does, and
renders `custom_attributes.json.jbuilder` ({"custom_attributes": …}). A change of custom_attributes is in
Conversation#list_of_keys: Chatwoot broadcasts it as `conversation.updated` with the conversation's push
data (Conversations::EventDataPresenter#push_data, custom_attributes in it), which the fake ActionCable
server of tests/test_chatwoot_cable.py sends.

Nothing waits by sleeping: each test waits on the app's signals, the live state's updates or what the
screen shows, with a timeout that fails it.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
import respx
from conftest import HOUR, T0, press, screen_lines, settle, wait_for
from test_chatwoot_cable import Cable, Console, Signals, cable, conversation_push_data
from test_connector_chatwoot import PREFIX, TOKEN, Chatwoot, make

from webcare_tui.app import OPEN_FOR, make_app
from webcare_tui.config import Account, Agent, Config
from webcare_tui.connectors.base import Connector, ConnectorError, FetchResult, OutgoingReply, SentReply
from webcare_tui.connectors.chatwoot import open_marks
from webcare_tui.connectors.chatwoot_cable import ConversationChanged, LiveState, LiveUpdate, read_event
from webcare_tui.screens.inbox import InboxScreen
from webcare_tui.widgets.case_list import CaseList

__all__ = ["cable"]  # the fake ActionCable server's fixture, used here too
NOW = T0 + HOUR
ORDER = {"order_id": "12345", "previous_conversation": "67890"}  # the swagger's example: set by someone else


class Helpdesk(Chatwoot):
    """The fake Chatwoot of test_connector_chatwoot, with `POST …/custom_attributes` as Chatwoot's controller."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        match = re.fullmatch(rf"{PREFIX}/(\d+)/custom_attributes", request.url.path)
        if match is None or request.method != "POST" or request.headers.get("api_access_token") != TOKEN:
            return super().handle(request)
        self.requests.append(request)
        conversation = self.conversations.get(int(match[1]))
        if conversation is None:
            return httpx.Response(404, json={"error": "Resource could not be found"})
        # ConversationsController#custom_attributes: an assignment of the whole hash, then save!
        conversation["custom_attributes"] = json.loads(request.content)["custom_attributes"]
        conversation["updated_at"] = self.now
        return httpx.Response(200, json={"custom_attributes": conversation["custom_attributes"]})

    def attributes_posted(self, conversation_id: int = 42) -> list[dict[str, Any]]:
        return [body["custom_attributes"] for method, path, body in self.calls()
                if method == "POST" and path == f"{PREFIX}/{conversation_id}/custom_attributes" and body]


@pytest.fixture
def server():
    helpdesk = Helpdesk()
    helpdesk.conversations[42]["custom_attributes"] = dict(ORDER)
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="chat.example.com").mock(side_effect=helpdesk.handle)
        yield helpdesk


# -- the connector: our marker, never anyone else's attributes ----------------------------------------------


async def test_our_marker_is_written_beside_what_others_set_and_taken_out_alone(server, http):
    connector = make(http)
    seen: list[tuple[str, dict[str, int]]] = []
    connector.on_open_marks = lambda thread, marks: seen.append((thread, marks))
    # Sanne's console marked it before us; a console that crashed a day ago left its marker behind
    server.conversations[42]["custom_attributes"] |= {"webcare_open:sanne": NOW + 90,
                                                      "webcare_open:noah": NOW - 24 * HOUR}
    await connector.set_open("42:9007", "jeroen", NOW + 120)
    assert server.attributes_posted() == [ORDER | {"webcare_open:sanne": NOW + 90, "webcare_open:jeroen": NOW + 120}]
    assert ("GET", f"{PREFIX}/42", None) in server.calls()  # read just before: the POST replaces the hash
    assert seen == [("42:", {"sanne": NOW + 90, "jeroen": NOW + 120})]  # who else has it open, at once

    server.conversations[42]["custom_attributes"]["vip"] = True  # a teammate sets one meanwhile
    await connector.set_open("42:9007", "jeroen", None)
    assert server.attributes_posted()[-1] == ORDER | {"vip": True, "webcare_open:sanne": NOW + 90}
    assert server.conversations[42]["custom_attributes"] == ORDER | {"vip": True, "webcare_open:sanne": NOW + 90}

    writes = len(server.attributes_posted())
    await connector.set_open("42:9007", "jeroen", None)  # nothing of ours there: nothing written
    assert len(server.attributes_posted()) == writes


async def test_a_conversation_without_custom_attributes_gets_our_marker_and_an_empty_hash_back(server, http):
    connector = make(http)
    server.conversations[43]["custom_attributes"] = None  # a conversation that never had any renders null
    await connector.set_open("43:", "jeroen", NOW + 120)
    await connector.set_open("43:", "jeroen", None)
    assert server.attributes_posted(43) == [{"webcare_open:jeroen": NOW + 120}, {}]


async def test_a_conversation_read_without_its_custom_attributes_is_never_written(server, http):
    connector = make(http)
    del server.conversations[42]["custom_attributes"]  # a server (or proxy) that leaves them out
    with pytest.raises(ConnectorError, match="would wipe what others set"):
        await connector.set_open("42:9007", "jeroen", NOW + 120)
    assert server.attributes_posted() == []


@pytest.mark.parametrize("attributes, marks", [
    ({"webcare_open:sanne": NOW + 60, "order_id": "12345"}, {"sanne": NOW + 60}),
    ({"webcare_open:sanne": str(NOW + 60)}, {"sanne": NOW + 60}),  # digits as text: a value set by hand
    ({"webcare_open:sanne": NOW + 60.5}, {"sanne": NOW + 60}),
    ({"webcare_open:": NOW, "webcare_open:x": "soon", "webcare_open:y": None, "webcare_open:z": True}, {}),
    ({"webcare_open:\x1b]0;pwned\x07": NOW + 60, "webcare_open:" + "a" * 65: NOW + 60}, {}),
    (None, {}),
    (["webcare_open:sanne"], {}),
])
def test_markers_are_read_from_custom_attributes_and_nothing_else_is(attributes, marks):
    assert open_marks(attributes) == marks


class Forum(Connector):
    """A platform that keeps no shared case state: nothing to fetch, nothing may be sent."""

    platform = "x"

    async def fetch(self, cursor: str | None) -> FetchResult:
        return FetchResult([], cursor)

    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        raise AssertionError("nothing is sent")


async def test_a_non_chatwoot_account_ignores_it():
    forum = Forum(Account("brand-x", "x", {}))
    assert await forum.set_open("1790000000000000001", "jeroen", NOW + OPEN_FOR) is None
    assert await forum.set_open("1790000000000000001", "jeroen", None) is None


# -- the realtime link and the live state -----------------------------------------------------------------


def test_conversation_updated_carries_who_has_it_open():
    data = conversation_push_data(Helpdesk()) | {"custom_attributes": ORDER | {"webcare_open:sanne": NOW + 60}}
    event = read_event({"event": "conversation.updated", "data": data}, account_id=3)
    assert event == ConversationChanged(42, "conversation.updated", {"sanne": NOW + 60})


def test_who_has_it_open_until_the_end_its_marker_names():
    now, wall = [100.0], [float(NOW)]
    live = LiveState(clock=lambda: now[0], wall=lambda: wall[0])
    assert live.set_open("team", "42:", {"sanne": NOW + 60, "noah": NOW - 1, "jeroen": NOW + 10**9})
    assert live.open_by("team", "42:") == ["jeroen", "sanne"]  # a stale marker is nobody
    assert live.open_threads("team") == {"42:": ["jeroen", "sanne"]}
    assert not live.set_open("team", "42:", {"sanne": NOW + 60, "jeroen": NOW + 10**9})  # nothing changed
    now[0] = 160.0
    assert live.open_by("team", "42:") == ["jeroen"]  # Sanne's ran out, even before the timer
    assert live.expire_open() == [("team", "42:")]
    now[0] = 700.0  # a marker far ahead counts ten minutes at most
    assert live.open_by("team", "42:") == [] and live.expire_open() == [("team", "42:")]
    assert live.next_expiry() is None and live.open_threads("team") == {}


async def test_a_teammates_marker_arrives_with_conversation_updated_and_runs_out(server, http, store, cable):
    console = Console(store, http, cable)
    console.live = console.cable.live = LiveState(wall=lambda: NOW)  # the markers' ends are of the test's time
    opened = Signals()
    updates = console.updates
    console.cable.on_update = lambda update: (updates(update), opened(update) if update.kind == "open" else None)
    async with console.started():
        wakes: list[list[str]] = []
        wake = console.cable.wake
        console.cable.wake = lambda account, threads: (wakes.append(list(threads)), wake(account, threads))
        # Sanne opens the case in her console: Chatwoot stores the marker and broadcasts conversation.updated
        server.conversations[42]["custom_attributes"] |= {"webcare_open:sanne": NOW + 2}
        await cable.broadcast("conversation.updated", conversation_push_data(server) | {
            "custom_attributes": server.conversations[42]["custom_attributes"]})
        assert await opened.next("Sanne's marker") == LiveUpdate("team", "open", "42:")
        assert console.live.open_by("team", "42:") == ["sanne"] and wakes == [["42:"]]
        await console.rounds.next("the sync woken for the conversation")
        # her console renews it a minute later: only the marker moved, so the sync is not woken for it
        server.conversations[42]["custom_attributes"] |= {"webcare_open:sanne": NOW + 3}
        await cable.broadcast("conversation.updated", conversation_push_data(server) | {
            "custom_attributes": server.conversations[42]["custom_attributes"], "updated_at": NOW + 60.5})
        await cable.broadcast("conversation.typing_on", {"conversation": conversation_push_data(server),
                                                         "user": {"id": 14, "type": "user", "name": "Sanne"},
                                                         "account_id": 3})
        await console.updates.until("the frame after it", lambda update: update.kind == "typing")
        assert wakes == [["42:"]]
        # she leaves without a word (her console crashed): the marker runs out by itself
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await opened.next("Sanne's marker to run out", timeout=8.0) == LiveUpdate("team", "open", "42:")
        assert console.live.open_by("team", "42:") == [] and loop.time() - started < 4.0


# -- the console: enter marks the case, esc clears it, a teammate's shows on the case and its row ------------


def console_app(store, http, cable: Cable):
    connector = make(http, cable_url=cable.url)
    config = Config(agent=Agent(id="jeroen", name="Jeroen"),
                    team=({"id": "jeroen", "name": "Jeroen"}, {"id": "sanne", "name": "Sanne [b]de Boer[/b]"}))
    return make_app(config, store, connectors={"team": connector}, clock=lambda: NOW)


async def all_open(pilot, app) -> CaseList:
    """The inbox's All open view, chosen once the inbox is up (a key pressed sooner goes to the screen under it)."""
    await wait_for(pilot, lambda: isinstance(app.screen, InboxScreen), "the inbox")
    await press(pilot, "3")
    cases = app.screen.query_one(CaseList)
    await wait_for(pilot, lambda: app.screen.view_index == 2, "the All open view")
    return cases


async def open_row_of(pilot, cases: CaseList, case_id: int) -> None:
    """Move the cursor to the case's row, as an agent does with the arrow keys, and open it."""
    for _ in range(cases.count):
        row = cases.current_row()
        if row is not None and row.id == case_id:
            break
        await press(pilot, "down")
    await press(pilot, "enter")


async def test_opening_a_case_marks_it_for_teammates_and_a_teammates_mark_shows(server, http, store, cable):
    app = console_app(store, http, cable)
    async with app.run_test(size=(120, 30)) as pilot:
        cases = await all_open(pilot, app)
        await wait_for(pilot, lambda: cases.count >= 1, "the sync to bring the cases")
        case_42 = store.case_of_thread("chatwoot", "42:")
        await asyncio.wait_for(cable.subscribed.wait(), 5)
        # Sanne has conversation 42 open in her console: Chatwoot broadcasts her marker
        changed = Signals()
        app.live_changed.subscribe(app, changed)
        server.conversations[42]["custom_attributes"] |= {"webcare_open:sanne": NOW + 4}
        await cable.broadcast("conversation.updated", conversation_push_data(server) | {
            "custom_attributes": server.conversations[42]["custom_attributes"]})
        assert await changed.next("the live state to say so") == "team"
        await wait_for(pilot, lambda: any("👁 Sanne [b]de Boer[/b]" in line for line in screen_lines(cases)),
                       "the inbox row to say who has it open")

        await open_row_of(pilot, cases, case_42)
        await wait_for(pilot, lambda: server.attributes_posted() != [], "our marker to reach Chatwoot")
        assert server.attributes_posted() == [ORDER | {"webcare_open:sanne": NOW + 4,
                                                       "webcare_open:jeroen": NOW + OPEN_FOR}]
        title = app.screen.query_one("#title")
        await wait_for(pilot, lambda: "👁 Sanne [b]de Boer[/b] has it open" in str(title.render()),
                       "the case header to say who else has it open")
        assert "Jeroen" not in str(title.render())  # never ourselves
        # Sanne's console stops renewing: her marker runs out, and the header says nobody
        await wait_for(pilot, lambda: "👁" not in str(title.render()), "Sanne's marker to run out")

        await press(pilot, "escape")
        await wait_for(pilot, lambda: len(server.attributes_posted()) == 2, "our marker to be taken out")
        assert "webcare_open:jeroen" not in server.attributes_posted()[-1]
        assert server.conversations[42]["custom_attributes"].items() >= ORDER.items()  # never wiped
        await settle(pilot)


async def test_quitting_takes_our_marker_off_the_case_open(server, http, store, cable):
    app = console_app(store, http, cable)
    async with app.run_test(size=(120, 30)) as pilot:
        cases = await all_open(pilot, app)
        await wait_for(pilot, lambda: cases.count >= 1, "the sync to bring the cases")
        await open_row_of(pilot, cases, store.case_of_thread("chatwoot", "42:"))
        await wait_for(pilot, lambda: len(server.attributes_posted()) == 1, "our marker to reach Chatwoot")
        await pilot.press("ctrl+q")  # quitting waits (a few seconds at most) for the marker to be taken out
    assert len(server.attributes_posted()) == 2 and server.conversations[42]["custom_attributes"] == ORDER
