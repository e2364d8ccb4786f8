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

The boundary: every message, from a file or a connector (`check_messages`), is held to
explicit ranges, and one outside them is rejected with the reason, alone:

- `created_at` from 2000-01-01T00:00:00Z (`EARLIEST`) to now plus one day (`AHEAD`,
  clock skew); the clock is the caller's `now`, else `time.time()`;
- `author_followers` from 0 to 2^63 - 1, SQLite's largest integer (`MAX_INTEGER`);
- every string field but the text at most `FIELD_LIMIT` characters;
- a line at most `LINE_LIMIT` bytes, nested at most `DEPTH_LIMIT` levels (an unknown
  field: the format itself is flat);
- `text` at most `TEXT_LIMIT` characters: a longer one is not rejected but cut, and ends
  in a mark that says how much was cut (`cut_text`).

A UTF-8 byte-order mark at the start of a line (an editor's, at the top of a file) is
ignored.
"""

from __future__ import annotations

import re
import reprlib
import time
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


EARLIEST = 946_684_800  # 2000-01-01T00:00:00Z: older than any platform we serve has messages for us
AHEAD = 86_400  # seconds after now a message may be dated: a platform's clock may run ahead, not by a day
MAX_INTEGER = 2**63 - 1  # SQLite's largest integer: a larger count fails the whole write
# Longer texts are cut. The longest a platform sends: Facebook posts 63,206 characters, a Matrix
# event 65,536 bytes in all; X notes 25,000, Telegram and WhatsApp 4,096, Mastodon 500 by default.
TEXT_LIMIT = 65_536  # characters, the mark included
FIELD_LIMIT = 4_096  # characters of any other string field (ids, names, handles, urls)
LINE_LIMIT = 64 * 2**20  # bytes: a longer line is rejected unparsed (up to that a long text is cut)
DEPTH_LIMIT = 1_024  # levels of nesting: orjson's own limit, which the detailed path enforces
_MARK_ROOM = 32  # characters the cut mark may take: "… [cut: 999.9 MB more]" is 22
_BOM = b"\xef\xbb\xbf"


class InvalidMessage(ValueError):
    """A message object that does not follow the normalized format."""


_REPR = reprlib.Repr()  # a value quoted in a reason: a 50 MB string or a deep list shows as its start
_REPR.maxstring = _REPR.maxother = 60


def _shown(value: object) -> str:
    if isinstance(value, int) and not -MAX_INTEGER - 1 <= value <= 2**64 - 1:
        return "a number beyond 64 bits"  # repr() refuses one of more than 4,300 digits
    return _REPR.repr(value)


def latest_time(now: float | None = None) -> int:
    """The latest `created_at` accepted at `now` (seconds since the epoch; default: the clock)."""
    return int(time.time() if now is None else now) + AHEAD


def _time_problem(created_at: int, latest: int, given: object = None) -> str:
    """Why `created_at` is out of range, naming it as it was given (else as a time, or a number)."""
    if given is None:
        try:
            given = format_timestamp(created_at)
        except (ValueError, OverflowError, OSError):  # beyond the years datetime knows
            given = created_at
    if created_at < EARLIEST:
        return f"created_at {_shown(given)} is before 2000-01-01"
    return f"created_at {_shown(given)} is more than a day in the future (after {format_timestamp(latest)})"


def _size(count: int) -> str:
    """A byte count for people: 820 bytes, 12.3 kB, 49.9 MB."""
    if count < 1000:
        return f"{count} bytes"
    for unit, scale in (("kB", 1e3), ("MB", 1e6)):
        if count < scale * 999.95:
            return f"{count / scale:.1f} {unit}"
    return f"{count / 1e9:,.1f} GB"


def _utf8_length(text: str, start: int) -> int:
    """The UTF-8 size of `text[start:]`, a slice at a time: a 50 MB text is not copied whole once more."""
    step = 1 << 20
    return sum(len(text[at:at + step].encode("utf-8", "surrogatepass")) for at in range(start, len(text), step))


def cut_text(text: str) -> str:
    """`text`, or when it is longer than `TEXT_LIMIT` characters its beginning and a mark saying how
    much was cut ("… [cut: 49.9 MB more]"), at most `TEXT_LIMIT` characters in all: a cut text is not
    cut again."""
    if len(text) <= TEXT_LIMIT:
        return text
    keep = TEXT_LIMIT - _MARK_ROOM
    return f"{text[:keep]}… [cut: {_size(_utf8_length(text, keep))} more]"


_STRING_FIELDS = ("platform", "account", "external_id", "author_id", "author_handle", "author_name", "author_type",
                  "in_reply_to", "agent", "url", "language")


def _bounded(message: Message, latest: int, given_time: object = None) -> Message:
    """`message` held to the ranges (its text cut in place if too long); raises InvalidMessage."""
    created_at = message.created_at
    if type(created_at) is not int or not EARLIEST <= created_at <= latest:
        if type(created_at) is not int:
            raise InvalidMessage("created_at must be a whole number of seconds")
        raise InvalidMessage(_time_problem(created_at, latest, given_time))
    followers = message.author_followers
    if followers is not None and (type(followers) is not int or not 0 <= followers <= MAX_INTEGER):
        raise InvalidMessage(f"author_followers must be a whole number from 0 to {MAX_INTEGER:,}")
    for name in _STRING_FIELDS:
        value = getattr(message, name)
        if value is not None and len(value) > FIELD_LIMIT:
            raise InvalidMessage(f"{name} is {len(value):,} characters long; at most {FIELD_LIMIT:,} are allowed")
    if len(message.text) > TEXT_LIMIT:
        message.text = cut_text(message.text)
    return message


def check_messages(messages: Iterable[Message], now: float | None = None) -> tuple[list[Message], list[str]]:
    """The messages of a connector's page that are within range, and for each other one
    "external id: reason" (as `FetchResult.skipped` says it)."""
    latest = latest_time(now)
    kept, refused = [], []
    for message in messages:
        try:
            kept.append(_bounded(message, latest))
        except InvalidMessage as error:
            refused.append(f"{skipped_id(message.external_id)}: {error}")
    return kept, refused


def skipped_id(external_id: str) -> str:
    """An item's platform id as a skip reason names it: at most 80 characters."""
    return external_id if len(external_id) <= 80 else external_id[:80] + "…"


_HOUR_STARTS: dict[str, int] = {}  # "YYYY-MM-DDTHH" + offset → epoch of that hour
_MINUTES = {f":{minute:02d}": minute * 60 for minute in range(60)}  # ":MM" → seconds
_SECONDS = {f":{second:02d}": second for second in range(60)}  # ":SS" → seconds


def parse_timestamp(value: Any) -> int:
    """ISO 8601 with a UTC offset → seconds since the epoch.

    Raises:
        InvalidMessage: not a string, not ISO 8601, or without an offset (a naive
            time is ambiguous: we would misplace it by hours).
    """
    # Fast path for the canonical "2026-11-25T17:03:12+01:00": the hour's epoch is
    # cached, minutes and seconds added (looked up: ":03" → 180). Imports parse millions.
    if type(value) is str and len(value) == 25 and value[19] in "+-" and value[10] == "T":
        minutes, seconds = _MINUTES.get(value[13:16]), _SECONDS.get(value[16:19])
        if minutes is not None and seconds is not None:
            hour_key = value[:13] + value[19:]
            start = _HOUR_STARTS.get(hour_key)
            if start is None:
                start = _slow_timestamp(value[:13] + ":00:00" + value[19:])
                if len(_HOUR_STARTS) > 100_000:
                    _HOUR_STARTS.clear()
                _HOUR_STARTS[hour_key] = start
            return start + minutes + seconds
    return _slow_timestamp(value)


def _slow_timestamp(value: Any) -> int:
    if not isinstance(value, str):
        raise InvalidMessage("created_at must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMessage(f"created_at {_shown(value)} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise InvalidMessage(f"created_at {_shown(value)} has no UTC offset (add e.g. +01:00 or Z)")
    return int(moment.timestamp())


def format_timestamp(epoch: int, tz: timezone | Any = timezone.utc) -> str:
    """Seconds since the epoch → ISO 8601 with offset."""
    return datetime.fromtimestamp(epoch, tz).isoformat()


def shown_time(epoch: int | float, pattern: str = "%Y-%m-%d %H:%M", tz: Any = None) -> str:
    """A stored time for a person to read: `epoch` in the local zone (or `tz`) by `pattern`, or
    "@<epoch>" when no calendar here can show it (a store written before times were checked may
    hold year 1 or 9999, and a zone east of UTC then overflows the year)."""
    try:
        return datetime.fromtimestamp(epoch, tz).strftime(pattern)
    except (OverflowError, ValueError, OSError):
        return f"@{epoch}"


def _identifier(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidMessage(f"{field} must be a string")
    value = value.strip() if isinstance(value, str) else _digits(value, field)
    if not value:
        raise InvalidMessage(f"{field} is empty")
    return value


def _optional_text(value: Any, field: str) -> str | None:
    if value is None or type(value) is str:
        return value or None
    if field == "in_reply_to" and type(value) is int:
        return _digits(value, field)
    raise InvalidMessage(f"{field} must be a string")


def _digits(value: int, field: str) -> str:
    if not -MAX_INTEGER - 1 <= value <= 2**64 - 1:  # no platform's id is longer; str() of a huge one is slow
        raise InvalidMessage(f"{field} is a number beyond 64 bits; give it as a string")
    return str(value)


_TEXT_OR_NONE = frozenset({str, type(None)})


def parse_message(obj: Any, now: float | None = None) -> Message:
    """Validate one decoded JSON object and build a `Message`, held to the ranges at `now`
    (seconds since the epoch; default: the clock). A text that is too long is cut.

    Raises:
        InvalidMessage: with the first problem found, in plain words.
    """
    return _parse(obj, latest_time(now))


def _parse(obj: Any, latest: int) -> Message:
    if type(obj) is not dict:
        raise InvalidMessage("a message must be a JSON object")
    get = obj.get
    # The hot path of every import: cheap checks of the common case first, the
    # detailed ones (with their messages) only when those fail.
    platform, account, external_id, author_id = get("platform"), get("account"), get("external_id"), get("author_id")
    text, created_at, direction, visibility = get("text"), get("created_at"), get("direction"), get("visibility")
    if None in (platform, account, external_id, author_id, text, created_at, direction, visibility):
        raise InvalidMessage("missing " + ", ".join(field for field in REQUIRED if get(field) is None))
    if type(platform) is not str or platform not in _PLATFORMS_SEEN:
        if type(platform) is not str or not _NAME.match(platform):
            raise InvalidMessage(f"platform {_shown(platform)} is not a lowercase name such as 'x' or 'whatsapp'")
        _PLATFORMS_SEEN.add(platform)
    if type(direction) is not str or direction not in _DIRECTIONS:
        raise InvalidMessage(f"direction must be 'in' or 'out', not {_shown(direction)}")
    if type(visibility) is not str or visibility not in _VISIBILITIES:
        raise InvalidMessage(f"visibility must be 'public' or 'private', not {_shown(visibility)}")
    if type(text) is not str:
        raise InvalidMessage("text must be a string")
    if not (type(account) is str and type(external_id) is str and type(author_id) is str
            and account.strip() is account and external_id.strip() is external_id and author_id.strip() is author_id
            and account and external_id and author_id):
        account = _identifier(account, "account")
        external_id = _identifier(external_id, "external_id")
        author_id = _identifier(author_id, "author_id")
    followers = get("author_followers")
    if followers is not None and (type(followers) is not int or not 0 <= followers <= MAX_INTEGER):
        raise InvalidMessage(f"author_followers must be a whole number from 0 to {MAX_INTEGER:,}")
    author_type = get("author_type")
    if author_type is not None and (type(author_type) is not str or author_type not in AUTHOR_TYPES):
        raise InvalidMessage(f"author_type must be one of {', '.join(sorted(AUTHOR_TYPES))}")
    handle, name, reply_to = get("author_handle"), get("author_name"), get("in_reply_to")
    agent, url, language = get("agent"), get("url"), get("language")
    ok = _TEXT_OR_NONE
    if not (type(handle) in ok and type(name) in ok and type(reply_to) in ok and type(agent) in ok
            and type(url) in ok and type(language) in ok):
        handle, name = _optional_text(handle, "author_handle"), _optional_text(name, "author_name")
        reply_to, agent = _optional_text(reply_to, "in_reply_to"), _optional_text(agent, "agent")
        url, language = _optional_text(url, "url"), _optional_text(language, "language")
    return _bounded(Message(
        platform, account, external_id, author_id, text, parse_timestamp(created_at),
        _DIRECTIONS[direction], _VISIBILITIES[visibility], handle or None, name or None, followers, author_type,
        reply_to or None, agent or None, url or None, language or None,
    ), latest, created_at)


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


def _from_wire(wire: _Wire, latest: int) -> Message:
    """The checks msgspec's types cannot express; raises InvalidMessage. The lengths of strings are
    not checked: the caller does, for a line long enough to hold a string too long."""
    platform, account, external_id, author_id = wire.platform, wire.account, wire.external_id, wire.author_id
    if platform not in _PLATFORMS_SEEN or not (account.strip() is account and external_id.strip() is external_id
                                               and author_id.strip() is author_id and account and external_id
                                               and author_id):
        raise ValueError  # an unusual message: the detailed path judges it
    followers = wire.author_followers
    if followers is not None and not 0 <= followers <= MAX_INTEGER:
        raise ValueError
    created_at = parse_timestamp(wire.created_at)
    if not EARLIEST <= created_at <= latest:
        raise InvalidMessage(_time_problem(created_at, latest, wire.created_at))
    return Message(
        platform, account, external_id, author_id, wire.text, created_at, wire.direction,
        wire.visibility, wire.author_handle or None, wire.author_name or None, followers, wire.author_type,
        wire.in_reply_to or None, wire.agent or None, wire.url or None, wire.language or None,
    )


# A line this long or shorter cannot hold a string longer than FIELD_LIMIT (nor TEXT_LIMIT): every
# character takes at least a byte. Ordinary lines are a few hundred bytes and skip those checks.
_SHORT_LINE = FIELD_LIMIT


def read_jsonl(lines: Iterable[str | bytes], now: float | None = None) -> Iterator[tuple[int, Message | InvalidMessage]]:
    """Yield (line number, message or the reason it was rejected) for each non-blank line, held
    to the ranges at `now` (seconds since the epoch; default: the clock when reading starts).

    Lines go through msgspec's typed decoder first (several times faster); any line
    it does not take, and any long one, is judged again by `_judge_line`, which names the problem.
    """
    latest = latest_time(now)
    decode = _DECODER.decode
    for number, line in enumerate(lines, start=1):
        if len(line) <= _SHORT_LINE:
            try:
                yield number, _from_wire(decode(line), latest)
                continue
            except InvalidMessage as error:
                yield number, error
                continue
            except (msgspec.DecodeError, ValueError, RecursionError):
                pass  # msgspec's ValidationError is a ValueError too; RecursionError: nested deeply
        judged = _judge_line(line, latest)
        if judged is not None:  # blank lines are allowed
            yield number, judged


def parse_line(line: str | bytes, now: float | None = None) -> Message:
    """One line (or document) of the format as a `Message`, as `read_jsonl` judges it.

    Raises:
        InvalidMessage: not JSON, not a message, or out of range; with the reason.
    """
    judged = _judge_line(line, latest_time(now))
    if judged is None:
        raise InvalidMessage("the line is empty")
    if isinstance(judged, InvalidMessage):
        raise judged
    return judged


def _judge_line(line: str | bytes, latest: int) -> Message | InvalidMessage | None:
    """A line the fast path did not take or is long: the message, the reason it is rejected, or None
    for a blank line. Never raises for what a line holds."""
    if len(line) > LINE_LIMIT:
        return InvalidMessage(f"the line is {_size(len(line))} long; a line may be at most "
                              f"{LINE_LIMIT // 2**20} MiB")
    if isinstance(line, (bytes, bytearray)):
        if line.startswith(_BOM):
            line = line[len(_BOM):]
        elif line.startswith((b"\xff\xfe", b"\xfe\xff")):
            return InvalidMessage("the file is UTF-16; save it as UTF-8")
    elif line.startswith("\ufeff"):
        line = line[1:]
    try:
        return _bounded(_from_wire(_DECODER.decode(line), latest), latest)
    except InvalidMessage as error:
        return error
    except (msgspec.DecodeError, ValueError, RecursionError):
        pass
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        if not line.strip():
            return None
        if "depth limit" in error.msg:
            return InvalidMessage(f"nested deeper than {DEPTH_LIMIT:,} levels")
        return InvalidMessage(f"not valid JSON ({error.msg} at column {error.colno})")
    try:
        return _parse(obj, latest)
    except InvalidMessage as error:
        return error
