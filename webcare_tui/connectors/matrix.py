"""Provides `MatrixConnector`: a brand account on a Matrix homeserver, through the client-server API.

Customers start a conversation by inviting the brand account to a room; the
connector joins every room it is invited to. Each room the brand is in is a
conversation: direct rooms (listed in the account's `m.direct` account data or
joined from an `is_direct` invite) are private, other rooms public.

- fetch: `GET /_matrix/client/v3/sync` with an inline filter (only `m.room.message`,
  `m.room.encrypted`, `m.room.redaction` and `m.room.member` timeline events, members
  lazy-loaded) and
  `timeout=0`; the cursor is the sync's `next_batch`. The first sync is bounded by
  `timeline_limit` events per room. When a later sync says a room's timeline was
  `limited` (events were skipped), the gap is filled from `GET /rooms/{roomId}/messages`
  back to the previous cursor, at most `GAP_PAGES` pages.
- Messages: `m.text` and `m.notice` as they are; other msgtypes as "[image] body";
  an edit (`m.replace`) changes the text of its original when both arrive together,
  otherwise it arrives as its own message "[edited] new text" answering the original.
  A redacted event has no text left and is skipped. A redaction (the customer deleted a
  message we may hold already) arrives as its own message "[deleted] …" answering the
  deleted one, as an edit does; the store keeps what was written, as for Telegram. A
  redaction of a message in the same batch adds nothing (the message came redacted), and
  one of anything but a message (a reaction taken back) is ignored: when the redacted
  event was not seen in this session, `GET /rooms/{roomId}/event/{eventId}` says its type.
  End-to-end encrypted events cannot be read (the connector holds no keys): each becomes a
  message "[encrypted message: …]" saying so, so the room still shows up as a case.
  The brand's own events are direction "out" with the customer as author: in a direct
  room the other member, elsewhere the author of the message it answers.
  `external_id` is "room_id|event_id", so a reply knows its room.
- send_reply: `PUT /rooms/{roomId}/send/m.room.message/{txnId}` with the reply's
  idempotency key as txnId (the homeserver publishes a repeated txnId once) and an
  `m.in_reply_to` relation. A private answer to a message in a public room goes to the
  direct room with that customer, created (`POST /createRoom`, `is_direct`) when there is none.
  Synapse keeps a txnId for at least 30 minutes, so a reply whose outcome is unknown is
  repeated with it only within 25; after that `find_sent` reads the room back to the message
  answered, looking for our event with that `unsigned.transaction_id`.
- like: an `m.reaction` annotation "👍" on the message.

Account options (never secrets; the access token is the account's secret and goes in
the `Authorization` header only):
    base_url: the homeserver, e.g. "https://matrix.example.org" (required).
    user_id: the brand account's Matrix ID, e.g. "@webcare:example.org" (required).
    timeline_limit: events per room in one sync (default 50).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from webcare_tui.config import Account
from webcare_tui.connectors.base import Capabilities, Connector, ConnectorError, FetchResult, OutgoingReply, SentReply
from webcare_tui.connectors.http import HttpApi, bounded_wait, error_text, retry_after_seconds
from webcare_tui.model import Direction, Message, Visibility

CLIENT = "/_matrix/client/v3"
DEFAULT_TIMELINE_LIMIT = 50
GAP_PAGES = 5  # pages of /messages fetched to fill one room's gap after a limited sync
FIND_PAGES = 5  # pages of /messages read back to find a reply whose outcome is unknown
# An event may be at most 65536 bytes; 15000 characters of up to 4 bytes each leave room for the rest.
MAX_REPLY_LENGTH = 15_000
LIKE_KEY = "👍"
MESSAGE_TYPES = ["m.room.message", "m.room.encrypted"]
REDACTION = "m.room.redaction"
TIMELINE_TYPES = [*MESSAGE_TYPES, REDACTION, "m.room.member"]
ENCRYPTED_TEXT = "[encrypted message: webcare cannot read end-to-end encrypted rooms]"
DELETED_TEXT = "[deleted] the customer deleted this message"
AUTH_ERRORS = {"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"}
MEDIA = {"m.image": "image", "m.file": "file", "m.audio": "audio", "m.video": "video", "m.location": "location",
         "m.emote": "emote", "m.sticker": "sticker"}
SENDERS_KEPT = 5000  # who wrote recent events, to tell whom our replies in public rooms answered


def room_and_event(external_id: str) -> tuple[str, str]:
    """Split "room_id|event_id".

    Raises:
        ConnectorError: it is not a Matrix message id (permanent).
    """
    room_id, _, event_id = external_id.partition("|")
    if not room_id.startswith("!") or not event_id.startswith("$"):
        raise ConnectorError(f"{external_id!r} is not a Matrix message id (room_id|event_id)", retryable=False)
    return room_id, event_id


def _matrix_error(response: httpx.Response) -> tuple[str | None, dict]:
    try:
        body = response.json()
    except ValueError:
        return None, {}
    if not isinstance(body, dict):
        return None, {}
    code = body.get("errcode")
    return (code if isinstance(code, str) else None), body


class MatrixApi(HttpApi):
    """`HttpApi` that reads Matrix's standard error body: `{"errcode", "error", "retry_after_ms"}`."""

    def failure(self, response: httpx.Response) -> ConnectorError:
        code, body = _matrix_error(response)
        if code is None:
            return super().failure(response)
        said = f"{code}: {error_text(response)}"
        status = response.status_code
        if code in AUTH_ERRORS:
            return ConnectorError(f"Matrix refused the token ({status} {said}); sign in again with"
                                  " `webcare accounts add`", retryable=False, needs_auth=True)
        if code == "M_LIMIT_EXCEEDED" or status == 429:
            wait = body.get("retry_after_ms")
            if isinstance(wait, int | float) and not isinstance(wait, bool) and wait >= 0:
                seconds = bounded_wait(wait, unit=0.001)
            else:
                seconds = retry_after_seconds(response, self.clock)
            return ConnectorError(f"Matrix rate limit reached ({said})", retry_after=seconds)
        if status >= 500:
            return ConnectorError(f"Matrix had a server error ({status} {said})")
        return ConnectorError(f"Matrix refused the request ({status} {said})", retryable=False)


