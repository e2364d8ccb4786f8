"""Suggested answers from the team's own history (webcare_tui.suggest), on hand-built histories."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import DAY, HOUR, T0, msg

from webcare_tui.case_rules import Event
from webcare_tui.config import Agent, Config
from webcare_tui.ingest import ingest
from webcare_tui.macros import Macro
from webcare_tui.store import Store, StoreError
from webcare_tui.store.suggest import SuggestQueries, fts_term
from webcare_tui.suggest import (
    ReplySuggestion,
    SignOffs,
    Suggestions,
    as_template,
    format_suggestions,
    suggest,
    suggest_many,
)
from webcare_tui.templates import case_values, render, variables_in

if issubclass(Store, SuggestQueries):
    _Store = Store
else:  # until `Store` mixes the suggestion queries in itself
    class _Store(Store, SuggestQueries):  # type: ignore[no-redef]
        pass


@pytest.fixture
def history(tmp_path):
    with _Store(tmp_path / "suggest.db") as opened:
        yield opened


def case_of(store, author: str, platform: str = "x") -> int:
    """The latest case of `author` (handle @author)."""
    return store.conn.execute(
        "SELECT c.id FROM cases c JOIN authors a ON a.id = c.author_id WHERE a.handle = ? AND c.platform = ?"
        " ORDER BY c.id DESC LIMIT 1", (f"@{author}", platform)).fetchone()[0]


def exchange(at: int, author: str, question: str, answer: str, *, agent: str = "jeroen",
             platform: str = "x") -> list:
    """A customer's question and our answer an hour later."""
    return [msg(at, author=author, platform=platform, text=question),
            msg(at + HOUR, "out", author=author, platform=platform, agent=agent, text=answer)]


PARCEL = "@{0} Hoi {1}, vervelend! Ik heb een nazending aangevraagd, track hem via https://lv.nl/t?c=LV-778 ^JS"
OUTAGE = "@{0} Hoi {1}, er is een storing in jouw regio, we verwachten dat het om 18:00 is opgelost ^JS"


def test_an_empty_history_suggests_nothing(history):
    ingest(history, [msg(0, author="anna", text="Mijn pakket is niet aangekomen")])
    found = suggest(history, case_of(history, "anna"), macros=[Macro(name="Storing", labels_add=("Storing",))])
    assert found.replies == () and found.macros == ()
    assert "pakket" in found.words


def test_a_case_that_does_not_exist_is_a_store_error(history):
    with pytest.raises(StoreError, match="no case 404"):
        suggest(history, 404)


def test_the_reply_to_the_most_similar_question_comes_first_and_says_why(history):
    ingest(history, [
        *exchange(0, "bert", "Mijn pakket is niet aangekomen, bestelnummer 12345678", PARCEL.format("bert", "Bert")),
        *exchange(DAY, "carla", "Internet ligt er weer uit in Utrecht", OUTAGE.format("carla", "Carla")),
        msg(2 * DAY, author="anna", text="Waar blijft mijn pakket? Nog steeds niet aangekomen"),
    ])
    found = suggest(history, case_of(history, "anna"))
    first = found.replies[0]
    assert "nazending" in first.text
    assert first.source_case == case_of(history, "bert") and first.agent == "jeroen" and first.at == T0 + HOUR
    assert {"aangekomen", "pakket"} <= set(first.matched)
    assert "case " + str(first.source_case) in first.why and "jeroen" in first.why and "aangekomen" in first.why
    assert all("storing" not in reply.text for reply in found.replies[:1])


def test_the_open_run_decides_not_what_we_answered_already(history):
    ingest(history, [
        *exchange(0, "bert", "Mijn pakket is niet aangekomen", PARCEL.format("bert", "Bert")),
        *exchange(DAY, "carla", "Storing! Internet ligt eruit", OUTAGE.format("carla", "Carla")),
        *exchange(2 * DAY, "anna", "Mijn pakket is niet aangekomen", "Het komt morgen ^TR", agent="tim"),
        msg(2 * DAY + 2 * HOUR, author="anna", text="Andere vraag: er is een storing, internet ligt eruit"),
    ])
    found = suggest(history, case_of(history, "anna"))
    assert "storing" in found.replies[0].text


