"""Provides `FacebookConnector` and `InstagramConnector`: a Facebook Page and an Instagram professional
account through the Meta Graph API.

Both poll (the Graph API has webhooks, a terminal app has no public URL to receive them):

- Facebook: the Page's recent posts (`GET /{page-id}/feed`), and for each post whose
  `updated_time` moved (a comment bumps it) its comments, newest first
  (`GET /{post-id}/comments?filter=stream&order=reverse_chronological`, cursor paging);
- Instagram: the account's recent media (`GET /{ig-user-id}/media`), and for each medium
  whose `comments_count` changed its comments with their replies (`GET /{media-id}/comments`);
- both: the Page's inbox (`GET /{page-id}/conversations?platform=messenger|instagram`), the
  conversations updated since the last poll with their latest messages.

Message platforms: Facebook comments are "facebook", Messenger messages "messenger"; Instagram
comments and direct messages are both "instagram". Comments are public, direct messages private
(the Page's own messages are direction "out" with the customer as author). The cursor is compact
JSON: per watched post the newest comment time seen (and the post's `updated_time` or comment
count), and the newest direct-message time; the first sync reads at most `history_pages` pages
per post and of the inbox.

Replies: a public reply answers the comment (`POST /{comment-id}/comments` on Facebook,
`POST /{ig-comment-id}/replies` on Instagram); a private reply to a comment is a Messenger
"private reply" (`POST /{page-id}/messages` with `recipient.comment_id`), and in a conversation
a message to the customer's scoped id with `messaging_type=RESPONSE` (24 h window). The Graph
API takes no idempotency key: `find_sent` reads the replies under the comment, or the customer's
conversation, for the Page's message with the same text.

Account options (never secrets; the Page access token is the account's secret, sent as a
Bearer header, the Graph API's `bearerAuth` scheme, so it never appears in a URL; `paging.next`
links are only followed to the Graph host itself):
    page_id: the Facebook Page (for Instagram: the Page linked to the account, whose inbox and
        Send API carry Instagram direct messages). Required.
    ig_user_id: the Instagram professional account (Instagram only). Required there.
    base_url: default https://graph.facebook.com/v23.0
    posts: how many recent posts/media to watch for comments (default 10).
    history_pages: pages read per post and of the inbox in one poll (default 2).
    conversations: read direct messages too (default true; false when the token lacks
        pages_messaging / instagram_manage_messages).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from webcare_tui.config import Account
from webcare_tui.connectors.base import (
    Capabilities,
    Connector,
    ConnectorError,
    FetchResult,
    OutgoingReply,
    SentReply,
)
from webcare_tui.connectors.http import HttpApi, bounded_wait, error_text
from webcare_tui.model import Message

DEFAULT_BASE_URL = "https://graph.facebook.com/v23.0"
COMMENT_PAGE = 25
CONVERSATION_PAGE = 25
MESSAGES_PER_CONVERSATION = 25
DM_WINDOW = 24 * 3600
MAX_DM_LENGTH = {"messenger": 2000, "instagram": 1000}

# Graph error codes (https://developers.facebook.com/docs/graph-api/guides/error-handling).
AUTH_CODES = frozenset({190, 102})  # access token expired, revoked or invalid; API session
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})  # app, user, page, custom-level throttling
TEMPORARY_CODES = frozenset({1, 2, 341, 368})  # unknown/service hiccup, app limit, temporary block
COMMENT_ID = re.compile(r"\d+(_\d+)?")  # comments (and posts) have numeric ids; messages do not


def graph_error(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of a Graph API error body, or {} when there is none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _code(response: httpx.Response) -> int | None:
    code = graph_error(response).get("code")
    return code if isinstance(code, int) else None


def is_auth_error(response: httpx.Response) -> bool:
    """Code 190 (token expired or revoked) whatever the HTTP status (Graph usually says 400)."""
    return _code(response) in AUTH_CODES or (response.status_code == 401 and _code(response) is None)


def is_rate_limited(response: httpx.Response) -> bool:
    code = _code(response)
    return response.status_code == 429 or code in RATE_LIMIT_CODES or (code is not None and 80001 <= code <= 80099)


def usage_wait(response: httpx.Response) -> float | None:
    """Seconds until access returns, from `estimated_time_to_regain_access` (minutes) in the
    `X-Business-Use-Case-Usage`, `X-Page-Usage` or `X-App-Usage` header, when one says."""
    waits: list[float] = []
    for name in ("x-business-use-case-usage", "x-page-usage", "x-app-usage"):
        try:
            usage = json.loads(response.headers.get(name) or "null")
        except ValueError:
            continue
        entries: list[Any] = [usage]
        if isinstance(usage, dict) and name == "x-business-use-case-usage":  # {object id: [usage, ...]}
            entries = [entry for value in usage.values() if isinstance(value, list) for entry in value]
        for entry in entries:
            minutes = entry.get("estimated_time_to_regain_access") if isinstance(entry, dict) else None
            if isinstance(minutes, int | float) and not isinstance(minutes, bool) and minutes > 0:
                waits.append(bounded_wait(minutes, unit=60.0))
    return max(waits) if waits else None


class GraphApi(HttpApi):
    """`HttpApi` that reads Graph's error body: its code decides what the failure means."""

    def failure(self, response: httpx.Response) -> ConnectorError:
        error = super().failure(response)
        details = graph_error(response)
        code = details.get("code")
        if not details:
            return error
        said = error_text(response)
        subcode = details.get("error_subcode")
        tag = f"code {code}" + (f"/{subcode}" if isinstance(subcode, int) else "")
        if error.needs_auth:
            return ConnectorError(f"{self.platform} refused the Page token ({said}; {tag}); sign in again with"
                                  " `webcare accounts add`", retryable=False, needs_auth=True)
        if error.retry_after is not None:
            wait = usage_wait(response)
            return ConnectorError(f"{self.platform} rate limit reached ({said}; {tag})",
                                  retry_after=wait if wait is not None else error.retry_after)
        if code in TEMPORARY_CODES or details.get("is_transient") is True or response.status_code >= 500:
            return ConnectorError(f"{self.platform} had a temporary problem ({response.status_code}: {said}; {tag})")
        return ConnectorError(f"{self.platform} refused the request ({response.status_code}: {said}; {tag})",
                              retryable=False)


