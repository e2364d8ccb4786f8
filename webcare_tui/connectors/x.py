"""Provides `XConnector`: one X (Twitter) account through the X API v2.

What it reads, newest-id cursors per feed:

- mentions of our account (`GET /2/users/:id/mentions`, `since_id`, `pagination_token`) →
  public messages, with the author's handle, name and follower count from `includes.users`;
  `url` is https://x.com/{username}/status/{id}. Reposts (retweets) are skipped; our own
  replies found there are direction "out" with the customer they answer as the author.
- direct messages (`GET /2/dm_events`, MessageCreate) → private messages; those our account
  sent are direction "out" with the other participant as the author. The endpoint has no
  `since_id`: it is paged newest first until the newest event already seen.

What it does: public replies (`POST /2/tweets` with `reply.in_reply_to_tweet_id`), private
replies (`POST /2/dm_conversations/with/:participant_id/messages`), likes
(`POST /2/users/:id/likes`). X honours no idempotency key, so `find_sent` looks for a reply
among our own posts (`GET /2/users/:id/tweets`) or our DMs with that customer.

External ids: a post's id as X gives it ("1578516295611748353"); a direct message's event id
with a "dm:" prefix ("dm:1585800613253812228"), so a reply can tell which kind it answers.
An edited post has a new id on X; its `edit_history_tweet_ids` name every version, oldest
first. Only the latest version is shown: an earlier one is skipped, whether it comes in the
same fetch or after. When the original was read by an earlier fetch (its id is not newer than
the feed's `since_id`), the latest version arrives as its own message "[edited] …" answering
the original, as Telegram, Mastodon and Matrix edits do; otherwise it simply is the post, under
its own id (replies and likes go to the latest version). A deleted post simply stops appearing;
a deleted or suspended post that one refers to shows up in the page's partial `errors`,
which do not fail the page. Posts read without `created_at` take the time their id carries.

Rate limits: X sends `x-rate-limit-remaining` and `x-rate-limit-reset` (epoch seconds) per
endpoint. A 429 becomes `retry_after`; a successful call that leaves nothing remaining holds
that endpoint until the reset, without asking X again. Every hold is bounded like any wait
(`http.bounded_wait`): a 24-hour cap is asked about again after MAX_WAIT, a reset header of
`inf` or one far off never holds an endpoint for good. A fetch whose every feed is held raises
with `retry_after`; one feed held while the other reads returns what was read. While calls
remain, a feed is polled at most once per its share of the window (reset time left divided
by the calls left), so a fast sync loop does not spend a small quota in its first minute.

Public replies are limited to 280 characters as X weighs them (links 23, emoji and most
characters outside Latin/Greek/Cyrillic 2): a longer one is refused, never cut.

Account options (the secret is an OAuth 2.0 user-context access token with the scopes
tweet.read, tweet.write, users.read, like.write, dm.read and dm.write):

    user_id: our account's numeric id (required).
    base_url: the API's root; default https://api.x.com.
    history_pages: pages of up to 100 read per feed on the first sync; default 3.
    direct_messages: read direct messages too; default true (needs dm.read).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import Any

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
from webcare_tui.model import Direction, Message, Visibility
from webcare_tui.platforms import URL_PATTERN, weighted_length

API = "https://api.x.com"
PAGE_SIZE = 100
CATCH_UP_PAGES = 10  # per feed and fetch after the first sync; the rest follows with more=True
FIND_PAGES = 3  # of our own posts or DMs searched by find_sent before it gives up
MAX_POST_LENGTH = 280
MAX_DM_LENGTH = 10_000
DM_PREFIX = "dm:"

TWEET_FIELDS = ("created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,note_tweet,lang,"
                "edit_history_tweet_ids")
TWEET_EXPANSIONS = "author_id,in_reply_to_user_id,referenced_tweets.id"
USER_FIELDS = "username,name,public_metrics"
DM_FIELDS = "id,event_type,text,created_at,sender_id,dm_conversation_id,participant_ids"
DM_EXPANSIONS = "sender_id,participant_ids"

SNOWFLAKE_EPOCH_MS = 1_288_834_974_657  # X ids carry their creation time in ms since this moment
_ID = re.compile(r"^[0-9]{1,19}$")


class Unreadable(ValueError):
    """An item of a page that cannot become a message; the text says why."""


def snowflake_time(item_id: str) -> int | None:
    """The creation time (epoch seconds) an X id carries, or None when it is not an X id."""
    if not isinstance(item_id, str) or not _ID.match(item_id):
        return None
    return ((int(item_id) >> 22) + SNOWFLAKE_EPOCH_MS) // 1000


def _newer(a: str | None, b: str | None) -> str | None:
    """The newer of two X ids (ids grow with time); either may be None."""
    if a is None or b is None:
        return a or b
    return a if int(a) >= int(b) else b


_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w+)+\s+")


def _comparable(text: str) -> str:
    """Text as X stores it, made comparable with what we sent.

    X puts the answered author's @handle before a reply and turns every link into a t.co link.
    """
    text = _LEADING_MENTIONS.sub("", text)
    return " ".join(URL_PATTERN.sub("<link>", text).split())


def _parse_time(value: Any, item_id: str) -> int:
    """`created_at` ("2021-01-06T18:40:40.000Z") as epoch seconds, else the time in the id."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Unreadable(f"created_at {value[:40]!r} is not a time") from None
        return int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp())
    from_id = snowflake_time(item_id)
    if from_id is None:
        raise Unreadable("no created_at")
    return from_id


