"""Routing rules: conditions, first/all sets, round-robin over who is at work, and file:line errors."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import T0, msg

from webcare_tui.case_rules import open_case
from webcare_tui.kpi import Schedule
from webcare_tui.rules import Router, load_rules
from webcare_tui.store import CaseFilter

AMS = ZoneInfo("Europe/Amsterdam")
WEDNESDAY_10 = datetime(2025, 11, 26, 10, 0, tzinfo=AMS).timestamp()
WEDNESDAY_20 = datetime(2025, 11, 26, 20, 0, tzinfo=AMS).timestamp()

CONFIG = '''
[kpi]
timezone = "Europe/Amsterdam"

[team]
agents = [
  { id = "jeroen", name = "Jeroen", team = "hypotheken", hours = "mon-fri 08:30-17:00" },
  { id = "fleur", name = "Fleur", team = "hypotheken", hours = "mon-fri 08:30-17:00" },
  { id = "nina", name = "Nina", team = "hypotheken", hours = "sat-sun 10:00-18:00, mon-fri 17:00-22:00" },
  { id = "sanne", name = "Sanne", role = "lead" },
]

[rules]
brand_names = ["Bol", "bol.com"]
brand_handles = ["@bol"]
sets = { triage = "first" }

[[rule]]
name = "Pers"
set = "triage"
author_type = "press"
priority = 3
view = "Pers"

[[rule]]
name = "Hypotheken"
set = "triage"
words = ["hypotheek", "mortgage", "Baufinanzierung"]
assign_team = "hypotheken"
labels = ["Hypotheken", "Vraag"]

[[rule]]
name = "Boos en groot"
sentiment = "negative"
followers_min = 10000
priority = 2
labels = ["Escalatie"]

[[rule]]
name = "Proactief"
mention = "proactive"
platform = ["x", "mastodon"]
labels = ["Proactief"]
'''


def book(text: str = CONFIG):
    return load_rules(tomllib.loads(text), text, "config.toml")


def fired(text: str, **fields) -> list[str]:
    message = replace(msg(0, text=text), **fields)
    return [rule.name for rule in book().firing(message)]


def test_the_example_rules_load_without_errors():
    loaded = book()
    assert loaded.errors == []
    assert [r.name for r in loaded.rules] == ["Pers", "Hypotheken", "Boos en groot", "Proactief"]
    assert loaded.views() == ["Pers"]


@pytest.mark.parametrize(("text", "expected"), [
    ("Vraag over mijn hypotheek!", ["Hypotheken"]),
    ("HYPOTHEEK-rente omhoog?", ["Hypotheken"]),  # any case; a hyphen is a word boundary
    ("hypotheekadviseur gezocht", []),  # a word inside another word is not the word
    ("Frage zur Baufinanzierung", ["Hypotheken"]),
    ("my mortgage application", ["Hypotheken"]),
])
def test_words_match_whole_words_in_any_case_and_language(text, expected):
    assert fired(text) == expected


PHRASES = ["storing", "geen internet", "bol.com", "@bol", "Störung", "サポート", ".nl", ":-("]


@pytest.mark.parametrize(("text", "expected"), [
    ("Storing in Almere?", True),
    ("al uren GEEN  internet", False),  # two spaces: not the phrase
    ("al uren geen internet!", True),
    ("geen internetverbinding", False),  # the phrase inside a longer word
    ("besteld bij Bol.com gisteren", True),
    ("www.bol.comfort.nl", False),
    ("@bol help", True),
    ("@bolletje", False),
    ("Eine STÖRUNG seit heute", True),
    ("サポート お願いします", True),
    ("onderhoud gepland, geen storingen", False),
    ("kijk op bol.nl", False),  # ".nl" must start after a non-word character
    ("kijk op www .nl", True),
    ("weer niks :-(", True),  # a phrase without a word: always searched
])
def test_phrases_find_whole_words_exactly_as_the_regex_does(text, expected):
    from webcare_tui.rules import Phrases, phrase_pattern, words_of

    folded = text.casefold()
    assert Phrases.of(PHRASES).found_in(folded, words_of(folded)) is expected
    assert (phrase_pattern(PHRASES).search(folded) is not None) is expected


def test_first_match_sets_stop_and_all_match_sets_go_on():
    loaded = book()
    press = replace(msg(0, text="Vraag over de hypotheek voor een artikel"), sentiment=-0.8)
    names = [rule.name for rule in loaded.firing(press, "press", 50_000)]
    assert names == ["Pers", "Boos en groot"]  # triage stopped at Pers; the default set goes on


def test_sentiment_and_follower_conditions_need_known_values():
    loaded = book()
    angry = replace(msg(0, text="Weer geen levering!!"), sentiment=-0.7)
    assert [r.name for r in loaded.firing(angry, "customer", 25_000)] == ["Boos en groot"]
    assert loaded.firing(angry, "customer", 9_999) == []
    assert loaded.firing(angry, "customer", None) == []  # unknown followers never match
    assert loaded.firing(replace(angry, sentiment=None), "customer", 25_000) == []


def test_proactive_means_named_without_a_mention():
    loaded = book()
    names = lambda text, **kw: [r.name for r in loaded.firing(replace(msg(0, text=text), **kw))]  # noqa: E731
    assert names("Bestelling via bol.com komt niet aan") == ["Proactief"]
    assert names("@bol mijn bestelling komt niet aan") == []  # mentioned: direct, not proactive
    assert names("bol.com is traag", visibility="private") == []  # a DM is written to us
    assert names("bol.com is traag", platform="facebook") == []
    assert names("Ik ga bollen planten") == []


def test_outbound_messages_are_never_routed():
    assert book().firing(msg(0, "out", text="Over je hypotheek: ^TR")) == []


def test_round_robin_over_the_team_skips_who_is_off_work():
    now = [WEDNESDAY_10]
    router = Router(book(), last_assigned=lambda team: None, clock=lambda: now[0])
    assert [router.next_in("hypotheken") for _ in range(3)] == ["jeroen", "fleur", "jeroen"]
    now[0] = WEDNESDAY_20  # evening: only Nina works
    assert [router.next_in("hypotheken") for _ in range(2)] == ["nina", "nina"]
    now[0] = datetime(2025, 11, 26, 23, 30, tzinfo=AMS).timestamp()
    assert router.next_in("hypotheken") is None


def test_the_turn_survives_a_restart():
    router = Router(book(), last_assigned=lambda team: "jeroen", clock=lambda: WEDNESDAY_10)
    assert router.next_in("hypotheken") == "fleur"


def test_route_assigns_labels_raises_priority_and_names_the_rule():
    router = Router(book(), last_assigned=lambda team: None, clock=lambda: WEDNESDAY_10)
    case = open_case(1, 1, "x", "brand-x", T0)
    routing = router.route(msg(0, text="Mijn hypotheek loopt af"), case, "customer", 120)
    assert (case.owner, case.status, case.team) == ("jeroen", "open", "hypotheken")
    assert routing.labels == {"Hypotheken", "Vraag"}
    assert [(e.actor, e.kind) for e in routing.events] == [
        ("rule:Hypotheken", "labels"), ("rule:Hypotheken", "team"), ("rule:Hypotheken", "assigned"),
        ("rule:Hypotheken", "status")]
    assert routing.events[1].detail == {"from": None, "to": "hypotheken"}
    again = router.route(msg(60, text="En de hypotheek van mijn buurman?"), case, "customer", 120,
                         has_labels=lambda label: True)
    assert case.owner == "jeroen" and again.events == []  # an owned case stays with its owner, and its team


def test_nobody_at_work_leaves_the_case_unassigned_and_says_why():
    router = Router(book(), last_assigned=lambda team: None,
                    clock=lambda: datetime(2025, 11, 26, 23, 30, tzinfo=AMS).timestamp())
    case = open_case(1, 1, "x", "brand-x", T0)
    routing = router.route(msg(0, text="hypotheek"), case, "customer", 1)
    assert case.owner is None and case.status == "new"
    assert case.team == "hypotheken"  # the team's case all the same: whoever of it starts first takes it
    assert any(e.kind == "not assigned" and "nobody" in e.detail["reason"] for e in routing.events)


def test_errors_name_the_line_and_the_valid_rules_still_load():
    text = CONFIG + '''
[[rule]]
name = "Kapot"
sentiment = "boos"
assign_team = "marketing"
colour = "red"
labels = ["x"]

[[rule]]
name = "Niks"
platform = "x"
'''
    loaded = book(text)
    lines = text.splitlines()
    kapot = lines.index('name = "Kapot"') + 1
    assert f"config.toml:{kapot + 1}: rule 'Kapot': sentiment 'boos' is not one of negative, neutral, positive" \
        in loaded.errors
    assert any(e.startswith(f"config.toml:{kapot + 2}:") and "no agent is in team 'marketing'" in e
               for e in loaded.errors)
    assert any(e.startswith(f"config.toml:{kapot + 3}:") and "unknown condition or action 'colour'" in e
               for e in loaded.errors)
    assert any("rule 'Niks': does nothing" in e for e in loaded.errors)
    assert [r.name for r in loaded.rules] == ["Pers", "Hypotheken", "Boos en groot", "Proactief"]


def test_who_is_at_work_in_the_teams_time_zone():
    hours = Schedule.parse("mon-fri 08:30-17:00, sat 10:00-14:00", AMS, "team agent 'jeroen': hours")
    assert hours.is_working(WEDNESDAY_10) and not hours.is_working(WEDNESDAY_20)
    assert hours.is_working(datetime(2025, 11, 29, 11, 0, tzinfo=AMS).timestamp())  # Saturday
    assert not hours.is_working(datetime(2025, 11, 30, 11, 0, tzinfo=AMS).timestamp())  # Sunday
    assert not hours.is_working(datetime(2025, 11, 26, 17, 0, tzinfo=AMS).timestamp())  # the end is free
    broken = book(CONFIG.replace('hours = "mon-fri 08:30-17:00" },\n  { id = "fleur"',
                                 'hours = "weekdays 9-5" },\n  { id = "fleur"'))
    assert any("team agent 'jeroen': hours: 'weekdays 9-5' is not like" in error for error in broken.errors)


def test_rules_check_and_test_from_the_command_line(tmp_path, capsys):
    import json

    from webcare_tui.cli import main

    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    db = str(tmp_path / "w.db")
    assert main(["--config", str(config), "--db", db, "rules", "check"]) == 0
    assert "4 rules valid, 0 errors" in capsys.readouterr().out
    message = {"platform": "x", "account": "brand-x", "external_id": "1", "author_id": "u1", "author_handle": "@k",
               "author_name": "K", "author_followers": 40000, "text": "Hypotheek?? Schandalig!",
               "created_at": "2025-11-26T10:00:00+01:00", "direction": "in", "visibility": "public"}
    assert main(["--config", str(config), "--db", db, "rules", "test", json.dumps(message)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Hypotheken (") and "assign team hypotheken (round-robin), +Hypotheken +Vraag" in out
    config.write_text(CONFIG + '\n[[rule]]\nname = "Fout"\nfollowers_min = -3\nlabels = ["x"]\n', encoding="utf-8")
    assert main(["--config", str(config), "--db", db, "rules", "check"]) == 1
    err = capsys.readouterr().err
    assert f"config.toml:{len(CONFIG.splitlines()) + 4}: rule 'Fout': followers_min must be a whole number" in err


def test_rules_route_at_ingest_and_the_case_trail_names_them(store):
    from webcare_tui.ingest import ingest

    loaded = book()
    router = Router(loaded, store.last_rule_assignment, clock=lambda: WEDNESDAY_10)
    ingest(store, [msg(0, author="kees", text="Vraag over mijn hypotheek"),
                   msg(60, author="kees", text="Nog een hypotheek vraag"),
                   msg(120, author="lot", text="Ook een hypotheek!")], router=router)
    kees, lot = sorted(store.list_cases(), key=lambda c: c["id"])
    assert (kees["owner"], kees["status"], kees["labels"]) == ("jeroen", "open", ["Hypotheken", "Vraag"])
    assert lot["owner"] == "fleur"  # the next in turn
    trail = [(e["actor"], e["kind"]) for e in store.case_events(kees["id"]) if e["actor"].startswith("rule:")]
    assert trail == [("rule:Hypotheken", "labels"), ("rule:Hypotheken", "team"), ("rule:Hypotheken", "assigned"),
                     ("rule:Hypotheken", "status")]
    assert [store.get_case(case["id"])["team"] for case in (kees, lot)] == ["hypotheken", "hypotheken"]
    restarted = Router(loaded, store.last_rule_assignment, clock=lambda: WEDNESDAY_10)
    ingest(store, [msg(180, author="mo", text="hypotheek")], router=restarted)
    assert store.list_cases(CaseFilter(author="mo"))[0]["owner"] == "jeroen"  # the turn went on after fleur


def test_an_import_routes_with_the_configured_rules(tmp_path, capsys):
    import json

    from webcare_tui.cli import main
    from webcare_tui.store import Store

    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    lines = [{"platform": "x", "account": "brand-x", "external_id": str(n), "author_id": f"u{n}",
              "author_handle": f"@u{n}", "author_name": "U", "author_type": "press" if n == 2 else None,
              "text": text, "created_at": f"2025-11-26T09:0{n}:00+01:00", "direction": "in", "visibility": "public"}
             for n, text in enumerate(["Iets over bol.com", "Goedemorgen", "Persvraag over de hypotheek"])]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps({k: v for k, v in line.items() if v is not None}) for line in lines))
    assert main(["--config", str(config), "--db", str(tmp_path / "w.db"), "import", str(source)]) == 0
    with Store(tmp_path / "w.db") as opened:
        by_author = {c["author_handle"]: c for c in opened.list_cases()}
    assert by_author["@u0"]["labels"] == ["Proactief"]
    assert by_author["@u1"]["labels"] == [] and by_author["@u1"]["owner"] is None
    assert (by_author["@u2"]["labels"], by_author["@u2"]["priority"]) == (["Pers"], 3)
