"""Provides routing rules ("feeds"): conditions on an inbound message → assign, labels, priority, view.

Rules live in the config file as ``[[rule]]`` tables, evaluated at ingest in file
order, per rule set: a set in "first" mode stops at its first matching rule, one in
"all" mode (the default) applies every match::

    [rules]
    brand_names = ["Bol", "bol.com"]      # the brand named in a text…
    brand_handles = ["@bol"]              # …without one of these is proactive webcare
    sets = { triage = "first" }           # rule set → "first" | "all"

    [[rule]]
    name = "Hypotheken"
    set = "triage"
    words = ["hypotheek", "mortgage", "Baufinanzierung"]   # whole words or phrases, any case
    language = ["nl", "en"]
    assign_team = "hypotheken"            # round-robin over the team, skipping who is off work
    labels = ["Hypotheken"]
    priority = 2

Conditions: platform, account, words, language, sentiment (negative/neutral/positive),
author_type, followers_min/followers_max, visibility, mention ("direct": the brand was
@-mentioned or written to privately; "proactive": named without a mention). Actions:
assign (an agent) or assign_team, labels, priority (raised, never lowered), view (the
case joins the view's column: a label of that name, and a saved view that shows it), alert
(a text: the message raises an alert of kind "rule", kept as a case event of kind "alert" in
the ingest's transaction, which `webcare watch` sends to the `[[notify]]` channels; e.g. a rule on
words = ["nep account", "fake account"] with alert = "Possible fake account impersonating us").
Routing assigns only a case nobody owns, so an agent's case stays theirs. An assign_team also
puts the case with that team (its `team`, an event of kind "team"), if it has none yet, whether or
not somebody of the team works now; in team mode the sync tells the helpdesk (`CaseService.share_team`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from webcare_tui.case_rules import CaseState, Event
from webcare_tui.kpi import KpiConfigError, Schedule, configured_zone, system_zone
from webcare_tui.model import AUTHOR_TYPES, CaseStatus, Message
from webcare_tui.sentiment import sentiment_label
from webcare_tui.toml_lines import line_of, table_starts

CONDITIONS = ("platform", "account", "words", "language", "sentiment", "author_type", "followers_min",
              "followers_max", "visibility", "mention")
ACTIONS = ("assign", "assign_team", "labels", "priority", "view", "alert")
MAX_ALERT = 500  # characters of a rule's alert text: one line in a chat message or a mail's subject
FIELDS = ("name", "set", *CONDITIONS, *ACTIONS)
SENTIMENTS = ("negative", "neutral", "positive")


def sentiment_of(score: float | None) -> str | None:
    """The message's sentiment label; None while it has no score (never matches a condition)."""
    return None if score is None else sentiment_label(score)


def phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """Any of `phrases` as whole words, any case, any script (\\w is Unicode-aware)."""
    alternatives = sorted({re.escape(p.strip().casefold()) for p in phrases if p.strip()}, key=len, reverse=True)
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)") if alternatives else None


_WORD = re.compile(r"\w+")


def words_of(folded: str) -> set[str]:
    """The words of a casefolded post, for `Phrases.found_in`."""
    return set(_WORD.findall(folded))


@dataclass(frozen=True)
class Phrases:
    """Phrases to find as whole words (as `phrase_pattern` finds them), faster on many posts.

    A phrase of one word is looked up in the post's set of words, split once for all rules;
    the regex runs for a phrase like "geen internet" or "bol.com" only when the post has the
    phrase's first word (a whole-word match of the phrase makes that word one of the post's).
    """

    words: frozenset[str]
    others: tuple[str, ...]
    pattern: re.Pattern[str] | None
    leads: frozenset[str] | None  # the first word of each of the others; None: one has no word

    @classmethod
    def of(cls, phrases: Iterable[str]) -> Phrases | None:
        folded = {p.strip().casefold() for p in phrases if p.strip()}
        if not folded:
            return None
        words = frozenset(p for p in folded if _WORD.fullmatch(p))
        others = tuple(sorted(folded - words))
        firsts = [_WORD.search(phrase) for phrase in others]
        found = [first.group() for first in firsts if first is not None]
        leads = frozenset(found) if len(found) == len(firsts) else None
        return cls(words, others, phrase_pattern(others), leads)

    def found_in(self, folded: str, words: set[str]) -> bool:
        if not self.words.isdisjoint(words):
            return True
        if self.pattern is None or (self.leads is not None and self.leads.isdisjoint(words)):
            return False
        return self.pattern.search(folded) is not None