class Skip(Exception):
    """An item that cannot be read; its text is the reason."""


def graph_time(value: Any) -> int:
    """Graph's "2021-07-21T21:05:14+0000" (or epoch seconds) → epoch seconds.

    Raises:
        Skip: missing or not a time.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        for parse in (lambda text: datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z"),
                      lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))):
            try:
                moment = parse(value)
            except ValueError:
                continue
            if moment.tzinfo is not None:
                return int(moment.timestamp())
    raise Skip(f"no readable time ({value!r})")


def _id(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None


def _text(item: dict[str, Any], field: str) -> str:
    """The item's text with a marker per attachment ("[photo]"); a message with neither is skipped
    (Messenger shows an unsent message as an empty one)."""
    text = item.get(field)
    parts = [text.strip()] if isinstance(text, str) and text.strip() else []
    attachments = item.get("attachments", {}).get("data") if isinstance(item.get("attachments"), dict) else None
    if isinstance(item.get("attachment"), dict):  # a comment's single attachment
        attachments = [item["attachment"]]
    for attachment in attachments or []:
        if not isinstance(attachment, dict):
            continue
        kind = attachment.get("type") or str(attachment.get("mime_type") or "file").split("/")[0]
        parts.append(f"[{kind if isinstance(kind, str) else 'file'}]")
    if not parts:
        raise Skip("no text (deleted, or a type we do not show)")
    return " ".join(parts)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _person(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) and _id(value.get("id")) else None


def facebook_comment(item: Any, page_id: str, account: str) -> Message:
    """One comment from `/{post-id}/comments` (fields id,message,from,created_time,parent,permalink_url).

    Raises:
        Skip: no id, time or author; or a comment of the Page with no customer above it.
    """
    if not isinstance(item, dict) or not _id(item.get("id")):
        raise Skip("no id")
    author = _person(item.get("from"))
    if author is None:
        raise Skip("no author (`from` needs a Page token with the MODERATE task)")
    created = graph_time(item.get("created_time"))
    text = _text(item, "message")
    parent = _object(item.get("parent"))
    outbound = str(author["id"]) == page_id
    if outbound:
        author = _person(parent.get("from"))
        if author is None or str(author["id"]) == page_id:
            raise Skip("a comment of the Page that answers no customer")
    url = item.get("permalink_url")
    return Message(
        platform="facebook", account=account, external_id=str(item["id"]), author_id=str(author["id"]),
        text=text, created_at=created, direction="out" if outbound else "in", visibility="public",
        author_name=author.get("name") if isinstance(author.get("name"), str) else None,
        in_reply_to=_id(parent.get("id")), url=url if isinstance(url, str) else None,
    )


def instagram_comment(item: Any, own: set[str], account: str, *, media_url: str | None = None,
                      parent: dict[str, Any] | None = None) -> Message:
    """One IG comment or reply (fields id,text,timestamp,username,from,user,parent_id).

    `own` holds the account's IG user id and username; `parent` is the comment a reply sits under.

    Raises:
        Skip: no id, time or author; or a comment of our own with no customer above it.
    """
    if not isinstance(item, dict) or not _id(item.get("id")):
        raise Skip("no id")
    author_id, handle = _ig_author(item)
    if author_id is None:
        raise Skip("no author (neither `from` nor `username`)")
    created = graph_time(item.get("timestamp"))
    text = _text(item, "text")
    outbound = _ig_own(item, own)
    if outbound:
        if parent is None or _ig_own(parent, own):
            raise Skip("a comment of our own that answers no customer")
        author_id, handle = _ig_author(parent)
        if author_id is None:
            raise Skip("a reply of our own under a comment with no author")
    parent_id = _id(item.get("parent_id")) or (_id(parent.get("id")) if parent else None)
    return Message(
        platform="instagram", account=account, external_id=str(item["id"]), author_id=author_id, text=text,
        created_at=created, direction="out" if outbound else "in", visibility="public", author_handle=handle,
        in_reply_to=parent_id, url=media_url,
    )


def _ig_author(item: dict[str, Any]) -> tuple[str | None, str | None]:
    """(author id, username): the IGSID from `from`, else the username (what older answers give)."""
    sender = _person(item.get("from")) or {}
    username = sender.get("username") or item.get("username")
    username = username if isinstance(username, str) and username else None
    return (_id(sender.get("id")) or username), username


def _is_own(value: Any, own: set[str]) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value) in own


def _ig_own(item: dict[str, Any], own: set[str]) -> bool:
    # `user` is only returned for comments the account itself wrote
    sender = _person(item.get("from")) or {}
    return bool(_person(item.get("user"))) or any(
        _is_own(value, own) for value in (sender.get("id"), sender.get("username"), item.get("username")))


def conversation_message(item: Any, own: set[str], platform: str, account: str) -> Message:
    """One message of a conversation (fields id,message,from,to,created_time).

    Raises:
        Skip: no id, time or sender; a message of ours with no recipient; no text.
    """
    if not isinstance(item, dict) or not _id(item.get("id")):
        raise Skip("no id")
    sender = _person(item.get("from"))
    if sender is None:
        raise Skip("no sender")
    created = graph_time(item.get("created_time"))
    text = _text(item, "message")
    outbound = _is_own(sender["id"], own) or _is_own(sender.get("username"), own)
    customer = sender
    if outbound:
        recipients = item.get("to", {}).get("data") if isinstance(item.get("to"), dict) else None
        recipient = next((_person(r) for r in recipients or [] if _person(r) and str(r["id"]) not in own), None)
        if recipient is None:
            raise Skip("a message of ours with no recipient")
        customer = recipient
    name = customer.get("name")
    handle = customer.get("username")
    return Message(
        platform=platform, account=account, external_id=str(item["id"]), author_id=str(customer["id"]),
        text=text, created_at=created, direction="out" if outbound else "in", visibility="private",
        author_name=name if isinstance(name, str) else None, author_handle=handle if isinstance(handle, str) else None,
    )


def _page(body: Any, what: str, platform: str) -> list[Any]:
    """The `data` list of a Graph list answer.

    Raises:
        ConnectorError: the answer is not a list answer.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ConnectorError(f"{platform} sent {what} in an unexpected shape (no `data` list)", retryable=False)
    return body["data"]


