"""Provides the KPI definitions: what each number on the dashboard and in `webcare report` means.

Plain Python over plain rows: the store's aggregate queries (`store/kpi.py`) hand over
counts and the day's runs; everything that decides a number lives here, so the
definitions are tested on their own, to the second.

- A day is 00:00 to 24:00 in the configured time zone (`[kpi] timezone`).
- incoming / replies: inbound / outbound messages created in the period.
- completed: cases closed in the period. open: cases not closed whose last message is
  inbound (waiting on us), as of the end of the period, or now while it runs.
- A *run* is a stretch of consecutive inbound messages in one case (time order). Its
  response time runs from its first message to our next outbound message in the case.
  Averages and medians count runs that started in the period and were answered.
- first response: a case's first inbound message → our first outbound message (its first run).
- A reply of ours that failed (its outbox row is "failed": the platform refused it, at once or after
  taking it) never reached the customer: it is no outbound message here. Not a reply of its agent,
  no case handled, no answer: the run waits on for our next reply that did go out, timed from that
  reply, and the customer's messages before and after the failed reply are one run. A reply still
  queued, sending or of unknown outcome counts; one retried counts again (from when it was written).
- service level: the share of the period's runs handled within the deadline (`[kpi]
  deadline`, per platform in `[kpi.deadlines]`). Handled means answered, or the case
  closed without a reply. Runs still waiting whose deadline has not passed are left out;
  waiting past it counts as missed.
- Working hours (`[kpi] working_hours`, per agent `hours` in `[team] agents`): when set,
  response times and deadlines count working time only. The run's schedule is that of the
  agent who answered (else the case's owner), else the team's.
- Targets (`[kpi] targets`, per agent `[kpi.agent_targets.<id>]`): on target, near it
  (within 10% on the wrong side) or off.
"""

from __future__ import annotations

import os
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from webcare_tui.config import ConfigError, parse_duration
from webcare_tui.deadlines import DEFAULT_DEADLINE

DAY = 86_400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NEAR = 0.10  # within 10% of a target on the wrong side: amber

# target key → (the KPI it judges, "min" when higher is better / "max" when lower is, kind of value)
TARGETS: dict[str, tuple[str, str, str]] = {
    "service_level": ("service_level", "min", "share"),
    "avg_response": ("response_avg", "max", "duration"),
    "median_response": ("response_median", "max", "duration"),
    "first_response": ("first_response_avg", "max", "duration"),
    "open_max": ("open", "max", "count"),
    "replies_min": ("replies", "min", "count"),
    "completed_min": ("completed", "min", "count"),
}
_KPI_KEYS = {"timezone", "deadline", "deadlines", "targets", "agent_targets", "working_hours",
             "hide_agent_comparison", "heatmap_weeks"}
