"""Provides `webcare report`: the dashboard's KPIs, headless, for spreadsheets and the wall screen.

    webcare report [--date D | --from D1 [--to D2]] [--by agent|platform|label] [--json|--csv]

Dates are local days of `[kpi] timezone` (YYYY-MM-DD from 2000-01-01 to 9998-12-31, "today" or
"yesterday": a day whose bounds every time zone can turn into a time and back). A range
prints one row per day and a total over the whole range (runs counted once). The JSON
and CSV keys are stable (see `KPI_KEYS` and README).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, TextIO

from webcare_tui.case_query import FIRST_DAY, LAST_DAY  # the days a date may name
from webcare_tui.config import Config
from webcare_tui.kpi import (
    STATUS_SYMBOLS,
    KpiConfigError,
    Kpis,
    KpiSettings,
    PeriodKpis,
    format_duration,
    format_share,
    format_span,
    period_kpis,
    settings_from_config,
    target_status,
)
from webcare_tui.safe_text import clean, safe_json

MAX_DAYS = 366
# every KPI's key in the JSON and CSV output, in column order
KPI_KEYS = (
    "incoming", "replies", "handled", "completed", "open", "oldest_waiting_since", "runs", "answered",
    "response_avg_seconds", "response_median_seconds", "first_response_cases", "first_response_avg_seconds",
    "first_response_median_seconds", "within_deadline", "missed_deadline", "not_yet_due", "service_level",
)
GROUPS = ("agent", "platform", "label")


def add_parser(subcommands: Any) -> argparse.ArgumentParser:
    """Add `report` to the `webcare` command's subparsers."""
    report = subcommands.add_parser("report", help="print the KPIs of a day or a range of days")
    when = report.add_mutually_exclusive_group()
    when.add_argument("--date", type=parse_day, help="one local day: YYYY-MM-DD, today (default) or yesterday")
    when.add_argument("--from", dest="first", type=parse_day, metavar="D1", help="first day of a range")
    report.add_argument("--to", dest="last", type=parse_day, metavar="D2", help="last day of the range (default: today)")
    report.add_argument("--by", choices=GROUPS, help="also per agent, platform or label")
    output = report.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="JSON (keys documented in README)")
    output.add_argument("--csv", action="store_true", help="CSV, one row per day and group")
    report.set_defaults(handler=run)
    return report


class _Relative(str):
    """ "today" / "yesterday": resolved in the configured time zone once it is known."""


def parse_day(text: str) -> date | _Relative:
    """A day as `--date` takes it: YYYY-MM-DD, "today" or "yesterday" (resolved later, by `resolve_day`)."""
    if text in ("today", "yesterday"):
        return _Relative(text)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{clean(text, single_line=True)!r} is not a day: "
                                         "give YYYY-MM-DD, today or yesterday") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: give a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def resolve_day(value: date | _Relative | None, today: date) -> date | None:
    """The calendar day a `parse_day` value names, seen from `today`."""
    if isinstance(value, _Relative):
        return today if value == "today" else today - timedelta(days=1)
    return value


def run(args: argparse.Namespace, config: Config, store: Any, out: TextIO,
        clock: Callable[[], float] = time.time) -> int:
    """Print the report; 2 (with the reason on stderr) for bad settings or dates."""
    try:
        settings = settings_from_config(config.raw, str(config.path or "config"))
    except KpiConfigError as error:
        print(f"webcare: {error}", file=sys.stderr)
        return 2
    now = clock()
    today = settings.today(now)
    if getattr(args, "last", None) is not None and getattr(args, "first", None) is None:
        print("webcare: report: --to needs --from", file=sys.stderr)
        return 2
    first = resolve_day(args.first, today) or resolve_day(args.date, today) or today
    last = resolve_day(args.last, today) or (today if args.first is not None else first)
    if last < first:
        print(f"webcare: report: --to {last} is before --from {first}", file=sys.stderr)
        return 2
    if (last - first).days >= MAX_DAYS:
        print(f"webcare: report: at most {MAX_DAYS} days at once", file=sys.stderr)
        return 2
    me = config.agent.id
    hidden = args.by == "agent" and not settings.sees_agent_comparison(me)
    if hidden:
        print(f"webcare: report: per-agent comparison is hidden (kpi.hide_agent_comparison): only {me}",
              file=sys.stderr)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    per_day = [period_kpis(store, settings, day, day, now) for day in days]
    total = per_day[0] if len(days) == 1 else period_kpis(store, settings, first, last, now)
    report = build(per_day, total, settings, args.by, only_agent=me if hidden else None)
    if args.json:
        out.write(safe_json(report) + "\n")
    elif args.csv:
        write_csv(report, out)
    else:
        write_text(report, out)
    return 0


def _iso(epoch: int | None, settings: KpiSettings) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, settings.zone).isoformat()


def kpi_json(kpis: Kpis, settings: KpiSettings, agent: str | None = None) -> dict[str, Any]:
    """One slice's KPIs under the stable keys (durations in seconds, rounded to 0.1)."""

    def seconds(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "incoming": kpis.incoming, "replies": kpis.replies, "handled": kpis.handled, "completed": kpis.completed,
        "open": kpis.open, "oldest_waiting_since": _iso(kpis.oldest_waiting_since, settings),
        "runs": kpis.runs, "answered": kpis.answered,
        "response_avg_seconds": seconds(kpis.response_avg), "response_median_seconds": seconds(kpis.response_median),
        "first_response_cases": kpis.first_response_cases,
        "first_response_avg_seconds": seconds(kpis.first_response_avg),
        "first_response_median_seconds": seconds(kpis.first_response_median),
        "within_deadline": kpis.within_deadline, "missed_deadline": kpis.missed_deadline,
        "not_yet_due": kpis.not_yet_due,
        "service_level": None if kpis.service_level is None else round(kpis.service_level, 4),
        "targets": target_status(kpis, settings.targets_for(agent)),
    }