def test_an_answer_the_team_sent_often_outranks_one_sent_once(history):
    once = "@{0} Hoi {1}, daarvoor kun je het beste bellen met de klantenservice ^SB"
    ingest(history, [
        *exchange(0, "bert", "Mijn pakket is niet aangekomen", once.format("bert", "Bert"), agent="sanne"),
        *exchange(HOUR * 3, "carla", "Pakket niet aangekomen?!", PARCEL.format("carla", "Carla")),
        *exchange(HOUR * 6, "dirk", "Is mijn pakket kwijt? Niet aangekomen", PARCEL.format("dirk", "Dirk")),
        *exchange(HOUR * 9, "eva", "Pakket is niet aangekomen", PARCEL.format("eva", "Eva")),
        msg(DAY, author="anna", text="Mijn pakket is niet aangekomen"),
    ])
    found = suggest(history, case_of(history, "anna"))
    # the three near-identical replies (names and handles differ) are one suggestion, used three times
    assert "nazending" in found.replies[0].text and found.replies[0].uses == 3
    assert "sent 3×" in found.replies[0].why
    assert "klantenservice" in found.replies[1].text and found.replies[1].uses == 1
    assert found.replies[0].score > found.replies[1].score


def test_of_two_equal_answers_the_recent_one_comes_first(history):
    old = "@{0} Hoi {1}, je kunt je pakket ophalen bij het afhaalpunt ^SB"
    ingest(history, [*exchange(400 * DAY, "carla", "Waar is mijn pakket", PARCEL.format("carla", "Carla")),
                     msg(401 * DAY, author="anna", text="Waar is mijn pakket")])
    # stored later (imported from an archive), so only its date says it is the older one
    ingest(history, exchange(0, "bert", "Waar is mijn pakket", old.format("bert", "Bert"), agent="sanne"))
    found = suggest(history, case_of(history, "anna"))
    assert [reply.agent for reply in found.replies] == ["jeroen", "sanne"]


def test_the_same_account_comes_first_even_before_a_closer_match_elsewhere(history):
    ingest(history, [
        *exchange(0, "bert", "Mijn pakket is niet aangekomen, waar blijft het", PARCEL.format("bert", "Bert"),
                  platform="facebook"),
        *exchange(DAY, "carla", "Pakket?", "@carla Hoi Carla, kijk even bij de buren ^SB", agent="sanne"),
        msg(2 * DAY, author="anna", text="Mijn pakket is niet aangekomen, waar blijft het"),
    ])
    found = suggest(history, case_of(history, "anna"))
    assert [reply.same_account for reply in found.replies] == [True, False]
    assert "buren" in found.replies[0].text
    assert "nazending" in found.replies[1].text and "from brand-facebook" in found.replies[1].why


def test_a_reply_becomes_a_template_for_this_customer_and_this_agent(history):
    config = Config(agent=Agent(id="tim", name="Tim Ruiter", initials="TR",
                                signature={"x": " ^TR", "default": "\n\nGroetjes, Tim"}),
                    team=({"id": "jeroen", "name": "Jeroen Smit"},))
    answer = ("@bert Hoi Bert, sorry! Ticket #4711 staat open, volg het via https://lv.nl/t/4711 {ref}. "
              "Groet, Jeroen")
    ingest(history, [
        *exchange(0, "bert", "Mijn pakket is niet aangekomen", answer, platform="facebook"),
        msg(DAY, author="anna", platform="facebook", text="Pakket niet aangekomen"),
    ])
    found = suggest(history, case_of(history, "anna", "facebook"), config=config)
    template = found.replies[0].text
    assert template == ("{author.handle} Hoi {author.first_name}, sorry! Ticket #4711 staat open, volg het via "
                        "https://lv.nl/t/4711 {{ref}}. {agent.signature}")
    assert variables_in(template) == ["author.handle", "author.first_name", "agent.signature"]
    sent = found.replies[0].render(found.values(config.agent))
    assert sent == ("@anna Hoi Anna, sorry! Ticket #4711 staat open, volg het via https://lv.nl/t/4711 {ref}.\n\n"
                    "Groetjes, Tim")


