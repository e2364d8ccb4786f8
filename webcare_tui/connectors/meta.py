"""Provides `FacebookConnector` and `InstagramConnector`: a Facebook Page and an Instagram professional
account through the Meta Graph API.

Both poll (the Graph API has webhooks, a terminal app has no public URL to receive them; the one thing
only a webhook announces, an Instagram @mention, is read by `read_mention` for whoever receives it):

- Facebook: the Page's recent posts (`GET /{page-id}/feed`; a visitor post, one a customer wrote on
  the Page, is an inbound message itself), and for each post whose `updated_time` moved (a comment
  bumps it) its comments, newest first (`GET /{post-id}/comments?filter=stream&order=reverse_chronological`,
  cursor paging);
- Instagram: the account's recent media (`GET /{ig-user-id}/media`, with the newest comments listed
  along), and for each medium whose `comments_count` changed, or that lists a comment newer than any
  seen (a delete plus an add keeps the count), its comments with their replies (`GET /{media-id}/comments`);
- Instagram @mentions (option `tags`): the media other accounts tagged ours in (`GET /{ig-user-id}/tags`,
  newest first, read until a page with one already seen), each an inbound public message by the post's
  author (external id "mention:{media-id}"). @mentions in a caption or a comment are announced only by
  webhooks (`mentions` field, value `{media_id, comment_id}`), which the wall's `/hooks/meta` receives
  (`webcare_tui.wall.hooks`): it reads each at once with `read_mention` (`GET /{ig-user-id}?fields=
  mentioned_media.media_id(…)` or `mentioned_comment.comment_id(…)`; "mention:{media-id}" and
  "mention:{media-id}:{comment-id}") and stores it; `fetch` never reads them, and holds no queue of them;
- both: posts that left the newest `posts` stay watched for `watch_days` after their last activity
  (`GET /?ids=...`); the Page's inbox (`GET /{page-id}/conversations?platform=messenger|instagram`), the
  conversations updated since the last poll with all their new messages (`GET /{conversation-id}/messages`
  past the first 25).

Message platforms: Facebook comments are "facebook", Messenger messages "messenger"; Instagram
comments and direct messages are both "instagram". Comments are public, direct messages private
(the Page's own messages are direction "out" with the customer as author). The cursor is compact
JSON: per watched post the newest comment time seen (and the post's `updated_time` or comment
count), the newest direct-message time, the newest KNOWN_TAGS tagged media seen, and per unfinished
read ("walk") the page to go on from.
The first sync reads at most `history_pages` pages per post and of the inbox; after it, nothing is
skipped: a burst is read to what was known, CATCH_UP_PAGES pages per list and fetch, the rest with
`more=True` from exactly where the read stopped (the /tags walk too).

Replies: a public reply answers the comment (`POST /{comment-id}/comments` on Facebook,
`POST /{ig-comment-id}/replies` on Instagram); a mention is answered with a public comment through
`POST /{ig-user-id}/mentions` (its `media_id`, and `comment_id` for a comment mention), never privately,
and Instagram refuses one on a post that only tags us without @mentioning us in its caption. A private
reply to a comment is a Messenger "private reply" (`POST /{page-id}/messages` with `recipient.comment_id`),
and in a conversation a message to the customer's scoped id with `messaging_type=RESPONSE` (24 h
window). The Graph API takes no idempotency key: `find_sent` reads the replies under the comment, or the customer's
conversation, for the Page's message with the same text; only one after the answered message counts
(it pages back until past it, FIND_PAGES at most, else it says it cannot tell). For a mention it reads our
comments under the mentioned media (or replies under the mentioned comment) through the same
`mentioned_media`/`mentioned_comment` fields, paged with `.after()`, FIND_PAGES at most, and only one no
older than the mention counts.

Account options (never secrets; the Page access token is the account's secret, sent as a
Bearer header, the Graph API's `bearerAuth` scheme, so it never appears in a URL; `paging.next`
links are only followed to the Graph host itself):
    page_id: the Facebook Page (for Instagram: the Page linked to the account, whose inbox and
        Send API carry Instagram direct messages). Required.
    ig_user_id: the Instagram professional account (Instagram only). Required there.
    base_url: default https://graph.facebook.com/v23.0
    posts: how many recent posts/media to watch for comments (default 10).
    history_pages: pages read per post and of the inbox by the first sync (default 2).
    watch_days: how long a post that left the newest `posts` stays watched after its last activity
        (default 30).
    conversations: read direct messages too (default true; false when the token lacks
        pages_messaging / instagram_manage_messages).
    tags: Instagram only: read the media the account is tagged in (default false; the token needs
        instagram_basic, instagram_manage_comments and pages_read_engagement, as for comments).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
from webcare_tui.platforms import MAX_PRIVATE_REPLY_LENGTH, MAX_REPLY_LENGTH

DEFAULT_BASE_URL = "https://graph.facebook.com/v23.0"
COMMENT_PAGE = 25
CONVERSATION_PAGE = 25
MESSAGES_PER_CONVERSATION = 25
MESSAGE_FIELDS = "id,message,from,to,created_time,attachments"
CATCH_UP_PAGES = 10  # per post and of the inbox in one fetch after the first look; the rest follows with more=True
MESSAGE_PAGES = 100  # of one conversation's messages in one fetch (2,500 new messages at once)
REPLY_PAGES = 40  # of one IG comment's replies in one fetch
FIND_PAGES = 10  # of replies or messages find_sent searches before it gives up
WATCH_DAYS = 30  # posts that left the newest `posts` stay watched this long after their last activity
MAX_WATCHED = 100  # older posts watched at most (the most recently active)
LOOKUP_IDS = 50  # ids per `GET /?ids=` request (Graph's limit)
IG_COMMENT_FIELDS = "id,text,timestamp,username,from,user,parent_id"
RECENT_COMMENTS = "comments.limit(10){id,timestamp,replies{id,timestamp}}"  # listed with each medium
DM_KEY = "dm"  # the inbox's walk among the per-post walks
TAGS_KEY = "tags"  # the walk of the media the IG account is tagged in, among the walks; its state in the cursor
KNOWN_TAGS = 50  # tagged media ids kept in the cursor: the newest seen, where the next read stops
TAG_FIELDS = "id,caption,username,timestamp,permalink,media_type"
MENTION = "mention:"  # external ids of mentions: "mention:{media-id}" or "mention:{media-id}:{comment-id}"
MENTIONED_MEDIA_FIELDS = "id,caption,media_type,timestamp,username"
MENTIONED_COMMENT_FIELDS = "id,text,timestamp,username,media{id,permalink}"
MEDIA_KINDS = {"IMAGE": "photo", "VIDEO": "video", "CAROUSEL_ALBUM": "album"}
NUMERIC = re.compile(r"\d+")
DM_WINDOW = 24 * 3600

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
    """One comment from `/{post-id}/comments` (fields id,message,from,created_time,parent,permalink_url), or
    a visitor post (one a customer wrote on the Page) from `/{page-id}/feed`: it has no parent.

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