def _item_id(item: Any) -> str:
    if not isinstance(item, dict):
        raise Unreadable("not an object")
    item_id = item.get("id")
    if not isinstance(item_id, str) or not _ID.match(item_id):
        raise Unreadable("no valid id")
    return item_id


def _label(item: Any) -> str:
    item_id = item.get("id") if isinstance(item, dict) else None
    return str(item_id)[:40] if item_id is not None else "?"


def _unescape(text: str) -> str:
    """A post's text as written: X escapes &, < and > in it (and nothing else)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(item: dict) -> str:
    """The full text: a long post's `note_tweet.text`, else `text`."""
    note = item.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("text"), str) and note["text"]:
        return _unescape(note["text"])
    text = item.get("text")
    if not isinstance(text, str):
        raise Unreadable("no text")
    return _unescape(text)


def _reference(item: dict, kind: str) -> str | None:
    """The id of the post this one `kind` ("replied_to", "retweeted", "quoted"), if any."""
    references = item.get("referenced_tweets")
    if not isinstance(references, list):
        return None
    for reference in references:
        if isinstance(reference, dict) and reference.get("type") == kind and isinstance(reference.get("id"), str):
            return reference["id"]
    return None


@dataclass(frozen=True)
class Post:
    """The fields of an X post (Tweet object) this connector uses."""

    id: str
    text: str  # the full text: a long post's note_tweet.text
    created_at: int  # epoch seconds; from the id when created_at was not asked for
    author_id: str | None
    in_reply_to_user_id: str | None
    replied_to: str | None  # the id of the post it answers
    repost: bool  # a retweet: nothing to answer
    language: str | None
    versions: tuple[str, ...] = ()  # edit_history_tweet_ids: every version's id, oldest first

    @property
    def superseded(self) -> bool:
        """An earlier version of an edited post: a later one replaces it."""
        return len(self.versions) > 1 and self.id in self.versions and self.versions[-1] != self.id

    @property
    def original(self) -> str | None:
        """The id of the first version, when this post is an edit of it."""
        return self.versions[0] if len(self.versions) > 1 and self.versions[-1] == self.id else None


def _versions(item: Any) -> tuple[str, ...]:
    """`edit_history_tweet_ids` as valid ids; () when absent or malformed."""
    ids = item.get("edit_history_tweet_ids") if isinstance(item, dict) else None
    if not isinstance(ids, list) or not all(isinstance(one, str) and _ID.match(one) for one in ids):
        return ()
    return tuple(ids)