@dataclass(frozen=True)
class Brand:
    """How the brand is named and mentioned, for the `mention` condition."""

    names: re.Pattern[str] | None = None
    handles: re.Pattern[str] | None = None

    def mention(self, message: Message, folded: str) -> str | None:
        if message.visibility == "private" or (self.handles and self.handles.search(folded)):
            return "direct"
        if self.names and self.names.search(folded):
            return "proactive"
        return None


@dataclass(frozen=True)
class Rule:
    name: str
    rule_set: str
    source: str  # file:line, for `rules test`
    platform: frozenset[str] = frozenset()
    account: frozenset[str] = frozenset()
    words: Phrases | None = None
    language: frozenset[str] = frozenset()
    sentiment: frozenset[str] = frozenset()
    author_type: frozenset[str] = frozenset()
    followers_min: int | None = None
    followers_max: int | None = None
    visibility: str | None = None
    mention: str | None = None
    assign: str | None = None
    assign_team: str | None = None
    labels: tuple[str, ...] = ()
    priority: int | None = None
    view: str | None = None
    alert: str | None = None  # the text of the alert the rule raises

    def matches(self, message: Message, folded: str, words: set[str], author_type: str, followers: int | None,
                brand: Brand) -> bool:
        """Whether every condition of the rule holds (an unknown value never matches a condition on it);
        `folded` is the post casefolded, `words` its `words_of`."""
        return ((not self.platform or message.platform in self.platform)
                and (not self.account or message.account in self.account)
                and (self.visibility is None or message.visibility == self.visibility)
                and (not self.language or message.language in self.language)
                and (not self.sentiment or sentiment_of(message.sentiment) in self.sentiment)
                and (not self.author_type or author_type in self.author_type)
                and (self.followers_min is None or (followers is not None and followers >= self.followers_min))
                and (self.followers_max is None or (followers is not None and followers <= self.followers_max))
                and (self.words is None or self.words.found_in(folded, words))
                and (self.mention is None or brand.mention(message, folded) == self.mention))


@dataclass(frozen=True)
class TeamMember:
    id: str
    team: str | None
    hours: Schedule | None


@dataclass
class RuleBook:
    """The configured rules, or the problems that keep them from loading (file:line: message)."""

    rules: list[Rule] = field(default_factory=list)
    modes: dict[str, str] = field(default_factory=dict)  # rule set → "first" | "all"
    brand: Brand = field(default_factory=Brand)
    members: list[TeamMember] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def views(self) -> list[str]:
        """The views rules put cases in, in order of first appearance."""
        return list(dict.fromkeys(rule.view for rule in self.rules if rule.view))

    def firing(self, message: Message, author_type: str = "customer", followers: int | None = None) -> list[Rule]:
        """The rules that fire for `message`, in order."""
        if message.direction != "in":
            return []
        folded = message.text.casefold()
        words = words_of(folded)
        fired, done_sets = [], set()
        for rule in self.rules:
            if rule.rule_set in done_sets:
                continue
            if rule.matches(message, folded, words, author_type, followers, self.brand):
                fired.append(rule)
                if self.modes.get(rule.rule_set, "all") == "first":
                    done_sets.add(rule.rule_set)
        return fired