_WINDOW = re.compile(r"^\s*([a-z]{3})(?:\s*-\s*([a-z]{3}))?\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class KpiConfigError(ConfigError):
    """`[kpi]` or `[team]` holds a setting the KPIs cannot use; the message names the key."""


# -- working hours ------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """Working hours: per weekday (0 = Monday) a list of (start, end) seconds after local midnight."""

    text: str
    windows: tuple[tuple[tuple[int, int], ...], ...]  # 7 entries
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: ZoneInfo, where: str) -> Schedule:
        """ "mon-fri 08:30-17:00, sat 10:00-14:00" → a schedule (no windows across midnight)."""
        days: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
        if not isinstance(text, str) or not text.strip():
            raise KpiConfigError(f"{where}: give working hours as text, e.g. \"mon-fri 08:30-17:00\"")
        for part in text.lower().split(","):
            match = _WINDOW.match(part)
            if not match or match[1] not in WEEKDAYS or (match[2] and match[2] not in WEEKDAYS):
                raise KpiConfigError(f"{where}: {part.strip()!r} is not like \"mon-fri 08:30-17:00\"")
            first = WEEKDAYS.index(match[1])
            last = WEEKDAYS.index(match[2]) if match[2] else first
            start = int(match[3]) * 3600 + int(match[4]) * 60
            end = int(match[5]) * 3600 + int(match[6]) * 60
            if int(match[4]) > 59 or int(match[6]) > 59 or end > DAY or start >= end:
                raise KpiConfigError(f"{where}: {part.strip()!r}: the times must be 00:00-24:00 and start before they end")
            day = first
            while True:
                days[day].append((start, end))
                if day == last:
                    break
                day = (day + 1) % 7
        return cls(text, tuple(tuple(sorted(windows)) for windows in days), zone)

    def _spans(self, day: date) -> list[tuple[int, int]]:
        """The day's working windows as epoch seconds (DST-aware)."""
        midnight = datetime.combine(day, time(), self.zone)
        spans = []
        for start, end in self.windows[day.weekday()]:
            spans.append((_at(midnight, start), _at(midnight, end)))
        return spans

    def is_working(self, moment: float) -> bool:
        """Whether `moment` falls in working time (routing skips agents who are off)."""
        return any(start <= moment < end for start, end in self._spans(_local_date(int(moment), self.zone)))

    def working_seconds(self, start: int, end: int) -> int:
        """Working time between two moments."""
        if end <= start:
            return 0
        total, day = 0, _local_date(start, self.zone)
        last = _local_date(end, self.zone)
        while day <= last:
            for span_start, span_end in self._spans(day):
                total += max(0, min(end, span_end) - max(start, span_start))
            day += timedelta(days=1)
        return total

    def add(self, start: int, seconds: int) -> int:
        """The moment `seconds` of working time after `start` have passed."""
        day, left = _local_date(start, self.zone), seconds
        for _ in range(3 * 366):
            for span_start, span_end in self._spans(day):
                begin = max(start, span_start)
                if begin >= span_end:
                    continue
                if begin + left <= span_end:
                    return begin + left
                left -= span_end - begin
            day += timedelta(days=1)
        return start + seconds  # no working time at all within years: wall-clock time