def read_post(item: Any) -> Post:
    """An X Tweet object as a `Post`; unknown extra fields are ignored.

    Raises:
        Unreadable: no id or text, or a created_at that is not a time.
    """
    post_id = _item_id(item)
    text = _text(item)
    created_at = _parse_time(item.get("created_at"), post_id)
    author_id, to_user, lang = item.get("author_id"), item.get("in_reply_to_user_id"), item.get("lang")
    return Post(
        id=post_id, text=text, created_at=created_at,
        author_id=author_id if isinstance(author_id, str) and author_id else None,
        in_reply_to_user_id=to_user if isinstance(to_user, str) and to_user else None,
        replied_to=_reference(item, "replied_to"), repost=_reference(item, "retweeted") is not None,
        language=lang if isinstance(lang, str) and lang and lang not in ("und", "zxx", "qme", "qht") else None,
        versions=_versions(item),
    )


@dataclass(frozen=True)
class DmEvent:
    """The fields of an X direct-message event this connector uses."""

    id: str
    event_type: str
    text: str | None
    sender_id: str | None
    created_at: int
    conversation_id: str | None
    participant_ids: tuple[str, ...]


def read_dm_event(item: Any) -> DmEvent:
    """An X DmEvent object as a `DmEvent`; unknown extra fields are ignored.

    Raises:
        Unreadable: no id, or a created_at that is not a time.
    """
    event_id = _item_id(item)
    kind, text, sender = item.get("event_type"), item.get("text"), item.get("sender_id")
    conversation, participants = item.get("dm_conversation_id"), item.get("participant_ids")
    return DmEvent(
        id=event_id, event_type=kind if isinstance(kind, str) else "MessageCreate",
        text=text if isinstance(text, str) else None,
        sender_id=sender if isinstance(sender, str) and sender else None,
        created_at=_parse_time(item.get("created_at"), event_id),
        conversation_id=conversation if isinstance(conversation, str) and conversation else None,
        participant_ids=tuple(p for p in participants if isinstance(p, str)) if isinstance(participants, list)
        else (),
    )


@dataclass
class _User:
    handle: str | None = None
    name: str | None = None
    followers: int | None = None


def _users(body: dict) -> dict[str, _User]:
    """`includes.users` by id; malformed entries are left out (their messages keep unknown author fields)."""
    includes = body.get("includes")
    users = includes.get("users") if isinstance(includes, dict) else None
    found: dict[str, _User] = {}
    for user in users if isinstance(users, list) else ():
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            continue
        username, name = user.get("username"), user.get("name")
        metrics = user.get("public_metrics")
        followers = metrics.get("followers_count") if isinstance(metrics, dict) else None
        found[user["id"]] = _User(
            handle=f"@{username}" if isinstance(username, str) and username else None,
            name=name if isinstance(name, str) and name else None,
            followers=followers if isinstance(followers, int) and not isinstance(followers, bool) else None,
        )
    return found


def status_url(handle: str | None, post_id: str) -> str:
    """A post's link; x.com/i/status/{id} works when the author's username is unknown."""
    return f"https://x.com/{handle.lstrip('@') if handle else 'i'}/status/{post_id}"


@dataclass
class _Feed:
    """Where one feed stands: `since` the newest id delivered; `next`/`top` a backlog being paged."""

    since: str | None = None
    next: str | None = None  # pagination token of the backlog's next page
    top: str | None = None  # the newest id of that backlog: `since` once it is read

    @classmethod
    def load(cls, value: Any) -> _Feed:
        if value is None:
            return cls()
        if not isinstance(value, dict) or not all(
                isinstance(value.get(key), (str, type(None))) for key in ("since", "next", "top")):
            raise ValueError("feed")
        return cls(value.get("since"), value.get("next"), value.get("top"))

    def dump(self) -> dict[str, str]:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass
class _Page:
    messages: list[Message]
    skipped: list[str]
    feed: _Feed
    more: bool = False


