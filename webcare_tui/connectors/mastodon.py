"""Provides `MastodonConnector`: mentions and direct messages of one account on any Mastodon instance.

Messages come from `GET /api/v1/notifications` (types `mention` and `update`), newest
first, paged by the `Link` header; later syncs ask for what came after the newest
notification seen (`min_id`). Every one of these requests says `include_filtered=true`:
since Mastodon 4.3 the account's notification policy can filter mentions and private
mentions from strangers, new accounts or non-followers, and without it they never
arrive (they carry `"filtered": true` and are read like any other). Older servers, and
other software, ignore the unknown parameter. A mention whose status is `direct` is a
private message, every other one (`public`, `unlisted`, followers-only `private`)
public. A status our own account wrote is an outbound message whose author fields name
the customer it answered. Status HTML becomes plain text (paragraphs, line breaks, links
written out, entities decoded); no markup gets through.

Edits and deletions: a status is read as it is when first fetched (already edited or
not). An `update` notification (the customer edited a status we interacted with)
becomes a message of its own, "(edited) …", with the external id
`<status id>#edited-<epoch>`, so the agent sees what changed; replies and likes
on it go to the status itself. A notification whose status is null (deleted, or
no longer visible) is skipped with that reason.

Replies are `POST /api/v1/statuses` with the `Idempotency-Key` header. Both public and
direct replies start with the customer's @acct unless the text already names them: a
direct status reaches only the accounts it mentions. A reply never reaches more people
than the status it answers: a private reply is `direct`; a public one that answers a
status first reads it (`GET /api/v1/statuses/:id`) and takes the narrower of `public`
and its visibility (public > unlisted > private > direct), so an unlisted mention gets
an unlisted reply and a followers-only one a followers-only reply. Where that status
cannot be read (deleted, or no longer visible to us) the reply is refused, never sent
public.

Mastodon keeps an Idempotency-Key about an hour (mastodon/mastodon#2419, April 2017;
every 2.x and later release), so there a send whose outcome is unknown is simply
repeated within that hour (`keys_kept_for`, counted from when the agent sent it), and
looked up among the account's own statuses after it, as below. Other software that speaks Mastodon's API (Pleroma, Akkoma, GoToSocial,
Pixelfed, Misskey's forks…) does not promise it: `prepare` asks the server what it
runs (`GET /api/v2/instance`, else `/api/v1/instance`), and where it is not Mastodon
(`keeps_idempotency_keys`) a reply whose outcome is unknown is first looked for among
the account's own statuses (`find_sent`), as for X and the Graph API. Until a server
has said what it runs, Mastodon's promise is assumed (the outbox worker asks when it
starts).

Account options (`[[account]]` in config.toml; the access token is in the keyring):
    base_url: the instance, e.g. "https://mastodon.social" (required).
    history_pages: pages of notifications the first sync reads (default 3).
    page_size: notifications per request, at most 80 (default 40).
    account_id: our own account's id; when absent it is read once from
        `GET /api/v1/accounts/verify_credentials`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx

from webcare_tui.config import Account
from webcare_tui.connectors.base import Capabilities, Connector, ConnectorError, FetchResult, OutgoingReply, SentReply
from webcare_tui.connectors.http import HttpApi
from webcare_tui.model import Message

NOTIFICATION_TYPES = ("mention", "update")
FIND_PAGES = 3  # pages of our own statuses find_sent reads before it gives up
FIND_PAGE_SIZE = 40
URL_LENGTH = 23  # Mastodon counts every link as 23 characters
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # numeric ids (Mastodon) and ULIDs (GoToSocial)
_EDIT_MARK = "#edited-"
_URL = re.compile(r"https?://\S+")
_REMOTE_MENTION = re.compile(r"(?<![\w@])(@\w+)@[\w.-]+\w")
# Mastodon's visibilities, narrowest first: a reply may narrow the customer's, never widen it
VISIBILITIES = ("direct", "private", "unlisted", "public")


class Unreadable(ValueError):
    """One notification or status that cannot be mapped; the message says why."""


# --- HTML → plain text ---------------------------------------------------------------

_BLOCKS = {"p", "div", "blockquote", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "li"}
_DROPPED = {"script", "style", "template"}


class _TextMaker(HTMLParser):
    """Collects the text of a status's HTML: blocks become lines, links are written out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.dropping = 0
        self.pre = 0
        self.links: list[tuple[str | None, int]] = []  # (href, index in parts where its text starts)

    def _last_char(self) -> str:
        for part in reversed(self.parts):
            if part:
                return part[-1]
        return "\n"

    def _break(self, count: int) -> None:
        while self.parts and (not self.parts[-1] or self.parts[-1].endswith(" ")):  # no spaces before a break
            self.parts[-1] = self.parts[-1].rstrip(" ")
            if self.parts[-1]:
                break
            self.parts.pop()
        self.parts.append("\n" * count)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self.dropping += 1
        elif tag == "br":
            self._break(1)
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.parts)))
        elif tag == "li":
            self._break(1)
            self.parts.append("• ")
        elif tag in _BLOCKS:
            self._break(2)
            self.pre += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self.dropping = max(self.dropping - 1, 0)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            shown = "".join(self.parts[start:]).strip()
            written = _link_text(shown, href)
            del self.parts[start:]
            self.parts.append(written)
        elif tag in _BLOCKS and tag != "li":
            self._break(2)
            if tag == "pre":
                self.pre = max(self.pre - 1, 0)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self.dropping:
            return
        if not self.pre:  # HTML whitespace is one space outside <pre>, none at a line's start
            data = re.sub(r"[ \t\r\n\f]+", " ", data)
            if data.startswith(" ") and self._last_char() in " \n":
                data = data[1:]
        self.parts.append(data)