def mention_id(media_id: str, comment_id: str | None = None) -> str:
    """The external id of a mention: "mention:{media-id}" (a post that tags or @mentions the account) or
    "mention:{media-id}:{comment-id}" (a comment that @mentions it): all a reply needs."""
    return f"{MENTION}{media_id}" + (f":{comment_id}" if comment_id else "")


def parse_mention_id(external_id: str | None) -> tuple[str, str | None] | None:
    """(media id, comment id or None) of a mention's external id; None for any other id."""
    if not external_id or not external_id.startswith(MENTION):
        return None
    media_id, _, comment_id = external_id.removeprefix(MENTION).partition(":")
    if not NUMERIC.fullmatch(media_id) or (comment_id and not NUMERIC.fullmatch(comment_id)):
        return None
    return media_id, comment_id or None


def _username(item: dict[str, Any]) -> str:
    """The author's username: the only author a medium or comment of another account names.

    Raises:
        Skip: none.
    """
    username = item.get("username")
    if not isinstance(username, str) or not username.strip():
        raise Skip("no author (no `username`)")
    return username.strip()


def instagram_post_mention(item: Any, own: set[str], account: str) -> Message:
    """A medium of another account that tags ours (`/{ig-user-id}/tags`) or @mentions it in its caption
    (`mentioned_media`), fields id,caption,username,timestamp,permalink,media_type: an inbound public
    message by the post's author, its caption with a marker of the kind of post ("[photo]").

    Raises:
        Skip: no id, author or time; or a post of our own.
    """
    if not isinstance(item, dict) or not _id(item.get("id")) or not NUMERIC.fullmatch(str(item["id"])):
        raise Skip("no id")
    username = _username(item)
    if username in own:
        raise Skip("a post of our own")
    created = graph_time(item.get("timestamp"))
    caption = item.get("caption")
    kind = item.get("media_type")
    parts = [caption.strip()] if isinstance(caption, str) and caption.strip() else []
    parts.append(f"[{MEDIA_KINDS.get(kind, kind.lower()) if isinstance(kind, str) and kind else 'post'}]")
    url = item.get("permalink")
    return Message(
        platform="instagram", account=account, external_id=mention_id(str(item["id"])), author_id=username,
        text=" ".join(parts), created_at=created, direction="in", visibility="public", author_handle=username,
        url=url if isinstance(url, str) else None,
    )


def instagram_comment_mention(item: Any, media_id: str | None, own: set[str], account: str) -> Message:
    """A comment that @mentions the account on another account's medium (`mentioned_comment`, fields
    id,text,timestamp,username,media{id,permalink}): an inbound public message by the commenter.

    `media_id` is the medium the webhook named (else the comment's `media`).

    Raises:
        Skip: no id, medium, author, time or text; or a comment of our own.
    """
    if not isinstance(item, dict) or not _id(item.get("id")) or not NUMERIC.fullmatch(str(item["id"])):
        raise Skip("no id")
    media = _object(item.get("media"))
    media_id = media_id or _id(media.get("id"))
    if not media_id or not NUMERIC.fullmatch(media_id):
        raise Skip("no medium")
    username = _username(item)
    if username in own:
        raise Skip("a comment of our own")
    created = graph_time(item.get("timestamp"))
    text = _text(item, "text")
    url = media.get("permalink")
    return Message(
        platform="instagram", account=account, external_id=mention_id(media_id, str(item["id"])),
        author_id=username, text=text, created_at=created, direction="in", visibility="public",
        author_handle=username, url=url if isinstance(url, str) else None,
    )


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


@dataclass
class Walk:
    """One newest-first read of a list (a post's comments, the inbox) down to what was known.

    since: the newest time known before (items older than it end the walk); top: the newest time seen
    in this walk; mark: what to store for the post once done (its `updated_time` or comment count);
    at: where the next page starts (None: the first page); first: a first look (bounded history);
    found/want: Instagram: new items found so far, and how many the comment count said were added.
    """

    since: int = 0
    top: int = 0
    mark: int = 0
    at: dict[str, str] | None = None
    first: bool = False
    found: int = 0
    want: int = -1

    def saved(self) -> dict[str, Any]:
        return {"at": self.at, "since": self.since, "top": self.top, "mark": self.mark, "found": self.found,
                "want": self.want}

    @classmethod
    def load(cls, value: Any) -> Walk | None:
        """A walk kept in the cursor, or None when there is none (or it is unreadable: start over)."""
        if not isinstance(value, dict) or not isinstance(value.get("at"), dict):
            return None
        numbers = [value.get(name, 0 if name != "want" else -1) for name in ("since", "top", "mark", "found", "want")]
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
            return None
        at = {k: v for k, v in value["at"].items() if k in ("after", "next") and isinstance(v, str)}
        since, top, mark, found, want = numbers
        return cls(since, top, mark, at or None, False, found, want) if at else None


