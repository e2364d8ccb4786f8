"""Provides `CaseQuery` and `parse_query`: which cases a view or a search shows.

The query language an agent types (in the spirit of notmuch)::

    wifi "geen internet" label:storing platform:x author:@anna status:open
    owner:me !assigned lang:de age:>2h age:<1d before:2026-11-01 after:2026-10-01
    type:press sentiment:negative priority:>=2 account:klm-x

Free words and "phrases" search message and memo text (FTS5); every other term
narrows the cases. `!term` negates `assigned` and `label:`. Unknown keys and bad
values are errors with a plain message, never silently ignored.

Every number is bounded, so no query can overflow a date or SQLite's integers: dates are held
to 2000-01-01 .. 9998-12-31 (the store holds no time outside them), `age:` goes back at most
100 years, `priority:` is a number below 100, and a query has at most MAX_TERMS terms and
MAX_LENGTH characters.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any, TypedDict

from webcare_tui.model import AUTHOR_TYPES, CaseStatus

_AGE = re.compile(r"^([<>])([0-9]+)([mhdw])$", re.ASCII)
_UNITS = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_PRIORITY = re.compile(r"^[>=]*([0-9]{1,2})$", re.ASCII)
FIRST_DAY = date(2000, 1, 1)  # a date in a query is held to these days: no time outside them is stored
LAST_DAY = date(9998, 12, 31)  # and every one of them has an epoch in every zone
MAX_AGE = 100 * 365 * 86_400  # age:>… goes back at most about 100 years
MAX_TERMS = 64  # more terms than this is not a search (and SQLite's expression depth has a limit)
MAX_LENGTH = 4096
STATUSES = tuple(status.value for status in CaseStatus)
KEYS = ("label", "platform", "author", "status", "owner", "assigned", "lang", "age", "before", "after",
        "priority", "account", "type", "sentiment")
SENTIMENTS = ("negative", "neutral", "positive")


class QueryError(ValueError):
    """A query that cannot be understood; the message says which part and why."""


class _Single(TypedDict, total=False):
    """The `CaseQuery` fields a query sets with one value (the last term wins)."""

    owner: str
    assigned: bool
    author: str
    active_before: int
    active_after: int
    min_priority: int


@dataclass(frozen=True)
class CaseQuery:
    """Filters on cases; empty fields do not filter. Times are epoch seconds."""

    text: tuple[str, ...] = ()  # free words and "phrases": all must occur in a message or memo
    labels: tuple[str, ...] = ()  # all of these
    without_labels: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()  # any of these
    accounts: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # any of these
    owner: str | None = None
    assigned: bool | None = None
    author: str | None = None  # handle (with or without @) or name
    languages: tuple[str, ...] = ()
    active_before: int | None = None  # last message before this moment
    active_after: int | None = None
    min_priority: int | None = None
    author_types: tuple[str, ...] = ()  # customer, press, influencer…
    sentiments: tuple[str, ...] = ()  # of the customer's messages: negative, neutral, positive

    def narrowed(self, other: CaseQuery) -> CaseQuery:
        """Both queries at once (a view narrowed by a search)."""
        merged: dict[str, Any] = {}  # field name → value: each field has its own type
        for name in self.__dataclass_fields__:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, tuple):
                merged[name] = tuple(dict.fromkeys(mine + theirs))
            else:
                merged[name] = theirs if theirs is not None else mine
        return CaseQuery(**merged)


@dataclass(frozen=True)
class View:
    """A named inbox view on one key."""

    name: str
    query: CaseQuery
    key: str
    source: str = ""  # the query text it came from, for saved views


APPROVALS = View("Approvals", CaseQuery(statuses=("awaiting_approval",)), "6")


def builtin_views(me: str, *, lead: bool = False) -> list[View]:
    """The views every agent has: Mine, Unassigned, All open, Pending, Closed; and for a lead
    (`approvals.is_lead`) Approvals on key 6: the cases whose reply draft waits for a lead."""
    return [
        View("Mine", CaseQuery(owner=me, statuses=("new", "open", "awaiting_approval")), "1"),
        View("Unassigned", CaseQuery(statuses=("new",), assigned=False), "2"),
        View("All open", CaseQuery(statuses=("new", "open", "awaiting_approval")), "3"),
        View("Pending", CaseQuery(statuses=("pending",)), "4"),
        View("Closed", CaseQuery(statuses=("closed",)), "5"),
        *([APPROVALS] if lead else []),
    ]


def _moment(value: str, key: str, end_of_day: bool) -> int:
    """The start (or end) of the day `value` names, local time, as epoch seconds; a day before
    FIRST_DAY or after LAST_DAY counts as that day (`after:0001-01-01` is every case)."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{key}:{value[:40]} — give a date as YYYY-MM-DD") from None
    day = min(max(day, FIRST_DAY), LAST_DAY)
    try:
        # the day's last whole second: time.max's microseconds round up to the next day in year 9998's floats
        return int(datetime.combine(day, time(23, 59, 59) if end_of_day else time.min).astimezone().timestamp())
    except (OverflowError, OSError, ValueError):  # a platform whose clock stops sooner (Windows: year 3000)
        raise QueryError(f"{key}:{value[:40]} — this system cannot reckon with that date") from None


