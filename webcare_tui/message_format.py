"""Provides the normalized message format (JSON Lines) every connector and importer speaks.

One JSON object per line::

    {"platform": "x", "account": "klm-x", "external_id": "1861", "author_id": "42",
     "author_handle": "@anna", "author_name": "Anna", "author_followers": 120,
     "text": "Waar blijft mijn pakket?", "created_at": "2026-11-25T17:03:00+01:00",
     "direction": "in", "visibility": "public", "in_reply_to": null,
     "agent": null, "url": "https://x.com/anna/status/1861"}

`parse_message` turns one decoded object into a `Message` or raises `InvalidMessage`
with a reason an agent can act on; `read_jsonl` does that line by line and never
stops at a bad line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any, Literal

import msgspec
import orjson

from webcare_tui.model import AUTHOR_TYPES, AuthorType, Direction, Message, Visibility

REQUIRED = ("platform", "account", "external_id", "author_id", "text", "created_at", "direction", "visibility")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_PLATFORMS_SEEN: set[str] = set()  # platform names that passed _NAME
# Plain str values, not the enum members: cheaper to store, pickle and compare.
_DIRECTIONS = {"in": Direction.IN.value, "out": Direction.OUT.value}
_VISIBILITIES = {"public": Visibility.PUBLIC.value, "private": Visibility.PRIVATE.value}


class InvalidMessage(ValueError):
    """A message object that does not follow the normalized format."""


_HOUR_STARTS: dict[str, int] = {}  # "YYYY-MM-DDTHH" + offset → epoch of that hour


def parse_timestamp(value: Any) -> int:
    """ISO 8601 with a UTC offset → seconds since the epoch.

    Raises:
        InvalidMessage: not a string, not ISO 8601, or without an offset (a naive
            time is ambiguous: we would misplace it by hours).
    """
    # Fast path for the canonical "2026-11-25T17:03:12+01:00": the hour's epoch is
    # cached, minutes and seconds added. Imports parse millions of these.
    if type(value) is str and len(value) == 25 and value[19] in "+-" and value[10] == "T":
        minutes, seconds = value[14:16], value[17:19]
        if minutes.isdigit() and seconds.isdigit() and minutes < "60" and seconds < "60":
            hour_key = value[:13] + value[19:]
            start = _HOUR_STARTS.get(hour_key)
            if start is None:
                start = _slow_timestamp(value[:13] + ":00:00" + value[19:])
                if len(_HOUR_STARTS) > 100_000:
                    _HOUR_STARTS.clear()
                _HOUR_STARTS[hour_key] = start
            return start + int(minutes) * 60 + int(seconds)
    return _slow_timestamp(value)


def _slow_timestamp(value: Any) -> int:
    if not isinstance(value, str):
        raise InvalidMessage("created_at must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMessage(f"created_at {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise InvalidMessage(f"created_at {value!r} has no UTC offset (add e.g. +01:00 or Z)")
    return int(moment.timestamp())


def format_timestamp(epoch: int, tz: timezone | Any = timezone.utc) -> str:
    """Seconds since the epoch → ISO 8601 with offset."""
    return datetime.fromtimestamp(epoch, tz).isoformat()


def _identifier(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidMessage(f"{field} must be a string")
    value = str(value).strip()
    if not value:
        raise InvalidMessage(f"{field} is empty")
    return value


def _optional_text(value: Any, field: str) -> str | None:
    if value is None or type(value) is str:
        return value or None
    if field == "in_reply_to" and type(value) is int:
        return str(value)
    raise InvalidMessage(f"{field} must be a string")


_TEXT_OR_NONE = frozenset({str, type(None)})


def parse_message(obj: Any) -> Message:
    """Validate one decoded JSON object and build a `Message`.

    Raises:
        InvalidMessage: with the first problem found, in plain words.
    """
    if type(obj) is not dict:
        raise InvalidMessage("a message must be a JSON object")
    get = obj.get
    # The hot path of every import: cheap checks of the common case first, the
    # detailed ones (with their messages) only when those fail.
    platform, account, external_id, author_id = get("platform"), get("account"), get("external_id"), get("author_id")
    text, created_at, direction, visibility = get("text"), get("created_at"), get("direction"), get("visibility")
    if None in (platform, account, external_id, author_id, text, created_at, direction, visibility):
        raise InvalidMessage("missing " + ", ".join(field for field in REQUIRED if get(field) is None))
    if platform not in _PLATFORMS_SEEN:
        if type(platform) is not str or not _NAME.match(platform):
            raise InvalidMessage(f"platform {platform!r} is not a lowercase name such as 'x' or 'whatsapp'")
        _PLATFORMS_SEEN.add(platform)
    if direction not in _DIRECTIONS:
        raise InvalidMessage(f"direction must be 'in' or 'out', not {direction!r}")
    if visibility not in _VISIBILITIES:
        raise InvalidMessage(f"visibility must be 'public' or 'private', not {visibility!r}")
    if type(text) is not str:
        raise InvalidMessage("text must be a string")
    if not (type(account) is str and type(external_id) is str and type(author_id) is str
            and account.strip() is account and external_id.strip() is external_id and author_id.strip() is author_id
            and account and external_id and author_id):
        account = _identifier(account, "account")
        external_id = _identifier(external_id, "external_id")
        author_id = _identifier(author_id, "author_id")
    followers = get("author_followers")
    if followers is not None and (type(followers) is not int or followers < 0):
        raise InvalidMessage("author_followers must be a whole number ≥ 0")
    author_type = get("author_type")
    if author_type is not None and author_type not in AUTHOR_TYPES:
        raise InvalidMessage(f"author_type must be one of {', '.join(sorted(AUTHOR_TYPES))}")
    handle, name, reply_to = get("author_handle"), get("author_name"), get("in_reply_to")
    agent, url, language = get("agent"), get("url"), get("language")
    ok = _TEXT_OR_NONE
    if not (type(handle) in ok and type(name) in ok and type(reply_to) in ok and type(agent) in ok
            and type(url) in ok and type(language) in ok):
        handle, name = _optional_text(handle, "author_handle"), _optional_text(name, "author_name")
        reply_to, agent = _optional_text(reply_to, "in_reply_to"), _optional_text(agent, "agent")
        url, language = _optional_text(url, "url"), _optional_text(language, "language")
    return Message(
        platform, account, external_id, author_id, text, parse_timestamp(created_at),
        _DIRECTIONS[direction], _VISIBILITIES[visibility], handle or None, name or None, followers, author_type,
        reply_to or None, agent or None, url or None, language or None,
    )


def message_to_dict(message: Message, tz: Any = timezone.utc) -> dict[str, Any]:
    """A `Message` back in the normalized format (for export and the demo connector)."""
    return {
        "platform": message.platform,
        "account": message.account,
        "external_id": message.external_id,
        "author_id": message.author_id,
        "author_handle": message.author_handle,
        "author_name": message.author_name,
        "author_followers": message.author_followers,
        "author_type": message.author_type,
        "text": message.text,
        "created_at": format_timestamp(message.created_at, tz),
        "direction": str(message.direction),
        "visibility": str(message.visibility),
        "in_reply_to": message.in_reply_to,
        "agent": message.agent,
        "url": message.url,
        "language": message.language,
    }


class _Wire(msgspec.Struct):
    """The format's field types, for msgspec's fast decoder (see `read_jsonl`)."""

    platform: str
    account: str
    external_id: str
    author_id: str
    text: str
    created_at: str
    direction: Literal["in", "out"]
    visibility: Literal["public", "private"]
    author_handle: str | None = None
    author_name: str | None = None
    author_followers: int | None = None
    author_type: AuthorType | None = None
    in_reply_to: str | None = None
    agent: str | None = None
    url: str | None = None
    language: str | None = None


_DECODER = msgspec.json.Decoder(_Wire)


def _from_wire(wire: _Wire) -> Message:
    """The checks msgspec's types cannot express; raises InvalidMessage."""
    platform, account, external_id, author_id = wire.platform, wire.account, wire.external_id, wire.author_id
    if platform not in _PLATFORMS_SEEN or not (account.strip() is account and external_id.strip() is external_id
                                               and author_id.strip() is author_id and account and external_id
                                               and author_id):
        raise ValueError  # an unusual message: the detailed path judges it
    followers = wire.author_followers
    if followers is not None and followers < 0:
        raise ValueError
    return Message(
        platform, account, external_id, author_id, wire.text, parse_timestamp(wire.created_at), wire.direction,
        wire.visibility, wire.author_handle or None, wire.author_name or None, followers, wire.author_type,
        wire.in_reply_to or None, wire.agent or None, wire.url or None, wire.language or None,
    )


def read_jsonl(lines: Iterable[str | bytes]) -> Iterator[tuple[int, Message | InvalidMessage]]:
    """Yield (line number, message or the reason it was rejected) for each non-blank line.

    Lines go through msgspec's typed decoder first (several times faster); any line
    it does not take is judged again by `parse_message`, which names the problem.
    """
    decode = _DECODER.decode
    for number, line in enumerate(lines, start=1):
        try:
            yield number, _from_wire(decode(line))
            continue
        except InvalidMessage as error:
            yield number, error
            continue
        except (msgspec.DecodeError, ValueError):
            pass  # msgspec's ValidationError is a ValueError too
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            if line.strip():
                yield number, InvalidMessage(f"not valid JSON ({error.msg} at column {error.colno})")
            continue  # blank lines are allowed
        try:
            yield number, parse_message(obj)
        except InvalidMessage as error:
            yield number, error