def load_rules(data: dict[str, Any], text: str, path: Path | str) -> RuleBook:
    """The rules of a parsed config file (`text` is its source, for line numbers). Never raises."""
    book = RuleBook()
    lines = text.splitlines()
    section = data.get("rules", {})
    if not isinstance(section, dict):
        section = {}
    settings_line = next((n for n, line in enumerate(lines, 1) if line.strip() == "[rules]"), 1)

    def setting_problem(key: str, message: str) -> None:
        book.errors.append(f"{path}:{line_of(lines, settings_line, key)}: rules.{key}: {message}")

    for key in section:
        if key not in ("brand_names", "brand_handles", "sets"):
            setting_problem(key, "unknown setting (known: brand_names, brand_handles, sets)")
    names = _texts(section.get("brand_names", []), lambda m: setting_problem("brand_names", m))
    handles = _texts(section.get("brand_handles", []), lambda m: setting_problem("brand_handles", m))
    book.brand = Brand(phrase_pattern(names), phrase_pattern(h if h.startswith("@") else "@" + h for h in handles))
    modes = section.get("sets", {})
    if not isinstance(modes, dict) or any(mode not in ("first", "all") for mode in modes.values()):
        setting_problem("sets", 'give each rule set "first" or "all", e.g. sets = { triage = "first" }')
    else:
        book.modes = dict(modes)
    try:
        zone = configured_zone(data, str(path))
    except KpiConfigError as error:
        book.errors.append(str(error))
        zone = system_zone()
    book.members = _members(data.get("team", {}), zone, book.errors, path)
    teams = {member.team for member in book.members if member.team}
    agents = {member.id for member in book.members}
    starts = table_starts(lines, "rule")
    for index, table in enumerate(data.get("rule", [])):
        start = starts[index] if index < len(starts) else 1
        problems: list[str] = []

        def problem(key: str, message: str, problems: list[str] = problems, start: int = start) -> None:
            problems.append(f"{path}:{line_of(lines, start, key)}: {message}")

        rule = _build(table, problem, f"{path}:{start}", teams, agents)
        book.errors.extend(problems)
        if rule is not None and not problems:
            book.rules.append(rule)
    return book


def _texts(value: Any, problem: Callable[[str], None]) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        problem("give a text or a list of texts")
        return []
    return value


def _members(team: Any, zone: ZoneInfo, errors: list[str], path: Path | str) -> list[TeamMember]:
    members = []
    for agent in team.get("agents", []) if isinstance(team, dict) else []:
        if not isinstance(agent, dict) or not agent.get("id"):
            continue
        hours = None
        if agent.get("hours"):
            try:  # the same reading of hours as the KPIs' working time
                hours = Schedule.parse(agent["hours"], zone, f"{path}: team agent {agent['id']!r}: hours")
            except KpiConfigError as error:
                errors.append(str(error))
        members.append(TeamMember(str(agent["id"]), agent.get("team"), hours))
    return members


def _build(table: dict[str, Any], problem: Callable[[str, str], None], source: str, teams: set[str],
           agents: set[str]) -> Rule | None:
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        problem("name", "every [[rule]] needs a name")
        return None
    label = f"rule {name!r}"
    for key in table:
        if key not in FIELDS:
            problem(key, f"{label}: unknown condition or action {key!r} (known: {', '.join(FIELDS)})")

    def texts(key: str, allowed: Iterable[str] | None = None) -> frozenset[str]:
        found = _texts(table.get(key, []), lambda message: problem(key, f"{label}: {key}: {message}"))
        allowed = set(allowed) if allowed is not None else None
        for item in found:
            if allowed is not None and item not in allowed:
                problem(key, f"{label}: {key} {item!r} is not one of {', '.join(sorted(allowed))}")
        return frozenset(found)

    def number(key: str) -> int | None:
        value = table.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            problem(key, f"{label}: {key} must be a whole number ≥ 0")
            return None
        return value

    def choice(key: str, allowed: tuple[str, ...]) -> str | None:
        value = table.get(key)
        if value is not None and value not in allowed:
            problem(key, f"{label}: {key} is {' or '.join(repr(a) for a in allowed)}, not {value!r}")
            return None
        return value

    words = texts("words")
    assign, team = table.get("assign"), table.get("assign_team")
    if assign is not None and team is not None:
        problem("assign_team", f"{label}: assign one agent or a team, not both")
    if assign is not None and (not isinstance(assign, str) or (agents and assign not in agents)):
        problem("assign", f"{label}: assign {assign!r} is not an agent of the team ({', '.join(sorted(agents))})")
    if team is not None and team not in teams:
        known = ", ".join(sorted(teams)) or "none: give agents a team = \"…\" in [team]"
        problem("assign_team", f"{label}: no agent is in team {team!r} (teams: {known})")
    view = table.get("view")
    if view is not None and (not isinstance(view, str) or not view.strip()):
        problem("view", f"{label}: view is the name of a column, e.g. \"Pers\"")
    alert = table.get("alert")
    if alert is not None and (not isinstance(alert, str) or not alert.strip() or len(alert) > MAX_ALERT
                              or not alert.isprintable()):
        problem("alert", f"{label}: alert is one line of text (at most {MAX_ALERT} characters),"
                         " e.g. alert = \"Possible fake account\"")
        alert = None
    rule = Rule(
        name=name.strip(), rule_set=str(table.get("set", "default")), source=source,
        platform=texts("platform"), account=texts("account"), words=Phrases.of(words),
        language=texts("language"), sentiment=texts("sentiment", SENTIMENTS),
        author_type=texts("author_type", AUTHOR_TYPES), followers_min=number("followers_min"),
        followers_max=number("followers_max"), visibility=choice("visibility", ("public", "private")),
        mention=choice("mention", ("direct", "proactive")), assign=assign, assign_team=team,
        labels=tuple(sorted(texts("labels"))), priority=number("priority"), view=view,
        alert=alert.strip() if alert else None,
    )
    if not any(getattr(rule, action) for action in ACTIONS) and "alert" not in table:
        problem("name", f"{label}: does nothing: give it assign, assign_team, labels, priority, view or alert")
    return rule


