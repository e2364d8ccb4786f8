"""Provides `CaseQuery` and `parse_query`: which cases a view or a search shows.

The query language an agent types (in the spirit of notmuch)::

    wifi "geen internet" label:storing platform:x author:@anna status:open
    owner:me !assigned lang:de age:>2h age:<1d before:2026-11-01 after:2026-10-01
    type:press sentiment:negative priority:>=2 account:klm-x

Free words and "phrases" search message and memo text (FTS5); every other term
narrows the cases. `!term` negates `assigned` and `label:`. Unknown keys and bad
values are errors with a plain message, never silently ignored.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any, TypedDict

from webcare_tui.model import AUTHOR_TYPES, CaseStatus

_AGE = re.compile(r"^([<>])(\d+)([mhdw])$")
_UNITS = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}
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
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{key}:{value} — give a date as YYYY-MM-DD") from None
    return int(datetime.combine(day, time.max if end_of_day else time.min).astimezone().timestamp())


def _choices(key: str, value: str, allowed: tuple[str, ...]) -> list[str]:
    """`status:open,new` → ["open", "new"], each checked against what `key` allows."""
    chosen = value.split(",")
    for choice in chosen:
        if choice not in allowed:
            raise QueryError(f"{key}:{choice} — {key} is one of {', '.join(allowed)}")
    return chosen


def parse_query(text: str, *, me: str, now: float) -> CaseQuery:
    """Turn what an agent typed into a `CaseQuery`.

    Args:
        me: the signed-in agent, for `owner:me`.
        now: the current time, for `age:`.

    Raises:
        QueryError: an unknown key, a bad value or an unclosed quote.
    """
    try:
        terms = shlex.split(text, posix=True)
    except ValueError:
        raise QueryError("a quote is not closed") from None
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
                raise QueryError(f"unknown search key {key!r} (known: {', '.join(KEYS)})")
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
            match = _AGE.match(value)
            if not match:
                raise QueryError(f"age:{value} — write age:>2h or age:<30m (units m, h, d, w)")
            moment = int(now) - int(match[2]) * _UNITS[match[3]]
            if match[1] == ">":
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
            if not value.lstrip(">=").isdigit():
                raise QueryError(f"priority:{value} — write priority:2 or priority:>=2")
            single["min_priority"] = int(value.lstrip(">="))
    query = CaseQuery(
        text=tuple(found["text"]), labels=tuple(found["labels"]), without_labels=tuple(found["without_labels"]),
        platforms=tuple(found["platforms"]), accounts=tuple(found["accounts"]), statuses=tuple(found["statuses"]),
        languages=tuple(found["languages"]), author_types=tuple(found["author_types"]),
        sentiments=tuple(found["sentiments"]),
    )
    return replace(query, **single)