class XConnector(Connector):
    """Mentions and direct messages of one X account; replies, DMs and likes."""

    platform = "x"
    capabilities = Capabilities(max_reply_length=MAX_POST_LENGTH, private_messages=True, like=True)

    def __init__(self, account: Account, secret: str | None = None, http: httpx.AsyncClient | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(account, secret, http)
        options = account.options
        self.user_id = str(options.get("user_id", "")).strip()
        try:
            self.history_pages = max(1, int(options.get("history_pages", 3)))
        except (TypeError, ValueError):
            self.history_pages = 3
        # A misconfigured account fails its calls in plain words instead of stopping the app.
        self._problem: ConnectorError | None = None
        if not _ID.match(self.user_id):
            self._problem = ConnectorError(f"account {account.name!r}: the option user_id must be the account's"
                                           " numeric X id", retryable=False)
        elif not secret:
            self._problem = ConnectorError(f"account {account.name!r} has no X access token; sign in with"
                                           " `webcare accounts add`", retryable=False, needs_auth=True)
        self.direct_messages = bool(options.get("direct_messages", True))
        self.clock = clock
        self.api = HttpApi("X", str(options.get("base_url", API)), {"Authorization": f"Bearer {secret or ''}"}, http,
                           clock=clock)
        self._held: dict[str, float] = {}  # endpoint → when its rate-limit window resets (epoch seconds)
        self._paced: dict[str, float] = {}  # feed endpoint → when the next poll is worth its share of the window

    async def aclose(self) -> None:
        await self.api.aclose()

    # --- calls and rate limits --------------------------------------------------------------

    def _hold_left(self, endpoint: str) -> float:
        """Seconds until `endpoint` may be called again (0: now)."""
        return max(self._held.get(endpoint, 0.0) - self.clock(), 0.0)

    def _hold(self, endpoint: str, seconds: float | None) -> float:
        """Hold `endpoint` for `seconds`, bounded as every wait is (`bounded_wait`); returns the hold."""
        wait = bounded_wait(seconds)
        self._held[endpoint] = self.clock() + wait
        return wait

    async def _call(self, endpoint: str, method: str, path: str, *, write: bool = False, **kwargs: Any) -> dict:
        """One call to X; notes its rate-limit headers and returns the JSON object it answered.

        Raises:
            ConnectorError: as `HttpApi.request`; also when the endpoint is held (no request is
                made) or the answer is not a JSON object.
        """
        if self._problem:
            raise self._problem
        wait = self._hold_left(endpoint)
        if wait:
            raise ConnectorError(f"X rate limit for {endpoint} reached; it resets in {wait:.0f} s", retry_after=wait)
        try:
            response = await self.api.request(method, path, write=write, expect=(429,), **kwargs)
        except ConnectorError as error:
            if error.retry_after is not None:
                self._hold(endpoint, error.retry_after)
            raise
        if response.status_code == 429:
            limited = self.api.failure(response)
            exhausted = self._exhausted_until(response)
            if exhausted is not None and exhausted - self.clock() > (limited.retry_after or 0.0):
                limited = replace(limited, message=f"X's 24-hour limit reached ({error_text(response)})",
                                  retry_after=exhausted - self.clock())
            raise replace(limited, retry_after=self._hold(endpoint, limited.retry_after))
        self._note_limits(endpoint, response)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ConnectorError(f"X sent an answer to {method} {path.split('?')[0]} that is not a JSON object"
                                 f" ({response.status_code})", outcome_unknown=write)
        return body

    def _exhausted_until(self, response: httpx.Response) -> float | None:
        """The latest reset (epoch seconds) among the limits the response reports as used up.

        Besides the 15-minute window (`x-rate-limit-*`), X reports 24-hour caps on some
        endpoints (posting): `x-user-limit-24hour-*` and `x-app-limit-24hour-*`.
        """
        until = None
        for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"):
            try:
                remaining = int(response.headers[f"{prefix}-remaining"])
                reset = float(response.headers[f"{prefix}-reset"])
            except (KeyError, ValueError):
                continue  # not reported, or unreadable: X answers 429 if it must, and that is handled
            if remaining <= 0 and reset > self.clock():
                until = max(until or reset, reset)
        return until

    def _note_limits(self, endpoint: str, response: httpx.Response) -> None:
        """Hold `endpoint` when a limit is used up; else pace the next poll over what is left of the window."""
        exhausted = self._exhausted_until(response)
        if exhausted is not None:
            self._hold(endpoint, exhausted - self.clock())
            return
        try:
            remaining = int(response.headers["x-rate-limit-remaining"])
            reset = float(response.headers["x-rate-limit-reset"])
        except (KeyError, ValueError):
            return
        now = self.clock()
        if reset > now:  # 15 calls left in 15 minutes: poll once a minute, not 15 times in the next 75 s
            self._paced[endpoint] = now + bounded_wait(reset - now) / (remaining + 1)

    @staticmethod
    def _data_list(body: dict, what: str) -> list:
        """`data` of a list answer: [] for an empty page (result_count 0 and no data).

        Partial `errors` next to data (a referenced post deleted or suspended) are no failure;
        errors alone are.

        Raises:
            ConnectorError: errors alone, or a body that is not a page of a list.
        """
        data, meta = body.get("data"), body.get("meta")
        if meta is not None and not isinstance(meta, dict):
            raise ConnectorError(f"X sent {what} in an unexpected shape (meta is not an object)")
        if data is None:
            errors = body.get("errors")
            if errors and meta is None:
                first = errors[0] if isinstance(errors, list) and isinstance(errors[0], dict) else {}
                said = first.get("detail") or first.get("title") or "an error"
                raise ConnectorError(f"X refused to list {what}: {str(said)[:300]}", retryable=False)
            if meta is None:
                raise ConnectorError(f"X sent {what} in an unexpected shape (neither data nor meta)")
            return []
        if not isinstance(data, list):
            raise ConnectorError(f"X sent {what} in an unexpected shape (data is not a list)")
        return data

    @staticmethod
    def _next_token(body: dict) -> str | None:
        meta = body.get("meta")
        token = meta.get("next_token") if isinstance(meta, dict) else None
        return token if isinstance(token, str) and token else None

    # --- fetch ------------------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> FetchResult:
        feeds = self._load_cursor(cursor)
        readers = {"mentions": (self._read_mentions, "mentions")}
        if self.direct_messages:
            readers["dms"] = (self._read_dms, "dm_events")
        messages: list[Message] = []
        skipped: list[str] = []
        more = False
        limited: list[ConnectorError] = []
        for name, (read, endpoint) in readers.items():
            if self._paced.get(endpoint, 0.0) > self.clock() and not self._hold_left(endpoint):
                continue  # polled a moment ago: its next turn comes; this is no error
            try:
                page = await read(feeds[name])
            except ConnectorError as error:
                if error.retry_after is None or error.needs_auth:
                    raise
                limited.append(error)  # this feed waits; the other one may still read
                continue
            feeds[name] = page.feed
            messages.extend(page.messages)
            skipped.extend(page.skipped)
            more = more or page.more
        if len(limited) == len(readers):
            soonest = min(limited, key=lambda error: error.retry_after or 0.0)
            raise soonest
        messages.sort(key=lambda message: (message.created_at, int(message.external_id.removeprefix(DM_PREFIX))))
        new_cursor = json.dumps({name: feed.dump() for name, feed in feeds.items()}, sort_keys=True)
        return FetchResult(messages, new_cursor, more=more, skipped=skipped)

    @staticmethod
    def _load_cursor(cursor: str | None) -> dict[str, _Feed]:
        if cursor is None:
            return {"mentions": _Feed(), "dms": _Feed()}
        try:
            stored = json.loads(cursor)
            if not isinstance(stored, dict):
                raise ValueError("cursor")
            return {name: _Feed.load(stored.get(name)) for name in ("mentions", "dms")}
        except ValueError:
            raise ConnectorError(f"the stored X cursor {cursor[:60]!r} is unreadable; reset the account's sync"
                                 " state", retryable=False) from None

    async def _read_mentions(self, feed: _Feed) -> _Page:
        first = feed.since is None and feed.next is None
        token, top = feed.next, feed.top
        messages: list[Message] = []
        skipped: list[str] = []
        replaced: set[str] = set()  # earlier versions of edited posts in this fetch
        for _ in range(self.history_pages if first else CATCH_UP_PAGES):
            params: dict[str, Any] = {"max_results": PAGE_SIZE, "tweet.fields": TWEET_FIELDS,
                                      "expansions": TWEET_EXPANSIONS, "user.fields": USER_FIELDS}
            if feed.since:
                params["since_id"] = feed.since  # the same on every page of one backlog
            if token:
                params["pagination_token"] = token
            try:
                body = await self._call("mentions", "GET", f"/2/users/{self.user_id}/mentions", params=params)
            except ConnectorError as error:
                if error.retry_after is None or not (messages or skipped):
                    raise
                break  # rate limited after a page: keep what was read, go on from `token` later
            data = self._data_list(body, "mentions")
            newest = (body.get("meta") or {}).get("newest_id")
            top = _newer(top, newest) if isinstance(newest, str) and _ID.match(newest) else top
            users = _users(body)
            for item in data:
                replaced.update(_versions(item)[:-1])
                try:
                    messages.append(self._post_message(item, users, feed.since))
                    top = _newer(top, item["id"])
                except Unreadable as reason:
                    skipped.append(f"{_label(item)}: {reason}")
            token = self._next_token(body)
            if not token or self._hold_left("mentions"):
                break
        if replaced:  # an earlier version listed without its later edits: the edit shows it
            skipped.extend(f"{message.external_id}: an earlier version of an edited post; the latest is shown"
                           for message in messages if message.external_id in replaced)
            messages = [message for message in messages if message.external_id not in replaced]
        if token and not first:  # a backlog longer than this fetch: go on from here next time
            return _Page(messages, skipped, _Feed(feed.since, token, top), more=not self._hold_left("mentions"))
        return _Page(messages, skipped, _Feed(_newer(feed.since, top)))

    def _post_message(self, item: Any, users: dict[str, _User], since: str | None = None) -> Message:
        """A post from the mentions timeline as a public message.

        `since`: the newest id an earlier fetch delivered; an edit whose original is not newer
        answers it as "[edited] …".

        Raises:
            Unreadable: it cannot be read, is a repost, an earlier version of an edited post, or
                is ours but answers no customer.
        """
        post = read_post(item)
        if post.superseded:
            raise Unreadable(f"an earlier version of an edited post; the latest ({post.versions[-1]}) is shown")
        if post.repost:
            raise Unreadable("a repost (retweet), nothing to answer")
        if post.author_id is None:
            raise Unreadable("no author_id")
        direction, customer = Direction.IN, post.author_id
        if post.author_id == self.user_id:
            if post.in_reply_to_user_id in (None, self.user_id):
                raise Unreadable("our own post, not a reply to a customer")
            direction, customer = Direction.OUT, post.in_reply_to_user_id
        user = users.get(customer, _User())
        text, in_reply_to = post.text, post.replied_to
        if post.original is not None and since and _ID.match(since) and int(post.original) <= int(since):
            text, in_reply_to = f"[edited] {text}", post.original  # the original was read before: link them
        return Message(
            platform=self.platform, account=self.account.name, external_id=post.id, author_id=customer,
            text=text, created_at=post.created_at, direction=direction, visibility=Visibility.PUBLIC,
            author_handle=user.handle, author_name=user.name, author_followers=user.followers,
            in_reply_to=in_reply_to, url=status_url(users.get(post.author_id, _User()).handle, post.id),
            language=post.language,
        )

    async def _read_dms(self, feed: _Feed) -> _Page:
        first = feed.since is None and feed.next is None
        token, top = feed.next, feed.top
        messages: list[Message] = []
        skipped: list[str] = []
        reached = False  # met an event already delivered: the rest is older
        for _ in range(self.history_pages if first else CATCH_UP_PAGES):
            params: dict[str, Any] = {"max_results": PAGE_SIZE, "event_types": "MessageCreate",
                                      "dm_event.fields": DM_FIELDS, "expansions": DM_EXPANSIONS,
                                      "user.fields": USER_FIELDS}
            if token:
                params["pagination_token"] = token
            try:
                body = await self._call("dm_events", "GET", "/2/dm_events", params=params)
            except ConnectorError as error:
                if error.retry_after is None or not (messages or skipped):
                    raise
                break  # rate limited after a page: keep what was read, go on from `token` later
            data = self._data_list(body, "direct messages")
            users = _users(body)
            for item in data:
                try:
                    event = read_dm_event(item)
                    if feed.since and int(event.id) <= int(feed.since):
                        reached = True
                        continue
                    top = _newer(top, event.id)
                    messages.append(self._dm_message(event, users))
                except Unreadable as reason:
                    skipped.append(f"{DM_PREFIX}{_label(item)}: {reason}")
            token = self._next_token(body)
            if reached or not token or self._hold_left("dm_events"):
                break
        if token and not reached and not first:
            return _Page(messages, skipped, _Feed(feed.since, token, top), more=not self._hold_left("dm_events"))
        return _Page(messages, skipped, _Feed(_newer(feed.since, top)))

    def _dm_message(self, event: DmEvent, users: dict[str, _User]) -> Message:
        """A MessageCreate event as a private message; ours are "out" to the other participant.

        Raises:
            Unreadable: not a message, or it cannot be read.
        """
        if event.event_type != "MessageCreate":
            raise Unreadable(f"a {event.event_type[:40]} event, not a message")
        if event.text is None:
            raise Unreadable("no text")
        if event.sender_id is None:
            raise Unreadable("no sender_id")
        direction, customer = Direction.IN, event.sender_id
        if event.sender_id == self.user_id:
            others = self._other_participants(event)
            if len(others) != 1:
                raise Unreadable("our message in a group conversation")
            direction, customer = Direction.OUT, others[0]
        user = users.get(customer, _User())
        conversation = event.conversation_id
        return Message(
            platform=self.platform, account=self.account.name, external_id=f"{DM_PREFIX}{event.id}",
            author_id=customer, text=event.text, created_at=event.created_at, direction=direction,
            visibility=Visibility.PRIVATE, author_handle=user.handle, author_name=user.name,
            author_followers=user.followers, url=f"https://x.com/messages/{conversation}" if conversation else None,
        )

    def _other_participants(self, event: DmEvent) -> list[str]:
        """Who else is in a DM conversation: `participant_ids`, else the one-to-one id "a-b"."""
        if event.participant_ids:
            return [p for p in event.participant_ids if p != self.user_id]
        parts = event.conversation_id.split("-") if event.conversation_id else []
        if len(parts) == 2 and self.user_id in parts:
            return [p for p in parts if p != self.user_id] or [self.user_id]  # a note to ourselves
        return []

    # --- replies, likes ---------------------------------------------------------------------

    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        text = reply.text.strip()
        if not text:
            raise ConnectorError("the reply is empty", retryable=False)
        if reply.visibility == Visibility.PRIVATE:
            return await self._send_dm(reply.recipient_id, text)
        if reply.visibility != Visibility.PUBLIC:
            raise ConnectorError(f"visibility is public or private, not {reply.visibility!r}", retryable=False)
        target = self._post_to_answer(reply.in_reply_to)
        length = weighted_length(text)
        if length > MAX_POST_LENGTH:
            raise ConnectorError(f"the reply counts {length} characters as X counts them (links 23, emoji and CJK"
                                 f" characters 2 each); X allows {MAX_POST_LENGTH}: shorten it", retryable=False)
        body = await self._call("tweets", "POST", "/2/tweets", write=True,
                                json={"text": text, "reply": {"in_reply_to_tweet_id": target}})
        data = body.get("data")
        post_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(post_id, str) or not _ID.match(post_id):
            raise ConnectorError("X answered the post without its id; it may be published", outcome_unknown=True)
        return SentReply(post_id, snowflake_time(post_id) or int(self.clock()), status_url(None, post_id))

    @staticmethod
    def _post_to_answer(in_reply_to: str | None) -> str:
        """The post id a public reply answers.

        Raises:
            ConnectorError: there is no post to answer (none, or the customer wrote a DM).
        """
        if not in_reply_to:
            raise ConnectorError("a public reply on X answers a post, and this case has none", retryable=False)
        if in_reply_to.startswith(DM_PREFIX):
            raise ConnectorError("the customer wrote a direct message: answer privately", retryable=False)
        if not _ID.match(in_reply_to):
            raise ConnectorError(f"{in_reply_to[:40]!r} is not an X post id", retryable=False)
        return in_reply_to

    async def _send_dm(self, recipient: str, text: str) -> SentReply:
        if not _ID.match(recipient or ""):
            raise ConnectorError(f"{recipient[:40]!r} is not an X user id", retryable=False)
        if len(text) > MAX_DM_LENGTH:
            raise ConnectorError(f"the message has {len(text)} characters; X allows {MAX_DM_LENGTH} in a direct"
                                 " message", retryable=False)
        body = await self._call("dm_send", "POST", f"/2/dm_conversations/with/{recipient}/messages", write=True,
                                json={"text": text})
        data = body.get("data")
        sent: dict = data if isinstance(data, dict) else {}
        event_id = sent.get("dm_event_id")
        if not isinstance(event_id, str) or not _ID.match(event_id):
            raise ConnectorError("X answered the direct message without its id; it may be sent", outcome_unknown=True)
        conversation = sent.get("dm_conversation_id")
        url = f"https://x.com/messages/{conversation}" if isinstance(conversation, str) and conversation else None
        return SentReply(f"{DM_PREFIX}{event_id}", snowflake_time(event_id) or int(self.clock()), url)

    async def find_sent(self, reply: OutgoingReply) -> SentReply | None:
        """Our reply among our own posts (public) or our DMs with the customer (private).

        Only what came after the answered message is searched (X ids grow with time).

        Raises:
            ConnectorError: X could not be read, or there is more to search than FIND_PAGES.
        """
        if reply.visibility == Visibility.PRIVATE:
            return await self._find_dm(reply)
        try:
            target = self._post_to_answer(reply.in_reply_to)
        except ConnectorError:
            return None  # send_reply refuses such a reply before any request: it never went out
        wanted = _comparable(reply.text.strip())
        token = None
        for _ in range(FIND_PAGES):
            params: dict[str, Any] = {"max_results": PAGE_SIZE, "since_id": target, "exclude": "retweets",
                                      "tweet.fields": "created_at,referenced_tweets,in_reply_to_user_id,note_tweet"}
            if token:
                params["pagination_token"] = token
            body = await self._call("own_tweets", "GET", f"/2/users/{self.user_id}/tweets", params=params)
            for item in self._data_list(body, "our posts"):
                try:
                    post = read_post(item)
                except Unreadable:
                    continue
                if post.replied_to == target and _comparable(post.text) == wanted:
                    return SentReply(post.id, post.created_at, status_url(None, post.id))
            token = self._next_token(body)
            if not token:
                return None
        raise ConnectorError("too many of our posts since that message to tell whether the reply went out",
                             retryable=False)

    async def _find_dm(self, reply: OutgoingReply) -> SentReply | None:
        recipient = reply.recipient_id
        if not _ID.match(recipient or ""):
            return None  # refused before any request
        answered = (reply.in_reply_to or "").removeprefix(DM_PREFIX)
        bound = answered if _ID.match(answered) else None  # our reply is newer than what it answers
        wanted = " ".join(reply.text.split())
        token = None
        for _ in range(FIND_PAGES):
            params: dict[str, Any] = {"max_results": PAGE_SIZE, "event_types": "MessageCreate",
                                      "dm_event.fields": "id,event_type,text,created_at,sender_id,dm_conversation_id"}
            if token:
                params["pagination_token"] = token
            body = await self._call("dm_conversation", "GET", f"/2/dm_conversations/with/{recipient}/dm_events",
                                    params=params)
            for item in self._data_list(body, "the direct messages"):
                try:
                    event = read_dm_event(item)
                except Unreadable:
                    continue
                if bound and int(event.id) <= int(bound):
                    return None  # newest first: everything from here on is older than the answered message
                if event.sender_id == self.user_id and " ".join((event.text or "").split()) == wanted:
                    conversation = event.conversation_id
                    return SentReply(f"{DM_PREFIX}{event.id}", event.created_at,
                                     f"https://x.com/messages/{conversation}" if conversation else None)
            token = self._next_token(body)
            if not token:
                return None
        raise ConnectorError("too many direct messages since that message to tell whether the reply went out",
                             retryable=False)

    async def like(self, external_id: str) -> None:
        if external_id.startswith(DM_PREFIX):
            raise ConnectorError("X has no likes for direct messages", retryable=False)
        if not _ID.match(external_id):
            raise ConnectorError(f"{external_id[:40]!r} is not an X post id", retryable=False)
        body = await self._call("likes", "POST", f"/2/users/{self.user_id}/likes", write=True,
                                json={"tweet_id": external_id})
        data = body.get("data")
        if not isinstance(data, dict) or data.get("liked") is not True:
            raise ConnectorError(f"X did not like post {external_id}", retryable=False)