def _without_token(link: str) -> str:
    """A `paging.next` link without an `access_token` in it (it is kept in the cursor)."""
    parts = urlsplit(link)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "access_token"]
    return urlunsplit(parts._replace(query=urlencode(query)))


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
        watch_days = _count(options, "watch_days", WATCH_DAYS)
        self.read_conversations = str(options.get("conversations", True)).lower() not in ("false", "0", "no")
        # A bad option must not stop the app: the account shows it as its error instead.
        self.setup_error = next((f"account {account.name!r}: option {name} is required" for name in self.required
                                 if not options.get(name)), None)
        if self.setup_error is None and (posts is None or history_pages is None or watch_days is None):
            self.setup_error = (f"account {account.name!r}: options posts, history_pages and watch_days are whole"
                                " numbers ≥ 1")
        self.posts, self.history_pages, self.watch_days = posts or 10, history_pages or 2, watch_days or WATCH_DAYS
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

    async def _pages(self, path: str, params: dict[str, Any], what: str, limit: int,
                     start: dict[str, str] | None = None) -> AsyncGenerator[tuple[list[Any], dict[str, str] | None],
                                                                           None]:
        """Yield (the `data` list, where the next page starts or None at the end) of up to `limit` pages,
        from `start` (such a place) or the first page, following `paging.cursors.after` (use it under
        `aclosing`: a reader may stop early)."""
        path, params = self._at(path, dict(params), start)
        for _ in range(limit):
            body = await self._get(path, params)
            data = _page(body, what, self.label)
            resume = self._resume_point(body)
            yield data, resume
            if resume is None:
                return
            path, params = self._at(path, params, resume)

    def _at(self, path: str, params: dict[str, Any], place: dict[str, str] | None) -> tuple[str, dict[str, Any]]:
        """The request that reads the page at `place` (a saved place the Graph host would not take: the top)."""
        if not isinstance(place, dict):
            return path, params
        if isinstance(place.get("after"), str):
            return path, params | {"after": place["after"]}
        link = place.get("next")
        if isinstance(link, str) and self._same_origin(link):
            return link, {}  # time-based paging: the link carries its parameters
        return path, params

    def _resume_point(self, body: Any) -> dict[str, str] | None:
        """Where the page after `body` starts: its `after` cursor, else its `next` link (only to the Graph
        host, without any token in it); None when it is the last page."""
        paging = body.get("paging") if isinstance(body, dict) else None
        if not isinstance(paging, dict) or not paging.get("next"):
            return None
        cursors = paging.get("cursors")
        after = cursors.get("after") if isinstance(cursors, dict) else None
        if isinstance(after, str) and after:
            return {"after": after}
        link = paging["next"]
        if isinstance(link, str) and self._same_origin(link):
            return {"next": _without_token(link)}
        return None

    def _same_origin(self, url: str) -> bool:
        """Only ever follow links to the Graph host itself: the token travels with the request."""
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    async def _walk(self, key: str, path: str, params: dict[str, Any], what: str, walk: Walk,
                    read: Callable[[list[Any], Walk], Awaitable[bool]], walks: dict[str, Any]) -> bool:
        """Read a newest-first list from where `walk` stands until `read` says it reached what was known
        (True) or the list ends.

        A first look reads `history_pages` pages (the history before the first sync is bounded); a
        catch-up reads CATCH_UP_PAGES, and what is left is kept in `walks[key]`, to go on from exactly
        there in the next fetch (`more=True`). Returns whether the walk is done.
        """
        limit = self.history_pages if walk.first else CATCH_UP_PAGES
        started = walk.at
        try:
            done = await self._read_pages(path, params, what, limit, walk, read)
        except ConnectorError as error:
            if started is None or walk.at is not started or error.retryable or error.needs_auth:
                raise
            walk.at = None  # Graph refused the saved place (a cursor expired meanwhile): from the newest again
            done = await self._read_pages(path, params, what, limit, walk, read)
        if done or walk.first:
            return True
        walks[key] = walk.saved()
        return False

    async def _read_pages(self, path: str, params: dict[str, Any], what: str, limit: int, walk: Walk,
                          read: Callable[[list[Any], Walk], Awaitable[bool]]) -> bool:
        pages = self._pages(path, params, what, limit, walk.at)
        async with aclosing(pages):
            async for items, resume in pages:
                if await read(items, walk):
                    return True
                walk.at = resume
                if resume is None:
                    return True
        return False

    # -- fetching -------------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> FetchResult:
        self._ready()
        state = self._state(cursor)
        messages: list[Message] = []
        skipped: list[str] = []
        walks_in = state.pop("walks", None)
        walks_in = walks_in if isinstance(walks_in, dict) else {}
        walks: dict[str, Any] = {}
        state["objects"] = await self._fetch_comments(state.get("objects", {}), walks_in, walks, messages, skipped)
        if self.read_conversations:
            since = state.get("dm")
            since = since if isinstance(since, int) and not isinstance(since, bool) else 0
            state["dm"] = await self._fetch_conversations(since, Walk.load(walks_in.get(DM_KEY)), walks, messages,
                                                          skipped)
        await self._fetch_mentions(state, walks_in, walks, messages, skipped)
        if walks:
            state["walks"] = walks
        messages.sort(key=lambda message: message.created_at)
        return FetchResult(messages, json.dumps(state, separators=(",", ":"), sort_keys=True),
                           more=bool(walks), skipped=skipped)

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

    def _still_watched(self, watched: dict[str, Any], walks_in: dict[str, Any]) -> list[str]:
        """Posts of the cursor still watched although they may have left the newest `posts`: those with a
        walk under way, and those active (a comment, or the post's update) within `watch_days`."""
        horizon = self.clock() - self.watch_days * 86400
        active = sorted(((max(_pair(entry)), post_id) for post_id, entry in watched.items()
                         if post_id not in walks_in and max(_pair(entry)) >= horizon), reverse=True)
        return [key for key in walks_in if key not in (DM_KEY, TAGS_KEY)] + [post_id for _, post_id in
                                                                           active[:MAX_WATCHED]]

    async def _look_up(self, ids: list[str], fields: str, skipped: list[str]) -> dict[str, dict[str, Any]]:
        """The objects of `ids` (`GET /?ids=...`, LOOKUP_IDS at a time); one Graph refuses (deleted) is left
        out with the reason, and is no longer watched."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), LOOKUP_IDS):
            batch = ids[start:start + LOOKUP_IDS]
            try:
                body = await self._get("", {"ids": ",".join(batch), "fields": fields})
            except ConnectorError as error:
                if error.retryable or error.needs_auth or len(batch) == 1:
                    raise
                for one in batch:  # one deleted post fails the whole request: ask one by one
                    try:
                        found |= await self._look_up([one], fields, skipped)
                    except ConnectorError as refused:
                        if refused.retryable or refused.needs_auth:
                            raise
                        skipped.append(f"{one}: no longer readable ({refused.message})")
                continue
            if isinstance(body, dict):
                found |= {key: value for key, value in body.items() if key in batch and isinstance(value, dict)}
        return found

    async def _fetch_comments(self, watched: dict[str, list[int]], walks_in: dict[str, Any], walks: dict[str, Any],
                              messages: list[Message], skipped: list[str]) -> dict[str, list[int]]:
        """New comments on the recent posts; returns the new per-post state (an unfinished walk goes to `walks`)."""
        raise NotImplementedError

    async def _fetch_mentions(self, state: dict[str, Any], walks_in: dict[str, Any], walks: dict[str, Any],
                              messages: list[Message], skipped: list[str]) -> None:
        """New media tagging the account (Instagram; an unfinished walk goes to `walks`)."""

    async def _fetch_conversations(self, since: int, walk: Walk | None, walks: dict[str, Any],
                                   messages: list[Message], skipped: list[str]) -> int:
        """Messages of conversations updated at or after `since` (a message of that very second may be
        new; ingest drops the repeats), every one of them however many came; returns the newest time
        seen once caught up (`since` while a walk goes on)."""
        walk = walk or Walk(since=since, top=since, first=since <= 0)
        params = {"platform": self.dm_platform, "limit": CONVERSATION_PAGE,
                  "fields": f"id,updated_time,messages.limit({MESSAGES_PER_CONVERSATION}){{{MESSAGE_FIELDS}}}"}

        async def read(conversations: list[Any], walk: Walk) -> bool:
            for conversation in conversations:
                try:
                    if not isinstance(conversation, dict):
                        raise Skip("not an object")
                    updated = graph_time(conversation.get("updated_time"))
                except Skip as reason:
                    skipped.append(f"{_label(conversation)}: {reason}")
                    continue
                if updated < walk.since:  # the inbox lists the most recently updated first
                    return True
                walk.top = max(walk.top, updated)
                await self._conversation_messages(conversation, walk, messages, skipped)
            return False

        done = await self._walk(DM_KEY, f"{self.page_id}/conversations", params, "conversations", walk, read, walks)
        return walk.top if done else walk.since

    async def _conversation_messages(self, conversation: dict[str, Any], walk: Walk, messages: list[Message],
                                     skipped: list[str]) -> None:
        """The conversation's messages at or after the walk's bound, newest first: the ones listed with it,
        then (after the first sync) `GET /{conversation-id}/messages` page by page until an older one."""
        listed = conversation.get("messages")
        items = listed.get("data") if isinstance(listed, dict) else None
        reached = self._read_messages(items if isinstance(items, list) else [], self._dm, walk, messages, skipped)
        place = self._resume_point(listed)
        conversation_id = _id(conversation.get("id"))
        if reached or walk.first or place is None or conversation_id is None:
            return
        pages = self._pages(f"{conversation_id}/messages", {"fields": MESSAGE_FIELDS, "limit": CONVERSATION_PAGE},
                            "messages", MESSAGE_PAGES, place)
        async with aclosing(pages):
            async for items, resume in pages:
                if self._read_messages(items, self._dm, walk, messages, skipped):
                    return
                if resume is None:
                    return
        skipped.append(f"{conversation_id}: more than {MESSAGE_PAGES * CONVERSATION_PAGE} new messages at once;"
                       " the older ones were not read")

    def _dm(self, item: Any) -> Message:
        return conversation_message(item, self.own_ids, self.dm_platform, self.account.name)

    @staticmethod
    def _read_messages(items: list[Any], parse: Callable[[Any], Message], walk: Walk, messages: list[Message],
                       skipped: list[str]) -> bool:
        """Take the items `parse` reads at or after the walk's bound; whether an older one was met."""
        reached = False
        for item in items:
            try:
                message = parse(item)
            except Skip as reason:
                skipped.append(f"{_label(item)}: {reason}")
                continue
            if message.created_at < walk.since:  # that very second may hold a new one: ingest drops repeats
                reached = True
                continue
            messages.append(message)
            walk.top = max(walk.top, message.created_at)
        return reached

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
        # as the outbox's `reply_limit`: the platform's private limit, where it has one, else its public one
        self._check_length(reply.text, MAX_PRIVATE_REPLY_LENGTH.get(self.platform, self.capabilities.max_reply_length))
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
        """Our message with the reply's text in the customer's conversation, newest first, page by page until
        the answered message: only one after it counts (when it is not there at all, any one counts)."""
        params = {"platform": self.dm_platform, "user_id": reply.recipient_id,
                  "fields": f"id,messages.limit({MESSAGES_PER_CONVERSATION}){{id,message,from,created_time}}"}
        conversations = _page(await self._get(f"{self.page_id}/conversations", params), "conversations", self.label)
        matches: list[SentReply] = []

        def answered_in(items: Any) -> bool:
            """Whether the answered message is among `items`; ours with the reply's text before it go to `matches`."""
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict):
                    continue
                if reply.in_reply_to and _id(item.get("id")) == reply.in_reply_to:
                    return True
                sender = _person(item.get("from"))
                if sender and str(sender["id"]) in self.own_ids and _same_text(item.get("message"), reply.text):
                    matches.append(SentReply(str(item["id"]), _time_or(item.get("created_time"), self.clock)))
            return False

        for conversation in conversations:
            listed = conversation.get("messages") if isinstance(conversation, dict) else None
            if answered_in(listed.get("data") if isinstance(listed, dict) else None):
                return matches[-1] if matches else None  # the one closest after the answered message
            place = self._resume_point(listed)
            conversation_id = _id(conversation.get("id")) if isinstance(conversation, dict) else None
            if place is None or conversation_id is None:
                continue
            page_params = {"fields": "id,message,from,created_time", "limit": CONVERSATION_PAGE}
            # the listed messages are the first of FIND_PAGES pages
            pages = self._pages(f"{conversation_id}/messages", page_params, "messages", FIND_PAGES - 1, place)
            async with aclosing(pages):
                async for items, resume in pages:
                    if answered_in(items):
                        return matches[-1] if matches else None
                    if resume is None:
                        break
                else:
                    raise _too_many(self.label)
        return matches[0] if matches else None

    async def _find_comment_reply(self, reply: OutgoingReply, target: str) -> SentReply | None:
        raise NotImplementedError

    async def like(self, external_id: str) -> None:
        raise ConnectorError(f"{self.label} has no likes through its API", retryable=False)


