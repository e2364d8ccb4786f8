"""At ingest each inbound message gets a language and a sentiment; the author's overall mood follows."""

from __future__ import annotations

import json
from dataclasses import replace

from conftest import MINUTE, msg, press

from webcare_tui.cli import main
from webcare_tui.ingest import ingest
from webcare_tui.sentiment import author_sentiment, sentiment_label

TEXTS = {
    "nl": ("Wat een slechte service, al drie dagen geen internet en niemand helpt mij!", "negative"),
    "de": ("Vielen Dank, der Techniker war super freundlich und alles funktioniert wieder!", "positive"),
    "en": ("This is the worst delivery ever, my parcel is lost and nobody answers.", "negative"),
}


def test_inbound_messages_get_a_language_and_a_sentiment(store):
    ingest(store, [msg(n * MINUTE, author=language, text=text) for n, (language, (text, _)) in
                   enumerate(TEXTS.items())] + [msg(10 * MINUTE, "out", author="nl", text="Sorry! Wat vervelend")])
    cases = store.list_cases()
    assert sorted(case["author_handle"] for case in cases) == ["@de", "@en", "@nl"]
    for case in cases:
        messages = store.case_messages(case["id"])
        inbound = [m for m in messages if m["direction"] == "in"]
        language = case["author_handle"].lstrip("@")
        assert [m["language"] for m in inbound] == [language]
        assert sentiment_label(inbound[0]["sentiment"]) == TEXTS[language][1]
    [ours] = [m for c in cases for m in store.case_messages(c["id"]) if m["direction"] == "out"]
    assert ours["sentiment"] is None and ours["language"] is None  # our own words are not scored


def test_a_language_and_score_given_by_the_platform_are_kept(store):
    ingest(store, [replace(msg(0, text="Wat een slechte service"), language="nl", sentiment=0.5)])
    [message] = store.case_messages(store.list_cases()[0]["id"])
    assert (message["language"], message["sentiment"]) == ("nl", 0.5)


def test_the_authors_overall_mood_weighs_recent_messages_more(store):
    ingest(store, [msg(0, author="kim", text="Super, dank jullie wel!"),
                   msg(HOUR_LATER := 3600, author="kim", text="Wat een slechte service, weer geen internet!"),
                   msg(HOUR_LATER + 60, author="kim", text="Nog steeds kapot, echt schandalig")])
    author = store.get_case(store.list_cases()[0]["id"])["author_id"]  # the author row
    moods = store.author_moods(author)
    assert [language for language, _ in moods] == ["nl", "nl", "nl"]
    assert sentiment_label(author_sentiment(score for _, score in moods)) == "negative"


def test_case_json_shows_each_messages_language_and_sentiment(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({
        "platform": "x", "account": "brand-x", "external_id": "1", "author_id": "u1", "text": TEXTS["de"][0],
        "created_at": "2026-11-25T10:00:00+01:00", "direction": "in", "visibility": "public"}) + "\n")
    db = str(tmp_path / "w.db")
    assert main(["--db", db, "--config", str(tmp_path / "none.toml"), "import", str(source)]) == 0
    capsys.readouterr()
    assert main(["--db", db, "--config", str(tmp_path / "none.toml"), "case", "1", "--json"]) == 0
    [message] = json.loads(capsys.readouterr().out)["messages"]
    assert message["language"] == "de" and message["sentiment_label"] == "positive" and message["sentiment"] > 0


async def test_the_case_screen_shows_the_authors_language_and_overall_mood(store):
    from webcare_tui.app import make_app
    from webcare_tui.config import Config
    from webcare_tui.screens.case import CaseScreen

    ingest(store, [msg(0, author="kim", text="Wat een slechte service, weer geen internet!"),
                   msg(60, author="kim", text="Nog steeds kapot, echt schandalig")])
    app = make_app(Config(), store, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter")
        assert isinstance(app.screen, CaseScreen)
        panel = str(app.screen.query_one("#author").render())
        assert "nl · overall negative (-" in panel