@dataclass
class Routing:
    """What the rules did to one case for one message."""

    labels: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)


class Router:
    """Applies a rule book at ingest, keeping each team's round-robin turn.

    Args:
        last_assigned: the agent a team's rule assigned last (from the case events), so
            the turn survives a restart.
        clock: "now" for working hours; routing happens as messages arrive.
    """

    def __init__(self, book: RuleBook, last_assigned: Callable[[str], str | None], clock: Callable[[], float]) -> None:
        self.book = book
        self.last_assigned = last_assigned
        self.clock = clock
        self.turns: dict[str, str | None] = {}  # each team's last agent assigned, once asked

    def next_in(self, team: str) -> str | None:
        """The team's next agent at work, after the one assigned last; None when nobody works now."""
        members = [m for m in self.book.members if m.team == team]
        if team not in self.turns:
            self.turns[team] = self.last_assigned(team)
        ids = [m.id for m in members]
        last = self.turns[team]
        start = ids.index(last) + 1 if last is not None and last in ids else 0
        now = self.clock()
        for offset in range(len(members)):
            member = members[(start + offset) % len(members)]
            if member.hours is None or member.hours.is_working(now):
                self.turns[team] = member.id
                return member.id
        return None

    def route(self, message: Message, case: CaseState, author_type: str, followers: int | None,
              has_labels: Callable[[str], bool] = lambda label: False) -> Routing:
        """Apply the rules that fire for `message` to `case` (changed in place); events name each rule."""
        routing = Routing()
        for rule in self.book.firing(message, author_type, followers):
            actor = f"rule:{rule.name}"
            at = message.created_at
            wanted = [*rule.labels, *([rule.view] if rule.view else [])]
            added = [label for label in wanted if label not in routing.labels and not has_labels(label)]
            if added:
                routing.labels.update(added)
                routing.events.append(Event(case.id, at, actor, "labels", {"added": sorted(added), "removed": []}))
            if rule.alert:  # for `webcare watch`: the alert is kept with the message that raised it
                routing.events.append(Event(case.id, at, actor, "alert", {"text": rule.alert, "rule": rule.name,
                                                                        "message": message.external_id}))
            if rule.priority is not None and rule.priority > case.priority:
                routing.events.append(Event(case.id, at, actor, "priority", {"from": case.priority, "to": rule.priority}))
                case.priority = rule.priority
            if rule.assign_team and case.team is None:  # the case is the team's, even if nobody of it works now
                routing.events.append(Event(case.id, at, actor, "team", {"from": None, "to": rule.assign_team}))
                case.team = rule.assign_team
            if case.owner is None and (rule.assign or rule.assign_team):
                # no agent named: the rule names a team (the condition above)
                agent = rule.assign or (self.next_in(rule.assign_team) if rule.assign_team else None)
                if agent is None:
                    routing.events.append(Event(case.id, at, actor, "not assigned",
                                                {"team": rule.assign_team, "reason": "nobody of the team works now"}))
                    continue
                routing.events.append(Event(case.id, at, actor, "assigned",
                                            {"from": None, "to": agent, "team": rule.assign_team}))
                case.owner = agent
                if case.status == CaseStatus.NEW:
                    routing.events.append(Event(case.id, at, actor, "status", {"from": case.status, "to": "open"}))
                    case.status = CaseStatus.OPEN
        return routing
