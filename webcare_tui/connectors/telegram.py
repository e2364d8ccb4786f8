"""Provides `TelegramConnector`: a Telegram bot's chats through the Bot API, by long polling.

The account's secret is the bot token from @BotFather. Telegram puts it in the URL
(`https://api.telegram.org/bot<token>/<method>`), so it is kept out of every error
text (`Connector.redact`) and out of httpx's request log lines (a log filter).

Fetching calls `getUpdates` with `offset` = the last update_id + 1 (the cursor). Telegram
forgets updates once a later offset is asked for; the sync stores the cursor only after
the page is ingested, so a crash repeats a page (the store ignores repeats) and loses
none. The first sync takes only the last `first_sync_updates` pending updates (a
negative offset), never an unbounded backlog.

Mapping:
- `message` and `business_message` → one Message; private chats and business chats are
  private, groups and supergroups public (in groups, by default, only messages addressed
  to the bot: a mention, a command to it, a reply to it). `external_id` is
  "chat_id:message_id" (message ids are only unique per chat); a business chat adds
  "|business:<connection id>", which a reply there needs.
- `edited_message`/`edited_business_message` → a message of its own, "[edited] …", with
  external_id "chat_id:message_id|edit:<edit_date>": the store ignores a repeated id, so
  an edit under the original's id would be dropped and the agent would never see what the
  customer corrected. Replies and likes to it go to the original message.
- `deleted_business_messages` (asked for in `allowed_updates` like the kinds above) → no
  message: the store keeps what the customer wrote; the sync reports which were deleted.
- Photos, stickers, voice notes… become text ("[photo] caption"); service messages (members
  joined, title changed, pinned…) and other update kinds are skipped with a reason.

Replies use `sendMessage` (plain text, no parse_mode: an agent's text is never markup) with
`reply_parameters`; a private reply to a group message goes to the customer's private chat
(a bot may only write to users who started it: Telegram's 403 says so and we say it
plainly). `like` sets a 👍 reaction (`setMessageReaction`). A bot can neither send an
idempotency key nor list what it sent, so `find_sent` cannot tell.

Account options (`[[account]]` in config.toml; none of them secret):
- `base_url`: the Bot API server, default https://api.telegram.org (a local server works).
- `poll_timeout`: seconds `getUpdates` waits for news (long polling), default 20; 0 polls
  and returns at once. The first call of a session never waits. The HTTP read timeout is
  always 15 s longer than the poll.
- `page_size`: updates per call, 1–100, default 100.
- `first_sync_updates`: how many of the latest pending updates the first sync takes,
  1–100, default 100 (older ones are confirmed and forgotten by Telegram).
- `group_messages`: "addressed" (default) or "all" (every group message the bot sees;
  with privacy mode on Telegram only shows it addressed ones anyway).
"""

from __future__ import annotations

import collections
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from webcare_tui.config import Account
from webcare_tui.connectors.base import Capabilities, Connector, ConnectorError, FetchResult, OutgoingReply, SentReply
from webcare_tui.connectors.http import MAX_ERROR_TEXT, HttpApi, bounded_wait, retry_after_seconds
from webcare_tui.model import Direction, Message, Visibility

DEFAULT_BASE_URL = "https://api.telegram.org"
MAX_TEXT = 4096  # sendMessage: "1-4096 characters after entities parsing"
MESSAGE_UPDATES = ["message", "edited_message", "business_message", "edited_business_message"]
# Every update kind getUpdates is asked for. Telegram keeps the last list it was given (a bot's
# earlier setting, or its webhook's), so a kind we read must be named here or it never arrives.
ALLOWED_UPDATES = [*MESSAGE_UPDATES, "deleted_business_messages"]
LIKE_EMOJI = "👍"
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_ERRORS = tuple(range(400, 600))  # we read Telegram's own {"ok": false, ...} body for every failure
_CANNOT_INITIATE = "can't initiate conversation"
_BLOCKED = "blocked by the user"

