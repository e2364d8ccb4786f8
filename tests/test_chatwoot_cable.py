"""Issue 17, team mode in real time: Chatwoot's ActionCable link, into wake-ups of the sync, typing and presence.

The realtime side is a fake ActionCable server run in-process on 127.0.0.1 with the same websocket
library: it speaks Rails ActionCable's JSON frames (welcome, a ping every few hundred ms, confirm or
reject_subscription, disconnect, broadcasts `{"identifier", "message": {"event", "data"}}`) and
Chatwoot's RoomChannel (app/channels/room_channel.rb): it streams for the pubsub_token of the user and
account it names, rejects any other, and answers `subscribed` and `update_presence` with a
`presence.update`. The events carry Chatwoot's payloads, built field by field from the methods that
make them: Message#push_event_data (app/models/message.rb), Conversations::EventDataPresenter#push_data,
User#push_event_data and Contact#push_event_data, with the `account_id` that ActionCableListener#broadcast
merges in. The HTTP side is the respx Chatwoot of tests/test_connector_chatwoot.py.

Nothing waits by sleeping: each test waits on a signal (a sync round, a health change, an update of
the live state) with a timeout that fails it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
from collections.abc import AsyncIterator, Coroutine
from http import HTTPStatus
from typing import Any

import pytest
import respx
from conftest import HOUR, T0
from test_connector_chatwoot import BASE, PREFIX, PUBSUB, TOKEN, Chatwoot, make
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from webcare_tui.connectors.chatwoot_cable import (
    BadFrame,
    ChatwootCable,
    ConversationChanged,
    LiveState,
    LiveUpdate,
    PresenceChanged,
    TypingChanged,
    Typist,
    UnknownEvent,
    cables_for,
    read_event,
    read_frame,
)
from webcare_tui.supervisor import Health, Supervisor
from webcare_tui.sync import SyncRunner, SyncStatus

QUIET = logging.getLogger("test.fake_cable")  # the fake server's frames (the token in them) are not logged
QUIET.setLevel(logging.WARNING)
NOW = T0 + HOUR


# -- Chatwoot's payloads --------------------------------------------------------------------------------


ANNA = {  # Contact#push_event_data
    "additional_attributes": {}, "custom_attributes": {}, "email": None, "id": 501, "identifier": None,
    "name": "Anna Jansen 🌷", "phone_number": "+31612345678", "thumbnail": "", "blocked": False, "type": "contact"}
SANNE = {  # User#push_event_data
    "id": 14, "name": "Sanne de Boer", "available_name": "Sanne", "avatar_url": "", "type": "user",
    "availability_status": "online", "thumbnail": ""}


def message_created(message_id: int, content: str, at: int, conversation_id: int = 42) -> dict[str, Any]:
    """Message#push_event_data: its attributes, created_at in epoch seconds, message_type as its integer,
    conversation_id the display id, a summary of the conversation and the sender's push data."""
    return {"id": message_id, "content": content, "account_id": 3, "inbox_id": 7, "conversation_id": conversation_id,
            "message_type": 0, "created_at": at, "updated_at": "2025-11-24T17:01:00.000Z", "private": False,
            "status": "sent", "source_id": "wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQTdF", "content_type": "text",
            "content_attributes": {}, "sender_type": "Contact", "sender_id": 501, "external_source_ids": {},
            "additional_attributes": {}, "processed_message_content": content, "sentiment": {},
            "conversation": {"assignee_id": 12, "unread_count": 1, "last_activity_at": at,
                             "contact_inbox": {"source_id": "31612345678"}},
            "sender": ANNA}