@pytest.mark.parametrize("text, agent, expected", [
    ("@bert Hi Bert! Done ^JS", "jeroen", "{author.handle} Hi {author.first_name}! Done {agent.signature}"),
    ("Hallo Bert, erledigt. Viele Grüße, Noah", "noah", "Hallo {author.first_name}, erledigt. {agent.signature}"),
    ("Hey Bert, fixed. *SR", "RockstarSupport", "Hey {author.first_name}, fixed. {agent.signature}"),
    ("Thanks Bert Jansen! -Shannon", "wells", "Thanks {author.name}! {agent.signature}"),
    ("Hoi Bert, ik heb het doorgezet naar Jeroen", "tim", "Hoi {author.first_name}, ik heb het doorgezet naar Jeroen"),
    ("Hoi @bert, zie https://x.nl/bert?u=bert", "tim", "Hoi {author.handle}, zie https://x.nl/bert?u=bert"),
    ("Hoi Bert,\n\nGroetjes, Tim", "tim", "Hoi {author.first_name}, {agent.signature}"),
    ("Groetjes, Lisa", "lisa", "Groetjes, Lisa"),  # a reply that is nothing but a sign-off stays as it is
])
def test_names_handles_and_sign_offs_become_variables(text, agent, expected):
    signoffs = SignOffs.from_config(Config())
    assert as_template(text, handle="@bert", name="Bert Jansen", agent=agent, signoffs=signoffs) == expected


def test_a_handle_stored_without_at_keeps_the_at_of_the_text():
    assert as_template("@bert hoi", handle="bert", name=None, agent=None) == "@{author.handle} hoi"


@pytest.mark.parametrize("hostile", [
    'NEAR(pakket kwijt, 2)', 'pakket" OR "1"="1', "text:pakket", "pakket*", "^pakket", "pakket AND NOT kwijt",
    "'; DROP TABLE messages; --", "pakket {author.name} [b]bold[/b] \x1b]0;title\x07", "📦📦 pakket 😡",
    "(pakket", '"pakket', "-pakket", "pakket:", "NEAR", "OR", "AND",
])
def test_hostile_text_is_searched_as_words(history, hostile):
    ingest(history, [
        *exchange(0, "bert", "Mijn pakket is kwijt, near the station, and or not; drop me a note",
                  PARCEL.format("bert", "Bert")),
        msg(DAY, author="anna", text=hostile),
    ])
    messages = history.counts()["messages"]
    found = suggest(history, case_of(history, "anna"))
    assert history.counts()["messages"] == messages
    assert "nazending" in found.replies[0].text  # each shares a word with Bert's question …
    assert found.replies[0].matched  # … and matched on it


def test_a_word_that_is_fts_syntax_matches_that_word(history):
    ingest(history, [
        *exchange(0, "bert", "Is there a shop NEAR Utrecht", "@bert Hi Bert, see https://lv.nl/shops ^JS"),
        *exchange(HOUR * 3, "carla", "Is there a delay", "@carla Hi Carla, no delay ^JS"),
        msg(DAY, author="anna", text="NEAR"),
    ])
    found = suggest(history, case_of(history, "anna"))
    assert [reply.text for reply in found.replies][:1] == ["{author.handle} Hi {author.first_name}, see https://lv.nl/shops {agent.signature}"]
    assert fts_term('a"b') == '"a""b"'


def test_a_message_without_words_suggests_nothing(history):
    ingest(history, [*exchange(0, "bert", "Pakket kwijt", PARCEL.format("bert", "Bert")),
                     msg(DAY, author="anna", text="😡😡 !!! ???")])
    assert suggest(history, case_of(history, "anna")).replies == ()


def applied(store, case_id: int, name: str, at: int, actor: str = "jeroen") -> None:
    with store.transaction():
        store.add_events([Event(case_id, at, actor, "macro", {"name": name})])