def _at(midnight: datetime, seconds: int) -> int:
    if seconds >= DAY:
        return int(datetime.combine(midnight.date() + timedelta(days=1), time(), midnight.tzinfo).timestamp())
    return int(midnight.replace(hour=seconds // 3600, minute=seconds % 3600 // 60).timestamp())


def _local_date(epoch: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(epoch, zone).date()


# -- settings -----------------------------------------------------------------


@dataclass(frozen=True)
class KpiSettings:
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    deadline: int = DEFAULT_DEADLINE
    deadlines: Mapping[str, int] = field(default_factory=dict)  # per platform
    targets: Mapping[str, float] = field(default_factory=dict)
    agent_targets: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    team_hours: Schedule | None = None
    agent_hours: Mapping[str, Schedule] = field(default_factory=dict)
    hide_agent_comparison: bool = False
    leads: frozenset[str] = frozenset()
    heatmap_weeks: int = 4

    @property
    def working_hours(self) -> bool:
        return self.team_hours is not None or bool(self.agent_hours)

    def deadline_for(self, platform: str) -> int:
        return self.deadlines.get(platform, self.deadline)

    def schedule_for(self, agent: str | None) -> Schedule | None:
        return self.agent_hours.get(agent, self.team_hours) if agent else self.team_hours

    def targets_for(self, agent: str | None = None) -> dict[str, float]:
        """The team's targets, with the agent's own where set."""
        return {**self.targets, **(self.agent_targets.get(agent, {}) if agent else {})}

    def sees_agent_comparison(self, agent: str) -> bool:
        return not self.hide_agent_comparison or agent in self.leads

    def day_bounds(self, day: date) -> tuple[int, int]:
        """Epoch seconds of the day's local 00:00 and the next day's (23 or 25 hours on DST days)."""
        start = datetime.combine(day, time(), self.zone)
        end = datetime.combine(day + timedelta(days=1), time(), self.zone)
        return int(start.timestamp()), int(end.timestamp())

    def today(self, now: float) -> date:
        return _local_date(int(now), self.zone)


def system_zone() -> ZoneInfo:
    """The machine's time zone by name (TZ, or /etc/localtime's link), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        candidates.append(str(Path("/etc/localtime").resolve()).split("zoneinfo/", 1)[1])
    except (OSError, IndexError):
        pass
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def configured_zone(raw: Mapping[str, Any], where: str = "config") -> ZoneInfo:
    """The team's time zone: `[kpi] timezone`, else the machine's (KPIs, reports and working hours).

    Raises:
        KpiConfigError: it names no time zone.
    """
    kpi = raw.get("kpi", {})
    if not isinstance(kpi, Mapping) or "timezone" not in kpi:
        return system_zone()
    try:
        return ZoneInfo(str(kpi["timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise KpiConfigError(f"{where}: kpi.timezone: {kpi['timezone']!r} is not a time zone such as "
                             "\"Europe/Amsterdam\"") from None


def settings_from_config(raw: Mapping[str, Any], where: str = "config") -> KpiSettings:
    """`[kpi]` and `[team]` of the config file → KPI settings.

    Args:
        raw: the parsed config file (`Config.raw`).
        where: the file's name, for errors.

    Raises:
        KpiConfigError: naming the key and what is wrong with it.
    """
    kpi = raw.get("kpi", {})
    team = raw.get("team", {})
    if not isinstance(kpi, Mapping) or not isinstance(team, Mapping):
        raise KpiConfigError(f"{where}: [kpi] and [team] must be tables")
    for key in kpi:
        if key not in _KPI_KEYS:
            raise KpiConfigError(f"{where}: kpi.{key}: unknown key (known: {', '.join(sorted(_KPI_KEYS))})")
    zone = configured_zone(raw, where)
    deadline = _duration(kpi.get("deadline", "30m"), f"{where}: kpi.deadline")
    deadlines = {str(platform): _duration(value, f"{where}: kpi.deadlines.{platform}")
                 for platform, value in _table(kpi.get("deadlines", {}), f"{where}: kpi.deadlines").items()}
    targets = _targets(kpi.get("targets", {}), f"{where}: kpi.targets")
    agent_targets = {str(agent): _targets(values, f"{where}: kpi.agent_targets.{agent}")
                     for agent, values in _table(kpi.get("agent_targets", {}), f"{where}: kpi.agent_targets").items()}
    team_hours = (Schedule.parse(kpi["working_hours"], zone, f"{where}: kpi.working_hours")
                  if "working_hours" in kpi else None)
    agents = team.get("agents", [])
    if not isinstance(agents, list):
        raise KpiConfigError(f"{where}: team.agents must be a list of {{ id = ..., name = ... }}")
    agent_hours, leads = {}, set()
    for entry in agents:
        if not isinstance(entry, Mapping) or not entry.get("id"):
            raise KpiConfigError(f"{where}: team.agents: every agent needs an id")
        if "hours" in entry:
            agent_hours[str(entry["id"])] = Schedule.parse(entry["hours"], zone, f"{where}: team.agents {entry['id']}.hours")
        if entry.get("role") == "lead":
            leads.add(str(entry["id"]))
    hide = kpi.get("hide_agent_comparison", False)
    if not isinstance(hide, bool):
        raise KpiConfigError(f"{where}: kpi.hide_agent_comparison: give true or false")
    weeks = kpi.get("heatmap_weeks", 4)
    if not isinstance(weeks, int) or isinstance(weeks, bool) or not 1 <= weeks <= 52:
        raise KpiConfigError(f"{where}: kpi.heatmap_weeks: give a number of weeks from 1 to 52")
    return KpiSettings(zone, deadline, deadlines, targets, agent_targets, team_hours, agent_hours, hide,
                       frozenset(leads), weeks)


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise KpiConfigError(f"{where}: must be a table, e.g. {{ x = \"15m\" }}")
    return value


def _duration(value: Any, where: str) -> int:
    try:
        seconds = parse_duration(value, where)
    except ConfigError as error:
        raise KpiConfigError(str(error)) from None
    if seconds <= 0:
        raise KpiConfigError(f"{where}: must be longer than 0 seconds")
    return seconds


def _targets(values: Any, where: str) -> dict[str, float]:
    found = {}
    for key, value in _table(values, where).items():
        if key not in TARGETS:
            raise KpiConfigError(f"{where}.{key}: unknown target (known: {', '.join(TARGETS)})")
        kind = TARGETS[key][2]
        if kind == "duration":
            found[key] = float(_duration(value, f"{where}.{key}"))
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (
                kind == "share" and value > 1):
            raise KpiConfigError(f"{where}.{key}: give {'a share from 0 to 1, e.g. 0.9' if kind == 'share' else 'a number'}")
        else:
            found[key] = float(value)
    return found


# -- runs and the numbers -----------------------------------------------------


class Run(NamedTuple):
    """Consecutive inbound messages of one case, and what became of them (a tuple: a day has thousands)."""

    case_id: int
    platform: str
    started_at: int
    answered_at: int | None = None  # our next outbound message in the case
    agent: str | None = None  # who sent that answer
    owner: str | None = None  # the case's owner now
    closed_at: int | None = None  # the case was closed then, with no answer after the run
    first: bool = False  # the case's first message: its response is the case's first response
    labels: tuple[str, ...] = ()


# A run as a plain tuple, its fields by position as in `Run` (a `Run` is one): what `kpi_runs` returns.
# `first` is an int there (SQLite's 0 or 1), a bool in `Run`.
RunRow: TypeAlias = tuple[int, str, int, int | None, str | None, str | None, int | None, int, tuple[str, ...]]


@dataclass
class Kpis:
    """The KPIs of one slice of a period (the team, an agent, a platform or a label); durations in seconds."""

    incoming: int = 0
    replies: int = 0
    handled: int = 0  # cases with a reply of ours in the period
    completed: int = 0
    open: int = 0
    oldest_waiting_since: int | None = None
    runs: int = 0
    answered: int = 0
    response_avg: float | None = None
    response_median: float | None = None
    first_response_cases: int = 0
    first_response_avg: float | None = None
    first_response_median: float | None = None
    within_deadline: int = 0
    missed_deadline: int = 0
    not_yet_due: int = 0
    service_level: float | None = None



WITHIN, MISSED, NOT_YET_DUE = "within", "missed", "not yet due"


def judge_run(run: RunRow, settings: KpiSettings, now: int) -> tuple[int | None, str]:
    """A run's response time (None: not answered) and whether it was handled within its deadline."""
    _, platform, started_at, answered_at, agent, owner, closed_at, _, _ = run  # fields by position: a day has thousands
    schedule = settings.schedule_for(agent or owner) if settings.working_hours else None
    deadline = settings.deadlines.get(platform, settings.deadline)
    due = schedule.add(started_at, deadline) if schedule else started_at + deadline
    took = None
    handled_at = answered_at
    if handled_at is not None:
        took = schedule.working_seconds(started_at, handled_at) if schedule else handled_at - started_at
    elif closed_at is not None and closed_at >= started_at:
        handled_at = closed_at  # completed without a reply (spam, "thanks!")
    if handled_at is not None:
        return took, WITHIN if handled_at <= due else MISSED
    return took, MISSED if now > due else NOT_YET_DUE


def apply_runs(kpis: Kpis, runs: Iterable[Run], settings: KpiSettings, now: int) -> None:
    """Fill the run-based KPIs (response times, first response, service level) of `kpis`."""
    runs = list(runs)
    _fill_runs(kpis, runs, [judge_run(run, settings, now) for run in runs], range(len(runs)))


def _fill_runs(kpis: Kpis, runs: Sequence[RunRow], judged: list[tuple[int | None, str]], indexes: Sequence[int]) -> None:
    """Fill the run-based KPIs from the runs at `indexes`; judged[i] is `judge_run` of runs[i]."""
    picked = [judged[i] for i in indexes]
    responses = [took for took, _ in picked if took is not None]
    firsts = [took for i in indexes if runs[i][7] and (took := judged[i][0]) is not None]  # Run.first
    verdicts = [verdict for _, verdict in picked]
    kpis.runs += len(picked)
    kpis.within_deadline += verdicts.count(WITHIN)
    kpis.missed_deadline += verdicts.count(MISSED)
    kpis.not_yet_due += verdicts.count(NOT_YET_DUE)
    kpis.answered = len(responses)
    if responses:
        kpis.response_avg = statistics.fmean(responses)
        kpis.response_median = float(statistics.median(responses))
    kpis.first_response_cases = len(firsts)
    if firsts:
        kpis.first_response_avg = statistics.fmean(firsts)
        kpis.first_response_median = float(statistics.median(firsts))
    judged_count = kpis.within_deadline + kpis.missed_deadline
    kpis.service_level = kpis.within_deadline / judged_count if judged_count else None


def target_status(kpis: Kpis, targets: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """Per configured target: its KPI, the target, the value and "ok", "near", "off" (None: no data yet)."""
    result = {}
    for key, target in targets.items():
        name, better, _ = TARGETS[key]
        value = getattr(kpis, name)
        result[key] = {"kpi": name, "target": target, "value": value, "status": judge(value, target, better)}
    return result


def judge(value: float | None, target: float, better: str) -> str | None:
    if value is None:
        return None
    if better == "min":
        return "ok" if value >= target else "near" if value >= target * (1 - NEAR) else "off"
    return "ok" if value <= target else "near" if value <= target * (1 + NEAR) else "off"


# -- a whole period, from the store's aggregates ------------------------------


class KpiSource(Protocol):
    """What the store's `KpiQueries` answer (see there for the row shapes)."""

    def kpi_messages(self, start: int, end: int) -> dict[str, list[tuple]]: ...
    def kpi_completed(self, start: int, end: int) -> list[tuple]: ...
    def kpi_open_now(self) -> list[tuple]: ...
    def kpi_open_at(self, at: int) -> list[tuple]: ...
    def kpi_runs(self, start: int, end: int) -> list[RunRow]: ...
    def kpi_inbound_buckets(self, start: int, end: int, size: int) -> list[tuple[int, int]]: ...


UNLABELLED = None  # the by-label key of cases without a label


@dataclass
class PeriodKpis:
    """The KPIs of the days `first`..`last` (local), as of `as_of`."""

    first: date
    last: date
    start: int
    end: int
    as_of: int
    team: Kpis
    by_agent: dict[str | None, Kpis]
    by_platform: dict[str, Kpis]
    by_label: dict[str | None, Kpis]
    sentiment: dict[str, int]  # negative, neutral, positive, unscored (inbound messages)


_READERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="webcare-kpi")
_RUN_FIELDS = ("runs", "within_deadline", "missed_deadline", "not_yet_due", "answered", "response_avg",
               "response_median", "first_response_cases", "first_response_avg", "first_response_median",
               "service_level")


def _run_kpis(runs: list[RunRow], settings: KpiSettings, now: int) -> tuple[Kpis, dict[tuple[str, Any], Kpis]]:
    """The run-based KPIs of the period's runs (rows of `kpi_runs`, shaped as `Run`): for the team and
    per agent, platform and label. Each run is judged once; the slices share the verdicts by index."""
    judged = [judge_run(run, settings, now) for run in runs]
    slices: dict[str, dict[Any, list[int]]] = {"agent": {}, "platform": {}, "label": {}}
    by_agent, by_platform, by_label = slices["agent"], slices["platform"], slices["label"]
    for index, (_, platform, _, _, agent, owner, _, _, labels) in enumerate(runs):
        by_agent.setdefault(agent or owner, []).append(index)  # a run counts for who answered it, else the owner
        by_platform.setdefault(platform, []).append(index)
        for label in labels or (UNLABELLED,):
            by_label.setdefault(label, []).append(index)
    team = Kpis()
    _fill_runs(team, runs, judged, range(len(runs)))
    groups: dict[tuple[str, Any], Kpis] = {}
    for kind, members in slices.items():
        for key, indexes in members.items():
            _fill_runs(groups.setdefault((kind, key), Kpis()), runs, judged, indexes)
    return team, groups


def _take_runs(into: Kpis, judged: Kpis) -> None:
    for name in _RUN_FIELDS:
        setattr(into, name, getattr(judged, name))


def period_kpis(source: KpiSource, settings: KpiSettings, first: date, last: date, now: float) -> PeriodKpis:
    """Every KPI of the days `first` through `last`, for the team and per agent, platform and label."""
    start, _ = settings.day_bounds(first)
    _, end = settings.day_bounds(last)
    now = int(now)
    as_of = min(end, now)
    team = Kpis()
    groups: dict[str, dict[Any, Kpis]] = {"agent": {}, "platform": {}, "label": {}}

    def slot(kind: str, key: Any) -> Kpis:
        return groups[kind].setdefault(key, Kpis())

    sentiment = {"negative": 0, "neutral": 0, "positive": 0, "unscored": 0}
    # The three long queries run at once: SQLite lets go of the GIL while it works, so they
    # share the machine's cores. The runs are judged only when all three are in: Python code
    # running meanwhile would make each query wait for the GIL at every row it returns.
    runs = _READERS.submit(source.kpi_runs, start, end) if start < now else None
    open_rows = _READERS.submit(source.kpi_open_now) if now < end else _READERS.submit(source.kpi_open_at, end - 1)
    messages = source.kpi_messages(start, end)
    for direction, platform, who, count, negative, neutral, positive in messages["counts"]:
        name = "incoming" if direction == "in" else "replies"
        for kpis in (team, slot("agent", who), slot("platform", platform)):
            setattr(kpis, name, getattr(kpis, name) + count)
        if direction == "in":
            sentiment["negative"] += negative
            sentiment["neutral"] += neutral
            sentiment["positive"] += positive
            sentiment["unscored"] += count - negative - neutral - positive
    for direction, label, count in messages["labels"]:
        kpis = slot("label", label)
        if direction == "in":
            kpis.incoming += count
        else:
            kpis.replies += count
    for kind, key, count in messages["handled"]:
        (team if kind == "team" else slot(kind, key)).handled += count
    for kind, key, count in source.kpi_completed(start, end):
        (team if kind == "team" else slot(kind, key)).completed += count
    for kind, key, count, oldest in open_rows.result():
        kpis = team if kind == "team" else slot(kind, key)
        kpis.open += count
        if oldest is not None and (kpis.oldest_waiting_since is None or oldest < kpis.oldest_waiting_since):
            kpis.oldest_waiting_since = oldest
    if runs is not None:
        team_runs, group_runs = _run_kpis(runs.result(), settings, now)
        _take_runs(team, team_runs)
        for (kind, key), kpis in group_runs.items():
            _take_runs(slot(kind, key), kpis)
    return PeriodKpis(first, last, start, end, as_of, team, groups["agent"], groups["platform"], groups["label"],
                      sentiment)


def hourly(buckets: Iterable[tuple[int, int]], settings: KpiSettings, day: date) -> list[int]:
    """Counts per local hour of `day` (0-23; a DST day's extra hour adds to its hour) from time buckets."""
    hours = [0] * 24
    for bucket, count in buckets:
        moment = datetime.fromtimestamp(bucket, settings.zone)
        if moment.date() == day:
            hours[moment.hour] += count
    return hours


def heatmap(buckets: Iterable[tuple[int, int]], settings: KpiSettings) -> list[list[int]]:
    """Counts per weekday (0 = Monday) × local hour from time buckets."""
    grid = [[0] * 24 for _ in WEEKDAYS]
    for bucket, count in buckets:
        moment = datetime.fromtimestamp(bucket, settings.zone)
        grid[moment.weekday()][moment.hour] += count
    return grid


BUCKET = 900  # quarter hours: every time zone's offset is a whole number of them


def heatmap_range(settings: KpiSettings, last: date) -> tuple[int, int]:
    """The `heatmap_weeks` whole weeks of days ending with `last`."""
    start, _ = settings.day_bounds(last - timedelta(days=7 * settings.heatmap_weeks - 1))
    _, end = settings.day_bounds(last)
    return start, end


HEATMAP_AGE = 300.0  # seconds: weeks of volume change slowly, so a dashboard recomputes the heatmap this often
STATUS_SYMBOLS = {"ok": "✓", "near": "!", "off": "✗", None: "·"}  # a target's status, by symbol as well as colour
STATUS_WORDS = {"ok": "on target", "near": "near target", "off": "off target", None: "no data yet"}


class KpiTile(NamedTuple):
    """A dashboard tile: the console's and the wall's."""

    id: str
    title: str
    kpi: str  # the attribute of `Kpis`
    kind: str  # "count", "duration" or "share"
    targets: tuple[str, ...]  # the target keys that judge it

    @property
    def report_key(self) -> str:
        """Its key in `webcare report --json`'s KPI object (durations in seconds)."""
        return f"{self.kpi}_seconds" if self.kind == "duration" else self.kpi


TILES = (
    KpiTile("incoming", "Incoming", "incoming", "count", ()),
    KpiTile("replies", "Replies sent", "replies", "count", ("replies_min",)),
    KpiTile("completed", "Completed", "completed", "count", ("completed_min",)),
    KpiTile("open", "Open (waiting on us)", "open", "count", ("open_max",)),
    KpiTile("avg", "Avg response", "response_avg", "duration", ("avg_response",)),
    KpiTile("median", "Median response", "response_median", "duration", ("median_response",)),
    KpiTile("first", "First response", "first_response_avg", "duration", ("first_response",)),
    KpiTile("service", "Service level", "service_level", "share", ("service_level",)),
)


def format_value(value: float | None, kind: str, missing: str = "-") -> str:
    """A KPI value as a tile shows it: 12m05s, 93.1%, 42."""
    if value is None:
        return missing
    if kind == "duration":
        return format_duration(value)
    if kind == "share":
        return format_share(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def target_text(key: str, target: float) -> str:
    """ "≥ 90.0%", "≤ 20m", "≤ 25": how a dashboard writes a target."""
    _, better, kind = TARGETS[key]
    value = format_share(target) if kind == "share" else format_span(target) if kind == "duration" else f"{target:g}"
    return f"{'≥' if better == 'min' else '≤'} {value}"


@dataclass(frozen=True)
class DayView:
    """Everything a dashboard shows for one day: the console's (F2) and the wall's."""

    day: date
    period: PeriodKpis
    today_hours: list[int]  # inbound messages per hour
    last_week_hours: list[int]  # the same weekday a week before
    heatmap: list[list[int]]  # hour × weekday over `heatmap_weeks`


def day_view(store: KpiSource, settings: KpiSettings, day: date, now: float,
             heatmap_kept: list[list[int]] | None = None) -> DayView:
    """The KPIs of `day`, its inbound per hour beside a week before, and the heatmap (`heatmap_kept`:
    one already computed for this day, young enough to show again). Runs off the UI thread."""
    period = period_kpis(store, settings, day, day, now)
    week_ago = day - timedelta(days=7)
    hours = hourly(store.kpi_inbound_buckets(period.start, period.end, BUCKET), settings, day)
    before = hourly(store.kpi_inbound_buckets(*settings.day_bounds(week_ago), BUCKET), settings, week_ago)
    grid = heatmap_kept if heatmap_kept is not None else heatmap(
        store.kpi_inbound_buckets(*heatmap_range(settings, day), BUCKET), settings)
    return DayView(day, period, hours, before, grid)


def format_duration(seconds: float | None) -> str:
    """12:05 → "12m05s", 3h → "3h00m"; None → "-"."""
    if seconds is None:
        return "-"
    seconds = round(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 100 * 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // DAY}d"


def format_span(seconds: float) -> str:
    """A setting's length, short: 1800 → "30m", 5400 → "1h30m", 45 → "45s"."""
    seconds = round(seconds)
    hours, minutes, rest = seconds // 3600, seconds % 3600 // 60, seconds % 60
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{rest}s" if rest else "")
    return text or "0s"


def format_share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"