# Message fields that carry what the customer sent, in the order we look for them.
_CONTENT = ("text", "photo", "animation", "video", "video_note", "voice", "audio", "document", "sticker",
            "live_photo", "paid_media", "story", "contact", "location", "venue", "poll", "dice", "game",
            "checklist", "invoice", "giveaway", "giveaway_winners", "rich_message")
# Message fields of service messages (members joined, title changed, pinned, payments…) and the
# prefixes of service families that grow with new API versions.
_SERVICE = frozenset({
    "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo", "delete_chat_photo",
    "group_chat_created", "supergroup_chat_created", "channel_chat_created", "message_auto_delete_timer_changed",
    "migrate_to_chat_id", "migrate_from_chat_id", "pinned_message", "successful_payment", "refunded_payment",
    "users_shared", "chat_shared", "gift", "unique_gift", "gift_upgrade_sent", "connected_website",
    "write_access_allowed", "passport_data", "proximity_alert_triggered", "boost_added", "chat_background_set",
    "checklist_tasks_done", "checklist_tasks_added", "direct_message_price_changed", "paid_message_price_changed",
    "managed_bot_created", "poll_option_added", "poll_option_deleted", "web_app_data",
})
_SERVICE_PREFIXES = ("forum_topic_", "general_forum_topic_", "video_chat_", "suggested_post_", "chat_owner_",
                     "giveaway_created", "giveaway_completed")