class _Room:
    """What the connector knows of one room: display names and the other members."""

    __slots__ = ("names", "members")

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.members: set[str] = set()  # joined or invited, ourselves excluded


class MatrixConnector(Connector):
    platform = "matrix"
    # Synapse keeps a txnId at least 30 minutes (an in-memory cache, emptied every 30, and by a
    # restart): a repeat after that could post twice, so it is looked up first (`find_sent`)
    capabilities = Capabilities(max_reply_length=MAX_REPLY_LENGTH, private_messages=True, like=True,
                                idempotent_send=True, keys_kept_for=25 * 60)

    def __init__(self, account: Account, secret: str | None = None, http: httpx.AsyncClient | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(account, secret, http)
        options = account.options
        base_url, user_id = options.get("base_url"), options.get("user_id")
        if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://")):
            raise ValueError(f"account {account.name!r}: option base_url must be the homeserver's URL,"
                             " e.g. \"https://matrix.example.org\"")
        if not isinstance(user_id, str) or not user_id.startswith("@") or ":" not in user_id:
            raise ValueError(f"account {account.name!r}: option user_id must be the brand's Matrix ID,"
                             " e.g. \"@webcare:example.org\"")
        self.user_id = user_id
        self.server_name = user_id.split(":", 1)[1]
        limit = options.get("timeline_limit", DEFAULT_TIMELINE_LIMIT)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise ValueError(f"account {account.name!r}: option timeline_limit must be a number of events"
                             f" from 1 to 1000, not {limit!r}")
        self.timeline_limit = limit
        self.clock = clock
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        self.api = MatrixApi("Matrix", base_url, headers, http, clock=clock)
        self._direct: dict[str, list[str]] | None = None  # m.direct: customer → their direct rooms
        self._rooms: dict[str, _Room] = {}
        self._senders: dict[str, str] = {}  # event id → sender, the most recent SENDERS_KEPT

    # ---------------------------------------------------------------- fetch

    def sync_filter(self) -> dict[str, Any]:
        """The inline filter of every /sync: message, redaction and member events, nothing else."""
        return {
            "presence": {"not_types": ["*"]},
            "account_data": {"types": ["m.direct"]},
            "room": {
                "timeline": {"limit": self.timeline_limit, "types": TIMELINE_TYPES},
                "state": {"types": ["m.room.member"], "lazy_load_members": True, "include_redundant_members": True},
                "ephemeral": {"not_types": ["*"]},
                "account_data": {"not_types": ["*"]},
            },
        }

    async def fetch(self, cursor: str | None) -> FetchResult:
        params = {"filter": json.dumps(self.sync_filter(), separators=(",", ":")), "timeout": "0"}
        if cursor:
            params["since"] = cursor
        body = await self.api.json("GET", f"{CLIENT}/sync", params=params)
        if not isinstance(body, dict) or not isinstance(body.get("next_batch"), str):
            raise ConnectorError("Matrix sent a sync response without next_batch")
        rooms = body.get("rooms", {})
        if not isinstance(rooms, dict):
            raise ConnectorError("Matrix sent a sync response whose rooms are not an object")
        if self._direct is None and cursor is not None:
            await self._load_direct()
        self._direct = self._direct if self._direct is not None else {}
        for event in _events(body.get("account_data")):
            if event.get("type") == "m.direct" and isinstance(event.get("content"), dict):
                self._direct = _direct_map(event["content"])
        skipped: list[str] = []
        joined = await self._accept_invites(_object(rooms.get("invite")), skipped)
        found: list[tuple[int, Message]] = []
        for room_id, room in _object(rooms.get("join")).items():
            if not isinstance(room, dict):
                skipped.append(f"{room_id}: the room is not an object")
                continue
            await self._read_room(room_id, room, cursor, found, skipped)
        found.sort(key=lambda pair: pair[0])
        # A room we just joined shows its timeline in the next sync: fetch it at once.
        return FetchResult([message for _, message in found], body["next_batch"], more=joined, skipped=skipped)

    async def _load_direct(self) -> None:
        content = await self.api.json("GET", f"{CLIENT}/user/{quote(self.user_id, safe='')}/account_data/m.direct",
                                      missing=(404,))
        self._direct = _direct_map(content if isinstance(content, dict) else {})

    def _direct_rooms(self) -> set[str]:
        return {room for rooms in (self._direct or {}).values() for room in rooms}

    async def _remember_direct(self, customer: str, room_id: str) -> None:
        """Record a direct room in `m.direct`, as clients do, so it stays private after a restart."""
        await self._load_direct()  # afresh: another client of this account may have changed it
        assert self._direct is not None
        if room_id in self._direct.get(customer, []):
            return
        updated = {user: list(rooms) for user, rooms in self._direct.items()}
        updated.setdefault(customer, []).append(room_id)
        await self.api.request("PUT", f"{CLIENT}/user/{quote(self.user_id, safe='')}/account_data/m.direct",
                               json=updated, write=True)
        self._direct = updated

    async def _accept_invites(self, invites: dict[str, Any], skipped: list[str]) -> bool:
        """Join every room we are invited to; returns whether any was joined.

        A refusal (the invite was withdrawn, the room is gone) is reported and skipped;
        anything that may pass (network, rate limit) raises, so the invite is seen again.
        """
        joined = False
        for room_id, invite in invites.items():
            ours = next((event for event in _events(invite.get("invite_state") if isinstance(invite, dict) else None)
                         if event.get("type") == "m.room.member" and event.get("state_key") == self.user_id), None)
            try:
                await self.api.request("POST", f"{CLIENT}/join/{quote(room_id, safe='')}", json={}, write=True)
            except ConnectorError as error:
                if error.retryable or error.needs_auth:
                    raise
                skipped.append(f"{room_id}: could not join ({error.message})")
                continue
            joined = True
            content = ours.get("content") if ours else None
            inviter = ours.get("sender") if ours else None
            if isinstance(content, dict) and content.get("is_direct") is True and isinstance(inviter, str):
                await self._remember_direct(inviter, room_id)
        return joined

    async def _read_room(self, room_id: str, room: dict[str, Any], cursor: str | None,
                         found: list[tuple[int, Message]], skipped: list[str]) -> None:
        known = self._rooms.setdefault(room_id, _Room())
        summary = room.get("summary")
        heroes = summary.get("m.heroes") if isinstance(summary, dict) else None
        if isinstance(heroes, list):
            known.members.update(hero for hero in heroes if isinstance(hero, str) and hero != self.user_id)
        for event in _events(room.get("state")):
            self._learn_member(room_id, known, event)
        timeline = _object(room.get("timeline"))
        events = _events(timeline)
        if timeline.get("limited") is True and cursor and isinstance(timeline.get("prev_batch"), str) \
                and not self._joined_in(events):  # a room just joined starts with the bounded timeline
            events = await self._gap(room_id, timeline["prev_batch"], cursor, skipped) + events
        for event in events:
            if event.get("type") == "m.room.member":
                self._learn_member(room_id, known, event)
            elif event.get("type") in MESSAGE_TYPES and isinstance(event.get("event_id"), str) \
                    and isinstance(event.get("sender"), str):
                self._senders[event["event_id"]] = event["sender"]
        while len(self._senders) > SENDERS_KEPT:
            del self._senders[next(iter(self._senders))]
        edits, folded = _edits_in(events)
        in_batch = {event.get("event_id") for event in events if event.get("type") in MESSAGE_TYPES}
        private = room_id in self._direct_rooms()
        for event in events:
            if event.get("type") == "m.room.member" or event.get("event_id") in folded:
                continue  # an edit of a message in this batch changed the original's text
            event_id = event.get("event_id", "?")
            try:
                if event.get("type") == REDACTION:
                    deleted = await self._redaction(room_id, known, event, in_batch, private)
                    if deleted is None:
                        continue
                    message = deleted
                else:
                    message = self._message(room_id, known, event, edits, private)
            except _Skip as reason:
                skipped.append(f"{room_id}|{event_id}: {reason}")
                continue
            found.append((event["origin_server_ts"], message))

    async def _gap(self, room_id: str, prev_batch: str, cursor: str, skipped: list[str]) -> list[dict[str, Any]]:
        """Events the limited sync left out, between the previous cursor and its timeline, oldest first."""
        room_filter = {"types": TIMELINE_TYPES, "lazy_load_members": True}
        older: list[dict[str, Any]] = []
        start = prev_batch
        for _ in range(GAP_PAGES):
            page = await self.api.json("GET", f"{CLIENT}/rooms/{quote(room_id, safe='')}/messages", params={
                "dir": "b", "from": start, "to": cursor, "limit": str(self.timeline_limit),
                "filter": json.dumps(room_filter, separators=(",", ":"))})
            chunk = page.get("chunk") if isinstance(page, dict) else None
            if not isinstance(chunk, list):
                raise ConnectorError("Matrix sent a /messages response without chunk")
            older.extend(event for event in chunk if isinstance(event, dict))
            for event in _events({"events": page.get("state")}):
                self._learn_member(room_id, self._rooms[room_id], event)
            end = page.get("end")
            if not isinstance(end, str) or end == start:  # no end: nothing more (an empty chunk may not be the end)
                break
            start = end
        else:
            skipped.append(f"{room_id}: more than {GAP_PAGES * self.timeline_limit} events arrived while away;"
                           " the oldest of them were not fetched")
        older.reverse()  # /messages backwards gives the newest first
        return older

    def _joined_in(self, events: list[dict[str, Any]]) -> bool:
        return any(event.get("type") == "m.room.member" and event.get("state_key") == self.user_id
                   and isinstance(event.get("content"), dict) and event["content"].get("membership") == "join"
                   for event in events)

    def _learn_member(self, room_id: str, known: _Room, event: dict[str, Any]) -> None:
        user, content = event.get("state_key"), event.get("content")
        if event.get("type") != "m.room.member" or not isinstance(user, str) or not isinstance(content, dict):
            return
        name = content.get("displayname")
        if isinstance(name, str) and name.strip():
            known.names[user] = name.strip()
        if user == self.user_id:
            if content.get("is_direct") is True and isinstance(event.get("sender"), str) \
                    and event["sender"] != self.user_id:
                self._direct = self._direct if self._direct is not None else {}
                self._direct.setdefault(event["sender"], [])
                if room_id not in self._direct[event["sender"]]:
                    self._direct[event["sender"]].append(room_id)
            return
        if content.get("membership") in ("join", "invite"):
            known.members.add(user)
        else:
            known.members.discard(user)

    def _message(self, room_id: str, known: _Room, event: dict[str, Any], edits: dict[str, dict[str, Any]],
                 private: bool) -> Message:
        """The message an event stands for.

        Raises:
            _Skip: the event cannot be shown (redacted, malformed); the reason.
        """
        event_id, sender, ts, content = (event.get("event_id"), event.get("sender"), event.get("origin_server_ts"),
                                         event.get("content"))
        if not isinstance(event_id, str) or not isinstance(sender, str) or not isinstance(content, dict) \
                or not isinstance(ts, int) or isinstance(ts, bool):
            raise _Skip("missing event_id, sender, origin_server_ts or content")
        unsigned, relates = _object(event.get("unsigned")), _object(content.get("m.relates_to"))
        if "redacted_because" in unsigned or not content:
            raise _Skip("redacted by its sender")
        replaced = relates.get("event_id") if relates.get("rel_type") == "m.replace" else None
        new_content = content.get("m.new_content")
        reply_to: str | None
        if event.get("type") == "m.room.encrypted":
            # No keys to read it; its relation (reply, edit) is sent in the clear.
            reply_to = replaced if isinstance(replaced, str) else _reply_target(relates)
            text = ("[edited] " if isinstance(replaced, str) else "") + ENCRYPTED_TEXT
        elif isinstance(replaced, str):
            if not isinstance(new_content, dict):
                raise _Skip("an edit without m.new_content")
            if self._senders.get(replaced, sender) != sender:
                raise _Skip("an edit by someone other than the message's author")
            text, reply_to = "[edited] " + _text(new_content, None), replaced
        else:
            latest = edits.get(event_id) or _bundled_edit(unsigned, sender)
            edited = latest.get("content", {}).get("m.new_content") if latest else None
            text = _text(edited if isinstance(edited, dict) else content, content)
            reply_to = _reply_target(relates)
        customer = sender
        if sender == self.user_id:
            answered = self._customer_of(room_id, known, reply_to)
            if answered is None:
                raise _Skip("our own message, but which customer it answers cannot be told")
            customer = answered
        return self._as_message(room_id, known, event_id, customer, text, ts, sender == self.user_id, private,
                                reply_to)

    async def _redaction(self, room_id: str, known: _Room, event: dict[str, Any], in_batch: set[Any],
                         private: bool) -> Message | None:
        """The message saying a message was deleted, or None when there is nothing to say
        (its message came in this batch already redacted, or what was redacted is no message).

        Raises:
            _Skip: the redaction is malformed, or undoes something of ours; the reason.
            ConnectorError: the redacted event could not be looked up, and that may pass.
        """
        event_id, sender, ts, content = (event.get("event_id"), event.get("sender"), event.get("origin_server_ts"),
                                         _object(event.get("content")))
        target = content.get("redacts", event.get("redacts"))  # room v11 moved it into content
        if not isinstance(event_id, str) or not isinstance(sender, str) or not isinstance(target, str) \
                or not isinstance(ts, int) or isinstance(ts, bool):
            raise _Skip("a redaction without event_id, sender, origin_server_ts or redacts")
        if target in in_batch:
            return None  # the message itself came in this batch, redacted: it is skipped as such
        author = self._senders.get(target) or await self._message_sender(room_id, target)
        if author is None:
            return None  # a reaction taken back, or another event we never show
        if author == self.user_id:
            raise _Skip(f"our own message {target} was deleted (by {sender})")
        if sender == self.user_id:
            raise _Skip(f"we deleted {author}'s message {target}")
        text = DELETED_TEXT if sender == author else f"[deleted] {sender} deleted this message"
        reason = content.get("reason")
        if isinstance(reason, str) and reason.strip():
            text += f" (reason: {reason.strip()})"
        return self._as_message(room_id, known, event_id, author, text, ts, False, private, target,
                                url=self.link(room_id, target))

    async def _message_sender(self, room_id: str, event_id: str) -> str | None:
        """Who sent a message event of the room, asked of the homeserver; None when it is no
        message (a reaction, a state event) or the homeserver will not show it."""
        found = await self.api.json(
            "GET", f"{CLIENT}/rooms/{quote(room_id, safe='')}/event/{quote(event_id, safe='')}", missing=(403, 404))
        sender = found.get("sender") if isinstance(found, dict) else None
        if not isinstance(sender, str) or found.get("type") not in MESSAGE_TYPES:
            return None
        self._senders[event_id] = sender
        return sender

    def _as_message(self, room_id: str, known: _Room, event_id: str, customer: str, text: str, ts: int, ours: bool,
                    private: bool, reply_to: str | None, url: str | None = None) -> Message:
        return Message(
            platform=self.platform, account=self.account.name, external_id=f"{room_id}|{event_id}",
            author_id=customer, text=text, created_at=ts // 1000,
            direction=Direction.OUT if ours else Direction.IN,
            visibility=Visibility.PRIVATE if private else Visibility.PUBLIC,
            author_handle=customer, author_name=known.names.get(customer),
            in_reply_to=f"{room_id}|{reply_to}" if reply_to else None, url=url or self.link(room_id, event_id),
        )

    def _customer_of(self, room_id: str, known: _Room, reply_to: str | None) -> str | None:
        """Whom our own message in a room is for: the customer of a direct room, the author it
        answers, else the room's only other member."""
        direct = [user for user, rooms in (self._direct or {}).items() if room_id in rooms]
        if len(direct) == 1:
            return direct[0]
        answered = self._senders.get(reply_to) if reply_to else None
        if answered and answered != self.user_id:
            return answered
        return next(iter(known.members)) if len(known.members) == 1 else None

    def link(self, room_id: str, event_id: str) -> str:
        """A matrix.to link to the event."""
        return f"https://matrix.to/#/{quote(room_id, safe='')}/{quote(event_id, safe='')}?via={self.server_name}"

    # ---------------------------------------------------------------- send

    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        if len(reply.text) > MAX_REPLY_LENGTH:
            raise ConnectorError(f"the reply has {len(reply.text)} characters; Matrix allows {MAX_REPLY_LENGTH}",
                                 retryable=False)
        room_id, event_id = room_and_event(reply.in_reply_to) if reply.in_reply_to else (None, None)
        if reply.visibility == Visibility.PRIVATE:
            if self._direct is None:
                await self._load_direct()
            if room_id is None or room_id not in self._direct_rooms():
                room_id, event_id = await self._direct_room_with(reply.recipient_id), None
        if room_id is None:
            raise ConnectorError("there is no Matrix message to answer, so no room to reply in", retryable=False)
        content: dict[str, Any] = {"msgtype": "m.text", "body": reply.text}
        if event_id:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": event_id}}
        sent_id = await self._send(room_id, "m.room.message", reply.idempotency_key, content)
        return SentReply(f"{room_id}|{sent_id}", int(self.clock()), self.link(room_id, sent_id))

    async def find_sent(self, reply: OutgoingReply) -> SentReply | None:
        """Our reply among the room's latest events, newest first, back to the message it answers.

        The homeserver gives the sender's own device each event's `unsigned.transaction_id`: the
        reply's key. An event of ours without one (sent under another token) counts when it has the
        reply's text and answers the same message.

        Raises:
            ConnectorError: neither the reply nor the answered message within FIND_PAGES pages.
        """
        room_id, answered = room_and_event(reply.in_reply_to) if reply.in_reply_to else (None, None)
        if reply.visibility == Visibility.PRIVATE:
            if self._direct is None:
                await self._load_direct()
            if room_id is None or room_id not in self._direct_rooms():
                rooms = (self._direct or {}).get(reply.recipient_id)
                if not rooms:
                    return None  # no direct room: a private reply is sent only once there is one
                room_id, answered = rooms[-1], None
        if room_id is None:
            return None
        start: str | None = None
        for _ in range(FIND_PAGES):
            params = {"dir": "b", "limit": str(self.timeline_limit),
                      "filter": json.dumps({"types": MESSAGE_TYPES}, separators=(",", ":"))}
            page = await self.api.json("GET", f"{CLIENT}/rooms/{quote(room_id, safe='')}/messages",
                                       params=params | ({"from": start} if start else {}))
            chunk = page.get("chunk") if isinstance(page, dict) else None
            if not isinstance(chunk, list):
                raise ConnectorError("Matrix sent a /messages response without chunk")
            for item in chunk:
                if not isinstance(item, dict):
                    continue
                if item.get("event_id") == answered:
                    return None  # back at the message answered: the reply is not after it
                event_id = item.get("event_id")
                if isinstance(event_id, str) and item.get("sender") == self.user_id and _is_the_reply(item, reply, answered):
                    ts = item.get("origin_server_ts")
                    at = ts // 1000 if isinstance(ts, int) else int(self.clock())
                    return SentReply(f"{room_id}|{event_id}", at, self.link(room_id, event_id))
            end = page.get("end")
            if not isinstance(end, str) or end == start:
                return None  # the start of the room
            start = end
        raise ConnectorError(f"the reply was not among the room's last {FIND_PAGES * self.timeline_limit} events,"
                             " nor the message it answers: Matrix cannot tell whether it was sent", retryable=False)

    async def _direct_room_with(self, customer: str) -> str:
        """The customer's direct room with us (the newest in m.direct), created when there is none."""
        assert self._direct is not None
        rooms = self._direct.get(customer)
        if rooms:
            return rooms[-1]
        created = await self.api.json("POST", f"{CLIENT}/createRoom", write=True, json={
            "is_direct": True, "invite": [customer], "preset": "trusted_private_chat"})
        room_id = created.get("room_id") if isinstance(created, dict) else None
        if not isinstance(room_id, str):
            raise ConnectorError("Matrix created a room but sent no room_id", outcome_unknown=True)
        await self._remember_direct(customer, room_id)
        return room_id

    async def _send(self, room_id: str, event_type: str, txn_id: str, content: dict[str, Any]) -> str:
        path = f"{CLIENT}/rooms/{quote(room_id, safe='')}/send/{event_type}/{quote(txn_id, safe='')}"
        body = await self.api.json("PUT", path, json=content, write=True)
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if not isinstance(event_id, str):
            raise ConnectorError("Matrix accepted the event but sent no event_id", outcome_unknown=True)
        return event_id

    async def like(self, external_id: str) -> None:
        """React 👍; the txnId comes from the message, so liking it again changes nothing."""
        room_id, event_id = room_and_event(external_id)
        txn_id = "like-" + hashlib.sha256(external_id.encode()).hexdigest()[:32]
        path = f"{CLIENT}/rooms/{quote(room_id, safe='')}/send/m.reaction/{txn_id}"
        response = await self.api.request("PUT", path, write=True, expect=(400,), json={
            "m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": LIKE_KEY}})
        if response.status_code == 400 and _matrix_error(response)[0] != "M_DUPLICATE_ANNOTATION":
            raise self.api.failure(response)  # a duplicate annotation means it is liked already

    async def aclose(self) -> None:
        await self.api.aclose()


