"""KPI definitions on exact timelines: every number to the second, from the store's aggregates."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import HOUR, MINUTE, T0, msg

from webcare_tui.cases import CaseService
from webcare_tui.config import Account
from webcare_tui.connectors.base import Connector, ConnectorError, DeliveryFailure, FetchResult, SentReply
from webcare_tui.ingest import ingest
from webcare_tui.kpi import (
    KpiConfigError,
    Kpis,
    KpiSettings,
    Run,
    Schedule,
    apply_runs,
    heatmap,
    heatmap_range,
    hourly,
    judge,
    period_kpis,
    settings_from_config,
    target_status,
)
from webcare_tui.outbox import Outbox, OutboxWorker
from webcare_tui.store import CaseFilter
from webcare_tui.sync import SyncRunner

AMS = ZoneInfo("Europe/Amsterdam")
D = date(2025, 11, 24)  # T0 is 17:00 on this Monday in Amsterdam; the day ends at T0 + 7h


def case_of(store, author: str) -> int:
    [row] = store.list_cases(CaseFilter(author=author))
    return row["id"]


@pytest.fixture
def day(store):
    """One day of the team, with every kind of run the definitions distinguish."""
    ingest(store, [
        msg(-18 * HOUR, author="gert"),  # 23:00 the day before: gert's first run is not D's
        msg(-17 * HOUR - 30 * MINUTE, "out", author="gert", agent="tim"),
        msg(0, author="anna"),  # 17:00, answered in 10 minutes
        msg(10 * MINUTE, "out", author="anna", agent="tim"),
        msg(30 * MINUTE, author="eva"),  # a run of three, answered once, 20 minutes after its first
        msg(32 * MINUTE, author="eva"),
        msg(35 * MINUTE, author="eva"),
        msg(50 * MINUTE, "out", author="eva", agent="tim"),
        msg(HOUR, author="bram", platform="facebook"),  # 45 minutes: within facebook's 1h deadline
        msg(HOUR + 45 * MINUTE, "out", author="bram", platform="facebook", agent="sanne"),
        msg(2 * HOUR, author="cees", platform="facebook"),  # never answered: missed
        msg(4 * HOUR, author="hans"),  # closed without a reply after 10 minutes
        msg(5 * HOUR, author="gert"),  # gert's second run, answered in 15 minutes
        msg(5 * HOUR + 15 * MINUTE, "out", author="gert", agent="tim"),
        msg(6 * HOUR + 40 * MINUTE, author="fred"),  # 23:40, answered at 00:02: spans midnight
        msg(7 * HOUR + 2 * MINUTE, "out", author="fred", agent="sanne"),
        msg(6 * HOUR + 45 * MINUTE, author="dirk"),  # 23:45, unanswered, due 00:15: not yet due at 00:05
    ])
    CaseService(store, clock=lambda: T0 + 4 * HOUR + 10 * MINUTE).set_status(case_of(store, "hans"), "closed", "tim")
    store.set_labels(case_of(store, "anna"), add=["Storing"])
    store.set_labels(case_of(store, "bram"), add=["Storing", "Factuur"])
    return store


SETTINGS = KpiSettings(zone=AMS, deadline=30 * MINUTE, deadlines={"facebook": HOUR})
NOW = T0 + 7 * HOUR + 5 * MINUTE  # 00:05 the next day


def test_a_day_for_the_team_to_the_second(day):
    kpis = period_kpis(day, SETTINGS, D, D, NOW)
    assert (kpis.start, kpis.end, kpis.as_of) == (T0 - 17 * HOUR, T0 + 7 * HOUR, T0 + 7 * HOUR)
    team = kpis.team
    assert (team.incoming, team.replies, team.handled, team.completed) == (10, 4, 4, 1)
    # waiting at 23:59:59: cees, fred (answered after midnight) and dirk; cees the longest
    assert (team.open, team.oldest_waiting_since) == (3, T0 + 2 * HOUR)
    assert (team.runs, team.answered) == (8, 5)
    # anna 10m, eva 20m, bram 45m, gert 15m, fred 22m
    assert team.response_avg == (600 + 1200 + 2700 + 900 + 1320) / 5 == 1344
    assert team.response_median == 1200
    # first responses: anna, eva, bram, fred (gert's first run was the day before)
    assert (team.first_response_cases, team.first_response_avg, team.first_response_median) == (4, 1455, 1260)
    # within: anna, eva, bram (facebook: 1h), gert, fred, hans (closed); missed: cees; not yet due: dirk
    assert (team.within_deadline, team.missed_deadline, team.not_yet_due) == (6, 1, 1)
    assert team.service_level == pytest.approx(6 / 7)


def test_a_day_per_agent_platform_and_label(day):
    kpis = period_kpis(day, SETTINGS, D, D, NOW)
    tim, sanne, nobody = kpis.by_agent["tim"], kpis.by_agent["sanne"], kpis.by_agent[None]
    assert (tim.replies, tim.handled, tim.incoming, tim.runs, tim.response_avg, tim.service_level) == (3, 3, 5, 3, 900, 1)
    assert (sanne.replies, sanne.handled, sanne.incoming, sanne.open) == (1, 1, 2, 1)  # fred is hers now
    assert (sanne.response_avg, sanne.response_median, sanne.service_level) == (2010, 2010, 1)
    assert (nobody.incoming, nobody.open, nobody.runs, nobody.within_deadline, nobody.missed_deadline,
            nobody.not_yet_due, nobody.answered) == (3, 2, 3, 1, 1, 1, 0)
    facebook, x = kpis.by_platform["facebook"], kpis.by_platform["x"]
    assert (facebook.incoming, facebook.replies, facebook.open, facebook.service_level) == (2, 1, 1, 0.5)
    assert (x.incoming, x.replies, x.runs, x.not_yet_due, x.service_level) == (8, 3, 6, 1, 1)
    storing, factuur = kpis.by_label["Storing"], kpis.by_label["Factuur"]
    assert (storing.incoming, storing.replies, storing.handled, storing.runs, storing.response_avg) == (2, 2, 2, 2, 1650)
    assert (factuur.incoming, factuur.runs, factuur.response_avg) == (1, 1, 2700)
    assert kpis.by_label[None].incoming == 8 and kpis.by_label[None].runs == 6



def test_sentiment_shares_count_scored_inbound_messages(day):
    # the scores ingest gave are replaced by known ones (the scorer is tested on its own)
    day.conn.execute("UPDATE messages SET sentiment = NULL")
    for author, score in (("anna", -0.6), ("bram", 0.0), ("cees", 0.4), ("eva", 0.05)):
        day.conn.execute("UPDATE messages SET sentiment = ? WHERE case_id = ? AND direction = 'in'",
                         (score, case_of(day, author)))
    kpis = period_kpis(day, SETTINGS, D, D, NOW)
    # eva's three messages score 0.05: neutral (the split is below -0.05 and above 0.05)
    assert kpis.sentiment == {"negative": 1, "neutral": 4, "positive": 1, "unscored": 4}


def test_the_day_before_and_after(day):
    before = period_kpis(day, SETTINGS, date(2025, 11, 23), date(2025, 11, 23), NOW)
    assert (before.team.incoming, before.team.replies, before.team.runs, before.team.response_avg) == (1, 1, 1, 1800)
    assert before.team.first_response_avg == 1800 and before.team.missed_deadline == 0 and before.team.open == 0
    after = period_kpis(day, SETTINGS, date(2025, 11, 25), date(2025, 11, 25), NOW)
    assert (after.team.replies, after.team.runs, after.team.open) == (1, 0, 2)  # cees and dirk still wait
    assert after.team.service_level is None and after.team.response_avg is None


def test_a_range_of_days_counts_runs_once(day):
    both = period_kpis(day, SETTINGS, date(2025, 11, 23), D, NOW)
    assert (both.team.incoming, both.team.replies, both.team.runs, both.team.answered) == (11, 5, 9, 6)
    assert both.team.first_response_cases == 5


def test_today_so_far_uses_the_cases_as_they_are(store):
    ingest(store, [
        msg(0, author="anna"), msg(10 * MINUTE, "out", author="anna", agent="tim"),
        msg(HOUR, author="bram"),  # due at 18:30: missed by 19:00
        msg(HOUR + 40 * MINUTE, author="cees"),  # due in 10 minutes: left out
    ])
    kpis = period_kpis(store, SETTINGS, D, D, T0 + 2 * HOUR)
    assert kpis.as_of == T0 + 2 * HOUR
    team = kpis.team
    assert (team.open, team.oldest_waiting_since) == (2, T0 + HOUR)
    assert (team.within_deadline, team.missed_deadline, team.not_yet_due, team.service_level) == (1, 1, 1, 0.5)
    assert team.response_avg == 600
    later = period_kpis(store, SETTINGS, D, D, T0 + 30 * HOUR)  # the day is over; no case has a label
    assert (later.team.open, later.by_label[None].open, later.by_agent[None].open) == (2, 2, 2)
    assert (later.team.missed_deadline, later.team.not_yet_due) == (2, 0)


def test_hourly_counts_and_heatmap(day):
    start, end = SETTINGS.day_bounds(D)
    hours = hourly(day.kpi_inbound_buckets(start, end, 900), SETTINGS, D)
    assert hours[17] == 4 and hours[18] == 1 and hours[19] == 1 and hours[21] == 1 and hours[22] == 1
    assert hours[23] == 2 and sum(hours) == 10
    grid = heatmap(day.kpi_inbound_buckets(*heatmap_range(SETTINGS, D), 900), SETTINGS)
    assert grid[0][17] == 4 and grid[6][23] == 1  # Monday 17h; Sunday 23:00 (gert, the day before)
    assert sum(map(sum, grid)) == 11


def test_a_dst_day_has_23_hours():
    start, end = SETTINGS.day_bounds(date(2026, 3, 29))
    assert end - start == 23 * HOUR
    assert datetime.fromtimestamp(start, AMS).hour == 0


# -- working hours ------------------------------------------------------------


def local(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=AMS).timestamp())


def test_working_hours_count_only_working_time():
    week = Schedule.parse("mon-fri 09:00-17:00", AMS, "kpi.working_hours")
    friday, monday = local(2025, 11, 21, 16, 50), local(2025, 11, 24, 9, 5)
    assert week.working_seconds(friday, monday) == 15 * MINUTE
    assert week.add(friday, 30 * MINUTE) == local(2025, 11, 24, 9, 20)
    assert week.add(local(2025, 11, 22, 12, 0), 60) == local(2025, 11, 24, 9, 1)  # Saturday: from Monday 9:00
    settings = KpiSettings(zone=AMS, team_hours=week)
    kpis = Kpis()
    apply_runs(kpis, [Run(1, "x", friday, monday, "tim"), Run(2, "x", local(2025, 11, 24, 16, 45))], settings,
               now=local(2025, 11, 24, 20, 0))
    assert (kpis.response_avg, kpis.within_deadline, kpis.not_yet_due, kpis.missed_deadline) == (900, 1, 1, 0)


def test_an_agents_own_hours_win_over_the_teams():
    settings = settings_from_config({
        "kpi": {"timezone": "Europe/Amsterdam", "working_hours": "mon-fri 09:00-17:00"},
        "team": {"agents": [{"id": "jeroen", "hours": "mon-fri 08:30-12:00, mon-fri 13:00-17:00"}]},
    })
    start, answered = local(2025, 11, 24, 11, 50), local(2025, 11, 24, 13, 20)
    jeroen, team = Kpis(), Kpis()
    apply_runs(jeroen, [Run(1, "x", start, answered, "jeroen")], settings, now=answered)
    apply_runs(team, [Run(1, "x", start, answered, "tim")], settings, now=answered)
    assert (jeroen.response_avg, jeroen.service_level) == (30 * MINUTE, 1)  # lunch is not working time
    assert (team.response_avg, team.service_level) == (90 * MINUTE, 0)


@pytest.mark.parametrize("text", ["mon-fri 17:00-09:00", "funday 09:00-10:00", "mon 9-17", "mon 09:00-24:30", ""])
def test_bad_working_hours_name_the_key(text):
    with pytest.raises(KpiConfigError, match="kpi.working_hours"):
        settings_from_config({"kpi": {"working_hours": text}})


# -- settings and targets -----------------------------------------------------


def test_settings_from_the_config_file():
    settings = settings_from_config({
        "kpi": {"timezone": "Europe/Amsterdam", "deadline": "20m", "deadlines": {"whatsapp": "2h"},
                "targets": {"service_level": 0.9, "avg_response": "20m", "open_max": 25},
                "agent_targets": {"noah": {"avg_response": "30m"}}, "hide_agent_comparison": True},
        "team": {"agents": [{"id": "sanne", "role": "lead"}, {"id": "noah"}]},
    })
    assert (settings.deadline_for("x"), settings.deadline_for("whatsapp")) == (1200, 7200)
    assert settings.targets_for("noah") == {"service_level": 0.9, "avg_response": 1800, "open_max": 25}
    assert settings.targets_for("tim")["avg_response"] == 1200
    assert settings.sees_agent_comparison("sanne") and not settings.sees_agent_comparison("noah")
    assert not settings.working_hours


@pytest.mark.parametrize(("raw", "error"), [
    ({"kpi": {"timezone": "Mars/Olympus"}}, "kpi.timezone: 'Mars/Olympus' is not a time zone"),
    ({"kpi": {"deadline": "soon"}}, "kpi.deadline"),
    ({"kpi": {"deadlines": {"x": "0m"}}}, "kpi.deadlines.x: must be longer than 0"),
    ({"kpi": {"targets": {"service_level": 90}}}, "kpi.targets.service_level: give a share from 0 to 1"),
    ({"kpi": {"targets": {"happiness": 1}}}, "kpi.targets.happiness: unknown target"),
    ({"kpi": {"colour": "red"}}, "kpi.colour: unknown key"),
    ({"kpi": {"hide_agent_comparison": "yes"}}, "kpi.hide_agent_comparison: give true or false"),
    ({"team": {"agents": [{"name": "nobody"}]}}, "every agent needs an id"),
])
def test_bad_settings_are_plain_errors(raw, error):
    with pytest.raises(KpiConfigError, match=error):
        settings_from_config(raw)


def test_targets_are_on_near_or_off():
    assert judge(0.92, 0.9, "min") == "ok" and judge(0.85, 0.9, "min") == "near" and judge(0.5, 0.9, "min") == "off"
    assert judge(1200, 1200, "max") == "ok" and judge(1300, 1200, "max") == "near" and judge(1400, 1200, "max") == "off"
    assert judge(None, 1200, "max") is None
    kpis = Kpis(open=30, service_level=0.95, response_avg=None)
    status = target_status(kpis, {"open_max": 25, "service_level": 0.9, "avg_response": 1200})
    assert status["open_max"] == {"kpi": "open", "target": 25, "value": 30, "status": "off"}
    assert status["service_level"]["status"] == "ok" and status["avg_response"]["status"] is None


def test_open_at_the_end_of_a_past_day_counts_cases_answered_or_closed_since(day):
    day.set_labels(case_of(day, "fred"), add=["Nacht"])
    CaseService(day, clock=lambda: T0 + 7 * HOUR + 10 * MINUTE).set_status(case_of(day, "dirk"), "closed", "tim")
    kpis = period_kpis(day, SETTINGS, D, D, NOW + HOUR)
    # cees still waits; fred was answered and dirk closed after midnight: all three waited at 23:59:59
    assert (kpis.team.open, kpis.team.oldest_waiting_since) == (3, T0 + 2 * HOUR)
    assert (kpis.by_label["Nacht"].open, kpis.by_label["Nacht"].oldest_waiting_since) == (1, T0 + 6 * HOUR + 40 * MINUTE)
    assert kpis.by_label[None].open == 2 and kpis.by_label["Storing"].open == 0
    assert (kpis.by_agent["sanne"].open, kpis.by_agent[None].open) == (1, 2)
    assert (kpis.by_platform["facebook"].open, kpis.by_platform["x"].open) == (1, 2)
    today = period_kpis(day, SETTINGS, date(2025, 11, 25), date(2025, 11, 25), NOW + HOUR)
    assert (today.team.open, today.team.completed) == (1, 1)  # only cees waits now; dirk was completed today


# -- replies the customer never got ---------------------------------------------


class Channel(Connector):
    """The platform of brand-x as the outbox and the sync meet it: it takes our replies ("t:1", "t:2", …),
    refuses one at once on cue, and reports those its channel could not deliver after taking them
    (Chatwoot's `message.status = failed`) at the next sync."""

    platform = "x"

    def __init__(self) -> None:
        super().__init__(Account("brand-x", "x"))
        self.ids = itertools.count(1)
        self.refuse: ConnectorError | None = None
        self.undelivered: list[DeliveryFailure] = []

    async def fetch(self, cursor):
        failed, self.undelivered = self.undelivered, []
        return FetchResult([], cursor="c", failed_sends=failed)

    async def send_reply(self, reply):
        if self.refuse is not None:
            raise self.refuse
        return SentReply(f"t:{next(self.ids)}", T0)


async def reply(store, channel: Channel, author: str, at: int, agent: str) -> str:
    """An agent's reply to `author` at T0 + `at`, through the outbox; returns its state after delivery."""
    outbox_id = Outbox(store, clock=lambda: T0 + at).queue_reply(case_of(store, author), f"Antwoord van {agent}",
                                                                 agent=agent)
    await OutboxWorker(store, {"brand-x": channel}, clock=lambda: T0 + at).deliver_due()
    return store.outbox_row(outbox_id)["state"]


async def undelivered(store, channel: Channel, *remote_ids: str, at: int) -> None:
    """The platform reports these sent replies undelivered; the sync at T0 + `at` fails their outbox rows."""
    channel.undelivered = [DeliveryFailure(remote_id, "X could not deliver the message") for remote_id in remote_ids]
    await SyncRunner(store, {"brand-x": channel}, clock=lambda: T0 + at).sync_once()
    assert {row["remote_id"] for row in store.outbox_in_state("failed")} >= set(remote_ids)


async def test_a_reply_that_later_failed_answers_nothing(store):
    channel = Channel()
    ingest(store, [msg(0, author="anna")])
    assert await reply(store, channel, "anna", 10 * MINUTE, "tim") == "sent"
    assert period_kpis(store, SETTINGS, D, D, NOW).team.first_response_avg == 600  # as it was sent
    await undelivered(store, channel, "t:1", at=20 * MINUTE)
    kpis = period_kpis(store, SETTINGS, D, D, NOW)
    team = kpis.team
    assert (team.incoming, team.replies, team.handled) == (1, 0, 0)
    assert (team.runs, team.answered, team.response_avg, team.response_median) == (1, 0, None, None)
    assert (team.first_response_cases, team.first_response_avg, team.first_response_median) == (0, None, None)
    assert (team.within_deadline, team.missed_deadline, team.service_level) == (0, 1, 0.0)  # due at 17:30: missed
    tim = kpis.by_agent["tim"]  # the case's owner (he replied): the run waits on him
    assert (tim.replies, tim.handled, tim.runs, tim.answered, tim.first_response_cases) == (0, 0, 1, 0, 0)


async def test_a_later_delivered_reply_gives_the_first_response_from_its_own_time(store):
    channel = Channel()
    ingest(store, [msg(0, author="anna")])
    assert await reply(store, channel, "anna", 10 * MINUTE, "tim") == "sent"
    assert await reply(store, channel, "anna", 25 * MINUTE, "sanne") == "sent"
    await undelivered(store, channel, "t:1", at=40 * MINUTE)  # the first never reached anna
    kpis = period_kpis(store, SETTINGS, D, D, NOW)
    team = kpis.team
    assert (team.replies, team.handled, team.runs, team.answered) == (1, 1, 1, 1)
    assert (team.first_response_cases, team.first_response_avg, team.first_response_median) == (1, 1500, 1500)
    assert (team.response_avg, team.within_deadline, team.service_level) == (1500, 1, 1.0)
    tim, sanne = kpis.by_agent["tim"], kpis.by_agent["sanne"]
    assert (tim.replies, tim.handled, tim.runs) == (0, 0, 0)  # the run is sanne's: she answered it
    assert (sanne.replies, sanne.handled, sanne.runs, sanne.first_response_avg) == (1, 1, 1, 1500)
    assert kpis.by_platform["x"].first_response_avg == 1500 and kpis.by_label[None].first_response_avg == 1500


async def test_a_reply_the_outbox_failed_for_good_leaves_the_customers_messages_one_run(store):
    channel = Channel()
    ingest(store, [msg(0, author="anna"), msg(0, author="bram"), msg(-HOUR, author="cees")])
    channel.refuse = ConnectorError("You are not allowed to reply to this conversation", retryable=False)
    assert await reply(store, channel, "anna", 10 * MINUTE, "tim") == "failed"
    # a failed reply draft (no message in any case) is among the failed rows too: it changes nothing
    with store.transaction():
        draft = store.add_outbox("draft", case_of(store, "cees"), "brand-x", "x", "reply", {"message_id": None}, T0)
        store.update_outbox(draft, T0, state="failed")
    channel.refuse = None
    assert await reply(store, channel, "bram", 5 * MINUTE, "tim") == "sent"
    # anna writes again, and a teammate answers her in the helpdesk (synced in: no outbox row of ours)
    ingest(store, [msg(20 * MINUTE, author="anna"), msg(40 * MINUTE, "out", author="anna", agent="sanne")])
    kpis = period_kpis(store, SETTINGS, D, D, NOW)
    team = kpis.team
    assert (team.incoming, team.replies, team.handled) == (4, 2, 2)
    # anna's two messages are one run, from 17:00, answered at 17:40; bram's in 5 minutes; cees waits
    assert (team.runs, team.answered, team.response_avg) == (3, 2, (2400 + 300) / 2)
    assert (team.first_response_cases, team.first_response_avg) == (2, (2400 + 300) / 2)
    assert (team.within_deadline, team.missed_deadline) == (1, 2)  # anna's run took 40 minutes
    assert (kpis.by_agent["tim"].replies, kpis.by_agent["sanne"].replies, kpis.by_agent["sanne"].runs) == (1, 1, 1)