class _TokenLogFilter(logging.Filter):
    """Takes every live bot token out of httpx's log lines ("HTTP Request: POST https://…/bot<token>/…")."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: collections.Counter[str] = collections.Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if not +self.tokens:
            return True
        text = record.getMessage()
        redacted = text
        for token in +self.tokens:
            redacted = redacted.replace(token, "•••")
        if redacted != text:
            record.msg, record.args = redacted, None
        return True


_LOG_FILTER = _TokenLogFilter()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_LOG_FILTER)


@dataclass(frozen=True)
class MessageRef:
    """Where a message lives: what a reply or a reaction to it needs."""

    chat_id: int
    message_id: int
    business: str | None = None


def message_ref(chat_id: int, message_id: int, *, edit_date: int | None = None, business: str | None = None) -> str:
    """The external id of a Telegram message ("chat_id:message_id", plus an edit and a business connection)."""
    ref = f"{chat_id}:{message_id}"
    if edit_date is not None:
        ref += f"|edit:{edit_date}"
    if business:
        ref += f"|business:{business}"  # last: a connection id is an opaque string
    return ref


def parse_ref(external_id: str) -> MessageRef:
    """The chat, message and business connection an external id names.

    Raises:
        ConnectorError: it is not a Telegram message id (permanent).
    """
    head, _, business = external_id.partition("|business:")
    chat, _, message = head.split("|", 1)[0].partition(":")
    try:
        return MessageRef(int(chat), int(message), business or None)
    except ValueError:
        raise ConnectorError(f"{external_id!r} is not a Telegram message id (chat_id:message_id)",
                             retryable=False) from None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _duration(seconds: Any) -> str:
    seconds = _int(seconds)
    return f" {seconds // 60}:{seconds % 60:02d}" if seconds is not None else ""


def _full_name(first: Any, last: Any) -> str | None:
    return " ".join(part for part in (_str(first), _str(last)) if part) or None


def _utf16_slice(text: str, offset: int, length: int) -> str:
    """The part of `text` an entity names (Telegram counts offsets in UTF-16 code units)."""
    units = text.encode("utf-16-le")
    return units[offset * 2:(offset + length) * 2].decode("utf-16-le", errors="replace")


def _content(message: dict) -> str | None:
    """What the customer sent, as text: the text itself, or "[photo] caption" and the like."""
    caption = _str(message.get("caption"))
    for kind in _CONTENT:
        if kind not in message or message[kind] in (None, [], {}):
            continue
        value = message[kind]
        item = _dict(value)
        if kind == "text":
            return _str(value)
        if kind == "sticker":
            label = f"[sticker {item['emoji']}]" if _str(item.get("emoji")) else "[sticker]"
        elif kind == "voice":
            label = f"[voice{_duration(item.get('duration'))}]"
        elif kind in ("video", "video_note"):
            label = f"[{kind.replace('_', ' ')}{_duration(item.get('duration'))}]"
        elif kind == "animation":
            label = "[GIF]"
        elif kind == "audio":
            title = " – ".join(part for part in (_str(item.get("performer")), _str(item.get("title"))) if part)
            label = f"[audio {title}]" if title else "[audio]"
        elif kind == "document":
            label = f"[document {item['file_name']}]" if _str(item.get("file_name")) else "[document]"
        elif kind == "contact":
            who = " ".join(p for p in (_full_name(item.get("first_name"), item.get("last_name")),
                                       _str(item.get("phone_number"))) if p)
            label = f"[contact {who}]" if who else "[contact]"
        elif kind == "location":
            lat, lon = item.get("latitude"), item.get("longitude")
            label = f"[location {lat}, {lon}]" if isinstance(lat, int | float) and isinstance(lon, int | float) \
                else "[location]"
        elif kind == "venue":
            place = ", ".join(p for p in (_str(item.get("title")), _str(item.get("address"))) if p)
            label = f"[venue {place}]" if place else "[venue]"
        elif kind == "poll":
            question = _str(item.get("question"))
            label = f"[poll] {question}" if question else "[poll]"
        elif kind == "dice":
            label = f"[dice {item.get('emoji', '🎲')} {item.get('value', '?')}]"
        elif kind in ("game", "invoice", "checklist"):
            name = _str(item.get("title"))
            label = f"[{kind}] {name}" if name else f"[{kind}]"
        else:
            label = f"[{kind.replace('_', ' ')}]"
        return f"{label} {caption}" if caption else label
    return None


def _service_field(message: dict) -> str | None:
    """The field that makes this a service message, if it is one."""
    return next((key for key in message if key in _SERVICE or key.startswith(_SERVICE_PREFIXES)), None)


class TelegramConnector(Connector):
    platform = "telegram"
    capabilities = Capabilities(max_reply_length=MAX_TEXT, private_messages=True, like=True, idempotent_send=False)

    def __init__(self, account: Account, secret: str | None = None, http: httpx.AsyncClient | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(account, secret, http)
        self.clock = clock
        self._problem: str | None = None  # a bad option, reported on the first call (the app keeps running)
        options = account.options
        self.poll_timeout = self._number(options, "poll_timeout", 20, 0, 3600)
        self.page_size = self._number(options, "page_size", 100, 1, 100)
        self.first_sync_updates = self._number(options, "first_sync_updates", 100, 1, 100)
        self.group_messages = str(options.get("group_messages", "addressed"))
        if self.group_messages not in ("addressed", "all"):
            self._problem = f"account {account.name}: group_messages is \"addressed\" or \"all\", not " \
                            f"{self.group_messages!r}"
        base_url = str(options.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self._token_ok = bool(secret) and bool(_TOKEN.match(secret or ""))
        self.api = HttpApi("Telegram", f"{base_url}/bot{secret or ''}", http=http, clock=clock)
        self._me: dict | None = None  # getMe, asked once when a group message needs it
        self._polled = False
        if secret:
            _LOG_FILTER.tokens[secret] += 1
        self._closed = False

    def _number(self, options: dict, key: str, default: int, low: int, high: int) -> int:
        value = options.get(key, default)
        if _int(value) is None or not low <= value <= high:
            self._problem = f"account {self.account.name}: {key} is a whole number from {low} to {high}, not {value!r}"
            return default
        return value

    # --- the wire ---------------------------------------------------------------------------------

    async def _call(self, method: str, params: dict[str, Any], *, write: bool = False,
                    timeout: httpx.Timeout | None = None) -> Any:
        """One Bot API call; returns its `result`.

        Raises:
            ConnectorError: in plain words and without the token, for every failure, including
                a 200 whose body says `"ok": false`.
        """
        if self._problem:
            raise ConnectorError(self._problem, retryable=False)
        if not self._token_ok:
            raise ConnectorError("the Telegram bot token is missing or not of the form 123456:ABC…; add the account"
                                 " again with `webcare accounts add`", retryable=False, needs_auth=True)
        extra = {"timeout": timeout} if timeout is not None else {}
        try:
            response = await self.api.request("POST", method, json=params, write=write, expect=_ERRORS, **extra)
        except ConnectorError as error:
            raise self.safe(error) from None
        except (httpx.HTTPError, httpx.InvalidURL) as error:  # httpx's own text may quote the URL, token and all
            raise self.safe(ConnectorError(f"Telegram could not be called ({type(error).__name__}: {error})",
                                           outcome_unknown=write)) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("ok") is True:
            if "result" not in body:
                raise ConnectorError(f"Telegram answered {method} without a result", outcome_unknown=write)
            return body["result"]
        if not isinstance(body, dict) or "ok" not in body:
            if not response.is_success:
                raise self.safe(self.api.failure(response))  # a proxy's error page, not Telegram's answer
            raise ConnectorError(f"Telegram sent an answer that is not a Bot API response ({response.status_code},"
                                 f" {response.headers.get('content-type', 'no type')})", outcome_unknown=write)
        raise self.safe(self._failure(response, body))

    def _failure(self, response: httpx.Response, body: dict) -> ConnectorError:
        """Telegram's `{"ok": false, "error_code": N, "description": …, "parameters": …}` as a ConnectorError."""
        code = _int(body.get("error_code")) or response.status_code
        if code < 400:
            code = 400  # "ok": false with a success code is still a refusal
        said = str(body.get("description") or response.reason_phrase or "no description")[:MAX_ERROR_TEXT]
        parameters = _dict(body.get("parameters"))
        if code == 401:
            return ConnectorError(f"Telegram refused the bot token ({code}: {said}); add the account again with"
                                  " `webcare accounts add`", retryable=False, needs_auth=True)
        if code == 429:
            wait = parameters.get("retry_after")
            seconds = bounded_wait(wait) if isinstance(wait, int | float) else retry_after_seconds(response, self.clock)
            return ConnectorError(f"Telegram rate limit reached ({said})", retry_after=seconds)
        if code == 403 and _CANNOT_INITIATE in said:
            return ConnectorError("Telegram lets a bot write only to people who started a chat with the bot, and"
                                  f" this customer has not: answer in the group instead ({code}: {said})",
                                  retryable=False)
        if code == 403 and _BLOCKED in said:
            return ConnectorError(f"the customer has blocked the bot ({code}: {said})", retryable=False)
        if code == 409:
            return ConnectorError(f"Telegram will not give this bot's updates to us ({code}: {said}); only one"
                                  " program may poll a bot, and not while it has a webhook", retryable=False)
        if _int(parameters.get("migrate_to_chat_id")) is not None:
            return ConnectorError(f"the group became supergroup {parameters['migrate_to_chat_id']} ({code}: {said});"
                                  " answer the customer's next message there", retryable=False)
        if code >= 500:
            return ConnectorError(f"Telegram had a server error ({code}: {said})")
        return ConnectorError(f"Telegram refused the request ({code}: {said})", retryable=False)

    # --- fetch ------------------------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> FetchResult:
        offset = int(cursor) if cursor and cursor.lstrip("-").isdigit() else None
        params: dict[str, Any] = {
            # First sync (or a cursor that is not ours): only the latest updates, not the whole backlog.
            "offset": offset if offset is not None else -self.first_sync_updates,
            "limit": self.page_size,
            # The session's first call does not wait, so `webcare sync --once` and start-up are quick.
            "timeout": self.poll_timeout if self._polled else 0,
            "allowed_updates": ALLOWED_UPDATES,
        }
        updates = await self._call("getUpdates", params,
                                   timeout=httpx.Timeout(params["timeout"] + 15.0, connect=10.0))
        self._polled = True
        if not isinstance(updates, list):
            raise ConnectorError("Telegram answered getUpdates without a list of updates")
        messages: list[Message] = []
        skipped: list[str] = []
        last_id: int | None = None
        for update in updates:
            update_id = _int(update.get("update_id")) if isinstance(update, dict) else None
            if update_id is None:
                skipped.append("?: an update without an update_id")
                continue
            last_id = update_id if last_id is None else max(last_id, update_id)
            try:
                message = await self._message(update)
            except _Skip as skip:
                skipped.append(f"{update_id}: {skip}")
                continue
            messages.append(message)
        messages.sort(key=lambda m: m.created_at)
        next_cursor = str(last_id + 1) if last_id is not None else cursor
        return FetchResult(messages, next_cursor, more=len(updates) >= self.page_size, skipped=skipped)

    async def _message(self, update: dict) -> Message:
        """The Message one update stands for.

        Raises:
            _Skip: with the reason, for what we do not map.
        """
        kind = next((key for key in MESSAGE_UPDATES if key in update), None)
        if kind is None:
            deleted = _dict(update.get("deleted_business_messages"))
            if deleted:  # the store keeps what the customer wrote; the agent may still need it
                raise _Skip(f"messages {deleted.get('message_ids')} were deleted in a business chat (kept here)")
            other = next((key for key in update if key != "update_id"), "empty")
            raise _Skip(f"{other} updates are not mapped")
        message = update[kind]
        if not isinstance(message, dict):
            raise _Skip(f"{kind} is not a Message object")
        chat = _dict(message.get("chat"))
        chat_id, message_id, date = _int(chat.get("id")), _int(message.get("message_id")), _int(message.get("date"))
        chat_type = _str(chat.get("type"))
        if chat_id is None or message_id is None or date is None or chat_type is None:
            raise _Skip("a message without chat.id, chat.type, message_id or date")
        if message_id == 0:
            raise _Skip("a message Telegram scheduled but has not sent yet")
        business = _str(message.get("business_connection_id")) if kind.endswith("business_message") else None
        edited = kind.startswith("edited_")
        if chat_type not in ("private", "group", "supergroup"):
            raise _Skip(f"messages in {chat_type} chats are not mapped")
        text = _content(message)
        if text is None:
            service = _service_field(message)
            raise _Skip(f"service message ({service})" if service else "a message with no text or media we can read")
        sender = _dict(message.get("sender_chat")) or _dict(message.get("from"))
        sender_id = _int(sender.get("id"))
        if sender_id is None:
            raise _Skip("a message without a sender")
        if chat_type != "private" and self.group_messages == "addressed" and not await self._addressed(message):
            raise _Skip("a group message not addressed to the bot")
        if _dict(message.get("forward_origin")):
            text = f"[forwarded] {text}"
        if edited:
            text = f"[edited] {text}"
        # In a business chat our side writes too (the owner, or a bot for them): the chat is the customer.
        outbound = business is not None and chat_type == "private" and sender_id != chat_id
        author = chat if outbound else sender
        author_id = chat_id if outbound else sender_id
        username = _str(author.get("username"))
        name = _full_name(author.get("first_name"), author.get("last_name")) or _str(author.get("title"))
        reply_to = _dict(message.get("reply_to_message"))
        reply_to_id = _int(reply_to.get("message_id"))
        edit_date = (_int(message.get("edit_date")) or date) if edited else None
        return Message(
            platform=self.platform, account=self.account.name,
            external_id=message_ref(chat_id, message_id, edit_date=edit_date, business=business),
            author_id=str(author_id), text=text,
            created_at=edit_date if edit_date is not None else date,
            direction=Direction.OUT if outbound else Direction.IN,
            visibility=Visibility.PRIVATE if chat_type == "private" else Visibility.PUBLIC,
            author_handle=f"@{username}" if username else None, author_name=name,
            author_type="bot" if not outbound and sender.get("is_bot") is True else None,
            in_reply_to=message_ref(chat_id, reply_to_id, business=business) if reply_to_id is not None else None,
            url=self._url(chat, message_id),
        )

    @staticmethod
    def _url(chat: dict, message_id: int) -> str | None:
        username = _str(chat.get("username"))
        return f"https://t.me/{username}/{message_id}" if chat.get("type") == "supergroup" and username else None

    async def _bot(self) -> dict:
        """The bot's own User (getMe), asked once."""
        if self._me is None:
            me = await self._call("getMe", {})
            if not isinstance(me, dict) or _int(me.get("id")) is None:
                raise ConnectorError("Telegram answered getMe without the bot's id")
            self._me = me
        return self._me

    async def _addressed(self, message: dict) -> bool:
        """Whether a group message speaks to the bot: a reply to it, an @mention, a command to it."""
        me = await self._bot()
        bot_id, username = me["id"], (_str(me.get("username")) or "").lower()
        if _int(_dict(_dict(message.get("reply_to_message")).get("from")).get("id")) == bot_id:
            return True
        for text_key, entities_key in (("text", "entities"), ("caption", "caption_entities")):
            text = message.get(text_key)
            entities = message.get(entities_key)
            if not isinstance(text, str) or not isinstance(entities, list):
                continue
            for entity in entities:
                entity = _dict(entity)
                kind, offset, length = entity.get("type"), _int(entity.get("offset")), _int(entity.get("length"))
                if kind == "text_mention" and _int(_dict(entity.get("user")).get("id")) == bot_id:
                    return True
                if offset is None or length is None:
                    continue
                if kind == "mention" and username and _utf16_slice(text, offset, length).lower() == f"@{username}":
                    return True
                if kind == "bot_command":
                    _, _, to = _utf16_slice(text, offset, length).partition("@")
                    if not to or to.lower() == username:
                        return True
        return False

    # --- send -------------------------------------------------------------------------------------

    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        text = reply.text.strip()
        if not text:
            raise ConnectorError("the reply is empty", retryable=False)
        if len(text) > MAX_TEXT:
            raise ConnectorError(f"the reply has {len(text)} characters; Telegram allows {MAX_TEXT}", retryable=False)
        target = parse_ref(reply.in_reply_to) if reply.in_reply_to else None
        params: dict[str, Any]
        # A private chat's id is the user's id; a business chat is always the customer's private chat.
        in_their_chat = target is not None and (target.business is not None
                                                or str(target.chat_id) == reply.recipient_id)
        if reply.visibility == "private" and not in_their_chat:
            # From a group to the customer's private chat with the bot: the user id is that chat's id.
            try:
                params = {"chat_id": int(reply.recipient_id)}
            except ValueError:
                raise ConnectorError(f"{reply.recipient_id!r} is not a Telegram user id", retryable=False) from None
        elif target is None:
            raise ConnectorError("a public Telegram reply needs the message it answers", retryable=False)
        else:
            params = {"chat_id": target.chat_id,
                      "reply_parameters": {"message_id": target.message_id, "allow_sending_without_reply": True}}
            if target.business:
                params["business_connection_id"] = target.business
        params["text"] = text
        sent = await self._call("sendMessage", params, write=True)
        chat = _dict(_dict(sent).get("chat"))
        chat_id, message_id = _int(chat.get("id")), _int(_dict(sent).get("message_id"))
        if chat_id is None or message_id is None:
            # It went out, but we cannot name it: do not let it be sent again.
            raise ConnectorError("Telegram took the reply but did not say which message it became",
                                 retryable=False, outcome_unknown=True)
        business = _str(sent.get("business_connection_id")) or params.get("business_connection_id")
        return SentReply(message_ref(chat_id, message_id, business=business),
                         _int(sent.get("date")) or int(self.clock()), self._url(chat, message_id))

    async def find_sent(self, reply: OutgoingReply) -> SentReply | None:
        raise ConnectorError("Telegram gives a bot no way to list the messages it sent, so whether this reply went"
                             " out cannot be checked", retryable=False)

    async def like(self, external_id: str) -> None:
        target = parse_ref(external_id)
        if target.business:
            raise ConnectorError("Telegram does not let a bot react in a business account's chats", retryable=False)
        done = await self._call("setMessageReaction", {
            "chat_id": target.chat_id, "message_id": target.message_id,
            "reaction": [{"type": "emoji", "emoji": LIKE_EMOJI}],
        }, write=True)
        if done is not True:
            raise ConnectorError("Telegram did not confirm the reaction", retryable=False, outcome_unknown=True)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            if self._secret:
                _LOG_FILTER.tokens[self._secret] -= 1
            await self.api.aclose()


class _Skip(Exception):
    """An update we do not turn into a message; the text says why."""