def _graph_id(value: Any) -> bool:
    """Whether `value` is a Graph id (ASCII digits) that may go into a request's path or fields."""
    return isinstance(value, str) and value.isascii() and NUMERIC.fullmatch(value) is not None


def _too_many(label: str) -> ConnectorError:
    return ConnectorError(f"{label}: too many messages since the one answered to tell whether the reply went out",
                          retryable=False)


def _newer_than(media: dict[str, Any], newest: int) -> bool:
    """Whether a comment or reply listed with the medium (`RECENT_COMMENTS`) is newer than `newest`."""
    listed = media.get("comments")
    for item, _ in _with_replies(listed.get("data") or [] if isinstance(listed, dict) else []):
        if isinstance(item, dict) and _time_or(item.get("timestamp"), lambda: 0) > newest:
            return True
    return False


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
    capabilities = Capabilities(max_reply_length=MAX_REPLY_LENGTH["facebook"], private_messages=True, like=True,
                                reply_window=DM_WINDOW)

    async def _fetch_comments(self, watched: dict[str, list[int]], walks_in: dict[str, Any], walks: dict[str, Any],
                              messages: list[Message], skipped: list[str]) -> dict[str, list[int]]:
        body = await self._get(f"{self.page_id}/feed", {
            "fields": "id,created_time,updated_time,permalink_url,message,from,attachments", "limit": self.posts})
        posts: dict[str, dict[str, Any]] = {}
        for post in _page(body, "the Page's feed", self.label)[:self.posts]:
            post_id = _id(post.get("id")) if isinstance(post, dict) else None
            if post_id is None:
                skipped.append("?: a post with no id")
                continue
            posts[post_id] = post
            if _person(post.get("from")) and str(post["from"]["id"]) != self.page_id and post_id not in watched:
                try:  # a visitor post: a customer wrote on the Page (read once, when it first shows)
                    messages.append(facebook_comment(post, self.page_id, self.account.name))
                except Skip as reason:
                    skipped.append(f"{post_id}: {reason}")
        older = [post_id for post_id in self._still_watched(watched, walks_in) if post_id not in posts]
        posts |= await self._look_up(older, "updated_time", skipped)
        state: dict[str, list[int]] = {}
        for post_id, post in posts.items():
            newest, seen_update = _pair(watched.get(post_id))
            try:
                updated: int | None = graph_time(post.get("updated_time"))
            except Skip:
                updated = None  # unknown: look every time
            walk = Walk.load(walks_in.get(post_id))
            if walk is None:
                if post_id in watched and updated is not None and updated <= seen_update:
                    state[post_id] = [newest, seen_update]  # no new comment since the last look
                    continue
                walk = Walk(since=newest, top=newest, mark=updated or 0, first=not watched)
            if await self._post_comments(post_id, walk, walks, messages, skipped):
                state[post_id] = [walk.top, walk.mark]
            else:
                state[post_id] = [newest, seen_update]
        return state

    async def _post_comments(self, post_id: str, walk: Walk, walks: dict[str, Any], messages: list[Message],
                             skipped: list[str]) -> bool:
        """Comments on one post at or after the walk's bound, newest first until an older one, however many
        came; returns whether the walk is done (else it goes on in the next fetch)."""
        params = {"fields": "id,message,from,created_time,parent{id,from},permalink_url,attachment",
                  "filter": "stream", "order": "reverse_chronological", "limit": COMMENT_PAGE}

        def parse(item: Any) -> Message:
            return facebook_comment(item, self.page_id, self.account.name)

        async def read(comments: list[Any], walk: Walk) -> bool:
            return self._read_messages(comments, parse, walk, messages, skipped)

        return await self._walk(post_id, f"{post_id}/comments", params, "comments", walk, read, walks)

    def _reply_path(self, comment_id: str) -> str:
        return f"{comment_id}/comments"

    async def _find_comment_reply(self, reply: OutgoingReply, target: str) -> SentReply | None:
        # Facebook threads two levels deep: an answer to a reply may sit under the reply's parent, among
        # the replies to that parent, where only those after the answered reply count.
        found = await self._find_under(target, reply.text)
        if found is None:
            body = await self._get(target, {"fields": "parent{id}"})
            parent = _object(body.get("parent")) if isinstance(body, dict) else {}
            if _id(parent.get("id")) and str(parent["id"]) != target:
                found = await self._find_under(str(parent["id"]), reply.text, after=target)
        return found

    async def _find_under(self, comment_id: str, text: str, after: str | None = None) -> SentReply | None:
        """The Page's comment with `text` under `comment_id` (newest first, every page); with `after`, only
        one newer than that comment counts (when it is there: a deleted one bounds nothing)."""
        params = {"fields": "id,message,from,created_time,permalink_url", "filter": "stream",
                  "order": "reverse_chronological", "limit": COMMENT_PAGE}
        found: SentReply | None = None  # the oldest match so far: the one sent for this answer
        pages = self._pages(f"{comment_id}/comments", params, "comments", FIND_PAGES)
        async with aclosing(pages):
            async for items, resume in pages:
                for item in items:
                    if not isinstance(item, dict):
                        continue
                    if after is not None and _id(item.get("id")) == after:
                        return found  # the rest is older than the answered comment
                    sender = _person(item.get("from"))
                    if sender and str(sender["id"]) == self.page_id and _same_text(item.get("message"), text):
                        url = item.get("permalink_url")
                        found = SentReply(str(item["id"]), _time_or(item.get("created_time"), self.clock),
                                          url if isinstance(url, str) else None)
                if resume is None:
                    return found
        raise _too_many(self.label)

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
    # Instagram's API cannot like a comment; a direct message takes less than a comment (`_send_private`).
    capabilities = Capabilities(max_reply_length=MAX_REPLY_LENGTH["instagram"], private_messages=True, like=False,
                                reply_window=DM_WINDOW)

    required = ("page_id", "ig_user_id")

    def __init__(self, account: Account, secret: str | None = None, http: httpx.AsyncClient | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(account, secret, http, clock=clock)
        self.ig_user_id = str(account.options.get("ig_user_id") or "")
        self.username: str | None = None  # learnt from the media list
        self.read_tags = str(account.options.get("tags", False)).lower() in ("true", "1", "yes")

    @property
    def own_ids(self) -> set[str]:
        return {self.page_id, self.ig_user_id} | ({self.username} if self.username else set())

    # -- mentions ---------------------------------------------------------------------------

    async def read_mention(self, media_id: str, comment_id: str | None = None) -> Message:
        """The mention a webhook announced (`mentions` field, value `{media_id, comment_id}`): another account
        @mentioned ours in the caption of medium `media_id` (no comment id) or in comment `comment_id` on it.

        Returns:
            An inbound public message by the mention's author ("mention:{media-id}[:{comment-id}]").

        Raises:
            Skip: an id that is not a Graph id (never requested), or the mention is ours or has no author.
            ConnectorError: Graph refused it: `retryable`/`needs_auth` for a passing fault or the token, else
                it is gone (deleted, comments turned off, no longer readable).
        """
        if not _graph_id(media_id):
            raise Skip("the media id is not a Graph id")
        if comment_id is not None and not _graph_id(comment_id):
            raise Skip("the comment id is not a Graph id")
        item = await self._mentioned(media_id, comment_id)
        if comment_id is None:
            return instagram_post_mention(item, self.own_ids, self.account.name)
        return instagram_comment_mention(item, media_id, self.own_ids, self.account.name)

    async def _fetch_mentions(self, state: dict[str, Any], walks_in: dict[str, Any], walks: dict[str, Any],
                              messages: list[Message], skipped: list[str]) -> None:
        if self.read_tags:
            await self._fetch_tags(state, Walk.load(walks_in.get(TAGS_KEY)), walks, messages, skipped)

    async def _fetch_tags(self, state: dict[str, Any], walk: Walk | None, walks: dict[str, Any],
                          messages: list[Message], skipped: list[str]) -> None:
        """Media newly tagging the account, from the top of the list until a page with one already seen. Known
        ids end the read, not times: the list is not in `timestamp` order (the recorded one is not; an old
        post tagged now comes first). The newest KNOWN_TAGS ids seen stay in the cursor; a walk under way
        keeps the ones it found (`new`) until it is done."""
        saved = state.get(TAGS_KEY)
        saved = saved if isinstance(saved, dict) else None
        seen = [i for i in (saved or {}).get("seen", []) if isinstance(i, str)][:KNOWN_TAGS]
        found = [i for i in (saved or {}).get("new", []) if isinstance(i, str)][:KNOWN_TAGS] if walk else []
        known = set(seen)
        walk = walk or Walk(first=saved is None)

        async def read(items: list[Any], walk: Walk) -> bool:
            reached = False
            for item in items:
                media_id = _id(item.get("id")) if isinstance(item, dict) else None
                if media_id is None:
                    skipped.append("?: a tagged medium with no id")
                    continue
                if media_id in known:
                    reached = True  # the rest of this page is read still: the order within a page may vary
                    continue
                if media_id in found:
                    continue
                if len(found) < KNOWN_TAGS:
                    found.append(media_id)
                try:
                    messages.append(instagram_post_mention(item, self.own_ids, self.account.name))
                except Skip as reason:
                    skipped.append(f"{media_id}: {reason}")
            return reached

        params = {"fields": TAG_FIELDS, "limit": COMMENT_PAGE}
        try:
            done = await self._walk(TAGS_KEY, f"{self.ig_user_id}/tags", params, "tagged media", walk, read, walks)
        except ConnectorError as error:
            if error.retryable or error.needs_auth:
                raise
            skipped.append(f"tags: the tagged media were not read ({self.redact(error.message)})")
            return
        if done:
            state[TAGS_KEY] = {"seen": (found + [i for i in seen if i not in found])[:KNOWN_TAGS]}
        else:
            state[TAGS_KEY] = {"seen": seen, "new": found}

    async def _mentioned(self, media_id: str, comment_id: str | None, extra: str = "") -> dict[str, Any]:
        """The mentioned medium or comment (`GET /{ig-user-id}?fields=mentioned_media.media_id(…){…}`), with
        `extra` fields; learns our username on the way.

        Raises:
            ConnectorError: Graph refused it, or answered without it.
        """
        if comment_id is None:
            name, node = "mentioned_media", f"mentioned_media.media_id({media_id}){{{MENTIONED_MEDIA_FIELDS}{extra}}}"
        else:
            name, node = ("mentioned_comment",
                          f"mentioned_comment.comment_id({comment_id}){{{MENTIONED_COMMENT_FIELDS}{extra}}}")
        body = await self._get(self.ig_user_id, {"fields": f"username,{node}"})
        if isinstance(body, dict) and isinstance(body.get("username"), str) and body["username"]:
            self.username = body["username"]
        item = body.get(name) if isinstance(body, dict) else None
        if not isinstance(item, dict):
            raise ConnectorError(f"{self.label} sent no {name} (deleted, or no longer readable)", retryable=False)
        return item

    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        mention = parse_mention_id(reply.in_reply_to)
        if mention is None:
            return await super().send_reply(reply)
        self._ready()
        if reply.visibility == "private":
            raise ConnectorError("Instagram: a mention can only be answered publicly, with a comment; its author"
                                 " can be messaged privately only after they write to us", retryable=False)
        self._check_length(reply.text, self.capabilities.max_reply_length)
        media_id, comment_id = mention
        payload = {"media_id": media_id, "message": reply.text} | ({"comment_id": comment_id} if comment_id else {})
        body = await self.api.json("POST", f"{self.ig_user_id}/mentions", json=payload, write=True)
        sent_id = _id(body.get("id")) if isinstance(body, dict) else None
        if sent_id is None:
            raise ConnectorError(f"{self.label} accepted the reply but sent no id back", outcome_unknown=True)
        return SentReply(sent_id, int(self.clock()))

    async def find_sent(self, reply: OutgoingReply) -> SentReply | None:
        mention = parse_mention_id(reply.in_reply_to)
        if mention is None:
            return await super().find_sent(reply)
        if reply.visibility == "private":
            return None  # never sent: `send_reply` refuses it before any request
        return await self._find_mention_reply(*mention, reply.text)

    async def _find_mention_reply(self, media_id: str, comment_id: str | None, text: str) -> SentReply | None:
        """Our comment with `text` under the mentioned medium (or our reply under the mentioned comment), no
        older than the mention, FIND_PAGES pages at most (`.after()` on the edge), else it cannot tell."""
        edge = "comments" if comment_id is None else "replies"
        matches: list[SentReply] = []
        after: str | None = None
        bound: int | None = None
        for _ in range(FIND_PAGES):
            place = f".after({after})" if after else ""
            item = await self._mentioned(media_id, comment_id,
                                         f",{edge}{place}.limit({COMMENT_PAGE}){{id,text,timestamp,username,from}}")
            if bound is None:
                bound = _time_or(item.get("timestamp"), lambda: 0)
            listed = _object(item.get(edge))
            items = listed.get("data")
            for comment in items if isinstance(items, list) else []:
                if not isinstance(comment, dict) or not _id(comment.get("id")):
                    continue
                created = _time_or(comment.get("timestamp"), lambda: 0)
                if _ig_own(comment, self.own_ids) and _same_text(comment.get("text"), text) and created >= bound:
                    matches.append(SentReply(str(comment["id"]), created))
            resume = self._resume_point(listed)
            if resume is None:
                return min(matches, key=lambda m: m.created_at) if matches else None
            after = resume.get("after")
            if after is None:  # more, but no cursor to ask for them with: it cannot tell
                break
        raise _too_many(self.label)

    async def _fetch_comments(self, watched: dict[str, list[int]], walks_in: dict[str, Any], walks: dict[str, Any],
                              messages: list[Message], skipped: list[str]) -> dict[str, list[int]]:
        fields = f"id,caption,permalink,timestamp,username,comments_count,{RECENT_COMMENTS}"
        body = await self._get(f"{self.ig_user_id}/media", {"fields": fields, "limit": self.posts})
        found: dict[str, dict[str, Any]] = {}
        for media in _page(body, "the account's media", self.label)[:self.posts]:
            media_id = _id(media.get("id")) if isinstance(media, dict) else None
            if media_id is None:
                skipped.append("?: a medium with no id")
                continue
            if isinstance(media.get("username"), str):
                self.username = media["username"]
            found[media_id] = media
        older = [media_id for media_id in self._still_watched(watched, walks_in) if media_id not in found]
        found |= await self._look_up(older, fields, skipped)
        state: dict[str, list[int]] = {}
        for media_id, media in found.items():
            count = media.get("comments_count")
            count = count if isinstance(count, int) and not isinstance(count, bool) else -1
            newest, seen_count = _pair(watched.get(media_id))
            posted = _time_or(media.get("timestamp"), lambda: 0)
            walk = Walk.load(walks_in.get(media_id))
            if walk is None:
                # The count misses a comment deleted while another was added: the newest comments listed
                # with the medium tell those apart.
                if media_id in watched and count == seen_count and count >= 0 and not _newer_than(media, newest):
                    state[media_id] = [newest, seen_count]
                    continue
                if count == 0:
                    state[media_id] = [max(newest, posted), 0]
                    continue
                known = media_id in watched and seen_count >= 0 and count >= 0
                walk = Walk(since=newest, top=max(newest, posted), mark=count, first=not watched,
                            want=count - seen_count if known else -1)
            permalink = media.get("permalink") if isinstance(media.get("permalink"), str) else None
            if await self._media_comments(media_id, permalink, walk, walks, messages, skipped):
                state[media_id] = [walk.top, walk.mark]
            else:
                state[media_id] = [newest, seen_count]
        return state

    async def _media_comments(self, media_id: str, permalink: str | None, walk: Walk, walks: dict[str, Any],
                              messages: list[Message], skipped: list[str]) -> bool:
        """Comments and their replies at or after the walk's bound. A new reply may sit under an old comment,
        so the walk goes on past the new comments until as many new items were found as the comment count
        grew (or to the end); returns whether the walk is done (else it goes on in the next fetch)."""
        params = {"fields": f"{IG_COMMENT_FIELDS},replies{{{IG_COMMENT_FIELDS}}}", "limit": COMMENT_PAGE}

        def take(item: Any, parent: dict[str, Any] | None) -> None:
            try:
                message = instagram_comment(item, self.own_ids, self.account.name, media_url=permalink, parent=parent)
            except Skip as reason:
                skipped.append(f"{_label(item)}: {reason}")
                return
            if message.created_at >= walk.since:  # that very second may hold a new one: ingest drops repeats
                messages.append(message)
                walk.top = max(walk.top, message.created_at)
                walk.found += message.created_at > walk.since

        async def read(comments: list[Any], walk: Walk) -> bool:
            fresh = False
            for item, parent in _with_replies(comments):
                if parent is None:
                    fresh = fresh or _time_or((item if isinstance(item, dict) else {}).get("timestamp"),
                                              lambda: walk.since) >= walk.since
                take(item, parent)
            if not walk.first:  # replies beyond the ones listed with their comment
                for item in comments:
                    place = self._resume_point(item.get("replies")) if isinstance(item, dict) else None
                    if place is None or not _id(item.get("id")):
                        continue
                    pages = self._pages(f"{item['id']}/replies", {"fields": IG_COMMENT_FIELDS, "limit": COMMENT_PAGE},
                                        "replies", REPLY_PAGES, place)
                    async with aclosing(pages):
                        async for replies, _ in pages:
                            for reply in replies:
                                take(reply, item)
            # top-level comments come newest first: past the new ones only replies can be new
            return not walk.first and not fresh and walk.want >= 0 and walk.found >= max(walk.want, 1)

        return await self._walk(media_id, f"{media_id}/comments", params, "comments", walk, read, walks)

    def _reply_path(self, comment_id: str) -> str:
        return f"{comment_id}/replies"

    async def _find_comment_reply(self, reply: OutgoingReply, target: str) -> SentReply | None:
        # Instagram files an answer to a reply under the top-level comment, where only the replies after
        # the answered one count.
        found = await self._find_under(target, reply.text)
        if found is None:
            body = await self._get(target, {"fields": "parent_id"})
            parent = _id(body.get("parent_id")) if isinstance(body, dict) else None
            if parent and parent != target:
                found = await self._find_under(parent, reply.text, after=target)
        return found

    async def _find_under(self, comment_id: str, text: str, after: str | None = None) -> SentReply | None:
        """Our reply with `text` under `comment_id` (every page); with `after`, only one at or after the time
        of that reply counts (when it is there: a deleted one bounds nothing)."""
        params = {"fields": "id,text,timestamp,username,from,user", "limit": COMMENT_PAGE}
        matches: list[SentReply] = []
        bound: int | None = None
        pages = self._pages(f"{comment_id}/replies", params, "replies", FIND_PAGES)
        async with aclosing(pages):
            async for items, resume in pages:
                for item in items:
                    if not isinstance(item, dict):
                        continue
                    if after is not None and _id(item.get("id")) == after:
                        bound = _time_or(item.get("timestamp"), lambda: 0)
                    elif _ig_own(item, self.own_ids) and _same_text(item.get("text"), text) and _id(item.get("id")):
                        matches.append(SentReply(str(item["id"]), _time_or(item.get("timestamp"), self.clock)))
                if resume is None:
                    break
            else:
                raise _too_many(self.label)
        matches = [m for m in matches if bound is None or m.created_at >= bound]
        return min(matches, key=lambda m: m.created_at) if matches else None

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