class _Skip(Exception):
    """An event that cannot become a message; its text is the reason."""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _events(batch: Any) -> list[dict[str, Any]]:
    """The events of an `{"events": [...]}` batch that are objects."""
    events = batch.get("events") if isinstance(batch, dict) else None
    return [event for event in events if isinstance(event, dict)] if isinstance(events, list) else []


def _is_the_reply(item: dict[str, Any], reply: OutgoingReply, answered: str | None) -> bool:
    """Whether an event of ours is `reply`: by its txnId, or (sent under another token, which the
    homeserver gives no txnId) by its text and the message it answers."""
    unsigned, content = _object(item.get("unsigned")), _object(item.get("content"))
    if "transaction_id" in unsigned:
        return unsigned["transaction_id"] == reply.idempotency_key
    body = content.get("body")
    return (isinstance(body, str) and _without_reply_fallback(body) == reply.text
            and _reply_target(_object(content.get("m.relates_to"))) == answered)


def _direct_map(content: dict[str, Any]) -> dict[str, list[str]]:
    return {user: [room for room in rooms if isinstance(room, str)]
            for user, rooms in content.items() if isinstance(user, str) and isinstance(rooms, list)}


def _edits_in(events: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Edits of messages in this batch by their own sender: original id → latest edit, and the edits' ids."""
    senders = {event.get("event_id"): event.get("sender") for event in events}
    edits: dict[str, dict[str, Any]] = {}
    folded: set[str] = set()
    for event in events:
        content = _object(event.get("content"))
        relates = content.get("m.relates_to")
        if not isinstance(relates, dict) or relates.get("rel_type") != "m.replace":
            continue
        original, edit_id = relates.get("event_id"), event.get("event_id")
        if isinstance(original, str) and original in senders and senders[original] == event.get("sender") \
                and isinstance(content.get("m.new_content"), dict):
            edits[original] = event  # timeline order: the last one wins
            if isinstance(edit_id, str):  # one without an id is skipped as malformed
                folded.add(edit_id)
    return edits, folded


def _bundled_edit(unsigned: dict[str, Any], sender: str) -> dict[str, Any] | None:
    """The latest edit the server bundled with the event (unsigned m.relations m.replace), if by its sender."""
    relations = unsigned.get("m.relations")
    edit = relations.get("m.replace") if isinstance(relations, dict) else None
    if isinstance(edit, dict) and edit.get("sender") == sender and isinstance(edit.get("content"), dict):
        return edit
    return None


def _reply_target(relates: dict[str, Any]) -> str | None:
    in_reply_to = relates.get("m.in_reply_to")
    target = in_reply_to.get("event_id") if isinstance(in_reply_to, dict) else None
    if not isinstance(target, str) and relates.get("rel_type") == "m.thread":
        target = relates.get("event_id")  # a thread message answers the thread's root
    return target if isinstance(target, str) else None


def _text(content: dict[str, Any], original: dict[str, Any] | None) -> str:
    """The plain text of message content: body, with "[image] " before other msgtypes.

    Raises:
        _Skip: there is no body.
    """
    body = content.get("body")
    if not isinstance(body, str):
        raise _Skip("no body")
    if original is not None and isinstance(original.get("m.relates_to"), dict) \
            and "m.in_reply_to" in original["m.relates_to"]:
        body = _without_reply_fallback(body)
    msgtype = content.get("msgtype")
    kind = MEDIA.get(msgtype) if isinstance(msgtype, str) else None
    if kind is None and isinstance(msgtype, str) and msgtype.startswith("m.") and msgtype not in ("m.text", "m.notice"):
        kind = msgtype[2:]
    return f"[{kind}] {body}" if kind else body


def _without_reply_fallback(body: str) -> str:
    """A reply's body without the quoted "> <@user> ..." fallback older clients put before it."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    quoted = 0
    while quoted < len(lines) and lines[quoted].startswith(">"):
        quoted += 1
    rest = lines[quoted + 1:] if quoted < len(lines) and lines[quoted] == "" else lines[quoted:]
    return "\n".join(rest) if rest else body