def _link_text(shown: str, href: str | None) -> str:
    """A link as text: mentions, hashtags and bare URLs as shown; other links as "text (url)"."""
    if not href or urlsplit(href).scheme not in ("http", "https"):
        return shown
    if not shown:
        return href
    if shown.startswith(("@", "#")) or shown == href or href.split("://", 1)[-1].rstrip("/") == shown.rstrip("/"):
        return shown
    start = shown.removesuffix("…").removesuffix("...")
    if start != shown and start and href.split("://", 1)[-1].startswith(start.split("://", 1)[-1]):
        return href  # a shortened URL ("example.com/a/very…"): write it out whole
    return f"{shown} ({href})"


def html_to_text(html: str) -> str:
    """A status's HTML `content` as plain text.

    Paragraphs are separated by a blank line, `<br>` is a line break, list items
    are bulleted, links are written out ("text (url)" where the text is not the
    URL), entities are decoded and every tag dropped.
    """
    maker = _TextMaker()
    maker.feed(html)
    maker.close()
    maker._break(0)  # drops trailing spaces
    return re.sub(r"\n{3,}", "\n\n", "".join(maker.parts)).strip("\n")


# --- payloads → messages ---------------------------------------------------------------

def _epoch(value: Any, what: str) -> int:
    if not isinstance(value, str):
        raise Unreadable(f"{what} is missing")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Unreadable(f"{what} {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise Unreadable(f"{what} {value!r} has no UTC offset")
    return int(moment.timestamp())


def _text_id(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise Unreadable(f"{what} is missing")
    return str(value)


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def status_text(status: dict[str, Any]) -> str:
    """What a status says, as plain text: content warning, content, attachments and poll options."""
    parts = []
    spoiler = status.get("spoiler_text")
    if isinstance(spoiler, str) and spoiler.strip():
        parts.append(f"CW: {spoiler.strip()}")
    content = status.get("content")
    if isinstance(content, str) and content.strip():
        parts.append(html_to_text(content))
    for media in status.get("media_attachments") or []:
        if isinstance(media, dict):
            kind = media.get("type") if isinstance(media.get("type"), str) else "attachment"
            description = _optional_str(media.get("description"))
            link = _optional_str(media.get("url")) or _optional_str(media.get("remote_url"))
            label = f"[{kind}: {description}]" if description else f"[{kind}]"
            parts.append(f"{label} {link}" if link else label)
    poll = status.get("poll")
    if isinstance(poll, dict):
        options = [o.get("title") for o in poll.get("options") or [] if isinstance(o, dict)]
        parts.append("Poll: " + " / ".join(o for o in options if isinstance(o, str)))
    return "\n\n".join(part for part in parts if part)


def parse_status(status: Any, *, account: str, own_id: str | None, edited: bool = False) -> Message:
    """One Mastodon Status entity as a `Message`.

    Args:
        account: our account's name in the config (the message's `account`).
        own_id: our own account's id: its statuses are outbound, to the customer they answer.
        edited: the status comes from an `update` notification: it becomes a message of its own.

    Raises:
        Unreadable: a required field is missing, or an own status names no customer.
    """
    if not isinstance(status, dict):
        raise Unreadable("the status is not an object")
    status_id = _text_id(status.get("id"), "status id")
    if status.get("reblog"):
        raise Unreadable("a boost, not a message")
    author = status.get("account")
    if not isinstance(author, dict):
        raise Unreadable("the status has no account")
    author_id = _text_id(author.get("id"), "account id")
    created_at = _epoch(status.get("created_at"), "created_at")
    text = status_text(status)
    if not text:
        raise Unreadable("the status has no text")
    visibility = "private" if status.get("visibility") == "direct" else "public"
    in_reply_to = status.get("in_reply_to_id")
    external_id = status_id
    if edited:
        edited_at = _epoch(status.get("edited_at") or status.get("created_at"), "edited_at")
        external_id, created_at, text = f"{status_id}{_EDIT_MARK}{edited_at}", edited_at, f"(edited) {text}"
    fields: dict[str, Any] = {
        "platform": MastodonConnector.platform, "account": account, "external_id": external_id, "text": text,
        "created_at": created_at, "visibility": visibility,
        "in_reply_to": str(in_reply_to) if isinstance(in_reply_to, (str, int)) and in_reply_to else None,
        "url": _optional_str(status.get("url")) or _optional_str(status.get("uri")),
        "language": _optional_str(status.get("language")),
    }
    if own_id is not None and author_id == own_id:
        customer = _customer_of(status, own_id)
        return Message(direction="out", author_id=customer["id"], author_handle=customer.get("handle"), **fields)
    return Message(
        direction="in", author_id=author_id,
        author_handle=f"@{author['acct']}" if _optional_str(author.get("acct")) else None,
        author_name=_optional_str(author.get("display_name")) or _optional_str(author.get("username")),
        author_followers=_count(author.get("followers_count")),
        author_type="bot" if author.get("bot") is True else None, **fields,
    )


def parse_notification(item: Any, *, account: str, own_id: str) -> Message:
    """One Notification entity (a mention, or an edit of a status addressed to us) as a `Message`.

    Raises:
        Unreadable: not a type we map, its status deleted, or the status unreadable.
    """
    if not isinstance(item, dict):
        raise Unreadable("not an object")
    kind = item.get("type")
    if kind not in NOTIFICATION_TYPES:
        raise Unreadable(f"type {kind!r} is not mapped")
    if "status" not in item:
        raise Unreadable(f"a {kind} without a status")
    status = item["status"]
    if status is None:
        raise Unreadable("its status was deleted")
    if kind == "update" and not _addressed_to(status, own_id):
        raise Unreadable("an edit of a status not addressed to us")
    return parse_status(status, account=account, own_id=own_id, edited=kind == "update")


def _addressed_to(status: Any, own_id: str) -> bool:
    """The status mentions or answers our account."""
    if not isinstance(status, dict):
        return False
    mentions = status.get("mentions") or []
    return str(status.get("in_reply_to_account_id")) == own_id or any(
        isinstance(m, dict) and str(m.get("id")) == own_id for m in mentions)


def _customer_of(status: dict[str, Any], own_id: str) -> dict[str, str]:
    """The customer an own status was written to: the account it answers, else the first one it mentions."""
    mentions = [m for m in status.get("mentions") or [] if isinstance(m, dict) and m.get("id")]
    replied = status.get("in_reply_to_account_id")
    candidates = ([str(replied)] if replied and str(replied) != own_id else []) + [
        str(m["id"]) for m in mentions if str(m["id"]) != own_id]
    if not candidates:
        raise Unreadable("our own status answers nobody")
    customer = {"id": candidates[0]}
    for mention in mentions:
        if str(mention["id"]) == customer["id"] and _optional_str(mention.get("acct")):
            customer["handle"] = f"@{mention['acct']}"
    return customer


def narrower(one: str, other: str) -> str:
    """The narrower of two Mastodon visibilities (public > unlisted > private > direct)."""
    return min(one, other, key=VISIBILITIES.index)


def status_id_of(external_id: str) -> str:
    """The status id inside one of our external ids ("<id>" or "<id>#edited-<epoch>").

    Raises:
        ConnectorError: it is not a Mastodon status id.
    """
    status_id = external_id.split(_EDIT_MARK, 1)[0]
    if not _ID.match(status_id):
        raise ConnectorError(f"{external_id!r} is not a Mastodon status id", retryable=False)
    return status_id


def _sort_key(identifier: str) -> tuple[int, str]:
    """Orders Mastodon's numeric ids and GoToSocial's ULIDs alike."""
    return len(identifier), identifier


_VERSION = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?", re.ASCII)


def keeps_idempotency_keys(version: str) -> bool:
    """Whether a server whose instance info says `version` is Mastodon, which keeps an
    Idempotency-Key about an hour (since April 2017, mastodon#2419: every 2.x and later release).

    Mastodon says its own version ("4.3.2", "4.4.0-beta.1", a fork of its code such as glitch-soc
    or Hometown "4.2.0+glitch"). Other software says "2.7.2 (compatible; Pleroma 2.6.0)" or numbers
    its own releases (GoToSocial "0.17.0 git-…", Misskey's forks "2024.5.0"): no promise.
    """
    match = _VERSION.fullmatch(version.strip())
    return match is not None and (2, 0) <= (int(match[1]), int(match[2])) and int(match[1]) < 10


_LEADING_MENTIONS = re.compile(r"^@[\w.-]+(?:@[\w.-]+)?(?:\s+@[\w.-]+(?:@[\w.-]+)?)*(?=\s|$)")


def _comparable(text: str) -> str:
    """A status's text made comparable with the reply we sent: Mastodon shows a remote mention
    without its domain and its links shortened, and our reply may start with the @acct we added."""
    text = _LEADING_MENTIONS.sub("", text.strip())
    text = _URL.sub("<link>", _REMOTE_MENTION.sub(r"\1", text))
    return " ".join(text.split())


def mastodon_length(text: str) -> int:
    """Characters as Mastodon counts them: a link is 23, a remote mention counts without its domain."""
    return len(_REMOTE_MENTION.sub(r"\1", _URL.sub("x" * URL_LENGTH, text)))


def addressed(text: str, acct: str) -> str:
    """`text` starting with "@acct " unless it already names the customer."""
    if re.search(rf"(?<![\w@/])@{re.escape(acct)}(?![\w@-])", text, re.IGNORECASE):
        return text
    return f"@{acct} {text}"


# --- the connector ---------------------------------------------------------------------

class MastodonConnector(Connector):
    """One Mastodon account: its mentions and direct messages in, replies and favourites out."""

    platform = "mastodon"
    # Idempotency-Key is kept an hour after its first use; 55 minutes leave room for the request's way there
    capabilities = Capabilities(max_reply_length=500, private_messages=True, like=True, idempotent_send=True,
                                keys_kept_for=55 * 60)

    def __init__(self, account: Account, secret: str | None = None, http: httpx.AsyncClient | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(account, secret, http)
        options = account.options
        self.problem: str | None = None  # a configuration error, reported on every call
        base_url = str(options.get("base_url") or "").strip().rstrip("/")
        if base_url and "://" not in base_url:
            base_url = f"https://{base_url}"
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.problem = (f"account {account.name}: set base_url to the Mastodon instance,"
                            " e.g. base_url = \"https://mastodon.social\"")
        self.base_url = base_url
        self.history_pages = self._number(options, "history_pages", 3, 1, 50)
        self.page_size = self._number(options, "page_size", 40, 1, 80)
        self.own_id: str | None = str(options["account_id"]) if options.get("account_id") else None
        self.accts: dict[str, str] = {}  # account id → acct, learnt while reading, for mentions in replies
        self.software: str | None = None  # the server's version string, once `prepare` has asked
        self.keeps_keys: bool | None = None  # whether it keeps Idempotency-Key; None: not asked yet
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        self.api = HttpApi("Mastodon", base_url or "https://invalid.example", headers, http, clock=clock)

    def _number(self, options: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
        value = options.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem = self.problem or f"account {self.account.name}: {name} must be a whole number {low}–{high}"
            return default
        return value

    def _ready(self) -> None:
        if self.problem:
            raise ConnectorError(self.problem, retryable=False)
        if not self._secret:
            raise ConnectorError(f"no access token for {self.account.name}; run `webcare accounts add mastodon"
                                 f" {self.account.name}`", retryable=False, needs_auth=True)

    async def _own_id(self) -> str:
        if self.own_id is None:
            me = await self.api.json("GET", "/api/v1/accounts/verify_credentials")
            if not isinstance(me, dict) or not me.get("id"):
                raise ConnectorError("Mastodon did not say which account the token belongs to", retryable=False)
            self.own_id = str(me["id"])
            if _optional_str(me.get("acct")):
                self.accts[self.own_id] = me["acct"]
        return self.own_id

    # what the server promises

    async def prepare(self) -> None:
        """Ask the server what software it runs, and so whether it keeps Idempotency-Key (once it has said)."""
        if self.problem or not self._secret or self.software is not None:
            return
        try:
            await self._learn_software()
        except ConnectorError:
            self.keeps_keys = False  # it could not say: look before sending again, ask at the next prepare

    async def _learn_software(self) -> None:
        for path in ("/api/v2/instance", "/api/v1/instance"):  # v2 since Mastodon 4.0; v1 before and elsewhere
            info = await self.api.json("GET", path, missing=(404, 410))
            if info is None:
                continue
            version = info.get("version") if isinstance(info, dict) else None
            self.software = version[:100] if isinstance(version, str) else "unknown"
            self.keeps_keys = keeps_idempotency_keys(self.software)
            return
        self.software, self.keeps_keys = "unknown", False

    def sends_once_per_key(self, key_age: float = 0.0) -> bool:
        return self.keeps_keys is not False and super().sends_once_per_key(key_age)

    # fetching

    async def fetch(self, cursor: str | None) -> FetchResult:
        self._ready()
        newest = None if cursor is None else self._cursor(cursor)
        own_id = await self._own_id()
        params: list[tuple[str, str | int]] = [("types[]", kind) for kind in NOTIFICATION_TYPES]
        # filtered by the account's notification policy (Mastodon 4.3+) is still a customer writing to us
        params += [("include_filtered", "true"), ("limit", self.page_size)]
        if cursor is None:  # first sync: a few pages back from now
            notifications: list[Any] = []
            url = "/api/v1/notifications"
            for _ in range(self.history_pages):
                response = await self.api.request("GET", url, params=params if url.startswith("/") else None)
                page = self._list(response, "notifications")
                notifications.extend(page)
                next_url = self._next_link(response) if len(page) >= self.page_size else None
                if next_url is None:
                    break
                # the server's link need not carry it over; params would replace the link's whole query
                url = str(httpx.URL(next_url).copy_set_param("include_filtered", "true"))
            more = False
        else:
            response = await self.api.request("GET", "/api/v1/notifications", params=[*params, ("min_id", newest)])
            notifications = self._list(response, "notifications")
            more = len(notifications) >= self.page_size
        messages, skipped, seen = [], [], set()
        for position, item in enumerate(notifications):
            notification_id = item.get("id") if isinstance(item, dict) else None
            label = str(notification_id) if isinstance(notification_id, (str, int)) and notification_id else (
                f"item {position}")
            if isinstance(notification_id, (str, int)) and str(notification_id):
                newest = max(newest or "", str(notification_id), key=_sort_key)
            try:
                message = self._notification(item, own_id)
            except Unreadable as reason:
                skipped.append(f"{label}: {reason}")
                continue
            if message.external_id not in seen:  # a status can be in a mention and an update
                seen.add(message.external_id)
                messages.append(message)
        messages.sort(key=lambda m: (m.created_at, _sort_key(m.external_id)))
        next_cursor = json.dumps({"min_id": newest}) if newest else cursor
        return FetchResult(messages, next_cursor, more=more, skipped=skipped)

    def _next_link(self, response: httpx.Response) -> str | None:
        """The `Link: <…>; rel="next"` URL (older notifications), only on our own instance."""
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        ours, theirs = urlsplit(self.base_url), urlsplit(link)
        return link if (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc) else None

    def _cursor(self, cursor: str) -> str:
        try:
            newest = json.loads(cursor)["min_id"]
        except (ValueError, TypeError, KeyError):
            raise ConnectorError(f"the stored Mastodon cursor {cursor[:40]!r} is not ours", retryable=False) from None
        if not isinstance(newest, str) or not _ID.match(newest):
            raise ConnectorError(f"the stored Mastodon cursor {cursor[:40]!r} is not ours", retryable=False)
        return newest

    def _notification(self, item: Any, own_id: str) -> Message:
        message = parse_notification(item, account=self.account.name, own_id=own_id)
        self._learn(item["status"])
        return message

    def _learn(self, status: dict[str, Any]) -> None:
        """Remember the accts of the accounts a status shows, to mention them in replies."""
        for who in [status.get("account"), *(status.get("mentions") or [])]:
            if isinstance(who, dict) and who.get("id") and _optional_str(who.get("acct")):
                self.accts[str(who["id"])] = who["acct"]

    # sending

    async def _acct(self, account_id: str) -> str:
        if account_id not in self.accts:
            if not _ID.match(account_id):
                raise ConnectorError(f"{account_id!r} is not a Mastodon account id", retryable=False)
            found = await self.api.json("GET", f"/api/v1/accounts/{account_id}")
            if not isinstance(found, dict) or not _optional_str(found.get("acct")):
                raise ConnectorError(f"Mastodon did not say who account {account_id} is", retryable=False)
            self.accts[account_id] = found["acct"]
        return self.accts[account_id]

    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        self._ready()
        if reply.visibility not in ("public", "private"):
            raise ConnectorError(f"visibility is public or private, not {reply.visibility!r}", retryable=False)
        in_reply_to = status_id_of(reply.in_reply_to) if reply.in_reply_to else None
        acct = await self._acct(reply.recipient_id)
        text = addressed(reply.text, acct)
        length, limit = mastodon_length(text), self.capabilities.max_reply_length or 0
        if length > limit:
            raise ConnectorError(f"the reply with @{acct} is {length} characters; Mastodon allows {limit}",
                                 retryable=False)
        visibility = "direct" if reply.visibility == "private" else "public"
        if in_reply_to and visibility == "public":
            answered = await self._visibility_of(in_reply_to)
            if answered is None:
                raise ConnectorError("the customer's message this reply answers is gone (deleted, or no longer"
                                     " visible to us), so the reply is not sent: it could reach more people than"
                                     " the customer chose", retryable=False)
            visibility = narrower(visibility, answered)
        body: dict[str, str] = {"status": text, "visibility": visibility}
        if in_reply_to:
            body["in_reply_to_id"] = in_reply_to
        posted = await self.api.json("POST", "/api/v1/statuses", json=body, write=True,
                                     headers={"Idempotency-Key": reply.idempotency_key})
        try:
            return SentReply(_text_id(posted.get("id"), "id"), _epoch(posted.get("created_at"), "created_at"),
                             _optional_str(posted.get("url")))
        except (AttributeError, Unreadable) as error:
            # It probably went out: the same idempotency key makes a retry safe.
            raise ConnectorError(f"Mastodon's answer to the reply is unreadable ({error})",
                                 outcome_unknown=True) from None

    async def _visibility_of(self, status_id: str) -> str | None:
        """The visibility of a status (`GET /api/v1/statuses/:id`); None when it is gone (404/410).

        Raises:
            ConnectorError: it could not be read, or its visibility is none of Mastodon's four.
        """
        status = await self.api.json("GET", f"/api/v1/statuses/{status_id}", missing=(404, 410))
        if status is None:
            return None
        visibility = status.get("visibility") if isinstance(status, dict) else None
        if visibility not in VISIBILITIES:
            # another server's own kind ("local", "list"…): how wide it is, is unknown
            raise ConnectorError(f"status {status_id} has visibility {str(visibility)[:40]!r}, none of public,"
                                 " unlisted, private or direct: a reply to it could reach more people than the"
                                 " customer chose", retryable=False)
        return str(visibility)

    async def find_sent(self, reply: OutgoingReply) -> SentReply | None:
        """Our reply among our own statuses (`GET /api/v1/accounts/:id/statuses`, public and direct):
        one that answers the same status, with the visibility `send_reply` gives it, mentions the
        customer and says the same. Only statuses newer than the answered one are searched (ids grow
        with time). Where the answered status is gone (it may have gone after our reply), any
        visibility no wider than the reply's counts.

        Raises:
            ConnectorError: the statuses could not be read, or there are more than FIND_PAGES pages
                of them since the answered status.
        """
        self._ready()
        try:
            target = status_id_of(reply.in_reply_to) if reply.in_reply_to else None
        except ConnectorError:
            return None  # send_reply refuses such a reply before any request: it never went out
        if reply.visibility not in ("public", "private") or (
                reply.recipient_id not in self.accts and not _ID.match(reply.recipient_id)):
            return None  # refused before any request, likewise
        own_id = await self._own_id()
        visibilities = {"direct"} if reply.visibility == "private" else {"public"}
        if target and reply.visibility == "public":
            answered = await self._visibility_of(target)
            visibilities = set(VISIBILITIES) if answered is None else {narrower("public", answered)}
        wanted = _comparable(reply.text)
        url = f"/api/v1/accounts/{own_id}/statuses"
        params: list[tuple[str, str | int]] = [("limit", FIND_PAGE_SIZE), ("exclude_reblogs", "true")]
        if target:
            params.append(("since_id", target))
        for _ in range(FIND_PAGES):
            response = await self.api.request("GET", url, params=params if url.startswith("/") else None)
            page = self._list(response, "our statuses")
            for status in page:
                if self._is_our_reply(status, reply, target, wanted, visibilities):
                    return self._sent(status)
            ids = [str(status["id"]) for status in page if isinstance(status, dict) and _ID.match(str(status.get("id")))]
            passed = target is not None and any(_sort_key(i) <= _sort_key(target) for i in ids)
            older = self._next_link(response) if len(page) >= FIND_PAGE_SIZE and not passed else None
            if older is None:
                return None
            url = older
        raise ConnectorError("too many of our statuses since that message to tell whether the reply went out",
                             retryable=False)

    @staticmethod
    def _is_our_reply(status: Any, reply: OutgoingReply, target: str | None, wanted: str,
                      visibilities: set[str]) -> bool:
        if not isinstance(status, dict) or status.get("reblog") or not _ID.match(str(status.get("id"))):
            return False
        answers = status.get("in_reply_to_id")
        if (str(answers) if answers else None) != target:
            return False
        if status.get("visibility") not in visibilities:
            return False
        mentions = status.get("mentions") or []
        if not any(isinstance(m, dict) and str(m.get("id")) == reply.recipient_id for m in mentions):
            return False
        return _comparable(status_text(status)) == wanted

    def _sent(self, status: dict[str, Any]) -> SentReply:
        try:
            created_at = _epoch(status.get("created_at"), "created_at")
        except Unreadable:
            created_at = int(self.api.clock())
        return SentReply(_text_id(status.get("id"), "id"), created_at, _optional_str(status.get("url")))

    def _list(self, response: httpx.Response, what: str) -> list[Any]:
        try:
            page = response.json()
        except ValueError:
            raise ConnectorError(f"Mastodon sent {what} that are not JSON") from None
        if not isinstance(page, list):
            raise ConnectorError(f"Mastodon sent {what} that are not a list", retryable=False)
        return page

    async def like(self, external_id: str) -> None:
        self._ready()
        await self.api.request("POST", f"/api/v1/statuses/{status_id_of(external_id)}/favourite", write=True)

    async def aclose(self) -> None:
        await self.api.aclose()
