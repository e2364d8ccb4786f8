"""`webcare report`: the day's KPIs as JSON, CSV and text, from the timeline of test_kpi."""

from __future__ import annotations

import argparse
import csv
import io
import json

import pytest
from conftest import HOUR, MINUTE, T0, msg
from test_kpi import NOW, Channel, day, reply, undelivered  # noqa: F401 (the fixture)

from webcare_tui import report
from webcare_tui.config import Agent, Config
from webcare_tui.ingest import ingest

RAW = {"kpi": {"timezone": "Europe/Amsterdam", "deadline": "30m", "deadlines": {"facebook": "1h"},
               "targets": {"service_level": 0.9, "avg_response": "20m", "open_max": 2},
               "agent_targets": {"sanne": {"avg_response": "40m"}}}}


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="webcare")
    report.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["report", *argv])


def run(store, *argv: str, raw=RAW, agent: str = "tim", now: float = NOW) -> tuple[int, str]:
    out = io.StringIO()
    code = report.run(parse(*argv), Config(agent=Agent(id=agent), raw=raw), store, out, clock=lambda: now)
    return code, out.getvalue()


def test_json_for_one_day_with_targets_and_agents(day):  # noqa: F811
    code, text = run(day, "--date", "2025-11-24", "--by", "agent", "--json")
    assert code == 0
    data = json.loads(text)
    assert set(data) == {"from", "to", "timezone", "start", "end", "as_of", "working_hours", "deadline_seconds", "by",
                         "team", "groups", "sentiment", "days"}
    assert (data["from"], data["to"], data["timezone"], data["by"]) == ("2025-11-24", "2025-11-24", "Europe/Amsterdam",
                                                                        "agent")
    assert (data["start"], data["end"]) == ("2025-11-24T00:00:00+01:00", "2025-11-25T00:00:00+01:00")
    assert data["deadline_seconds"] == {"default": 1800, "facebook": 3600} and data["working_hours"] is False
    team = data["team"]
    assert set(team) == {*report.KPI_KEYS, "targets"}
    assert {key: team[key] for key in ("incoming", "replies", "handled", "completed", "open", "runs", "answered",
                                       "within_deadline", "missed_deadline", "not_yet_due")} == {
        "incoming": 10, "replies": 4, "handled": 4, "completed": 1, "open": 3, "runs": 8, "answered": 5,
        "within_deadline": 6, "missed_deadline": 1, "not_yet_due": 1}
    assert (team["response_avg_seconds"], team["response_median_seconds"]) == (1344, 1200)
    assert (team["first_response_avg_seconds"], team["first_response_median_seconds"]) == (1455, 1260)
    assert team["service_level"] == 0.8571 and team["oldest_waiting_since"] == "2025-11-24T19:00:00+01:00"
    assert team["targets"]["service_level"]["status"] == "near"  # 85.7% against 90%
    assert team["targets"]["avg_response"] == {"kpi": "response_avg", "target": 1200, "value": 1344, "status": "off"}
    assert team["targets"]["open_max"]["status"] == "off"  # 3 waiting, at most 2 wanted
    groups = {group["key"]: group for group in data["groups"]}
    assert list(groups) == ["sanne", "tim", None]  # agents by name, the unassigned last
    assert groups["sanne"]["response_avg_seconds"] == 2010
    assert groups["sanne"]["targets"]["avg_response"]["status"] == "ok"  # her own target: 40 minutes
    assert groups["tim"]["targets"]["avg_response"]["status"] == "ok"  # 15 minutes against the team's 20
    assert [d["date"] for d in data["days"]] == ["2025-11-24"] and data["days"][0]["team"] == team


async def test_a_reply_the_customer_never_got_is_no_reply_in_the_report(day):  # noqa: F811
    channel = Channel()
    ingest(day, [msg(3 * HOUR, author="joop")])  # 20:00
    assert await reply(day, channel, "joop", 3 * HOUR + 5 * MINUTE, "tim") == "sent"
    assert await reply(day, channel, "joop", 3 * HOUR + 20 * MINUTE, "sanne") == "sent"
    await undelivered(day, channel, "t:1", at=3 * HOUR + 30 * MINUTE)  # tim's never reached joop
    code, text = run(day, "--date", "2025-11-24", "--by", "agent", "--json")
    assert code == 0
    data = json.loads(text)
    team = data["team"]
    # the day of test_kpi, and joop: one reply (sanne's), his first response 20 minutes, within the deadline
    assert {key: team[key] for key in ("incoming", "replies", "handled", "runs", "answered", "first_response_cases",
                                       "within_deadline", "missed_deadline")} == {
        "incoming": 11, "replies": 5, "handled": 5, "runs": 9, "answered": 6, "first_response_cases": 5,
        "within_deadline": 7, "missed_deadline": 1}
    assert (team["first_response_avg_seconds"], team["first_response_median_seconds"]) == (1404, 1200)
    assert (team["response_avg_seconds"], team["response_median_seconds"], team["service_level"]) == (1320, 1200, 0.875)
    groups = {group["key"]: group for group in data["groups"]}
    assert (groups["tim"]["replies"], groups["tim"]["handled"], groups["tim"]["runs"]) == (3, 3, 3)
    assert (groups["sanne"]["replies"], groups["sanne"]["runs"], groups["sanne"]["response_avg_seconds"]) == (2, 3, 1740)
    code, text = run(day, "--date", "2025-11-24")
    line = next(line for line in text.splitlines() if line.startswith("team "))
    assert line.split() == ["team", "11", "5", "5", "1", "3", "9", "22m00s", "20m00s", "23m24s", "87.5%"]