def conversation_push_data(server: Chatwoot, conversation_id: int = 42) -> dict[str, Any]:
    """Conversations::EventDataPresenter#push_data of the fake server's conversation, with account_id."""
    conversation = server.conversations[conversation_id]
    return {"additional_attributes": {}, "can_reply": True, "channel": "Channel::Whatsapp",
            "contact_inbox": {"id": 88, "contact_id": 501, "inbox_id": 7, "source_id": "31612345678",
                              "created_at": "2025-11-24T16:00:00.000Z", "updated_at": "2025-11-24T16:00:00.000Z",
                              "hmac_verified": False, "pubsub_token": "contact-inbox-token"},
            "id": conversation_id, "inbox_id": 7, "messages": [], "labels": conversation.get("labels", []),
            "meta": {"sender": ANNA, "assignee": {**SANNE, "id": 12, "name": "Jeroen de Vries",
                                                  "available_name": "Jeroen"}, "team": None, "hmac_verified": False},
            "status": conversation["status"], "custom_attributes": {}, "snoozed_until": None, "unread_count": 0,
            "first_reply_created_at": T0 + 120, "priority": conversation.get("priority"), "waiting_since": 0,
            "agent_last_seen_at": T0 + 240, "contact_last_seen_at": 0,
            "last_activity_at": conversation["last_activity_at"], "timestamp": conversation["last_activity_at"],
            "created_at": T0, "updated_at": float(conversation["updated_at"]), "account_id": 3}


def typing(server: Chatwoot, who: dict[str, Any], *, private: bool = False) -> dict[str, Any]:
    """ActionCableListener#conversation_typing_on/off: the conversation's and the user's push data."""
    return {"conversation": conversation_push_data(server), "user": who, "is_private": private, "account_id": 3}


# -- the fake ActionCable server --------------------------------------------------------------------------


class Cable:
    """Chatwoot's /cable: ActionCable's frames and RoomChannel's rules (see the module docstring)."""

    def __init__(self) -> None:
        self.token, self.user_id, self.account_id = PUBSUB, 12, 3  # the profile's user (Jeroen) may subscribe
        self.connections: list[ServerConnection] = []
        self.commands: list[dict[str, Any]] = []
        self.identifier: str | None = None
        self.subscribed = asyncio.Event()
        self.presence_asked = asyncio.Event()
        self.users = {"12": "online", "14": "busy", "15": "offline"}  # OnlineStatusTracker.get_available_users
        self.ping_every: float | None = 0.2  # Rails beats every 3 s; quicker here
        self.url = ""

    async def handler(self, connection: ServerConnection) -> None:
        self.connections.append(connection)
        await connection.send(json.dumps({"type": "welcome"}))
        pinger = asyncio.create_task(self.ping(connection))
        try:
            async for raw in connection:
                command = json.loads(raw)
                self.commands.append(command)
                if command["command"] == "subscribe":
                    await self.subscribe(connection, command["identifier"])
                elif command["command"] == "message" and json.loads(command["data"]) == {"action": "update_presence"}:
                    self.presence_asked.set()
                    await self.presence(connection)
        except ConnectionClosed:
            pass
        finally:
            pinger.cancel()

    async def subscribe(self, connection: ServerConnection, identifier: str) -> None:
        params = json.loads(identifier)
        # RoomChannel: User.find_by!(pubsub_token:, id: user_id) and current_user.accounts.find(account_id)
        if (params.get("channel"), params.get("pubsub_token"), params.get("user_id"), params.get("account_id")) != (
                "RoomChannel", self.token, self.user_id, self.account_id):
            await connection.send(json.dumps({"identifier": identifier, "type": "reject_subscription"}))
            return
        self.identifier = identifier
        await connection.send(json.dumps({"identifier": identifier, "type": "confirm_subscription"}))
        await self.presence(connection)  # RoomChannel#subscribed: broadcast_presence
        self.subscribed.set()

    async def presence(self, connection: ServerConnection) -> None:
        await self.send(connection, "presence.update", {"account_id": 3, "users": dict(self.users), "contacts": {}})

    async def ping(self, connection: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while self.ping_every is not None:
                await asyncio.sleep(self.ping_every)
                await connection.send(json.dumps({"type": "ping", "message": NOW}))

    async def send(self, connection: ServerConnection, event: str, data: Any) -> None:
        await connection.send(json.dumps({"identifier": self.identifier, "message": {"event": event, "data": data}}))

    async def broadcast(self, event: str, data: Any) -> None:
        """ActionCable.server.broadcast(pubsub_token, {event:, data:}) to the subscribed connection."""
        await self.send(self.connections[-1], event, data)

    async def raw(self, frame: str | bytes) -> None:
        await self.connections[-1].send(frame)


@pytest.fixture
async def cable() -> AsyncIterator[Cable]:
    fake = Cable()

    def only_cable(connection: ServerConnection, request: Any) -> Any:
        return None if request.path == "/cable" else connection.respond(HTTPStatus.NOT_FOUND, "no cable here\n")

    async with serve(fake.handler, "127.0.0.1", 0, subprotocols=["actioncable-v1-json"],
                     process_request=only_cable, logger=QUIET) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        fake.url = f"ws://127.0.0.1:{port}/cable"
        yield fake


@pytest.fixture
def server():
    chatwoot = Chatwoot()
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="chat.example.com").mock(side_effect=chatwoot.handle)
        yield chatwoot