def _groups(period: PeriodKpis, by: str | None, settings: KpiSettings, only_agent: str | None) -> list[dict[str, Any]]:
    if by is None:
        return []
    # keys are agent ids, platforms or labels; None for unassigned and unlabelled
    kinds: dict[str, Mapping[Any, Kpis]] = {"agent": period.by_agent, "platform": period.by_platform,
                                            "label": period.by_label}
    slices = kinds[by]
    keys = sorted(slices, key=lambda key: (key is None, str(key)))
    if only_agent is not None:
        keys = [key for key in keys if key == only_agent]
    return [{"key": key, **kpi_json(slices[key], settings, key if by == "agent" else None)} for key in keys]


def build(per_day: list[PeriodKpis], total: PeriodKpis, settings: KpiSettings, by: str | None,
          only_agent: str | None = None) -> dict[str, Any]:
    """The report as plain data: what `--json` prints."""
    return {
        "from": total.first.isoformat(), "to": total.last.isoformat(), "timezone": settings.zone.key,
        "start": _iso(total.start, settings), "end": _iso(total.end, settings), "as_of": _iso(total.as_of, settings),
        "working_hours": settings.working_hours,
        "deadline_seconds": {"default": settings.deadline, **settings.deadlines},
        "by": by,
        "team": kpi_json(total.team, settings),
        "groups": _groups(total, by, settings, only_agent),
        "sentiment": total.sentiment,
        "days": [{"date": day.first.isoformat(), "team": kpi_json(day.team, settings),
                  "groups": _groups(day, by, settings, only_agent)} for day in per_day],
    }


def write_csv(report: dict[str, Any], out: TextIO) -> None:
    """One row per day (and per group of the day), then the range's total when it spans several days."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "group_by", "group", *KPI_KEYS])
    rows = [(day["date"], day["team"], day["groups"]) for day in report["days"]]
    if len(report["days"]) > 1:
        rows.append((f"{report['from']}/{report['to']}", report["team"], report["groups"]))
    for when, team, groups in rows:
        writer.writerow([when, "team", "", *(_cell(team[key]) for key in KPI_KEYS)])
        for group in groups:
            # a formula-looking label ("=HYPERLINK(...)") must stay text in a spreadsheet; no cell
            # may act on a terminal that shows the file
            name = "" if group["key"] is None else clean(str(group["key"]), single_line=True)
            if name[:1] in ("=", "+", "-", "@"):
                name = "'" + name
            writer.writerow([when, report["by"], name, *(_cell(group[key]) for key in KPI_KEYS)])


def _cell(value: Any) -> Any:
    return "" if value is None else value


def write_text(report: dict[str, Any], out: TextIO) -> None:
    """A table for people: the team (per day for a range), the groups, and the team's targets."""
    span = report["from"] if report["from"] == report["to"] else f"{report['from']} – {report['to']}"
    print(f"KPIs {span} ({report['timezone']}), as of {report['as_of'][:16].replace('T', ' ')}", file=out)
    if report["working_hours"]:
        print("Response times and deadlines count working hours only.", file=out)
    header = (f"{'':<18} {'IN':>6} {'REPLIES':>7} {'HANDLED':>7} {'DONE':>5} {'OPEN':>5} {'RUNS':>5} "
              f"{'AVG RESP':>9} {'MEDIAN':>9} {'1ST RESP':>9} {'SERVICE':>7}")
    print(header, file=out)

    def line(name: str, kpis: dict[str, Any]) -> None:
        print(f"{name[:18]:<18} {kpis['incoming']:>6} {kpis['replies']:>7} "
              f"{kpis['handled']:>7} {kpis['completed']:>5} {kpis['open']:>5} {kpis['runs']:>5} "
              f"{format_duration(kpis['response_avg_seconds']):>9} {format_duration(kpis['response_median_seconds']):>9} "
              f"{format_duration(kpis['first_response_avg_seconds']):>9} {format_share(kpis['service_level']):>7}",
              file=out)

    if len(report["days"]) > 1:
        for day in report["days"]:
            line(day["date"], day["team"])
    line("team" if len(report["days"]) == 1 else "total", report["team"])
    for group in report["groups"]:
        key = _none(report["by"]) if group["key"] is None else clean(str(group["key"]), single_line=True)
        line(f"  {key}", group)  # indented under the team
    for key, target in report["team"]["targets"].items():
        value = target["value"]
        shown = ("-" if value is None else format_share(value) if key == "service_level"
                 else format_duration(value) if "response" in key else str(value))
        wanted = (format_share(target["target"]) if key == "service_level"
                  else format_span(target["target"]) if "response" in key else f"{target['target']:g}")
        print(f"{STATUS_SYMBOLS[target['status']]} {key}: {shown} (target {wanted})", file=out)


def _none(by: str | None) -> str:
    return "(unassigned)" if by == "agent" else "(no label)"
