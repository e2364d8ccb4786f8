"""Provides `ChatwootConnector`: team mode, every agent's console on the team's Chatwoot server.

Chatwoot already receives WhatsApp, Messenger, Instagram, X, Telegram, e-mail and web
chat; this connector syncs its conversations and messages through the application API
(`/api/v1/accounts/{account_id}/...`, token in the `api_access_token` header) and maps
our case actions onto Chatwoot's: a reply is an outgoing message, a memo a private
note, labels, assignment and status (open, snoozed, resolved) are the conversation's.
What a teammate changes in Chatwoot comes back as `FetchResult.remote_cases`, priority
and team included. Chatwoot's realtime link (`chatwoot_cable`) names the conversations
that changed (`note_changed`): the next fetch reads those by id first, whatever the cursor.

Account options (never secrets; the token is in the keyring):
    base_url: the Chatwoot server, e.g. "https://chat.example.com" (required).
    account_id: the numeric Chatwoot account (required).
    agents: Chatwoot agents by id (or e-mail) → our agent ids, e.g. {"12" = "jeroen"}; an
        agent not listed shows as "chatwoot:12". Assigning to one of ours needs their id here.
    inbox_ids: only conversations of these inboxes (default: every inbox the token sees).
    initial_pages: conversation pages (the server's page size, 25 by default) read on the first sync (default 2).
    max_pages: conversation pages read per fetch later on (default 8); more continue at once.
    teams: Chatwoot teams by id → our team names, e.g. {"3" = "hypotheken"}; an unmapped team is
        known by its Chatwoot name (Chatwoot keeps team names in lower case).
    realtime: false turns the realtime link off (see `chatwoot_cable`); polling alone then.
    cable_url: the realtime websocket when it is not the server's own `/cable` (Chatwoot's
        websocketURL setting), e.g. "wss://cable.example.com/cable".

What Chatwoot documents and this follows: `message_type` is an integer in responses
(0 incoming, 1 outgoing, 2 activity, 3 template); activity messages (status and
assignment notices) are not messages to us, their effect arrives as case state.
Private notes are internal: never customer messages, they arrive as memos
(`FetchResult.memos`; the sync puts a teammate's on the case, ours it knows by the
note's id the outbox kept). A message's `status` "failed" (the channel refused it,
the reason in `content_attributes.external_error`) is not a message said to the
customer: it is reported (`FetchResult.failed_sends`: the sync fails our reply's
outbox row with the reason), and refused by `send_reply` and `find_sent`. Posting labels replaces the whole set, so labels are
read, merged and written back. `can_reply` false means the channel's reply window
closed (WhatsApp's 24 hours): a reply is refused with that reason rather than sent
to fail. Chatwoot's `pending` is a conversation no agent picked up yet (a bot has
it): our `new`.

What the swagger leaves open, and how this copes: the conversation list's page size
(the server's CONVERSATION_RESULTS_PER_PAGE, 25 by default) and its order (Chatwoot's
source sorts by last activity, newest first). A walk ends at an empty page or once
`meta.all_count` conversations were listed, never at a short page. It stops early at
a conversation older than the last sync only while the listing has been newest first;
once it was seen out of that order, every sync walks the whole list. Messages page
by `after` message ids (Chatwoot's MessageFinder: 100 after an id, else the latest 20).

Chatwoot takes no idempotency key, so `find_sent` looks for our message among the
conversation's messages after the one answered (`after`), page by page: an earlier
identical reply is not ours, and any number of newer messages cannot hide it.

Priority: Chatwoot's none/low/medium/high/urgent ↔ our 0 normal … 3 urgent. None and low
are both our normal (we have nothing below it); ours goes out by
`POST …/toggle_priority` with medium, high or urgent, and normal as null (Chatwoot's
`toggle_priority` takes `priority.presence`: null clears it; the swagger's "none" is no
value of its priority enum). Team: `meta.team` is read into `RemoteCase.team`; a "team"
case action sets it by `POST …/assignments` with `team_id` (null clears it). Typing:
`set_typing` posts `toggle_typing_status` ({"typing_status": "on"|"off"}, `is_private` for a
note), which Chatwoot's conversations controller has though its swagger does not.

Who has a conversation open: Chatwoot has no such event (chatwoot#11062), so our consoles tell
each other through the conversation itself. `set_open` keeps a custom attribute per agent,
`webcare_open:<our agent id>` = until when (epoch seconds), in the conversation's
`custom_attributes` (`POST …/custom_attributes`). That call replaces the whole hash (the
controller assigns it; newer servers merge only when asked with `merge`, and a merge cannot
take a key out), so the conversation is read first and only our own key changes; other
consoles' markers that ran out long ago are dropped on the way. Chatwoot broadcasts a change
of custom_attributes as `conversation.updated` (Conversation#list_of_keys), with the
conversation's push data, custom_attributes in it: `chatwoot_cable` reads the markers there;
the sync reads them from every conversation it reads (`on_open_marks`).

The cursor (JSON) holds the newest conversation activity seen (`since`) and a floor
of message ids (`after`). The floor lags one sync behind the newest id seen, so a
message written while a sync walks the conversations is read by the next one;
ingest drops what it already has. A change Chatwoot makes without new activity on
the conversation (a label on an old, quiet one) shows when the conversation next
becomes active.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncGenerator, Callable, Collection
from contextlib import aclosing
from typing import Any

import httpx

from webcare_tui.config import Account
from webcare_tui.connectors.base import (
    Capabilities,
    CaseAction,
    Connector,
    ConnectorError,
    DeliveryFailure,
    FetchResult,
    OutgoingReply,
    RemoteCase,
    RemoteMemo,
    SentReply,
)
from webcare_tui.connectors.http import HttpApi
from webcare_tui.model import Message
from webcare_tui.platforms import MAX_REPLY_LENGTH, weighted_length

AFTER_LIMIT = 100  # messages Chatwoot returns after an id
MAX_MESSAGE_PAGES = 20  # per conversation and fetch, so one flood cannot stall the sync
MAX_LOOKUP_PAGES = 50  # pages of 100 `find_sent` reads after the message answered before it gives up
INCOMING, OUTGOING, ACTIVITY, TEMPLATE = 0, 1, 2, 3
KINDS = {"incoming": INCOMING, "outgoing": OUTGOING, "activity": ACTIVITY, "template": TEMPLATE}
# Chatwoot's status → ours. "snoozed" without a time waits for the contact's next message,
# which is what our pending means; Chatwoot's own "pending" is not yet picked up by an agent: new.
FROM_STATUS = {"open": "open", "pending": "new", "snoozed": "pending", "resolved": "closed"}
TO_STATUS = {"new": "open", "open": "open", "pending": "snoozed", "closed": "resolved"}
TWITTER = "Channel::TwitterProfile"
# Chatwoot's priority (its enum low … urgent, or none) → ours (an index into cases.PRIORITIES), and back.
FROM_PRIORITY: dict[str | None, int] = {None: 0, "low": 0, "medium": 1, "high": 2, "urgent": 3}
TO_PRIORITY: dict[int, str | None] = {0: None, 1: "medium", 2: "high", 3: "urgent"}
X_LIMIT = MAX_REPLY_LENGTH["x"]
# A console's marker that an agent has the conversation open: key OPEN_MARK + our agent id, value until
# when (epoch seconds). One key per agent: two agents in one case both show, neither overwrites the other.
OPEN_MARK = "webcare_open:"
MARK_GONE_AFTER = 600  # seconds after its end another console's marker is dropped when we write (clock skew)
MAX_AGENT_ID = 64  # characters of an agent id in a marker's key; a longer key is no marker of ours


def open_marks(attributes: Any) -> dict[str, int]:
    """The open-markers in a conversation's `custom_attributes`: our agent id → until (epoch seconds).
    Anything else in the hash is left alone; a marker that cannot be read is no marker."""
    marks: dict[str, int] = {}
    for key, value in _object(attributes).items():
        if not isinstance(key, str) or not key.startswith(OPEN_MARK):
            continue
        agent = key[len(OPEN_MARK):]
        until = int(value) if isinstance(value, str) and value.isdigit() and len(value) < 16 else _epoch(value)
        if agent and len(agent) <= MAX_AGENT_ID and agent.isprintable() and until is not None:
            marks[agent] = until
    return marks


def _kind(item: dict[str, Any]) -> int | None:
    """The message_type as Chatwoot's integer (older servers and webhooks spell it out)."""
    kind = item.get("message_type")
    return KINDS.get(kind) if isinstance(kind, str) else as_int(kind)