class MetaConnector(Connector):
    """What the Facebook and Instagram connectors share: the Graph API, the inbox, replies."""

    dm_platform: ClassVar[str]
    label: ClassVar[str]  # for error messages
    required: ClassVar[tuple[str, ...]] = ("page_id",)

    def __init__(self, account: Account, secret: str | None = None, http: httpx.AsyncClient | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(account, secret, http)
        options = account.options
        self.page_id = str(options.get("page_id") or "")
        posts, history_pages = _count(options, "posts", 10), _count(options, "history_pages", 2)
        self.read_conversations = str(options.get("conversations", True)).lower() not in ("false", "0", "no")
        # A bad option must not stop the app: the account shows it as its error instead.
        self.setup_error = next((f"account {account.name!r}: option {name} is required" for name in self.required
                                 if not options.get(name)), None)
        if self.setup_error is None and (posts is None or history_pages is None):
            self.setup_error = f"account {account.name!r}: options posts and history_pages are whole numbers ≥ 1"
        self.posts, self.history_pages = posts or 10, history_pages or 2
        self.base_url = str(options.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.clock = clock
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        self.api = GraphApi(self.label, self.base_url, headers, http, clock=clock,
                            is_auth_error=is_auth_error, rate_limit_status=is_rate_limited)

    @property
    def own_ids(self) -> set[str]:
        return {self.page_id}

    async def aclose(self) -> None:
        await self.api.aclose()

    def _ready(self) -> None:
        if self.setup_error:
            raise ConnectorError(self.setup_error, retryable=False)

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self._ready()
        return await self.api.json("GET", path, params=params)

    async def _pages(self, path: str, params: dict[str, Any], what: str, limit: int) -> AsyncGenerator[list[Any], None]:
        """Yield the `data` lists of up to `limit` pages, following `paging.cursors.after`
        (use it under `aclosing`: a reader may stop early)."""
        params = dict(params)
        for _ in range(limit):
            body = await self._get(path, params)
            yield _page(body, what, self.label)
            paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
            after = (paging.get("cursors") or {}).get("after") if isinstance(paging.get("cursors"), dict) else None
            if not paging.get("next"):
                return
            if after:
                params["after"] = after
            elif isinstance(paging["next"], str) and self._same_origin(paging["next"]):
                path, params = paging["next"], {}  # time-based paging: the link carries its parameters
            else:
                return

    def _same_origin(self, url: str) -> bool:
        """Only ever follow links to the Graph host itself: the token travels with the request."""
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    # -- fetching -------------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> FetchResult:
        self._ready()
        state = self._state(cursor)
        messages: list[Message] = []
        skipped: list[str] = []
        state["objects"] = await self._fetch_comments(state.get("objects", {}), messages, skipped)
        if self.read_conversations:
            since = state.get("dm")
            since = since if isinstance(since, int) and not isinstance(since, bool) else 0
            state["dm"] = await self._fetch_conversations(since, messages, skipped)
        messages.sort(key=lambda message: message.created_at)
        return FetchResult(messages, json.dumps(state, separators=(",", ":"), sort_keys=True), skipped=skipped)

    @staticmethod
    def _state(cursor: str | None) -> dict[str, Any]:
        """The cursor's state; an unreadable one starts over (bounded, and ingest drops repeats)."""
        try:
            state = json.loads(cursor) if cursor else {}
        except ValueError:
            return {}
        if not isinstance(state, dict) or not isinstance(state.get("objects", {}), dict):
            return {}
        return state

    async def _fetch_comments(self, watched: dict[str, list[int]], messages: list[Message],
                              skipped: list[str]) -> dict[str, list[int]]:
        """New comments on the recent posts; returns the new per-post state."""
        raise NotImplementedError

    async def _fetch_conversations(self, since: int, messages: list[Message], skipped: list[str]) -> int:
        """Messages of conversations updated at or after `since` (a message of that very second may be
        new; ingest drops the repeats); returns the newest time seen."""
        newest = since
        params = {"platform": self.dm_platform, "limit": CONVERSATION_PAGE,
                  "fields": f"id,updated_time,messages.limit({MESSAGES_PER_CONVERSATION})"
                            "{id,message,from,to,created_time,attachments}"}
        pages = self._pages(f"{self.page_id}/conversations", params, "conversations", self.history_pages)
        async with aclosing(pages):
            async for conversations in pages:
                for conversation in conversations:
                    try:
                        if not isinstance(conversation, dict):
                            raise Skip("not an object")
                        updated = graph_time(conversation.get("updated_time"))
                    except Skip as reason:
                        skipped.append(f"{_label(conversation)}: {reason}")
                        continue
                    if updated < since:  # the inbox lists the most recently updated first
                        return newest
                    newest = max(newest, updated)
                    listed = conversation.get("messages")
                    items = listed.get("data") if isinstance(listed, dict) else None
                    for item in items if isinstance(items, list) else []:
                        try:
                            message = conversation_message(item, self.own_ids, self.dm_platform, self.account.name)
                        except Skip as reason:
                            skipped.append(f"{_label(item)}: {reason}")
                            continue
                        if message.created_at >= since:
                            messages.append(message)
                            newest = max(newest, message.created_at)
        return newest

    # -- sending --------------------------------------------------------------------------

    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        self._ready()
        target = reply.in_reply_to
        if reply.visibility == "private":
            return await self._send_private(reply)
        if not target:
            raise ConnectorError(f"{self.label}: a public reply needs the comment it answers", retryable=False)
        if not COMMENT_ID.fullmatch(target):
            raise ConnectorError(f"{self.label}: a direct message can only be answered privately", retryable=False)
        self._check_length(reply.text, self.capabilities.max_reply_length)
        body = await self.api.json("POST", self._reply_path(target), json={"message": reply.text}, write=True)
        sent_id = _id(body.get("id")) if isinstance(body, dict) else None
        if sent_id is None:
            raise ConnectorError(f"{self.label} accepted the reply but sent no id back", outcome_unknown=True)
        url = body.get("permalink_url")
        created = body.get("created_time")
        return SentReply(sent_id, graph_time(created) if created else int(self.clock()),
                         url if isinstance(url, str) else None)

    async def _send_private(self, reply: OutgoingReply) -> SentReply:
        self._check_length(reply.text, MAX_DM_LENGTH.get(self.dm_platform))
        target = reply.in_reply_to
        if target and COMMENT_ID.fullmatch(target):  # a private reply to a comment opens the conversation
            payload: dict[str, Any] = {"recipient": {"comment_id": target}, "message": {"text": reply.text}}
        else:
            payload = {"recipient": {"id": reply.recipient_id}, "messaging_type": "RESPONSE",
                       "message": {"text": reply.text}}
        body = await self.api.json("POST", f"{self.page_id}/messages", json=payload, write=True)
        sent_id = _id(body.get("message_id")) if isinstance(body, dict) else None
        if sent_id is None:
            raise ConnectorError(f"{self.label} accepted the message but sent no id back", outcome_unknown=True)
        return SentReply(sent_id, int(self.clock()))

    def _check_length(self, text: str, limit: int | None) -> None:
        if limit is not None and len(text) > limit:
            raise ConnectorError(f"{self.label} allows {limit} characters here; the reply has {len(text)}",
                                 retryable=False)

    def _reply_path(self, comment_id: str) -> str:
        raise NotImplementedError

    async def find_sent(self, reply: OutgoingReply) -> SentReply | None:
        target = reply.in_reply_to
        if reply.visibility == "private":
            if target and COMMENT_ID.fullmatch(target):
                raise ConnectorError(f"{self.label}: a private reply to a comment cannot be looked up (the"
                                     " conversation is keyed by an id we only learn from the answer)", retryable=False)
            return await self._find_in_conversation(reply)
        if not target:
            return None  # nothing was answered, so nothing can have been sent
        return await self._find_comment_reply(reply, target)

    async def _find_in_conversation(self, reply: OutgoingReply) -> SentReply | None:
        params = {"platform": self.dm_platform, "user_id": reply.recipient_id,
                  "fields": "id,messages.limit(25){id,message,from,created_time}"}
        conversations = _page(await self._get(f"{self.page_id}/conversations", params), "conversations", self.label)
        for conversation in conversations:
            listed = conversation.get("messages") if isinstance(conversation, dict) else None
            for item in (listed.get("data") if isinstance(listed, dict) else None) or []:
                sender = _person(item.get("from")) if isinstance(item, dict) else None
                if sender and str(sender["id"]) in self.own_ids and _same_text(item.get("message"), reply.text):
                    return SentReply(str(item["id"]), _time_or(item.get("created_time"), self.clock))
        return None

    async def _find_comment_reply(self, reply: OutgoingReply, target: str) -> SentReply | None:
        raise NotImplementedError

    async def like(self, external_id: str) -> None:
        raise ConnectorError(f"{self.label} has no likes through its API", retryable=False)


def _same_text(value: Any, text: str) -> bool:
    return isinstance(value, str) and value.strip() == text.strip()


def _time_or(value: Any, clock: Callable[[], float]) -> int:
    try:
        return graph_time(value)
    except Skip:
        return int(clock())


def _label(item: Any) -> str:
    return str(item.get("id")) if isinstance(item, dict) and _id(item.get("id")) else "?"


class FacebookConnector(MetaConnector):
    """A Facebook Page: comments on its posts (platform "facebook") and Messenger ("messenger")."""

    platform = "facebook"
    dm_platform = "messenger"
    label = "Facebook"
    capabilities = Capabilities(max_reply_length=8000, private_messages=True, like=True, reply_window=DM_WINDOW)

    async def _fetch_comments(self, watched: dict[str, list[int]], messages: list[Message],
                              skipped: list[str]) -> dict[str, list[int]]:
        body = await self._get(f"{self.page_id}/feed",
                               {"fields": "id,created_time,updated_time,permalink_url", "limit": self.posts})
        state: dict[str, list[int]] = {}
        for post in _page(body, "the Page's feed", self.label)[:self.posts]:
            post_id = _id(post.get("id")) if isinstance(post, dict) else None
            if post_id is None:
                skipped.append("?: a post with no id")
                continue
            newest, seen_update = _pair(watched.get(post_id))
            try:
                updated = graph_time(post.get("updated_time"))
            except Skip:
                updated = None  # unknown: look every time
            if post_id in watched and updated is not None and updated <= seen_update:
                state[post_id] = [newest, seen_update]  # no new comment since the last look
                continue
            newest = await self._post_comments(post_id, newest, messages, skipped)
            state[post_id] = [newest, updated or 0]
        return state

    async def _post_comments(self, post_id: str, since: int, messages: list[Message], skipped: list[str]) -> int:
        """Comments on one post newer than `since`, newest first until an older one; returns the newest time."""
        newest = since
        params = {"fields": "id,message,from,created_time,parent{id,from},permalink_url,attachment",
                  "filter": "stream", "order": "reverse_chronological", "limit": COMMENT_PAGE}
        pages = self._pages(f"{post_id}/comments", params, "comments", self.history_pages)
        async with aclosing(pages):
            async for comments in pages:
                reached_known = False
                for item in comments:
                    try:
                        message = facebook_comment(item, self.page_id, self.account.name)
                    except Skip as reason:
                        skipped.append(f"{_label(item)}: {reason}")
                        continue
                    if message.created_at < since:  # that very second may hold a new one: ingest drops repeats
                        reached_known = True
                        continue
                    messages.append(message)
                    newest = max(newest, message.created_at)
                if reached_known:
                    break
        return newest

    def _reply_path(self, comment_id: str) -> str:
        return f"{comment_id}/comments"

    async def _find_comment_reply(self, reply: OutgoingReply, target: str) -> SentReply | None:
        # Facebook threads two levels deep: an answer to a reply may sit under the reply's parent.
        found = await self._find_under(target, reply.text)
        if found is None:
            body = await self._get(target, {"fields": "parent{id}"})
            parent = _object(body.get("parent")) if isinstance(body, dict) else {}
            if _id(parent.get("id")) and str(parent["id"]) != target:
                found = await self._find_under(str(parent["id"]), reply.text)
        return found

    async def _find_under(self, comment_id: str, text: str) -> SentReply | None:
        params = {"fields": "id,message,from,created_time,permalink_url", "filter": "stream",
                  "order": "reverse_chronological", "limit": 50}
        for item in _page(await self._get(f"{comment_id}/comments", params), "comments", self.label):
            sender = _person(item.get("from")) if isinstance(item, dict) else None
            if sender and str(sender["id"]) == self.page_id and _same_text(item.get("message"), text):
                url = item.get("permalink_url")
                return SentReply(str(item["id"]), _time_or(item.get("created_time"), self.clock),
                                 url if isinstance(url, str) else None)
        return None

    async def like(self, external_id: str) -> None:
        self._ready()
        if not COMMENT_ID.fullmatch(external_id):
            raise ConnectorError("Facebook can like comments and posts, not Messenger messages", retryable=False)
        body = await self.api.json("POST", f"{external_id}/likes", write=True)
        if isinstance(body, dict) and body.get("success") is False:
            raise ConnectorError("Facebook did not take the like", retryable=False)


class InstagramConnector(MetaConnector):
    """An Instagram professional account: comments on its media and its direct messages ("instagram")."""

    platform = "instagram"
    dm_platform = "instagram"
    label = "Instagram"
    # Instagram's API cannot like a comment; comments take 2200 characters, direct messages 1000.
    capabilities = Capabilities(max_reply_length=1000, private_messages=True, like=False, reply_window=DM_WINDOW)

    required = ("page_id", "ig_user_id")

    def __init__(self, account: Account, secret: str | None = None, http: httpx.AsyncClient | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(account, secret, http, clock=clock)
        self.ig_user_id = str(account.options.get("ig_user_id") or "")
        self.username: str | None = None  # learnt from the media list

    @property
    def own_ids(self) -> set[str]:
        return {self.page_id, self.ig_user_id} | ({self.username} if self.username else set())

    async def _fetch_comments(self, watched: dict[str, list[int]], messages: list[Message],
                              skipped: list[str]) -> dict[str, list[int]]:
        body = await self._get(f"{self.ig_user_id}/media", {
            "fields": "id,caption,permalink,timestamp,username,comments_count", "limit": self.posts})
        state: dict[str, list[int]] = {}
        for media in _page(body, "the account's media", self.label)[:self.posts]:
            media_id = _id(media.get("id")) if isinstance(media, dict) else None
            if media_id is None:
                skipped.append("?: a medium with no id")
                continue
            if isinstance(media.get("username"), str):
                self.username = media["username"]
            count = media.get("comments_count")
            count = count if isinstance(count, int) and not isinstance(count, bool) else -1
            newest, seen_count = _pair(watched.get(media_id))
            if media_id in watched and count == seen_count and count >= 0:
                state[media_id] = [newest, seen_count]
                continue
            if count == 0:
                state[media_id] = [newest, 0]
                continue
            permalink = media.get("permalink") if isinstance(media.get("permalink"), str) else None
            newest = await self._media_comments(media_id, permalink, newest, messages, skipped)
            state[media_id] = [newest, count]
        return state

    async def _media_comments(self, media_id: str, permalink: str | None, since: int, messages: list[Message],
                              skipped: list[str]) -> int:
        """Comments and their replies at or after `since` (a new reply may sit under an old comment,
        so every page up to `history_pages` is read); returns the newest time."""
        newest = since
        fields = "id,text,timestamp,username,from,user,parent_id"
        params = {"fields": f"{fields},replies{{{fields}}}", "limit": COMMENT_PAGE}
        pages = self._pages(f"{media_id}/comments", params, "comments", self.history_pages)
        async with aclosing(pages):
            async for comments in pages:
                for item, parent in _with_replies(comments):
                    try:
                        message = instagram_comment(item, self.own_ids, self.account.name, media_url=permalink,
                                                    parent=parent)
                    except Skip as reason:
                        skipped.append(f"{_label(item)}: {reason}")
                        continue
                    if message.created_at >= since:  # that very second may hold a new one: ingest drops repeats
                        messages.append(message)
                        newest = max(newest, message.created_at)
        return newest

    def _reply_path(self, comment_id: str) -> str:
        return f"{comment_id}/replies"

    async def _find_comment_reply(self, reply: OutgoingReply, target: str) -> SentReply | None:
        # Instagram files an answer to a reply under the top-level comment.
        found = await self._find_under(target, reply.text)
        if found is None:
            body = await self._get(target, {"fields": "parent_id"})
            parent = _id(body.get("parent_id")) if isinstance(body, dict) else None
            if parent and parent != target:
                found = await self._find_under(parent, reply.text)
        return found

    async def _find_under(self, comment_id: str, text: str) -> SentReply | None:
        params = {"fields": "id,text,timestamp,username,from,user", "limit": 50}
        for item in _page(await self._get(f"{comment_id}/replies", params), "replies", self.label):
            if isinstance(item, dict) and _ig_own(item, self.own_ids) and _same_text(item.get("text"), text):
                return SentReply(str(item["id"]), _time_or(item.get("timestamp"), self.clock))
        return None

    async def like(self, external_id: str) -> None:
        raise ConnectorError("Instagram's API cannot like comments or messages; like it in the Instagram app",
                             retryable=False)


def _with_replies(comments: list[Any]) -> list[tuple[Any, dict[str, Any] | None]]:
    """Each comment followed by its replies, as (item, the comment it sits under)."""
    found: list[tuple[Any, dict[str, Any] | None]] = []
    for item in comments:
        found.append((item, None))
        replies = item.get("replies") if isinstance(item, dict) else None
        listed = replies.get("data") if isinstance(replies, dict) else None
        found.extend((reply, item) for reply in listed or [] if isinstance(listed, list))
    return found


def _count(options: dict[str, Any], name: str, default: int) -> int | None:
    """A whole-number option ≥ 1, or None when it is not one."""
    value = options.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 1 and not isinstance(value, bool | float) else None


def _pair(value: Any) -> tuple[int, int]:
    """A cursor entry [newest comment time, post updated_time or comment count]; (0, -1) when unreadable."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return value[0], value[1]
    return 0, -1