def test_macros_applied_to_similar_cases_come_first_and_fit_breaks_ties(history):
    ingest(history, [
        *exchange(0, "bert", "Mijn pakket is niet aangekomen", PARCEL.format("bert", "Bert")),
        *exchange(HOUR * 3, "carla", "Pakket kwijt, niet aangekomen", PARCEL.format("carla", "Carla")),
        *exchange(HOUR * 6, "dirk", "Storing internet Utrecht", OUTAGE.format("dirk", "Dirk")),
        msg(DAY, author="anna", text="Mijn pakket is niet aangekomen"),
    ])
    applied(history, case_of(history, "bert"), "Nazending", T0 + HOUR)
    applied(history, case_of(history, "carla"), "nazending", T0 + 4 * HOUR)  # names match case-blind
    applied(history, case_of(history, "carla"), "Doorzetten", T0 + 4 * HOUR)
    applied(history, case_of(history, "dirk"), "Storing", T0 + 7 * HOUR)
    macros = [Macro(name="Storing", labels_add=("Storing",)), Macro(name="Doorzetten", assign="jeroen"),
              Macro(name="Nazending", reply="Ik vraag een nazending aan {agent.signature}"),
              Macro(name="Algemeen", labels_add=("Pakket",)), Macro(name="Compliment", like=True),
              Macro(name="Zending", labels_add=("Pakket", "Aangekomen")),
              Macro(name="Is", description="mijn is niet", like=True)]  # function words fit nothing
    found = suggest(history, case_of(history, "anna"), macros=macros)
    # applied to more similar cases first; never applied, the one whose words fit the question better
    assert [m.name for m in found.macros] == ["Nazending", "Doorzetten", "Zending", "Algemeen"]
    assert found.macros[0].cases == 2 and found.macros[0].last_case == case_of(history, "carla")
    assert "applied to 2 similar cases" in found.macros[0].why
    assert found.macros[2].cases == 0 and "fits: " in found.macros[2].why and "pakket" in found.macros[2].why


def test_the_headless_answer_has_the_documented_shape(history):
    ingest(history, [*exchange(0, "bert", "Mijn pakket is niet aangekomen", PARCEL.format("bert", "Bert")),
                     msg(DAY, author="anna", text="Mijn pakket is niet aangekomen")])
    anna = case_of(history, "anna")
    [result] = suggest_many(history, [anna], limit=1, config=Config(agent=Agent()))
    assert result["case"] == anna and result["macros"] == []
    [reply] = result["replies"]
    assert {"text", "source_case", "agent", "at", "score"} <= set(reply)
    assert reply["text"].startswith("@anna Hoi Anna, vervelend!") and reply["text"].endswith("LV-778 ^TR")
    assert reply["source_case"] == case_of(history, "bert") and reply["agent"] == "jeroen"
    assert reply["at"] == datetime.fromtimestamp(T0 + HOUR).astimezone().isoformat()


def test_the_plain_text_never_carries_terminal_codes():
    evil = ReplySuggestion(text="Hoi \x1b[31m{author.first_name}\x1b]0;owned\x07", source_case=1, source_message=2,
                           agent="jeroen\x1b[2J", at=T0, account="brand-x", score=1.0, uses=1, matched=("pakket",),
                           same_account=True)
    printed = format_suggestions([Suggestions(case_id=7, replies=(evil,)).to_json()])
    assert "\x1b" not in printed and "\x07" not in printed
    assert printed.startswith("Case 7\n  1. Hoi ")


def test_a_merged_case_is_read_as_the_case_it_went_into(history):
    ingest(history, [*exchange(0, "bert", "Mijn pakket is niet aangekomen", PARCEL.format("bert", "Bert")),
                     msg(DAY, author="anna", text="Mijn pakket is niet aangekomen")])
    anna = case_of(history, "anna")
    with history.transaction():
        history.conn.execute("UPDATE cases SET merged_into = ? WHERE id = ?", (anna, case_of(history, "bert")))
    assert suggest(history, case_of(history, "bert")).case_id == anna


def test_the_rendered_reply_fills_every_variable_for_a_customer_without_a_name(history):
    ingest(history, [*exchange(0, "bert", "Pakket kwijt", PARCEL.format("bert", "Bert")),
                     msg(DAY, author="anna", text="Pakket kwijt")])
    found = suggest(history, case_of(history, "anna"))
    values = case_values({"id": 1, "author_handle": "@anna", "author_name": None, "platform": "x"},
                         "Tim Ruiter", "TR", " ^TR")
    assert render(found.replies[0].text, values).startswith("@anna Hoi @anna, vervelend!")