def _failure_reason(item: dict[str, Any]) -> str | None:
    """Why Chatwoot could not deliver this message of ours, or None when it did not fail."""
    if item.get("status") != "failed":
        return None
    error = _object(item.get("content_attributes")).get("external_error")
    return f"{error}" if error else "no reason given"


def as_int(value: Any) -> int | None:
    """An integer field or id (Chatwoot's numbers may arrive as floats, some servers' ids as text);
    None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _epoch(value: Any) -> int | None:
    """Epoch seconds of a time field, whole or not (Chatwoot renders some as `to_f`)."""
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return as_int(value)


def _object(value: Any) -> dict[str, Any]:
    """A JSON object field, or an empty one when it is missing or of another type."""
    return value if isinstance(value, dict) else {}


class ChatwootConnector(Connector):
    platform = "chatwoot"
    capabilities = Capabilities(max_reply_length=None, private_messages=True, like=False, idempotent_send=False,
                                case_actions=frozenset({"labels", "assign", "status", "memo", "priority", "team"}))

    def __init__(self, account: Account, secret: str | None = None, http: httpx.AsyncClient | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(account, secret, http)
        options = account.options
        base_url = options.get("base_url")
        raw_id = options.get("account_id")
        account_id = as_int(raw_id)
        agents = options.get("agents", {})
        teams = options.get("teams", {})
        cable_url = options.get("cable_url")
        # A misconfigured account fails its calls in plain words instead of stopping the app.
        self._problem: ConnectorError | None = None
        if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://")):
            self._problem = ConnectorError(f"account {account.name!r}: the option base_url must be the Chatwoot"
                                           ' server\'s address, e.g. "https://chat.example.com"', retryable=False)
        elif account_id is None:
            self._problem = ConnectorError(f"account {account.name!r}: the option account_id must be the numeric"
                                           " Chatwoot account id", retryable=False)
        elif not isinstance(agents, dict) or not all(isinstance(value, str) for value in agents.values()):
            self._problem = ConnectorError(f"account {account.name!r}: the option agents maps Chatwoot agent ids"
                                           ' to ours, e.g. agents = {"12" = "jeroen"}', retryable=False)
        elif not isinstance(teams, dict) or not all(str(key).isdigit() and isinstance(value, str)
                                                     for key, value in teams.items()):
            self._problem = ConnectorError(f"account {account.name!r}: the option teams maps Chatwoot team ids"
                                           ' to our team names, e.g. teams = {"3" = "hypotheken"}', retryable=False)
        elif cable_url is not None and (not isinstance(cable_url, str) or not cable_url.startswith(("wss://", "ws://"))):
            self._problem = ConnectorError(f"account {account.name!r}: the option cable_url must be a websocket"
                                           ' address, e.g. "wss://chat.example.com/cable"', retryable=False)
        elif not secret:
            self._problem = ConnectorError(f"account {account.name!r} has no Chatwoot access token; sign in with"
                                           " `webcare accounts add`", retryable=False, needs_auth=True)
        agents = agents if isinstance(agents, dict) else {}
        self.base_url = base_url.rstrip("/") if isinstance(base_url, str) else "https://chatwoot.invalid"
        self.account_id = account_id or 0
        self.agents = {str(key).casefold(): value for key, value in agents.items()}
        self.agent_ids = {value: int(key) for key, value in agents.items() if str(key).isdigit()}
        teams = teams if isinstance(teams, dict) else {}
        self.teams = {int(key): value for key, value in teams.items() if str(key).isdigit()}
        self._team_ids: dict[str, int] | None = None  # the account's teams by name, once asked (`_team_id`)
        # the realtime link (`chatwoot_cable`): Chatwoot's dashboard connects to the server's /cable
        self.realtime = options.get("realtime", True) is not False
        self.cable_url = cable_url if isinstance(cable_url, str) else (
            self.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/cable")
        self._pubsub_token: str | None = None  # learnt from the profile; a secret like the access token
        self._dirty: set[int] = set()  # conversations a realtime event named: read them by id next fetch
        try:
            self.inbox_ids = {int(i) for i in options["inbox_ids"]} if options.get("inbox_ids") else None
            self.initial_pages = max(1, int(options.get("initial_pages", 2)))
            self.max_pages = max(1, int(options.get("max_pages", 8)))
        except (TypeError, ValueError):
            self._problem = self._problem or ConnectorError(
                f"account {account.name!r}: inbox_ids is a list of numbers, initial_pages and max_pages numbers",
                retryable=False)
            self.inbox_ids, self.initial_pages, self.max_pages = None, 2, 8
        self.clock = clock
        self.api = HttpApi("Chatwoot", self.base_url, {"api_access_token": secret or ""}, http, clock=clock)
        self._conversations: dict[int, dict[str, Any]] = {}  # what send_reply needs: can_reply, channel
        # told the open-markers of every conversation read (its thread, our agent id → until): `chatwoot_cable`
        self.on_open_marks: Callable[[str, dict[str, int]], None] | None = None

    def _path(self, suffix: str = "") -> str:
        if self._problem:
            raise self._problem
        return f"/api/v1/accounts/{self.account_id}/conversations{suffix}"

    def _url(self, conversation_id: int) -> str:
        return f"{self.base_url}/app/accounts/{self.account_id}/conversations/{conversation_id}"

    def redact(self, text: str) -> str:
        """`text` without the access token, nor the pubsub token that opens the realtime link."""
        text = super().redact(text)
        token = self._pubsub_token
        return text.replace(token, "•••") if token and len(token) >= 4 else text

    # -- the realtime link (chatwoot_cable) -------------------------------------

    async def realtime_sign_in(self) -> tuple[int, str]:
        """The signed-in user's id and `pubsub_token` (`GET /api/v1/profile`), which Chatwoot's
        dashboard subscribes to its RoomChannel with.

        Raises:
            ConnectorError: the profile could not be read, or holds no id or token (an agent bot's
                token has no profile: the realtime link needs a user's).
        """
        if self._problem:
            raise self._problem
        body = await self.api.json("GET", "/api/v1/profile")
        user_id = as_int(body.get("id")) if isinstance(body, dict) else None
        token = body.get("pubsub_token") if isinstance(body, dict) else None
        if user_id is None or not isinstance(token, str) or not token:
            raise ConnectorError("Chatwoot's profile has no id or pubsub_token; the realtime link needs an agent's"
                                 " access token (not an agent bot's)", retryable=False)
        self._pubsub_token = token  # from now on `redact` masks it too
        return user_id, token

    def agent_of(self, user_id: int) -> str:
        """Our id of the Chatwoot user `user_id` ("chatwoot:12" when the account does not map it)."""
        return self._agent({"id": user_id}) or f"chatwoot:{user_id}"

    def note_changed(self, threads: Collection[str]) -> None:
        for thread in threads:
            head = thread.partition(":")[0]
            if head.isdigit():
                self._dirty.add(int(head))

    # -- reading ---------------------------------------------------------------

    def _agent(self, agent: Any) -> str | None:
        """Our id of a Chatwoot agent object (by id, then e-mail); unknown ones as "chatwoot:12"."""
        if not isinstance(agent, dict) or as_int(agent.get("id")) is None:
            return None
        key = str(as_int(agent["id"]))
        email = agent.get("email")
        return self.agents.get(key) or (self.agents.get(email.casefold()) if isinstance(email, str) else None) or (
            f"chatwoot:{key}")

    async def _conversation_page(self, page: int) -> tuple[list[Any], int | None]:
        params: dict[str, Any] = {"status": "all", "assignee_type": "all", "page": page}
        if self.inbox_ids is not None and len(self.inbox_ids) == 1:
            params["inbox_id"] = next(iter(self.inbox_ids))
        body = await self.api.json("GET", self._path(), params=params)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("payload"), list):
            raise ConnectorError("Chatwoot sent a conversation list without data.payload", retryable=False)
        return data["payload"], as_int(_object(data.get("meta")).get("all_count"))

    async def _messages(self, conversation_id: int, after: int | None) -> list[Any]:
        """The conversation's messages after the id `after` (all of them, oldest first), or its latest 20."""
        return [item async for page, _ in self._message_pages(conversation_id, after, MAX_MESSAGE_PAGES)
                for item in page]

    async def _message_pages(self, conversation_id: int, after: int | None,
                             limit: int) -> AsyncGenerator[tuple[list[Any], bool], None]:
        """Yield (a page of the conversation's messages after the id `after`, oldest first; whether more follow)
        for up to `limit` pages, each after the highest id of the one before (use it under `aclosing`: a
        reader may stop early). Without `after`: one page, the latest 20."""
        for _ in range(limit):
            params = {"after": after} if after is not None else {}
            body = await self.api.json("GET", self._path(f"/{conversation_id}/messages"), params=params)
            payload = body.get("payload") if isinstance(body, dict) else None
            if not isinstance(payload, list):
                raise ConnectorError(f"Chatwoot sent messages of conversation {conversation_id} without a payload list",
                                     retryable=False)
            ids = [i for i in (as_int(item.get("id")) for item in payload if isinstance(item, dict)) if i is not None]
            # Chatwoot's MessageFinder gives AFTER_LIMIT at most after an id: a shorter page is the last
            more = after is not None and len(payload) >= AFTER_LIMIT and bool(ids) and max(ids) > after
            yield payload, more
            if not more:
                return
            after = max(ids)

    def _remote(self, conversation: dict[str, Any], conversation_id: int, activity: int) -> RemoteCase:
        meta = _object(conversation.get("meta"))
        labels = conversation.get("labels")
        updated = _epoch(conversation.get("updated_at"))
        status = conversation.get("status")
        priority = conversation.get("priority", False)  # absent (an old server): not reported
        team = meta.get("team")  # the list and show views leave it out when there is none
        return RemoteCase(
            thread=f"{conversation_id}:",
            updated_at=max(updated or 0, activity),
            status=FROM_STATUS.get(status) if isinstance(status, str) else None,
            owner=self._agent(meta.get("assignee")),
            labels=tuple(str(label) for label in labels) if isinstance(labels, list) else None,
            priority=FROM_PRIORITY.get(priority) if priority is None or isinstance(priority, str) else None,
            team=self._team_name(team) if isinstance(team, dict) else "" if team is None else None,
        )

    def _team_name(self, team: dict[str, Any]) -> str | None:
        """Our name of a Chatwoot team object (by id, else its own name)."""
        team_id, name = as_int(team.get("id")), team.get("name")
        if team_id is not None and team_id in self.teams:
            return self.teams[team_id]
        return name if isinstance(name, str) else None

    def _message(self, item: Any, conversation: dict[str, Any], conversation_id: int) -> Message | str | None:
        """A Chatwoot message as ours; a str says why it was skipped; None: not a message to us."""
        if not isinstance(item, dict):
            return f"{conversation_id}:?: not an object"
        message_id, created_at = as_int(item.get("id")), as_int(item.get("created_at"))
        ref = f"{conversation_id}:{message_id if message_id is not None else '?'}"
        if message_id is None or created_at is None:
            return f"{ref}: no id or created_at"
        kind = _kind(item)
        if kind == ACTIVITY or item.get("private") is True:
            return None  # a status notice, or an internal note (a memo, see `_memo`): not said to the customer
        if kind not in (INCOMING, OUTGOING, TEMPLATE):
            return f"{ref}: message_type {item.get('message_type')!r} is not one we read"
        if kind != INCOMING and (reason := _failure_reason(item)) is not None:
            return f"{ref}: not delivered ({reason})"  # refused by the channel: never said to the customer
        attributes = _object(item.get("content_attributes"))
        if attributes.get("deleted"):
            return f"{ref}: deleted"
        text = item.get("content")
        attachments = item.get("attachments") if isinstance(item.get("attachments"), list) else []
        if not isinstance(text, str) or not text.strip():
            if not attachments:
                return f"{ref}: no text and no attachment"
            kinds = ", ".join(str(a.get("file_type", "file")) for a in attachments if isinstance(a, dict))
            text = f"[attachment: {kinds or 'file'}]"
        meta = _object(conversation.get("meta"))
        contact = _object(meta.get("sender"))
        sender = _object(item.get("sender"))
        incoming = kind == INCOMING
        if not contact and incoming:
            contact = sender
        if not contact or as_int(contact.get("id")) is None:
            return f"{ref}: no contact"
        additional = _object(contact.get("additional_attributes"))
        handle = additional.get("screen_name") or contact.get("phone_number") or contact.get("email") or (
            contact.get("identifier"))
        conv_attributes = conversation.get("additional_attributes")
        tweet = isinstance(conv_attributes, dict) and conv_attributes.get("type") == "tweet"
        public = meta.get("channel") == TWITTER and tweet
        return Message(
            platform=self.platform, account=self.account.name, external_id=f"{conversation_id}:{message_id}",
            author_id=str(as_int(contact["id"])), text=text, created_at=created_at,
            direction="in" if incoming else "out", visibility="public" if public else "private",
            author_handle=str(handle) if handle else None,
            author_name=contact.get("name") if isinstance(contact.get("name"), str) else None,
            agent=None if incoming else (self._agent(sender) if sender.get("type") == "user" else None),
            url=self._url(conversation_id),
        )

    def _memo(self, item: Any, conversation_id: int) -> RemoteMemo | None:
        """A private note as a memo; None when the item is not one (or has no text to keep)."""
        if not isinstance(item, dict) or item.get("private") is not True or _kind(item) == ACTIVITY:
            return None
        message_id, created_at, text = as_int(item.get("id")), as_int(item.get("created_at")), item.get("content")
        if message_id is None or created_at is None or not isinstance(text, str) or not text.strip():
            return None
        sender = _object(item.get("sender"))
        agent = self._agent(sender) if sender.get("type") == "user" else None
        return RemoteMemo(f"{conversation_id}:", f"{conversation_id}:{message_id}", agent, text, created_at)

    @staticmethod
    def _failure(item: Any, conversation_id: int) -> DeliveryFailure | None:
        if not isinstance(item, dict) or item.get("private") is True or _kind(item) not in (OUTGOING, TEMPLATE):
            return None
        reason, message_id = _failure_reason(item), as_int(item.get("id"))
        if reason is None or message_id is None:
            return None
        return DeliveryFailure(f"{conversation_id}:{message_id}",
                               f"Chatwoot could not deliver the message: {reason}")

    async def fetch(self, cursor: str | None) -> FetchResult:
        try:
            state = json.loads(cursor) if cursor else {}
        except ValueError:
            state = {}
        state = state if isinstance(state, dict) else {}
        since, after, seen = state.get("since"), state.get("after"), state.get("seen")
        page, top, newest = state.get("page", 1), state.get("top", since), state.get("newest", seen)
        # the walk so far: conversations listed, the last one's activity, and whether the list was ever
        # seen out of newest-first order (kept across syncs: then every sync walks the whole list)
        walked, last, unordered = state.get("walked", 0), state.get("last"), bool(state.get("unordered"))
        budget = self.initial_pages if since is None else self.max_pages
        result = FetchResult([], None)
        read = await self._read_changed(after, result)
        if ids := [last_id for last_id in read.values() if last_id is not None]:
            newest = max(newest or 0, *ids)
        older_seen = False  # a conversation older than the last sync: the walk may stop after this page
        done = False
        for _ in range(budget):
            conversations, total = await self._conversation_page(page)
            page += 1
            if not conversations:
                done = True  # past the last page
                break
            for conversation in conversations:
                walked += 1
                conversation_id = as_int(conversation.get("id")) if isinstance(conversation, dict) else None
                activity = as_int(conversation.get("last_activity_at")) if conversation_id is not None else None
                if conversation_id is None or activity is None:
                    result.skipped.append(f"conversation {conversation_id or '?'}: no id or last_activity_at")
                    continue
                if last is not None and activity > last:
                    unordered = True  # not newest first: an older one listed earlier says nothing of the rest
                last = activity
                if since is not None and activity < since:
                    older_seen = True
                    continue  # no activity since the last sync: nothing new in it
                top = max(top or 0, activity)
                if self.inbox_ids is not None and as_int(conversation.get("inbox_id")) not in self.inbox_ids:
                    continue
                if conversation_id in read:
                    continue  # read by id above: a realtime event named it
                last_id = await self._read_conversation(conversation, conversation_id, activity, after, result)
                newest = newest if last_id is None else max(newest or 0, last_id)
            if (older_seen and not unordered) or (total is not None and walked >= total):
                done = True
                break
        result.messages.sort(key=lambda message: message.created_at)
        if done or since is None:  # a first sync reads a bounded history, not the whole account
            floor = seen if seen is not None else newest
            next_state: dict[str, Any] = {"since": top if top is not None else since, "after": floor, "seen": newest}
            if unordered:
                next_state["unordered"] = True
            result.cursor, result.more = json.dumps(next_state), False
            return result
        next_state = {"since": since, "after": after, "seen": seen, "page": page, "top": top, "newest": newest,
                      "walked": walked, "last": last, "unordered": unordered}
        result.cursor, result.more = json.dumps(next_state), True
        return result

    async def _read_changed(self, after: int | None, result: FetchResult) -> dict[int, int | None]:
        """Read the conversations a realtime event named (`note_changed`) by id into `result`, whatever
        their activity: a teammate's priority or team moves no `last_activity_at`.

        Returns:
            Each conversation read → the newest message id read in it (None: none).
        """
        read: dict[int, int | None] = {}
        for conversation_id in sorted(self._dirty):
            # 403/404: deleted, or moved to an inbox this token does not see
            conversation = await self.api.json("GET", self._path(f"/{conversation_id}"), missing=(403, 404))
            activity = as_int(conversation.get("last_activity_at")) if isinstance(conversation, dict) else None
            if conversation is None:
                result.skipped.append(f"conversation {conversation_id}: not found (deleted, or not visible to us)")
            elif not isinstance(conversation, dict) or activity is None:
                result.skipped.append(f"conversation {conversation_id}: no last_activity_at")
            elif self.inbox_ids is None or as_int(conversation.get("inbox_id")) in self.inbox_ids:
                read[conversation_id] = await self._read_conversation(conversation, conversation_id, activity, after,
                                                                      result)
            self._dirty.discard(conversation_id)  # only once read: a failed fetch reads it next time
        return read

    async def _read_conversation(self, conversation: dict[str, Any], conversation_id: int, activity: int,
                                 after: int | None, result: FetchResult) -> int | None:
        """Read one changed conversation's messages after `after` into `result`, with its case state.

        Returns:
            The newest message id read, None when there was none.
        """
        self._conversations[conversation_id] = {"can_reply": conversation.get("can_reply"),
                                                "channel": _object(conversation.get("meta")).get("channel")}
        self._saw_marks(conversation_id, conversation)
        newest: int | None = None
        for item in await self._messages(conversation_id, after):
            item_id = as_int(item.get("id")) if isinstance(item, dict) else None
            if item_id is not None:
                newest = max(newest or 0, item_id)
            if (memo := self._memo(item, conversation_id)) is not None:
                result.memos.append(memo)
                continue
            if (failure := self._failure(item, conversation_id)) is not None:
                result.failed_sends.append(failure)
            parsed = self._message(item, conversation, conversation_id)
            if isinstance(parsed, Message):
                result.messages.append(parsed)
            elif parsed is not None:
                result.skipped.append(parsed)
        result.remote_cases.append(self._remote(conversation, conversation_id, activity))
        return newest

    # -- writing ---------------------------------------------------------------

    @staticmethod
    def _conversation_of(external_id: str | None) -> int:
        """The conversation id in one of our external ids ("conversation_id:message_id").

        Raises:
            ConnectorError: it names no Chatwoot conversation.
        """
        head = (external_id or "").partition(":")[0]
        if not head.isdigit():
            raise ConnectorError(f"{external_id!r} names no Chatwoot conversation; there is nothing to answer",
                                 retryable=False)
        return int(head)

    def _sent(self, body: Any, conversation_id: int) -> SentReply:
        message_id = as_int(body.get("id")) if isinstance(body, dict) else None
        if message_id is None:
            raise ConnectorError("Chatwoot took the message but sent back no id", outcome_unknown=True)
        if (reason := _failure_reason(body)) is not None:  # the channel refused it: it did not reach the customer
            raise ConnectorError(f"Chatwoot could not deliver the message ({conversation_id}:{message_id}): {reason}",
                                 retryable=False)
        created_at = as_int(body.get("created_at")) or int(self.clock())
        return SentReply(f"{conversation_id}:{message_id}", created_at, self._url(conversation_id))

    async def _post_message(self, conversation_id: int, text: str, private: bool) -> Any:
        return await self.api.json("POST", self._path(f"/{conversation_id}/messages"), write=True, json={
            "content": text, "message_type": "outgoing", "private": private, "content_type": "text"})

    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        conversation_id = self._conversation_of(reply.in_reply_to)
        known = self._conversations.get(conversation_id, {})
        if known.get("can_reply") is False:
            raise ConnectorError(f"the reply window of this {known.get('channel') or 'channel'} conversation has"
                                 " closed (Chatwoot: can_reply is false); the customer has to write first",
                                 retryable=False)
        if known.get("channel") == TWITTER and (length := weighted_length(reply.text)) > X_LIMIT:
            raise ConnectorError(f"the reply counts {length} characters on X (links 23, emoji 2); X allows {X_LIMIT}",
                                 retryable=False)
        # Chatwoot's "private" is an internal note: a reply is never one (a DM channel is private already).
        return self._sent(await self._post_message(conversation_id, reply.text, private=False), conversation_id)

    async def _find_ours(self, answered: str | None, *, private: bool, text: str) -> dict[str, Any] | None:
        """Our message with this text after the message `answered`, or None when there is none.

        Read page by page after the answered message's id (Chatwoot's `after`), so an identical
        message written before it is not taken for ours and newer ones never hide it. A message
        whose delivery failed counts only when no delivered one is found: then it raises.

        Raises:
            ConnectorError: it cannot be told (no message id to start after, or too many messages).
        """
        conversation_id = self._conversation_of(answered)
        tail = (answered or "").partition(":")[2]
        if not tail.isdigit():
            raise ConnectorError(f"{answered!r} names no Chatwoot message to look after; cannot tell what was sent",
                                 retryable=False)
        failed = None
        pages = self._message_pages(conversation_id, int(tail), MAX_LOOKUP_PAGES)
        async with aclosing(pages):
            async for payload, more in pages:
                for item in payload:
                    if (isinstance(item, dict) and _kind(item) == OUTGOING and bool(item.get("private")) == private
                            and (item.get("content") or "").strip() == text.strip()):
                        if _failure_reason(item) is None:
                            return item
                        failed = failed or item
                if not more:
                    break  # read to the end
            else:
                raise ConnectorError(f"more than {MAX_LOOKUP_PAGES * AFTER_LIMIT} messages follow {answered}; cannot"
                                     " tell whether it was sent", retryable=False)
        if failed is not None:
            self._sent(failed, conversation_id)  # raises: the channel refused it
        return None

    async def find_sent(self, reply: OutgoingReply) -> SentReply | None:
        conversation_id = self._conversation_of(reply.in_reply_to)
        found = await self._find_ours(reply.in_reply_to, private=False, text=reply.text)
        return None if found is None else self._sent(found, conversation_id)

    async def find_case_action(self, action: CaseAction) -> bool:
        if action.kind != "memo":
            return False  # labels, owner and status are set again: a repeat changes nothing
        return await self._find_ours(action.in_reply_to, private=True, text=action.value["text"]) is not None

    async def set_typing(self, external_id: str, on: bool, *, private: bool = False) -> None:
        conversation_id = self._conversation_of(external_id)
        body: dict[str, Any] = {"typing_status": "on" if on else "off"}
        if private:  # a note: teammates see it, the customer's widget does not
            body["is_private"] = True
        await self.api.request("POST", self._path(f"/{conversation_id}/toggle_typing_status"), json=body)

    def _saw_marks(self, conversation_id: int, conversation: Any) -> None:
        """Tell `on_open_marks` who has this conversation open, when its custom_attributes were sent."""
        if self.on_open_marks is not None and isinstance(conversation, dict) and "custom_attributes" in conversation:
            self.on_open_marks(f"{conversation_id}:", open_marks(conversation["custom_attributes"]))

    async def set_open(self, external_id: str, agent: str, until: float | None) -> None:
        """Our marker `webcare_open:<agent>` = `until` in the conversation's custom_attributes, or none.

        `POST …/custom_attributes` replaces the whole hash (ConversationsController#custom_attributes), so
        the conversation is read just before, and the hash written back with only our marker changed (and
        other consoles' markers that ended over `MARK_GONE_AFTER` seconds ago dropped). Nothing is written
        when nothing changes.
        """
        conversation_id = self._conversation_of(external_id)
        conversation = await self.api.json("GET", self._path(f"/{conversation_id}"))
        current = conversation.get("custom_attributes", False) if isinstance(conversation, dict) else False
        if current is None:
            current = {}  # a conversation that never had any: Chatwoot's partial renders null
        if not isinstance(current, dict):  # left out or not a hash: what others set is not known
            raise ConnectorError(f"Chatwoot sent conversation {conversation_id} without custom_attributes; our"
                                 " marker is not written (it would wipe what others set)", retryable=False)
        key, now = OPEN_MARK + agent, self.clock()
        gone = {other for other, ends in open_marks(current).items() if ends < now - MARK_GONE_AFTER}
        gone_keys = {key} | {OPEN_MARK + other for other in gone}  # ours is written anew below (or not at all)
        attributes = {name: value for name, value in current.items() if name not in gone_keys}
        if until is not None:
            attributes[key] = int(until)
        self._saw_marks(conversation_id, {"custom_attributes": attributes})
        if attributes == current:
            return
        await self.api.request("POST", self._path(f"/{conversation_id}/custom_attributes"), write=True,
                               json={"custom_attributes": attributes})

    async def apply_case_action(self, action: CaseAction) -> str | None:
        conversation_id = self._conversation_of(action.in_reply_to)
        value = action.value
        if action.kind == "memo":  # a private note: the team sees it in Chatwoot, the customer never does
            return self._sent(await self._post_message(conversation_id, value["text"], private=True),
                              conversation_id).external_id
        if action.kind == "labels":
            await self._labels(conversation_id, value.get("add", []), value.get("remove", []))
            return None
        if action.kind == "assign":
            await self.api.request("POST", self._path(f"/{conversation_id}/assignments"), write=True,
                                json={"assignee_id": self._agent_id(value.get("owner"))})  # None unassigns
            return None
        if action.kind == "status":
            wanted = value.get("status")
            status = TO_STATUS.get(wanted) if isinstance(wanted, str) else None
            if status is None:
                raise ConnectorError(f"Chatwoot has no status for {value.get('status')!r}", retryable=False)
            await self.api.request("POST", self._path(f"/{conversation_id}/toggle_status"), write=True,
                                json={"status": status})
            return None
        if action.kind == "priority":
            wanted = value.get("priority")
            if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted not in TO_PRIORITY:
                raise ConnectorError(f"Chatwoot has no priority for {wanted!r}", retryable=False)
            await self.api.request("POST", self._path(f"/{conversation_id}/toggle_priority"), write=True,
                                json={"priority": TO_PRIORITY[wanted]})  # null: no priority
            return None
        if action.kind == "team":
            team = value.get("team")
            team_id = None if team is None else await self._team_id(str(team))
            await self.api.request("POST", self._path(f"/{conversation_id}/assignments"), write=True,
                                json={"team_id": team_id})  # null: no team (AssignmentsController#set_team)
            return None
        raise ConnectorError(f"Chatwoot has no case action {action.kind!r}", retryable=False)

    def _agent_id(self, owner: str | None) -> int | None:
        if owner is None:
            return None
        if owner in self.agent_ids:
            return self.agent_ids[owner]
        if owner.startswith("chatwoot:") and owner[9:].isdigit():
            return int(owner[9:])
        raise ConnectorError(f"no Chatwoot agent id for {owner!r}: add it to the account's agents option,"
                             f' e.g. agents = {{"12" = "{owner}"}}', retryable=False)

    async def _team_id(self, team: str) -> int:
        """The Chatwoot id of our team `team`: from the account's teams option, else by name among the
        account's teams (`GET /api/v1/accounts/{id}/teams`, asked once).

        Raises:
            ConnectorError: Chatwoot has no such team.
        """
        wanted = team.casefold()
        for team_id, name in self.teams.items():
            if name.casefold() == wanted:
                return team_id
        if self._team_ids is None:
            self._path()  # a misconfigured account says so first
            body = await self.api.json("GET", f"/api/v1/accounts/{self.account_id}/teams")
            listed = body if isinstance(body, list) else []
            found = {str(item.get("name")).casefold(): as_int(item.get("id")) for item in listed
                     if isinstance(item, dict) and isinstance(item.get("name"), str)}
            self._team_ids = {name: found_id for name, found_id in found.items() if found_id is not None}
        if wanted in self._team_ids:
            return self._team_ids[wanted]
        known = ", ".join(sorted(self._team_ids)) or "none"
        raise ConnectorError(f"Chatwoot has no team {team!r} (its teams: {known}); map one in the account's teams"
                             f' option, e.g. teams = {{"3" = "{team}"}}', retryable=False)

    async def _labels(self, conversation_id: int, add: list[str], remove: list[str]) -> None:
        """Chatwoot's POST replaces the whole set: read it, merge our change, write it back."""
        body = await self.api.json("GET", self._path(f"/{conversation_id}/labels"))
        current = body.get("payload") if isinstance(body, dict) else None
        if not isinstance(current, list):
            raise ConnectorError("Chatwoot sent a conversation's labels without a payload list", retryable=False)
        removing = {label.casefold() for label in remove}
        labels = [str(label) for label in current if str(label).casefold() not in removing]
        present = {label.casefold() for label in labels}
        labels += [label for label in add if label.casefold() not in present and label.casefold() not in removing]
        if labels == [str(label) for label in current]:
            return  # already so: nothing to write
        await self.api.request("POST", self._path(f"/{conversation_id}/labels"), write=True, json={"labels": labels})

    async def aclose(self) -> None:
        await self.api.aclose()