def test_csv_for_a_range_per_platform_has_a_row_per_day_and_a_total(day):  # noqa: F811
    code, text = run(day, "--from", "2025-11-23", "--to", "2025-11-24", "--by", "platform", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["date"], r["group_by"], r["group"]) for r in rows] == [
        ("2025-11-23", "team", ""), ("2025-11-23", "platform", "x"),
        ("2025-11-24", "team", ""), ("2025-11-24", "platform", "facebook"), ("2025-11-24", "platform", "x"),
        ("2025-11-23/2025-11-24", "team", ""), ("2025-11-23/2025-11-24", "platform", "facebook"),
        ("2025-11-23/2025-11-24", "platform", "x"),
    ]
    assert (rows[0]["incoming"], rows[0]["response_avg_seconds"], rows[0]["service_level"]) == ("1", "1800.0", "1.0")
    assert (rows[3]["incoming"], rows[3]["service_level"], rows[3]["oldest_waiting_since"]) == (
        "2", "0.5", "2025-11-24T19:00:00+01:00")
    assert (rows[5]["incoming"], rows[5]["runs"], rows[5]["first_response_cases"]) == ("11", "9", "5")


def test_text_for_people(day):  # noqa: F811
    code, text = run(day, "--date", "2025-11-24", "--by", "label")
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == "KPIs 2025-11-24 (Europe/Amsterdam), as of 2025-11-25 00:00"
    team = next(line for line in lines if line.startswith("team "))
    assert team.split() == ["team", "10", "4", "4", "1", "3", "8", "22m24s", "20m00s", "24m15s", "85.7%"]
    assert any(line.split()[:2] == ["Storing", "2"] for line in lines)
    assert any(line.strip().startswith("(no label)") for line in lines)
    assert "! service_level: 85.7% (target 90.0%)" in lines and "✗ open_max: 3 (target 2)" in lines


def test_today_and_yesterday_follow_the_configured_time_zone(day):  # noqa: F811
    _, text = run(day, "--date", "yesterday", "--json", now=T0 + 7 * HOUR + 60)  # 00:01 on the 25th in Amsterdam
    assert json.loads(text)["from"] == "2025-11-24"
    _, text = run(day, "--json", now=T0 + 6 * HOUR)  # 23:00 on the 24th; 22:00 UTC
    data = json.loads(text)
    assert data["from"] == "2025-11-24" and data["as_of"] == "2025-11-24T23:00:00+01:00"


def test_hidden_agent_comparison_shows_only_your_own_row(day, capsys):  # noqa: F811
    raw = {"kpi": {"timezone": "Europe/Amsterdam", "hide_agent_comparison": True},
           "team": {"agents": [{"id": "sanne", "role": "lead"}, {"id": "tim"}]}}
    _, text = run(day, "--by", "agent", "--date", "2025-11-24", "--json", raw=raw, agent="tim")
    assert [group["key"] for group in json.loads(text)["groups"]] == ["tim"]
    assert "per-agent comparison is hidden" in capsys.readouterr().err
    _, text = run(day, "--by", "agent", "--date", "2025-11-24", "--json", raw=raw, agent="sanne")
    assert [group["key"] for group in json.loads(text)["groups"]] == ["sanne", "tim", None]


def test_a_label_that_looks_like_a_formula_stays_text_in_csv(day):  # noqa: F811
    [case] = [c["id"] for c in day.list_cases() if c["author_id"] == "dirk"]
    day.set_labels(case, add=["=HYPERLINK(\"http://evil\")"])
    _, text = run(day, "--date", "2025-11-24", "--by", "label", "--csv")
    groups = [row["group"] for row in csv.DictReader(io.StringIO(text))]
    assert "'=HYPERLINK(\"http://evil\")" in groups and "=HYPERLINK(\"http://evil\")" not in groups


@pytest.mark.parametrize(("argv", "raw", "error"), [
    (("--from", "2025-11-24", "--to", "2025-11-20"), RAW, "--to 2025-11-20 is before --from 2025-11-24"),
    (("--to", "2025-11-20"), RAW, "--to needs --from"),
    (("--from", "2024-01-01", "--to", "2025-11-20"), RAW, "at most 366 days"),
    ((), {"kpi": {"timezone": "Nowhere/Land"}}, "kpi.timezone: 'Nowhere/Land' is not a time zone"),
])
def test_bad_input_is_a_plain_error(store, capsys, argv, raw, error):
    code, text = run(store, *argv, raw=raw)
    assert (code, text) == (2, "")
    assert error in capsys.readouterr().err


def test_a_day_that_is_not_a_date_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        parse("--date", "24-11-2025")
    assert "'24-11-2025' is not a day" in capsys.readouterr().err