# -- waiting on signals -------------------------------------------------------------------------------------


class Signals:
    """What a callback reports, to wait on in order: `next` fails the test after `timeout` seconds."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.seen: list[Any] = []

    def clear(self) -> None:
        self.queue = asyncio.Queue()
        self.seen.clear()

    def __call__(self, *item: Any) -> None:
        value = item[0] if len(item) == 1 else item
        self.seen.append(value)
        self.queue.put_nowait(value)

    async def next(self, what: str, timeout: float = 5.0) -> Any:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            pytest.fail(f"gave up after {timeout} s waiting for {what}")

    async def until(self, what: str, match, timeout: float = 5.0) -> Any:
        """The next item that `match`es, all before it passed over."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            item = await self.next(what, max(deadline - loop.time(), 0.001))
            if match(item):
                return item


@contextlib.asynccontextmanager
async def running(*work: Coroutine[Any, Any, None]) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run `work` as tasks for the block; cancelled and awaited after it (a task's failure is raised)."""
    tasks = [asyncio.create_task(coroutine) for coroutine in work]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def link(connector, wake, **options) -> ChatwootCable:
    """A cable that retries quickly (tests wait for its reconnects)."""
    return ChatwootCable(connector, wake, first_retry=0.05, max_retry=0.2, rng=random.Random(1), **options)


class Console:
    """One agent's console in team mode: the store, the sync (polling every hour, so only a wake brings
    anything within a test), the realtime link, and what they report."""

    def __init__(self, store, http, cable: Cable, **options) -> None:
        self.store = store
        self.connector = make(http, cable_url=cable.url)
        self.rounds = Signals()  # SyncStatus of every sync round
        self.health = Signals()  # Health of the realtime link
        self.updates = Signals()  # LiveUpdate of the live state
        self.runner = SyncRunner(store, {"team": self.connector}, on_status=self.rounds, clock=lambda: NOW)
        self.supervisor = Supervisor(self.health, redact=self.connector.redact)
        self.live = LiveState()
        self.cable = link(self.connector, self.runner.wake, live=self.live, health=self.supervisor,
                          on_update=self.updates, **options)

    @contextlib.asynccontextmanager
    async def started(self) -> AsyncIterator[None]:
        """The first sync done, the link up (its catch-up wake given), then the sync's loop at rest."""
        await self.runner.sync_once()
        self.rounds.clear()
        async with running(self.cable.run()):
            up = await self.health.next("the realtime link to come up")
            assert up == Health("realtime team", True)
            async with running(self.runner.run(interval=3600)):
                await self.rounds.next("the sync's first round (it takes the catch-up)")
                yield

    def case_of(self, thread: str) -> int:
        return self.store.case_of_thread("chatwoot", thread)


# -- frames and events, as read ---------------------------------------------------------------------------


@pytest.mark.parametrize("event, data, expected", [
    ("message.created", message_created(9300, "Hallo?", NOW), ConversationChanged(42, "message.created")),
    ("message.updated", message_created(9300, "Hallo?", NOW) | {"conversation_id": "43"},
     ConversationChanged(43, "message.updated")),  # ids as text, as some servers send them
    ("conversation.updated", conversation_push_data(Chatwoot()), ConversationChanged(42, "conversation.updated", {})),
    ("conversation.status_changed", conversation_push_data(Chatwoot()),
     ConversationChanged(42, "conversation.status_changed", {})),
    ("assignee.changed", conversation_push_data(Chatwoot()), ConversationChanged(42, "assignee.changed", {})),
    ("team.changed", conversation_push_data(Chatwoot()), ConversationChanged(42, "team.changed", {})),
    ("conversation.created", conversation_push_data(Chatwoot()), ConversationChanged(42, "conversation.created", {})),
    ("conversation.typing_on", typing(Chatwoot(), SANNE), TypingChanged(42, True, "agent", 14, "Sanne", False)),
    ("conversation.typing_off", typing(Chatwoot(), ANNA, private=False),
     TypingChanged(42, False, "customer", 501, "Anna Jansen 🌷", False)),
    ("conversation.typing_on", typing(Chatwoot(), SANNE, private=True),
     TypingChanged(42, True, "agent", 14, "Sanne", True)),
    ("presence.update", {"account_id": 3, "users": {"12": "online", "14": "busy"}, "contacts": {"501": "online"}},
     PresenceChanged({12: "online", 14: "busy"})),
    ("presence.update", {"account_id": 4, "users": {"12": "online"}}, None),  # another account of the same user
    ("contact.updated", {"account_id": 3, "id": 501}, None),  # Chatwoot's, nothing for us to do
    ("notification.created", {"account_id": 3}, None),
])
def test_chatwoots_events_are_read_into_typed_events(event, data, expected):
    assert read_event({"event": event, "data": data}, account_id=3) == expected


@pytest.mark.parametrize("message, reason", [
    ({"data": {}}, "a broadcast without an event name"),
    ("presence.update", "a broadcast without an event name"),
    ({"event": "conversation.exploded", "data": {"account_id": 3}}, "unknown event 'conversation.exploded'"),
    ({"event": "message.created", "data": None}, "message.created without data"),
    ({"event": "message.created", "data": {"id": 9300}}, "message.created without account_id"),
    ({"event": "message.created", "data": {"account_id": 3, "id": 9300}}, "message.created without conversation_id"),
    ({"event": "conversation.updated", "data": {"account_id": 3}}, "conversation.updated without id"),
    ({"event": "conversation.typing_on", "data": {"account_id": 3, "conversation": {"id": 42}}},
     "conversation.typing_on without conversation.id or user.id"),
    ({"event": "presence.update", "data": {"account_id": 3, "users": ["12"]}}, "presence.update without users"),
])
def test_events_that_cannot_be_read_say_why(message, reason):
    with pytest.raises(BadFrame) as bad:
        read_event(message, account_id=3)
    assert str(bad.value) == reason
    assert isinstance(bad.value, UnknownEvent) == reason.startswith("unknown")


@pytest.mark.parametrize("raw, reason", [
    ("{not json", "a frame that is not JSON (9 characters)"),
    ("[1, 2]", "a frame that is not a JSON object but list"),
    (b"\x00\x01", "a binary frame (2 bytes); ActionCable sends JSON text"),
])
def test_frames_that_cannot_be_read_say_why_without_quoting_them(raw, reason):
    with pytest.raises(BadFrame, match=reason.replace("(", r"\(").replace(")", r"\)")):
        read_frame(raw)
    assert read_frame('{"type": "ping", "message": 1764003600}') == {"type": "ping", "message": 1764003600}


# -- the link --------------------------------------------------------------------------------------------


async def test_it_subscribes_to_room_channel_with_the_pubsub_token_as_the_dashboard_does(server, http, store, cable):
    console = Console(store, http, cable)
    async with running(console.cable.run()):
        assert await console.health.next("the link to come up") == Health("realtime team", True)
        assert console.live.connected("team") and console.live.problem("team") is None
    assert not console.live.connected("team")  # stopped: the link is down
    request = cable.connections[0].request
    assert request is not None and request.path == "/cable"
    assert request.headers["Origin"] == BASE  # as the dashboard's page, for ActionCable's origin check
    assert request.headers["Sec-WebSocket-Protocol"] == "actioncable-v1-json, actioncable-unsupported"
    # the profile first (the pubsub token), then the dashboard's subscription, field for field, in its order
    assert ("GET", "/api/v1/profile", None) in server.calls()
    subscribe = cable.commands[0]
    assert subscribe == {"command": "subscribe", "identifier":
                         f'{{"channel":"RoomChannel","pubsub_token":"{PUBSUB}","account_id":3,"user_id":12}}'}


async def test_a_message_created_wakes_the_sync_and_the_message_lands_within_a_second(server, http, store, cable):
    console = Console(store, http, cable)
    async with console.started():
        # a customer writes: Chatwoot stores the message and broadcasts message.created
        server.messages[42].append({**server.messages[42][0], "id": 9300, "content": "Zijn jullie er nog?",
                                    "created_at": NOW + 60})
        server.conversations[42].update(last_activity_at=NOW + 60, updated_at=NOW + 60)
        started = asyncio.get_running_loop().time()
        await cable.broadcast("message.created", message_created(9300, "Zijn jullie er nog?", NOW + 60))
        status: SyncStatus = await console.rounds.next("the sync woken by message.created", timeout=1.0)
        took = asyncio.get_running_loop().time() - started
    assert status.new_messages == 1 and took < 1.0
    [message] = [m for m in store.case_messages(console.case_of("42:")) if m["external_id"] == "42:9300"]
    assert message["text"] == "Zijn jullie er nog?" and console.case_of("42:") in status.cases
    # the conversation named was read by id, whatever the cursor said
    assert ("GET", f"{PREFIX}/42", None) in server.calls()


async def test_a_teammates_priority_without_new_activity_arrives_through_conversation_updated(
        server, http, store, cable):
    console = Console(store, http, cable)
    async with console.started():
        case_id = console.case_of("42:")
        assert store.get_case(case_id)["priority"] == 0
        # Sanne makes it urgent in Chatwoot: updated_at moves (as to_f), last_activity_at does not, so the
        # poll's walk would pass the conversation by
        server.conversations[42].update(priority="urgent", updated_at=NOW + 30.5)
        await cable.broadcast("conversation.updated", conversation_push_data(server))
        status = await console.rounds.next("the sync woken by conversation.updated", timeout=1.0)
    assert store.get_case(case_id)["priority"] == 3 and case_id in status.cases
    [event] = [e for e in store.case_events(case_id) if e["kind"] == "priority"]
    assert (event["actor"], event["detail"]) == ("chatwoot", {"from": 0, "to": 3})


async def test_typing_on_off_and_expiry(server, http, store, cable):
    console = Console(store, http, cable, typing_timeout=3.0)  # room for the steps before it runs out
    live, typing_in_42 = console.live, lambda update: update == LiveUpdate("team", "typing", "42:")
    async with running(console.cable.run()):
        await asyncio.wait_for(cable.subscribed.wait(), 5)
        await cable.broadcast("conversation.typing_on", typing(server, SANNE, private=True))
        await console.updates.until("Sanne typing", typing_in_42)
        [sanne] = live.typing("team", "42:")
        assert (sanne.name, sanne.kind, sanne.agent, sanne.private) == ("Sanne", "agent", "sanne", True)
        await cable.broadcast("conversation.typing_on", typing(server, ANNA))
        await console.updates.until("Anna typing", typing_in_42)
        assert [(t.name, t.kind, t.agent) for t in live.typing("team", "42:")] == [
            ("Anna Jansen 🌷", "customer", None), ("Sanne", "agent", "sanne")]
        assert live.typing_threads("team") == {"42:": live.typing("team", "42:")}
        await cable.broadcast("conversation.typing_off", typing(server, SANNE))
        await console.updates.until("Sanne stopped", typing_in_42)
        assert [t.name for t in live.typing("team", "42:")] == ["Anna Jansen 🌷"]
        # Anna's typing_off never comes (a lost frame, a closed tab): it ends by itself
        started = asyncio.get_running_loop().time()
        await console.updates.until("Anna's typing to run out", typing_in_42, timeout=8.0)
        assert live.typing("team", "42:") == [] and live.typing_threads("team") == {}
        assert asyncio.get_running_loop().time() - started < 3.5  # by its own timer, not a later event


def test_typing_read_after_its_time_is_over_is_gone_even_before_the_timer():
    now = [100.0]
    live = LiveState(clock=lambda: now[0])
    live.start_typing("team", "42:", ("agent", 14), Typist("Sanne", "agent", "sanne", False, until=130.0))
    assert [t.name for t in live.typing("team", "42:")] == ["Sanne"]
    now[0] = 130.0
    assert live.typing("team", "42:") == []
    assert live.expire() == [("team", "42:")] and live.next_expiry() is None


async def test_presence_maps_chatwoot_users_to_our_agents_and_is_kept_up(server, http, store, cable):
    console = Console(store, http, cable, presence_every=0.3)
    live, seen = console.live, Signals()
    console.cable.on_update = lambda update: seen((update.kind, live.online("team")))  # as it was then
    async with running(console.cable.run()):
        await seen.until("the presence after subscribing", lambda item: item[0] == "presence")
        assert live.presence("team") == {"jeroen": "online", "sanne": "busy", "chatwoot:15": "offline"}
        assert live.online("team") == {"jeroen", "sanne"}
        # another account's presence (the same user in two Chatwoot accounts) changes nothing here
        await cable.broadcast("presence.update", {"account_id": 4, "users": {"14": "online"}})
        await cable.broadcast("conversation.typing_on", typing(server, SANNE))  # frames are read in order
        await seen.until("the typing after it", lambda item: item[0] == "typing")
        assert ("presence", {"sanne"}) not in seen.seen
        cable.users = {"12": "online"}  # Sanne went away: OnlineStatusTracker forgot her
        cable.presence_asked.clear()
        await asyncio.wait_for(cable.presence_asked.wait(), 2.0)  # every presence_every, as the dashboard does
        await seen.until("the presence answered", lambda item: item == ("presence", {"jeroen"}))
        perform = next(c for c in cable.commands if c["command"] == "message")
        assert perform == {"command": "message", "identifier": cable.identifier, "data": '{"action":"update_presence"}'}
    assert live.presence("team") == {} and not live.connected("team")  # away: nobody is known to be online


async def test_after_the_server_drops_the_link_it_reconnects_and_a_catch_up_poll_runs(server, http, store, cable):
    console = Console(store, http, cable)
    async with console.started():
        # a message arrives while the link is cut: its message.created is lost with the connection
        server.messages[42].append({**server.messages[42][0], "id": 9400, "content": "Hallo??", "created_at": NOW + 90})
        server.conversations[42].update(last_activity_at=NOW + 90, updated_at=NOW + 90)
        assert cable.connections[0].transport is not None
        cable.connections[0].transport.abort()  # no close frame: the network went
        down = await console.health.next("the link reported down")
        assert down.name == "realtime team" and not down.up
        assert down.problem == "the realtime link to Chatwoot was cut (code 1006); the sync polls meanwhile"
        assert 0 < down.retry_in <= 0.2 and console.live.problem("team") == down.problem
        assert await console.health.next("the link back up") == Health("realtime team", True)
        status = await console.rounds.next("the catch-up poll after reconnecting")
        assert status.new_messages == 1
        assert len(cable.connections) == 2 and [c["command"] for c in cable.commands].count("subscribe") == 2
        # a server restart asks us back (disconnect, reconnect: true): no trouble to tell, only a catch-up
        await cable.raw(json.dumps({"type": "disconnect", "reason": "server_restart", "reconnect": True}))
        await console.rounds.next("the catch-up poll after the restart")
        assert len(cable.connections) == 3 and console.live.connected("team")
    assert [h.up for h in console.health.seen] == [True, False, True]
    assert store.case_messages(console.case_of("42:"))[-1]["external_id"] == "42:9400"


async def test_a_link_that_goes_quiet_is_replaced(server, http, store, cable):
    cable.ping_every = None  # the server stops beating: a half-open connection
    console = Console(store, http, cable, stale_after=0.3)
    async with running(console.cable.run()):
        await console.health.next("the link up")
        down = await console.health.next("the quiet link reported")
        assert down.problem == "Chatwoot's realtime link went quiet (no ping for 0.3 s); the sync polls meanwhile"
        await console.health.next("a new link up")
    assert len(cable.connections) >= 2


async def test_bad_frames_are_skipped_and_reported_and_the_link_goes_on(server, http, store, cable, caplog):
    caplog.set_level(logging.DEBUG)
    wakes = Signals()
    console = Console(store, http, cable)
    console.cable = link(console.connector, wakes, live=console.live, on_update=console.updates)
    async with running(console.cable.run()):
        await wakes.next("the catch-up wake after subscribing")
        await cable.raw("{not json")
        await cable.raw(b"\x00\x01")
        await cable.raw(json.dumps({"type": "weird"}))
        await cable.raw(json.dumps({"message": {"event": "message.created", "data": {}}}))  # no identifier
        for _ in range(2):  # a newer server's event: told once
            await cable.broadcast("conversation.exploded", {"account_id": 3, "id": 42})
        await cable.broadcast("message.created", {"account_id": 3, "id": 9300})  # no conversation_id
        await cable.broadcast("conversation.typing_on", {"account_id": 3, "conversation": {"id": 42}})  # no user
        await cable.broadcast("contact.updated", ANNA | {"account_id": 3})  # known, not ours: nothing to tell
        await cable.broadcast("message.created", message_created(9300, "Hallo?", NOW))
        assert await wakes.next("the wake of the good message after them") == ("team", ["42:"])
    skipped = [u.detail for u in console.updates.seen if u.kind == "skipped"]
    assert skipped == ["a frame that is not JSON (9 characters)", "a binary frame (2 bytes); ActionCable sends JSON text",
                       "a frame of unknown type 'weird'", "a broadcast without an identifier",
                       "unknown event 'conversation.exploded'", "message.created without conversation_id",
                       "conversation.typing_on without conversation.id or user.id"]
    assert list(console.live.skipped) == [f"team: {reason}" for reason in skipped]
    assert all(f"realtime team: skipped {reason}" in caplog.text for reason in skipped)
    assert "Traceback" not in caplog.text and PUBSUB not in caplog.text


@pytest.mark.parametrize("trouble, problem", [
    ("rejected", "Chatwoot refused the realtime subscription (RoomChannel): it did not take this agent's pubsub token"),
    ("revoked", "cannot open the realtime link: Chatwoot refused the token (401: Invalid Access Token); sign in again"
                " with `webcare accounts add`"),
    ("no cable", "Chatwoot refused the realtime connection (HTTP 404: no realtime link there (is cable_url right?))"),
    ("unreachable", "cannot reach Chatwoot's realtime link at 127.0.0.1:{port} (ConnectionRefusedError)"),
])
async def test_a_failed_link_is_told_in_plain_words_once_retried_and_the_token_is_never_logged(
        server, http, store, cable, caplog, log_file, trouble, problem):
    from webcare_tui.supervisor import start_log

    caplog.set_level(logging.DEBUG)  # the websocket library's frames too, if it logged them
    console = Console(store, http, cable)
    start_log(console.connector.redact)  # the app's log file, as the console writes it
    if trouble == "rejected":
        cable.token = "another-agents-token"
    elif trouble == "revoked":
        console.connector = make(http, token="revoked-token", cable_url=cable.url)
    elif trouble == "no cable":
        console.connector = make(http, cable_url=cable.url.replace("/cable", "/websocket"))
    else:
        free = socket.socket()
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
        free.close()  # nothing listens there now
        problem = problem.format(port=port)
        console.connector = make(http, cable_url=f"ws://127.0.0.1:{port}/cable")
    console.cable = link(console.connector, console.runner.wake, live=console.live, health=console.supervisor,
                         on_update=console.updates)
    async with running(console.cable.run()):
        down = await console.health.next("the failure told")
        for attempt in range(3):  # it tries again, and says nothing new while the trouble is the same
            await console.updates.until(f"retry {attempt + 1}", lambda update: update.kind == "link")
    assert down.problem == f"{problem}; the sync polls meanwhile" and 0 < down.retry_in <= 0.2
    assert console.health.seen == [down]  # told once, not at every attempt
    assert console.live.problem("team") == down.problem and not console.live.connected("team")
    written = log_file.read_text(encoding="utf-8") if log_file.exists() else ""
    for where in (caplog.text, written, down.problem):
        assert PUBSUB not in where and TOKEN not in where and "revoked-token" not in where
        assert "Traceback" not in where
    assert f"realtime team: {down.problem}" in caplog.text


async def test_the_pubsub_token_is_masked_wherever_the_connector_redacts(server, http):
    connector = make(http)
    assert await connector.realtime_sign_in() == (12, PUBSUB)
    assert connector.redact(f"identifier pubsub_token={PUBSUB} token {TOKEN}") == "identifier pubsub_token=••• token •••"


async def test_a_link_for_every_chatwoot_account_that_wants_one(http):
    from webcare_tui.config import Account
    from webcare_tui.connectors.demo import DemoConnector

    connectors = {"team": make(http), "quiet": make(http, realtime=False), "demo-x": DemoConnector(Account("demo-x", "demo"))}
    [only] = cables_for(connectors, lambda account, threads: None, live=LiveState())
    assert only.connector is connectors["team"] and only.name == "realtime team"
    assert connectors["team"].cable_url == "wss://chat.example.com/cable"  # the dashboard's default: the server's own
    assert make(http, cable_url="wss://cable.example.com/cable").cable_url == "wss://cable.example.com/cable"


async def test_a_wake_syncs_the_account_at_once_reading_every_conversation_named(server, http, store):
    rounds = Signals()
    runner = SyncRunner(store, {"team": make(http)}, on_status=rounds, clock=lambda: NOW)
    async with running(runner.run(interval=3600)):
        await rounds.next("the first round")
        runner.wake("team", ["42:"])
        runner.wake("team", ["43:"])  # two before it runs: one round reads both
        await rounds.next("the woken round", timeout=1.0)
        shown = {c[1] for c in server.calls() if c[0] == "GET" and c[1].rsplit("/", 1)[-1].isdigit()}
        assert shown == {f"{PREFIX}/42", f"{PREFIX}/43"}
        runner.wake("elsewhere", ["1:"])  # not an account of this sync: nothing
        assert rounds.queue.empty()