def _age(value: str, now: float) -> tuple[str, int]:
    """`age:>2h` → (">", the moment two hours before `now`)."""
    match = _AGE.match(value)
    if not match:
        raise QueryError(f"age:{value[:40]} — write age:>2h or age:<30m (units m, h, d, w)")
    digits = match[2].lstrip("0") or "0"
    if len(digits) > 9 or int(digits) * _UNITS[match[3]] > MAX_AGE:  # int() of 4,300 digits would raise
        raise QueryError(f"age:{value[:40]} — goes back at most 100 years (age:>36500d)")
    return match[1], int(now) - int(digits) * _UNITS[match[3]]


def _choices(key: str, value: str, allowed: tuple[str, ...]) -> list[str]:
    """`status:open,new` → ["open", "new"], each checked against what `key` allows."""
    chosen = value.split(",")
    for choice in chosen:
        if choice not in allowed:
            raise QueryError(f"{key}:{choice[:40]} — {key} is one of {', '.join(allowed)}")
    return chosen


def parse_query(text: str, *, me: str, now: float) -> CaseQuery:
    """Turn what an agent typed into a `CaseQuery`.

    Args:
        me: the signed-in agent, for `owner:me`.
        now: the current time, for `age:`.

    Raises:
        QueryError: an unknown key, a bad value, an unclosed quote, or a query too long.
    """
    if len(text) > MAX_LENGTH:
        raise QueryError(f"a search is at most {MAX_LENGTH:,} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # half a surrogate pair: bytes that were not UTF-8 (a command line's)
        raise QueryError("the search has bytes that are not UTF-8 text") from None
    try:
        terms = shlex.split(text, posix=True)
    except ValueError:
        raise QueryError("a quote is not closed (or a \\ ends the search)") from None
    if len(terms) > MAX_TERMS:
        raise QueryError(f"a search has at most {MAX_TERMS} terms")
    found: dict[str, list[str]] = {"text": [], "labels": [], "without_labels": [], "platforms": [], "accounts": [],
                                   "statuses": [], "languages": [], "author_types": [], "sentiments": []}
    single: _Single = {}
    for term in terms:
        negated = term.startswith("!")
        body = term[1:] if negated else term
        key, colon, value = body.partition(":")
        if not colon or key not in KEYS:
            if negated and body == "assigned":
                single["assigned"] = False
            elif colon and re.fullmatch(r"[a-z_]+", key):
                raise QueryError(f"unknown search key {key[:40]!r} (known: {', '.join(KEYS)})")
            else:
                found["text"].append(term)
            continue
        value = value.strip()
        if not value:
            raise QueryError(f"{key}: needs a value")
        if key == "label":
            found["without_labels" if negated else "labels"].append(value)
        elif key == "platform":
            found["platforms"].append(value.lower())
        elif key == "account":
            found["accounts"].append(value)
        elif key == "status":
            found["statuses"] += _choices(key, value, STATUSES)
        elif key == "owner":
            single["owner"] = me if value == "me" else value
        elif key == "assigned":
            if value not in ("yes", "no"):
                raise QueryError("assigned: is yes or no (or write !assigned)")
            single["assigned"] = value == "yes"
        elif key == "author":
            single["author"] = value
        elif key == "lang":
            found["languages"].append(value.lower())
        elif key == "age":
            direction, moment = _age(value, now)
            if direction == ">":
                single["active_before"] = moment
            else:
                single["active_after"] = moment
        elif key == "before":
            single["active_before"] = _moment(value, key, end_of_day=False)
        elif key == "after":
            single["active_after"] = _moment(value, key, end_of_day=True)
        elif key == "type":
            found["author_types"] += _choices(key, value, tuple(sorted(AUTHOR_TYPES)))
        elif key == "sentiment":
            found["sentiments"] += _choices(key, value, SENTIMENTS)
        elif key == "priority":
            match = _PRIORITY.match(value)
            if not match:
                raise QueryError(f"priority:{value[:40]} — write priority:2 or priority:>=2")
            single["min_priority"] = int(match[1])
    query = CaseQuery(
        text=tuple(found["text"]), labels=tuple(found["labels"]), without_labels=tuple(found["without_labels"]),
        platforms=tuple(found["platforms"]), accounts=tuple(found["accounts"]), statuses=tuple(found["statuses"]),
        languages=tuple(found["languages"]), author_types=tuple(found["author_types"]),
        sentiments=tuple(found["sentiments"]),
    )
    return replace(query, **single)
