"""Provides `ChatwootCable`: Chatwoot's realtime events for team mode, and `LiveState`: who is typing
where, who has which conversation open, and which agents are online, for the console to show.

Chatwoot's dashboard does not poll: it keeps a websocket to the server's ActionCable
(`wss://<host>/cable`) and subscribes to `RoomChannel` with the signed-in user's `pubsub_token`
(`GET /api/v1/profile`): `{"channel": "RoomChannel", "pubsub_token": …, "account_id": …, "user_id": …}`
(app/javascript/shared/helpers/BaseActionCableConnector.js). This does the same, so a teammate's
message reaches the console within a second; polling (`SyncRunner`) stays the fallback.

ActionCable's JSON frames ("actioncable-v1-json"): the server says `{"type": "welcome"}`, pings
every 3 s (`{"type": "ping", "message": <epoch>}`), confirms or rejects the subscription
(`{"identifier": …, "type": "confirm_subscription"}`), may ask us to go
(`{"type": "disconnect", "reason": …, "reconnect": bool}`), and broadcasts
`{"identifier": …, "message": {"event": …, "data": …}}`. We send `{"command": "subscribe", …}`, and
every 20 s `update_presence` as the dashboard does (its PRESENCE_INTERVAL: Chatwoot's
OnlineStatusTracker forgets a user after 20 s), which answers with a `presence.update`.

The events (app/listeners/action_cable_listener.rb; `data` is the object's `push_event_data` with
`account_id`): a conversation's `conversation.created|updated|status_changed|contact_changed`,
`assignee.changed`, `team.changed` (data: the conversation, `id` its display id), a message's
`message.created|updated` (data: the message, `conversation_id` the display id) → which
conversation changed: the sync is woken to read it now. `conversation.typing_on|off` (data:
`conversation`, `user`: an agent's, a contact's or a bot's push data, `is_private`) → who is typing;
typing_off can be lost, so typing ends by itself after 30 s as in the dashboard's
actionCable.js. A conversation event's push data carries the conversation's `custom_attributes`,
where our consoles keep who has it open (`webcare_open:<agent>` = until when, see
`ChatwootConnector.set_open`; Chatwoot has no event of its own for it, chatwoot#11062): read into
`LiveState.open_by`, as are the markers of every conversation the sync reads; a marker past its
end means nobody. A `conversation.updated` that changes nothing but those markers (a console
renewing its own every minute) does not wake the sync. `presence.update` (data: `users`, Chatwoot user id → "online"/"busy"/"offline") →
which agents are online. A user of several Chatwoot accounts gets all of them on one token: events
of other accounts are left alone, as the dashboard's `isAValidEvent` does.

Nothing here is silent: a frame that cannot be read (not JSON, an event we do not know, fields
missing) is skipped, logged and told (`LiveUpdate` "skipped"); a connection that fails is reported
in plain words (`HealthReport`, the supervisor's `report`) and tried again with backoff, and every
(re)connection wakes a catch-up sync for what was missed meanwhile. The pubsub token is a secret
like the access token: the connector's `redact` masks both, and the websocket library's own log
(which would show frames, the token in them) is kept quiet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.typing import Origin, Subprotocol

from webcare_tui.connectors.base import Connector, ConnectorError
from webcare_tui.connectors.chatwoot import OPEN_MARK, ChatwootConnector, as_int, open_marks
from webcare_tui.safe_text import clean

log = logging.getLogger(__name__)
# The websocket library logs every frame at debug level, and a subscribe frame holds the pubsub token.
# It elides the middle of long frames, where the token happens to be, but nothing should rest on that:
# the logger it gets from us says warnings only, whatever level the app or a test sets.
WIRE = logging.getLogger(f"{__name__}.wire")
WIRE.setLevel(logging.WARNING)

PROTOCOLS = [Subprotocol("actioncable-v1-json"), Subprotocol("actioncable-unsupported")]  # as @rails/actioncable
MAX_FRAME = 4 * 1024 * 1024  # a message with its conversation's push data stays far below this
TYPING_TIMEOUT = 30.0  # the dashboard turns typing off after 30 s without a typing_off
PRESENCE_EVERY = 20.0  # the dashboard's PRESENCE_INTERVAL
STALE_AFTER = 10.0  # Rails pings every 3 s; @rails/actioncable reconnects after 6 s without a frame
OPEN_TIMEOUT = 10.0  # connect, welcome and subscription confirmed
FIRST_RETRY, MAX_RETRY = 1.0, 60.0  # reconnect backoff: doubling, capped, ±20 %
OPEN_LONGEST = 600.0  # seconds a teammate's open-marker counts at most, whatever end it names
SEEN_CONVERSATIONS = 2000  # conversation.updated payloads kept to tell a change of open-markers only

# Events that change a conversation or its messages: the sync reads the conversation now.
# conversation.opened/resolved are older servers' names for a status change.
CHANGES = frozenset({"message.created", "message.updated", "conversation.created", "conversation.updated",
                     "conversation.status_changed", "conversation.opened", "conversation.resolved",
                     "conversation.contact_changed", "assignee.changed", "team.changed"})
TYPING = {"conversation.typing_on": True, "conversation.typing_off": False}
PRESENCE = "presence.update"
# Chatwoot's other events (its Events::Types the listener broadcasts): nothing for us to do.
OTHERS = frozenset({"conversation.read", "conversation.mentioned", "conversation.lock_toggle",
                    "conversation.unread_count_changed", "conversation.deleted", "conversation.recording",
                    "contact.created", "contact.updated", "contact.deleted", "contact.merged",
                    "notification.created", "notification.updated", "notification.deleted", "first.reply.created",
                    "account.cache_invalidated", "user:logout", "page:reload"})


class BadFrame(ValueError):
    """A frame or event that cannot be read; the message says why, never quoting the frame (a frame's
    identifier holds the pubsub token)."""


class UnknownEvent(BadFrame):
    """An event Chatwoot sent that we do not know (a newer server's): told once per name."""

    def __init__(self, event: str) -> None:
        super().__init__(f"unknown event {event!r}")
        self.event = event


def thread_of(external_id: str) -> str:
    """The conversation ("42:") of one of its messages' external id ("42:9007"), as LiveState keys it."""
    return external_id.partition(":")[0] + ":"


@dataclass(frozen=True)
class ConversationChanged:
    """A conversation or one of its messages changed in Chatwoot."""

    conversation_id: int  # Chatwoot's display id: the conversation of our external ids ("42:9007")
    event: str  # "message.created", "conversation.updated", …
    # who has it open, from the conversation's custom_attributes (our agent id → until, epoch seconds);
    # None: the event does not say (a message's)
    open_marks: Mapping[str, int] | None = None
    # the push data but for open-markers and updated_at: the same twice is no change the sync has to read
    digest: str | None = field(default=None, compare=False, repr=False)

    @property
    def thread(self) -> str:
        return f"{self.conversation_id}:"


@dataclass(frozen=True)
class TypingChanged:
    """Someone started or stopped typing in a conversation."""

    conversation_id: int
    on: bool
    kind: str  # "agent" (a Chatwoot user), "customer" (the contact) or "bot"
    user_id: int  # the Chatwoot id of that user, contact or bot
    name: str  # as Chatwoot shows it (an agent's available_name)
    private: bool  # an agent writing a private note: the customer does not see it


@dataclass(frozen=True)
class PresenceChanged:
    """Who is online now: the whole set, replacing the one before."""

    users: Mapping[int, str]  # Chatwoot user id → availability: "online", "busy" or "offline"


CableEvent = ConversationChanged | TypingChanged | PresenceChanged


def read_frame(raw: str | bytes) -> dict[str, Any]:
    """One ActionCable frame as its JSON object.

    Raises:
        BadFrame: not text, not JSON, or not an object.
    """
    if not isinstance(raw, str):
        raise BadFrame(f"a binary frame ({len(raw)} bytes); ActionCable sends JSON text")
    try:
        frame = json.loads(raw)
    except ValueError:
        raise BadFrame(f"a frame that is not JSON ({len(raw)} characters)") from None
    if not isinstance(frame, dict):
        raise BadFrame(f"a frame that is not a JSON object but {type(frame).__name__}")
    return frame


def _name(event: str) -> str:
    """An event name fit to quote: cleaned and short."""
    text = clean(event, single_line=True)
    return text if len(text) <= 60 else text[:59] + "…"


def _digest(data: dict[str, Any]) -> str:
    """A conversation's push data as text, but for its open-markers and `updated_at` (which every save moves)."""
    rest = {key: value for key, value in data.items() if key != "updated_at"}
    attributes = rest.get("custom_attributes")
    if isinstance(attributes, dict):
        rest["custom_attributes"] = {key: value for key, value in attributes.items()
                                     if not (isinstance(key, str) and key.startswith(OPEN_MARK))}
    return json.dumps(rest, sort_keys=True, default=str)


def read_event(message: Any, account_id: int) -> CableEvent | None:
    """The typed event of one broadcast `message` ({"event": …, "data": …}).

    Returns:
        The event; None when there is nothing for us to do (another account's, or an event of
        Chatwoot's that we do not use).

    Raises:
        BadFrame: not an event, fields missing or of the wrong type; `UnknownEvent` for a name we do
            not know.
    """
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise BadFrame("a broadcast without an event name")
    event, data = message["event"], message.get("data")
    if event in OTHERS:
        return None
    if event not in CHANGES and event not in TYPING and event != PRESENCE:
        raise UnknownEvent(_name(event))
    if not isinstance(data, dict):
        raise BadFrame(f"{event} without data")
    owner = as_int(data.get("account_id"))
    if owner is None:
        raise BadFrame(f"{event} without account_id")
    if owner != account_id:
        return None  # one token hears every account of its user: this one is not ours
    if event in CHANGES:
        key = "conversation_id" if event.startswith("message.") else "id"
        conversation_id = as_int(data.get(key))
        if conversation_id is None:
            raise BadFrame(f"{event} without {key}")
        if event.startswith("message.") or "custom_attributes" not in data:
            return ConversationChanged(conversation_id, event)
        return ConversationChanged(conversation_id, event, open_marks(data["custom_attributes"]), _digest(data))
    if event in TYPING:
        conversation, user = data.get("conversation"), data.get("user")
        conversation_id = as_int(conversation.get("id")) if isinstance(conversation, dict) else None
        user_id = as_int(user.get("id")) if isinstance(user, dict) else None
        if conversation_id is None or not isinstance(user, dict) or user_id is None:
            raise BadFrame(f"{event} without conversation.id or user.id")
        kind = {"user": "agent", "contact": "customer", "agent_bot": "bot"}.get(str(user.get("type")), "agent")
        name = user.get("available_name") or user.get("name")
        return TypingChanged(conversation_id, TYPING[event], kind, user_id,
                             clean(name, single_line=True) if isinstance(name, str) and name.strip() else "someone",
                             data.get("is_private") is True)
    users = data.get("users")
    if not isinstance(users, dict):
        raise BadFrame(f"{event} without users")
    return PresenceChanged({user_id: str(status) for key, status in users.items()
                            if (user_id := as_int(key)) is not None and isinstance(status, str)})


# -- what the console reads -------------------------------------------------------------------------


@dataclass(frozen=True)
class Typist:
    """Someone typing in a conversation now."""

    name: str  # as Chatwoot shows them
    kind: str  # "agent", "customer" or "bot"
    agent: str | None  # our agent id of an agent ("chatwoot:12" when unmapped); None for the customer or a bot
    private: bool  # an agent writing an internal note
    until: float  # `LiveState.clock` time after which it counts as stopped (a typing_off can be lost)


@dataclass(frozen=True)
class LiveUpdate:
    """What changed in `LiveState` (or was skipped), for the console to refresh what it shows."""

    account: str
    kind: str  # "typing" or "open" (in `thread`), "presence", "link" (up or down), "skipped" (`detail` says why)
    thread: str | None = None
    detail: str | None = None


class LiveState:
    """Who is typing where, which agents are online, and whether each account's realtime link is up:
    plain data the console reads (on the event loop the cables run on). The cables write it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.wall = wall  # epoch seconds, which open-markers name their end in
        self._typing: dict[tuple[str, str], dict[tuple[str, int], Typist]] = {}
        self._open: dict[tuple[str, str], dict[str, float]] = {}  # (account, thread) → agent id → until (clock)
        self._presence: dict[str, dict[str, str]] = {}
        self._links: dict[str, tuple[bool, str | None]] = {}
        self.skipped: deque[str] = deque(maxlen=50)  # the latest frames skipped, "account: why"

    # reading

    def typing(self, account: str, thread: str) -> list[Typist]:
        """Who is typing in the conversation `thread` ("42:", as `RemoteCase.thread`) of `account` now."""
        now = self.clock()
        found = self._typing.get((account, thread), {})
        return sorted((typist for typist in found.values() if typist.until > now), key=lambda typist: typist.name)

    def typing_threads(self, account: str) -> dict[str, list[Typist]]:
        """Every conversation of `account` someone is typing in now → who."""
        found = {thread: self.typing(account, thread) for known, thread in self._typing if known == account}
        return {thread: typists for thread, typists in found.items() if typists}

    def open_by(self, account: str, thread: str) -> list[str]:
        """Who has the conversation `thread` of `account` open now (our agent ids, as their markers say)."""
        now = self.clock()
        return sorted(agent for agent, until in self._open.get((account, thread), {}).items() if until > now)

    def open_threads(self, account: str) -> dict[str, list[str]]:
        """Every conversation of `account` someone has open now → who."""
        found = {thread: self.open_by(account, thread) for known, thread in self._open if known == account}
        return {thread: agents for thread, agents in found.items() if agents}

    def presence(self, account: str) -> dict[str, str]:
        """Our agent id (or "chatwoot:12") → "online", "busy" or "offline", as Chatwoot last said; empty
        while the link is down (then nobody is known to be online)."""
        return dict(self._presence.get(account, {}))

    def online(self, account: str) -> frozenset[str]:
        """The agents of `account` online now (busy ones too)."""
        return frozenset(agent for agent, status in self._presence.get(account, {}).items() if status != "offline")

    def connected(self, account: str) -> bool:
        return self._links.get(account, (False, None))[0]

    def problem(self, account: str) -> str | None:
        """Why the account's realtime link is down, in plain words (None: up, or not tried yet)."""
        return self._links.get(account, (False, None))[1]

    # writing (the cables)

    def start_typing(self, account: str, thread: str, who: tuple[str, int], typist: Typist) -> None:
        self._typing.setdefault((account, thread), {})[who] = typist

    def stop_typing(self, account: str, thread: str, who: tuple[str, int]) -> bool:
        found = self._typing.get((account, thread), {})
        return found.pop(who, None) is not None

    def expire(self) -> list[tuple[str, str]]:
        """Forget typing that ran out; returns the (account, thread) pairs that changed."""
        now, changed = self.clock(), []
        for key, found in list(self._typing.items()):
            for who in [who for who, typist in found.items() if typist.until <= now]:
                del found[who]
                changed.append(key)
            if not found:
                del self._typing[key]
        return list(dict.fromkeys(changed))

    def set_open(self, account: str, thread: str, marks: Mapping[str, int]) -> bool:
        """The conversation's open-markers as last read (our agent id → until, epoch seconds), replacing
        what was known; a marker past its end is nobody, one far ahead counts `OPEN_LONGEST` at most.
        Returns whether who has it open changed."""
        before = self.open_by(account, thread)
        now, wall = self.clock(), self.wall()
        found = {agent: now + min(until - wall, OPEN_LONGEST) for agent, until in marks.items() if until > wall}
        if found:
            self._open[(account, thread)] = found
        else:
            self._open.pop((account, thread), None)
        return self.open_by(account, thread) != before

    def expire_open(self) -> list[tuple[str, str]]:
        """Forget open-markers that ran out; returns the (account, thread) pairs that changed."""
        now, changed = self.clock(), []
        for key, found in list(self._open.items()):
            for agent in [agent for agent, until in found.items() if until <= now]:
                del found[agent]
                changed.append(key)
            if not found:
                del self._open[key]
        return list(dict.fromkeys(changed))

    def next_expiry(self) -> float | None:
        times = [typist.until for found in self._typing.values() for typist in found.values()]
        times += [until for found in self._open.values() for until in found.values()]
        return min(times) if times else None

    def set_presence(self, account: str, presence: dict[str, str]) -> None:
        self._presence[account] = presence

    def set_link(self, account: str, connected: bool, problem: str | None = None) -> None:
        self._links[account] = (connected, problem)

    def forget(self, account: str) -> list[str]:
        """The link is away: who types and who is online are unknown. Returns the threads that had typing."""
        threads = [thread for known, thread in self._typing if known == account]
        for thread in threads:
            del self._typing[(account, thread)]
        self._presence.pop(account, None)
        return threads


class HealthReport(Protocol):
    """Where a cable says how its link does: `Supervisor.report` is one."""

    def report(self, name: str, up: bool, problem: str | None = None, retry_in: float | None = None) -> None: ...


class _LogReport:
    """The default `HealthReport` when none is given: the log only."""

    def report(self, name: str, up: bool, problem: str | None = None, retry_in: float | None = None) -> None:
        if up:
            log.info("%s is up", name)
        else:
            log.warning("%s: %s", name, problem)


class _Trouble(Exception):
    """An expected end of a connection (refused, cut, quiet, rejected), in plain words."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class ChatwootCable:
    """The realtime link of one Chatwoot account: Chatwoot's events into wake-ups of the sync and into
    `LiveState`.

    Args:
        connector: the account's connector (its server, token, agents option and pubsub token).
        wake: called with (account, threads) when conversations changed, and with no threads for a
            catch-up after each (re)connection: `SyncRunner.wake`.
        live: where typing, presence and the link's state go (one for all accounts, read by the console).
        health: told when the link is up or down, in plain words (`Supervisor.report`).
        on_update: told what changed in `live`, or what was skipped (the console refreshes, or tells).
    """

    def __init__(self, connector: ChatwootConnector, wake: Callable[[str, Collection[str]], None], *,
                 live: LiveState | None = None, health: HealthReport | None = None,
                 on_update: Callable[[LiveUpdate], None] = lambda update: None,
                 typing_timeout: float = TYPING_TIMEOUT, presence_every: float = PRESENCE_EVERY,
                 stale_after: float = STALE_AFTER, open_timeout: float = OPEN_TIMEOUT,
                 first_retry: float = FIRST_RETRY, max_retry: float = MAX_RETRY,
                 rng: random.Random | None = None) -> None:
        self.connector = connector
        self.account = connector.account.name
        self.wake = wake
        self.live = live or LiveState()
        self.health = health or _LogReport()
        self.on_update = on_update
        self.typing_timeout, self.presence_every, self.stale_after = typing_timeout, presence_every, stale_after
        self.open_timeout, self.first_retry, self.max_retry = open_timeout, first_retry, max_retry
        self.rng = rng or random.Random()
        self._identifier: dict[str, Any] = {}
        self._subscribed = False  # this connection got as far as a confirmed subscription
        self._unknown: set[str] = set()  # unknown event names already told: once each
        self._timer: asyncio.TimerHandle | None = None  # ends typing and open-markers that ran out (`_expire`)
        self._digests: dict[int, str] = {}  # conversation → its last conversation.updated (`ConversationChanged.digest`)
        connector.on_open_marks = self._open_marks  # the sync's reads (and our own writes) say who has one open

    @property
    def name(self) -> str:
        """The name its health goes under: "realtime <account>"."""
        return f"realtime {self.account}"

    def _redact(self, text: str) -> str:
        return self.connector.redact(text)  # the access token and, once known, the pubsub token

    async def run(self) -> None:
        """Keep the link up for good (cancel the task to stop): sign in, connect, subscribe, read. After
        any end it connects again with backoff; expected trouble is reported in plain words, never
        raised. Only a bug raises (for the supervisor)."""
        failures = 0
        try:
            while True:
                self._subscribed = False
                problem: str | None = None
                retry_after: float | None = None
                try:
                    await self._session()  # returns when the server asks us back (a restart)
                except _Trouble as trouble:
                    problem, retry_after = trouble.message, trouble.retry_after
                finally:
                    self._went_away()
                failures = 1 if self._subscribed else failures + 1  # a link that worked starts afresh
                wait = max(self._backoff(failures), retry_after or 0.0)
                if problem is None:
                    log.info("%s: Chatwoot asked us to connect again (a restart); in %.1f s", self.name, wait)
                else:
                    problem = self._redact(f"{problem}; the sync polls meanwhile")
                    log.info("%s: %s; connecting again in %.1f s", self.name, problem, wait)
                    self.live.set_link(self.account, False, problem)
                    self.health.report(self.name, False, problem, wait)
                    self.on_update(LiveUpdate(self.account, "link", detail=problem))
                await asyncio.sleep(wait)
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._went_away()

    def _backoff(self, failures: int) -> float:
        return min(self.first_retry * 2 ** max(failures - 1, 0), self.max_retry) * self.rng.uniform(0.8, 1.2)

    # -- one connection --------------------------------------------------------------------------------

    async def _session(self) -> None:
        """One connection, from signing in to its end. Returns when the server asks us to come back;
        raises `_Trouble` for every other end."""
        try:
            user_id, token = await self.connector.realtime_sign_in()
        except ConnectorError as error:
            raise _Trouble(f"cannot open the realtime link: {self.connector.safe(error).message}",
                           error.retry_after) from None
        self._identifier = {"channel": "RoomChannel", "pubsub_token": token, "account_id": self.connector.account_id,
                            "user_id": user_id}  # the dashboard's, field for field, in its order
        identifier = json.dumps(self._identifier, separators=(",", ":"))  # as JSON.stringify writes it
        try:
            async with connect(self.connector.cable_url, origin=Origin(self.connector.base_url),
                               subprotocols=PROTOCOLS, open_timeout=self.open_timeout, logger=WIRE,
                               max_size=MAX_FRAME) as socket:
                await self._subscribe(socket, identifier)
                self._up()
                await self._listen(socket, identifier)
        except (OSError, TimeoutError, WebSocketException) as error:
            raise _Trouble(self._words(error)) from None

    def _words(self, error: BaseException) -> str:
        """What went wrong on the wire, in plain words."""
        url = self.connector.cable_url
        if isinstance(error, InvalidStatus):
            status = error.response.status_code
            hint = {401: ": not signed in", 403: ": the server does not accept this origin or sign-in",
                    404: ": no realtime link there (is cable_url right?)"}.get(status, "")
            return f"Chatwoot refused the realtime connection (HTTP {status}{hint})"
        if isinstance(error, InvalidURI):
            return f"the realtime address {url} is not a websocket address (the account's cable_url option)"
        if isinstance(error, ConnectionClosed):
            code = error.rcvd.code if error.rcvd is not None else 1006
            return f"the realtime link to Chatwoot was cut (code {code})"
        if isinstance(error, TimeoutError):
            return "Chatwoot's realtime link did not answer in time"
        if isinstance(error, OSError):
            return f"cannot reach Chatwoot's realtime link at {urlsplit(url).netloc} ({type(error).__name__})"
        return f"the realtime link to Chatwoot failed ({type(error).__name__})"

    async def _frame(self, socket: ClientConnection, timeout: float) -> dict[str, Any] | None:
        """The next frame; None for one that cannot be read (skipped and told).

        Raises:
            TimeoutError: nothing came within `timeout` seconds.
        """
        # asyncio.timeout, not wait_for: on 3.11 wait_for drops a cancellation that comes as a frame arrives
        # (the task would never stop); cancelling recv itself loses no frame
        async with asyncio.timeout(timeout):
            raw = await socket.recv()
        try:
            return read_frame(raw)
        except BadFrame as bad:
            self._skip(str(bad))
            return None

    def _ours(self, frame: dict[str, Any]) -> bool:
        """Whether a frame is of our subscription (its identifier is ours, as the server echoes it)."""
        identifier = frame.get("identifier")
        try:
            return isinstance(identifier, str) and json.loads(identifier) == self._identifier
        except ValueError:
            return False

    @staticmethod
    def _disconnected(frame: dict[str, Any]) -> _Trouble:
        reason = frame.get("reason")
        said = clean(reason, single_line=True)[:80] if isinstance(reason, str) else "no reason given"
        return _Trouble(f"Chatwoot closed the realtime link ({said})")

    async def _subscribe(self, socket: ClientConnection, identifier: str) -> None:
        """Wait for the welcome, subscribe to RoomChannel, wait for the confirmation."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.open_timeout
        welcomed = False
        while (left := deadline - loop.time()) > 0:
            try:
                frame = await self._frame(socket, left)
            except TimeoutError:
                break
            kind = frame.get("type") if frame is not None else None
            if frame is None or kind == "ping":
                continue
            if kind == "disconnect":
                raise self._disconnected(frame)
            if kind == "welcome" and not welcomed:
                welcomed = True
                await socket.send(json.dumps({"command": "subscribe", "identifier": identifier}))
            elif kind == "confirm_subscription" and self._ours(frame):
                return
            elif kind == "reject_subscription" and self._ours(frame):
                raise _Trouble("Chatwoot refused the realtime subscription (RoomChannel): it did not take this"
                               " agent's pubsub token")
            elif kind is None and "message" in frame:
                self._broadcast(frame)
        raise _Trouble("Chatwoot's realtime link did not " + ("confirm the subscription" if welcomed else "say welcome")
                       + f" within {self.open_timeout:g} s")

    def _up(self) -> None:
        self._subscribed = True
        log.info("%s is up", self.name)
        self.live.set_link(self.account, True)
        self.health.report(self.name, True)
        self.on_update(LiveUpdate(self.account, "link"))
        self.wake(self.account, ())  # a catch-up: what changed while we were away or connecting

    async def _listen(self, socket: ClientConnection, identifier: str) -> None:
        """Read frames until the link ends; keep our presence up meanwhile. Returns when the server asks
        us to come back; raises `_Trouble` when it goes quiet or closes the link."""
        loop = asyncio.get_running_loop()
        last_frame = last_presence = loop.time()
        perform = json.dumps({"command": "message", "identifier": identifier,  # the dashboard's perform()
                              "data": json.dumps({"action": "update_presence"}, separators=(",", ":"))})
        while True:
            now = loop.time()
            quiet_left = last_frame + self.stale_after - now
            presence_left = last_presence + self.presence_every - now
            if quiet_left <= 0:
                raise _Trouble(f"Chatwoot's realtime link went quiet (no ping for {self.stale_after:g} s)")
            if presence_left <= 0:
                await socket.send(perform)  # keeps us online for teammates; Chatwoot answers with presence
                last_presence = now
                continue
            try:
                frame = await self._frame(socket, min(quiet_left, presence_left))
            except TimeoutError:
                continue
            last_frame = loop.time()
            if frame is None:
                continue
            kind = frame.get("type")
            if kind in ("ping", "welcome", "confirm_subscription"):
                continue
            if kind == "disconnect":
                if frame.get("reconnect") is True:
                    return  # a server restart: come back at once
                raise self._disconnected(frame)
            if kind == "reject_subscription":
                if self._ours(frame):
                    raise _Trouble("Chatwoot ended the realtime subscription (RoomChannel)")
                continue
            if kind is not None:
                self._skip(f"a frame of unknown type {_name(str(kind))!r}")
                continue
            self._broadcast(frame)

    # -- events ----------------------------------------------------------------------------------------

    def _skip(self, reason: str) -> None:
        """Tell a frame skipped: the log, `LiveState.skipped` and the console."""
        reason = self._redact(clean(reason, single_line=True))
        log.warning("%s: skipped %s", self.name, reason)
        self.live.skipped.append(f"{self.account}: {reason}")
        self.on_update(LiveUpdate(self.account, "skipped", detail=reason))

    def _broadcast(self, frame: dict[str, Any]) -> None:
        if "identifier" not in frame:
            self._skip("a broadcast without an identifier")
            return
        if not self._ours(frame):
            return  # another subscription's (we have none): not for us
        try:
            event = read_event(frame.get("message"), self.connector.account_id)
        except UnknownEvent as unknown:
            if unknown.event not in self._unknown:  # a newer server's event: said once, not each time
                self._unknown.add(unknown.event)
                self._skip(str(unknown))
            return
        except BadFrame as bad:
            self._skip(str(bad))
            return
        if event is not None:
            self._take(event)

    def _take(self, event: CableEvent) -> None:
        if isinstance(event, ConversationChanged):
            if event.open_marks is not None:
                self._open_marks(event.thread, event.open_marks)
            if self._changed(event):
                self.wake(self.account, [event.thread])
        elif isinstance(event, TypingChanged):
            thread, who = f"{event.conversation_id}:", (event.kind, event.user_id)
            if event.on:
                agent = self.connector.agent_of(event.user_id) if event.kind == "agent" else None
                until = self.live.clock() + self.typing_timeout
                self.live.start_typing(self.account, thread, who,
                                       Typist(event.name, event.kind, agent, event.private, until))
                self._expire_later()
            else:
                self.live.stop_typing(self.account, thread, who)
            self.on_update(LiveUpdate(self.account, "typing", thread))
        else:
            presence = {self.connector.agent_of(user_id): status for user_id, status in event.users.items()}
            self.live.set_presence(self.account, presence)
            self.on_update(LiveUpdate(self.account, "presence"))

    def _changed(self, event: ConversationChanged) -> bool:
        """Whether the sync has something to read: not for a conversation.updated that moved nothing but
        open-markers since the one before (each console renews its own every minute)."""
        if event.digest is None:
            return True
        before = self._digests.get(event.conversation_id)
        if len(self._digests) >= SEEN_CONVERSATIONS:
            self._digests.clear()
        self._digests[event.conversation_id] = event.digest
        return event.event != "conversation.updated" or before != event.digest

    def _open_marks(self, thread: str, marks: Mapping[str, int]) -> None:
        """Who has the conversation `thread` open, as its custom_attributes said (a frame, or the sync's read)."""
        if self.live.set_open(self.account, thread, marks):
            self.on_update(LiveUpdate(self.account, "open", thread))
        self._expire_later()

    def _expire_later(self) -> None:
        """Have `_expire` run when the first typing or open-marker known runs out (one timer at a time)."""
        until = self.live.next_expiry()
        if until is None:
            return
        loop = asyncio.get_running_loop()
        delay = max(until - self.live.clock(), 0.0) + 0.01
        if self._timer is not None:
            if self._timer.when() <= loop.time() + delay:
                return  # due first anyway
            self._timer.cancel()  # an open-marker may end before the typing the timer waits for
        self._timer = loop.call_later(delay, self._expire)

    def _expire(self) -> None:
        """Typing that ran out without a typing_off ends by itself, as does an open-marker past its end."""
        self._timer = None
        for account, thread in self.live.expire():
            self.on_update(LiveUpdate(account, "typing", thread))
        for account, thread in self.live.expire_open():
            self.on_update(LiveUpdate(account, "open", thread))
        self._expire_later()  # a typing_on since pushed its end further

    def _went_away(self) -> None:
        """The connection ended: nobody is known to type or to be online until it is back."""
        threads = self.live.forget(self.account)
        was_up = self.live.connected(self.account)
        self.live.set_link(self.account, False, self.live.problem(self.account))
        for thread in threads:
            self.on_update(LiveUpdate(self.account, "typing", thread))
        if was_up:
            self.on_update(LiveUpdate(self.account, "presence"))


def cables_for(connectors: Mapping[str, Connector], wake: Callable[[str, Collection[str]], None], *,
               live: LiveState, health: HealthReport | None = None,
               on_update: Callable[[LiveUpdate], None] = lambda update: None) -> list[ChatwootCable]:
    """A realtime link for every Chatwoot account that has not turned it off (option realtime = false)."""
    return [ChatwootCable(connector, wake, live=live, health=health, on_update=on_update)
            for connector in connectors.values() if isinstance(connector, ChatwootConnector) and connector.realtime]
