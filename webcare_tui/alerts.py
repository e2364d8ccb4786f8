"""Provides alerts: a case about to miss its deadline, a negative voice with a large audience, a storm building.

Thresholds come from the config's ``[alerts]`` section::

    [alerts]
    deadline_within = "10m"     # a case whose act-before time passes within this (or passed: until answered)
    audience_followers = 10000  # a negative message from an author with more followers (or of type press)
    negative_below = -0.05      # what counts as negative (sentiment score; the analyser's own cut)
    spike_factor = 3            # messages on one label or keyword in the last 15 minutes
    spike_min = 5               #   over K times the usual rate at that hour (and at least this many)
    spike_keywords = ["storing", "Störung", "outage"]
    spike_days = 28             # "usual": the same time of day over this many earlier days
    bell = true                 # ring the terminal bell on a new alert

`check` reads what it needs through the store's queries and returns the alerts
of the moment; each has a stable key, so the app can tell new ones from known ones.
Every case past its deadline is an alert until it is answered, however many there are:
a list that leaves some out tells the agent that all is well where it is not.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, overload

from webcare_tui.config import ConfigError, parse_duration
from webcare_tui.deadlines import act_before, describe_remaining
from webcare_tui.rules import phrase_pattern
from webcare_tui.safe_text import clean, shown_author

SPIKE_WINDOW = 15 * 60


@dataclass(frozen=True)
class AlertSettings:
    deadline_within: int = 10 * 60
    audience_followers: int = 10_000
    negative_below: float = -0.05
    spike_factor: float = 3.0
    spike_min: int = 5
    spike_keywords: tuple[str, ...] = ()
    spike_days: int = 28
    bell: bool = False

    @classmethod
    def from_config(cls, section: dict[str, Any], where: Callable[[str], str]) -> AlertSettings:
        """Read `[alerts]`; `where(key)` names the file and line for errors.

        Raises:
            ConfigError: in plain words.
        """
        known = {f for f in cls.__dataclass_fields__}
        for key in section:
            if key not in known:
                raise ConfigError(f"{where(key)}: unknown alert setting (known: {', '.join(sorted(known))})")
        values: dict[str, Any] = {}
        if "deadline_within" in section:
            values["deadline_within"] = parse_duration(section["deadline_within"], where("deadline_within"))
        for key, kind in (("audience_followers", int), ("spike_min", int), ("spike_days", int),
                          ("spike_factor", float), ("negative_below", float)):
            if key in section:
                value = section[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
                    raise ConfigError(f"{where(key)}: {key} must be a number")
                values[key] = kind(value)
        if "spike_keywords" in section:
            words = section["spike_keywords"]
            if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
                raise ConfigError(f"{where('spike_keywords')}: give a list of words, e.g. [\"storing\", \"outage\"]")
            values["spike_keywords"] = tuple(words)
        if "bell" in section:
            if not isinstance(section["bell"], bool):
                raise ConfigError(f"{where('bell')}: bell is true or false")
            values["bell"] = section["bell"]
        return cls(**values)


class Alert(NamedTuple):
    """One alert (held in `Alerts` as a plain tuple of these fields)."""

    kind: str  # "deadline", "audience" or "spike"
    key: str  # the same situation keeps the same key from one check to the next
    text: str  # plain text (customer text is cleaned), one line
    case_id: int | None = None  # the case it opens; a spike opens its newest case
    late: bool = False  # a deadline alert: the deadline passed (else it is about to)


class Alerts(Sequence[Alert]):
    """The alerts of a check, in order. Kept as a tuple of plain tuples: the garbage collector stops
    tracking a tuple of plain values at its first pass (not a NamedTuple's, nor a list), so an alert
    per overdue case, tens of thousands on a 1M store under an import, neither lengthens its full
    passes nor brings one on at every check (bench/live.py: passes of 100-150 ms held the console's
    event loop)."""

    __slots__ = ("_rows", "_counts")

    def __init__(self, alerts: Iterable[tuple[str, str, str, int | None, bool]] = ()) -> None:
        self._rows: tuple[tuple, ...] = tuple(tuple(alert) for alert in alerts)  # an exact tuple stays itself
        self._counts: Counter[tuple[str, bool]] | None = None

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Alert: ...
    @overload
    def __getitem__(self, index: slice) -> Alerts: ...
    def __getitem__(self, index: int | slice) -> Alert | Alerts:
        if isinstance(index, slice):
            return Alerts(self._rows[index])
        return Alert._make(self._rows[index])

    def __iter__(self) -> Iterator[Alert]:
        return map(Alert._make, self._rows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Alerts) and self._rows == other._rows

    __hash__ = None  # type: ignore[assignment]  # a changing sequence, as a list

    def __add__(self, more: Iterable[Alert]) -> Alerts:
        return Alerts([*self._rows, *(more._rows if isinstance(more, Alerts) else more)])

    def keys(self) -> list[str]:
        return [row[1] for row in self._rows]

    def of_kind(self, kind: str) -> Alerts:
        return Alerts(row for row in self._rows if row[0] == kind)

    def counts(self) -> Counter[tuple[str, bool]]:
        """How many of each (kind, late); counted once (the header asks on every repaint)."""
        if self._counts is None:
            self._counts = Counter((row[0], row[4]) for row in self._rows)
        return self._counts


@dataclass
class AlertState:
    """What the agent has been told already: the app rings only for new keys."""

    # a dict of keys, not a set: the garbage collector does not track a dict of strings, and its full
    # passes would go through every key of a set, one per overdue case
    known: dict[str, None] = field(default_factory=dict)

    def new(self, alerts: Alerts) -> list[str]:
        """The keys of the alerts not told before."""
        keys = alerts.keys()
        fresh = [key for key in keys if key not in self.known]
        self.known = dict.fromkeys(keys)
        return fresh


class AlertNews(NamedTuple):
    alerts: Alerts  # every alert now, the most urgent first (counted: the header asks)
    changed: bool  # not what the check before found
    fresh: list[str]  # the keys of those never told before


class AlertWatch:
    """The alerts the last check found, and which the agent was told of. Each check's news is put
    together on the thread that checks: on a 1M store under an import, tens of thousands of alerts
    took 85-200 ms of the console's event loop to combine, compare and count (bench/live.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # called on whichever thread checks
        self._found = Alerts()
        self._told = AlertState()

    def news(self, found: Alerts, *, spikes: bool) -> AlertNews:
        """What a check that `found` these means; without `spikes` (a deadline check) the spikes of
        the last full check are kept."""
        with self._lock:
            if not spikes:
                found += self._found.of_kind("spike")
            changed = found != self._found
            self._found = found
            found.counts()
            return AlertNews(found, changed, self._told.new(found))


def deadline_alerts(rows: list[dict[str, Any]], now: int, settings: AlertSettings,
                    deadline_for: Callable[[str], int]) -> Alerts:
    """Every case waiting on us whose act-before time passed (however long ago: it is still
    not answered) or passes within `deadline_within`, the most overdue first."""
    alerts = []
    for row in rows:
        due = act_before(row["platform"], row["waiting_since"], row["last_inbound_at"], deadline_for(row["platform"]))
        if due is None or due - now > settings.deadline_within:
            continue
        left = due - now
        when = f"in {describe_remaining(left)}" if left >= 0 else f"{describe_remaining(-left)} ago"
        who = shown_author(row["author_handle"], row["author_name"], "?")
        verb = "must be answered" if left >= 0 else "missed its deadline"
        alerts.append((due, row["id"], ("deadline", f"deadline:{row['id']}:{row['waiting_since']}",
                                        f"case {row['id']} ({who}, {row['platform']}) {verb} {when}", row["id"],
                                        left < 0)))
    return Alerts(alert for *_, alert in sorted(alerts, key=lambda found: found[:2]))


def audience_alerts(rows: list[dict[str, Any]]) -> list[Alert]:
    """Negative messages from authors with a large audience or of type press (rows from the store's query)."""
    alerts = []
    for row in rows:
        who = shown_author(row["author_handle"], row["author_name"], "?")
        reach = "press" if row["author_type"] == "press" else f"{row['followers']:,} followers"
        text = clean(row["text"], single_line=True)
        snippet = text if len(text) <= 60 else text[:59] + "…"
        alerts.append(Alert("audience", f"audience:{row['message_id']}",
                            f"negative from {who} ({reach}) on {row['platform']}: {snippet}", row["case_id"]))
    return alerts


def topics(text: str, labels: list[str], keywords: dict[str, Any]) -> set[str]:
    """The topics one message counts for: its case's labels and the spike keywords in its text."""
    found = {f"#{clean(label, single_line=True)}" for label in labels}  # labels may come from a helpdesk
    folded = text.casefold()
    found.update(word for word, pattern in keywords.items() if pattern.search(folded))
    return found


def spike_alerts(recent: list[dict[str, Any]], earlier: list[list[dict[str, Any]]],
                 settings: AlertSettings) -> list[Alert]:
    """Topics with more messages in the last window than `spike_factor` × their usual count.

    Args:
        recent: inbound messages of the last 15 minutes (text, labels, case_id).
        earlier: the same 15 minutes of the day on each earlier day, for the usual rate.
    """
    keywords = {word: phrase_pattern([word]) for word in settings.spike_keywords}
    now_counts: Counter[str] = Counter()
    newest_case: dict[str, int] = {}
    for row in recent:
        for topic in topics(row["text"], row["labels"], keywords):
            now_counts[topic] += 1
            newest_case[topic] = row["case_id"]
    usual: Counter[str] = Counter()
    for window in earlier:
        for row in window:
            usual.update(topics(row["text"], row["labels"], keywords))
    days = max(len(earlier), 1)
    alerts = []
    for topic, count in now_counts.most_common():
        rate = usual[topic] / days
        if count >= settings.spike_min and count > settings.spike_factor * rate:
            times = f"{count / rate:.0f}× the usual {rate:.1f}" if rate else "usually none"
            alerts.append(Alert("spike", f"spike:{topic}",
                                f"spike: {count} messages on {topic} in 15 minutes ({times})", newest_case[topic]))
    return alerts


def check(store: Any, now: int, settings: AlertSettings, deadline_for: Callable[[str], int],
          shortest_deadline: int, *, spikes: bool = True) -> Alerts:
    """Every alert of the moment, most urgent kind first. Without `spikes`, only the cases' deadlines
    and loud negative voices, the part that changes when a case is answered: cheap enough to ask
    after every change (a spike compares the last 15 minutes with `spike_days` earlier days)."""
    # a case is due by its deadline or, sooner, the end of its platform's reply window (24 h at most)
    waiting = store.cases_waiting_since(now + settings.deadline_within - min(shortest_deadline, 24 * 3600))
    negative = store.negative_messages(now - SPIKE_WINDOW, settings.negative_below, settings.audience_followers)
    found = deadline_alerts(waiting, now, settings, deadline_for) + audience_alerts(negative)
    if spikes:
        recent = store.inbound_between(now - SPIKE_WINDOW, now)
        earlier = [store.inbound_between(now - day * 86_400 - SPIKE_WINDOW, now - day * 86_400)
                   for day in range(1, settings.spike_days + 1)]
        found += spike_alerts(recent, earlier, settings)
    return found


def summary(alerts: Alerts) -> str:
    """How many of each kind, in a few words: "17 overdue, 2 due soon, 1 negative voice"."""
    of = alerts.counts()
    kind = Counter[str]()
    for (name, _), count in of.items():
        kind[name] += count
    late = of[("deadline", True)]
    counts = [(late, "overdue", "overdue"), (kind["deadline"] - late, "due soon", "due soon"),
              (kind["audience"], "negative voice", "negative voices"), (kind["spike"], "spike", "spikes")]
    return ", ".join(f"{count} {one if count == 1 else many}" for count, one, many in counts if count)
