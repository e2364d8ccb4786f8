"""Suggested answers in the console: ctrl+g on a case, a number inserts a reply or previews a macro, and
the composer saves an edited answer as a text block. Driven with Pilot at 80x24, as an agent would."""

from __future__ import annotations

import threading
import tomllib

import pytest
from conftest import DAY, HOUR, msg, notice, only_macros, press, wait_for
from textual.containers import Vertical
from textual.geometry import Region
from textual.widgets import Input

from webcare_tui import suggest as suggesting
from webcare_tui.app import make_app
from webcare_tui.config import Config, load_config
from webcare_tui.ingest import ingest
from webcare_tui.screens.case import CaseScreen
from webcare_tui.screens.preview import PreviewScreen
from webcare_tui.screens.reply import ReplyScreen
from webcare_tui.screens.suggestions import SuggestionsScreen

SIZE = (80, 24)
# jeroen's answer to bert, on another case: bert's handle and name and jeroen's "^JS" are not for anna
PARCEL = "@bert Hoi Bert, vervelend! Ik heb een nazending aangevraagd, track hem via https://lv.nl/t?c=LV-778 ^JS"
FOR_ANNA = "@anna Hoi Anna, vervelend! Ik heb een nazending aangevraagd, track hem via https://lv.nl/t?c=LV-778 ^TR"


@pytest.fixture
def history(store):
    """bert's parcel question, answered by jeroen a day ago; anna now asks the same."""
    ingest(store, [
        msg(0, author="bert", text="Mijn pakket is niet aangekomen, bestelnummer 12345678"),
        msg(HOUR, "out", author="bert", agent="jeroen", text=PARCEL),
        msg(DAY, author="anna", text="Waar blijft mijn pakket? Nog steeds niet aangekomen"),
    ])
    return store


def panel(app) -> str:
    return str(app.screen.query_one("#suggestions-list").render())


async def open_anna(pilot) -> CaseScreen:
    await press(pilot, "3", "enter")  # All open: only anna's case (bert's waits for bert)
    screen = pilot.app.screen
    assert isinstance(screen, CaseScreen) and screen.case["author_handle"] == "@anna"
    return screen


async def test_a_suggested_reply_is_inserted_for_this_customer_and_this_agent_and_sent(history):
    app = make_app(Config(), history, connectors={})
    async with app.run_test(size=SIZE) as pilot:
        case = await open_anna(pilot)
        await press(pilot, "ctrl+g")
        assert isinstance(app.screen, SuggestionsScreen)
        shown = panel(app)
        assert "1 @anna Hoi Anna, vervelend!" in shown
        assert "case " in shown and "jeroen" in shown and "matched:" in shown and "pakket" in shown  # its source
        await press(pilot, "1")
        assert isinstance(app.screen, ReplyScreen)
        assert app.screen.text_area.text == FOR_ANNA  # anna's name, tim's signature; the link as it was
        await press(pilot, "ctrl+s")
        assert app.screen is case
        [row] = history.case_outbox(case.case_id)
        assert row["state"] == "queued" and row["payload"]["text"] == FOR_ANNA  # signed once
        assert history.case_messages(case.case_id)[-1]["text"] == FOR_ANNA


async def test_a_suggested_macro_shows_its_preview_and_enter_applies_it(store, tmp_path, monkeypatch):
    only_macros(tmp_path, monkeypatch, '[[macro]]\nname = "[b]Pakket[/b] kwijt"\nlabels_add = ["Pakket"]\n'
                                       'reply = "Hoi {author.first_name}, we sturen je pakket opnieuw"\n')
    ingest(store, [msg(0, author="anna", text="Mijn pakket is kwijt")])
    app = make_app(Config(), store, connectors={})
    async with app.run_test(size=SIZE) as pilot:
        case = await open_anna(pilot)
        await press(pilot, "ctrl+g")
        shown = panel(app)
        assert "1 macro [b]Pakket[/b] kwijt" in shown and "fits: pakket" in shown  # a name is text, not markup
        await press(pilot, "1")
        assert isinstance(app.screen, PreviewScreen)
        preview = str(app.screen.query_one("Static").render())
        assert "Hoi Anna, we sturen je pakket opnieuw" in preview
        assert store.get_case(case.case_id)["labels"] == []  # a preview changes nothing
        await press(pilot, "enter")
        assert app.screen is case and store.get_case(case.case_id)["labels"] == ["Pakket"]
        assert "u undoes" in notice(app)


async def test_a_number_with_no_suggestion_does_nothing_and_escape_closes(store):
    ingest(store, [msg(0, author="anna", text="Mijn pakket is kwijt")])
    app = make_app(Config(), store, connectors={})
    async with app.run_test(size=SIZE) as pilot:
        case = await open_anna(pilot)
        await press(pilot, "ctrl+g")
        assert "nothing like this case in the team's history yet" in panel(app)
        await press(pilot, "1")
        assert isinstance(app.screen, SuggestionsScreen)
        await press(pilot, "escape")
        assert app.screen is case


async def test_the_panel_says_finding_suggestions_until_they_arrive_and_fits_80x24(history, monkeypatch):
    gate = threading.Event()
    real = suggesting.suggest

    def slow(*args, **kwargs):
        assert gate.wait(10), "the test never let the suggestions through"
        return real(*args, **kwargs)

    monkeypatch.setattr(suggesting, "suggest", slow)
    app = make_app(Config(), history, connectors={})
    try:
        async with app.run_test(size=SIZE) as pilot:
            await press(pilot, "3")
            await pilot.press("enter")  # the case opens while its suggestions are still being found
            await wait_for(pilot, lambda: isinstance(app.screen, CaseScreen), "the case")
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: isinstance(app.screen, SuggestionsScreen), "the panel")
            await pilot.pause()
            assert "finding suggestions…" in panel(app)
            gate.set()
            await wait_for(pilot, lambda: "Hoi Anna" in panel(app), "the suggestions to fill in")
            await pilot.pause()
            box = app.screen.query_one(Vertical).region
            assert Region(0, 0, *SIZE).contains_region(box), box
            lines = [line for line in panel(app).splitlines() if line]
            assert lines[1].startswith("1 @anna Hoi Anna")
            text = app.screen.query_one("#suggestions-list")
            assert text.region.width <= SIZE[0] and text.region.bottom <= SIZE[1]
    finally:
        gate.set()


HOSTILE = 'Hoi Anna, kijk op https://lv.nl/s?a=1&b={x} "quoted" \\ back\n[agent]\nid = "evil" \x7f ^TR'


async def test_the_composer_saves_an_edited_answer_as_a_text_block(store, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[agent]\nid = "tim"\nname = "Tim Ruiter"\n\n[blocks]\nbedankt = "Bedankt!"\n')
    config = load_config(path)
    ingest(store, [msg(0, author="anna", text="Mijn pakket is kwijt"),
                   msg(HOUR, author="cees", text="Ook mijn pakket is kwijt")])
    app = make_app(config, store, connectors={})
    async with app.run_test(size=SIZE) as pilot:
        await open_anna(pilot)
        await press(pilot, "r")
        composer = app.screen
        assert isinstance(composer, ReplyScreen)
        composer.text_area.insert(HOSTILE)
        await press(pilot, "ctrl+o")
        app.screen.query_one(Input).value = 'x"]\n[agent]'  # not a name: refused, the file unchanged
        await press(pilot, "enter")
        assert app.screen is composer and "not saved" in str(composer.query_one("#error").render())
        assert load_config(path).raw["blocks"] == {"bedankt": "Bedankt!"}
        await press(pilot, "ctrl+o", *"pakket link", "enter")
        await wait_for(pilot, lambda: "pakket link" in load_config(path).raw["blocks"], "the block in the file")
        saved = load_config(path)
        block = saved.raw["blocks"]["pakket link"]
        # anna's name became the customer's, braces are escaped, the agent's sign-off is left to the composer
        assert block == ('Hoi {author.first_name}, kijk op https://lv.nl/s?a=1&b={{x}} "quoted" \\ back\n[agent]\n'
                         'id = "evil" \x7f')
        assert saved.agent.id == "tim" and saved.raw["blocks"]["bedankt"] == "Bedankt!"
        assert tomllib.loads(path.read_text())["agent"] == {"id": "tim", "name": "Tim Ruiter"}
        await press(pilot, "ctrl+o", *"bedankt", "enter")  # a name in use: refused
        assert "already a text block 'bedankt'" in str(composer.query_one("#error").render())
        # ctrl+b offers it at once, here and in the next composer, on another customer's case
        await press(pilot, "escape", "escape", "j", "enter", "r", "ctrl+b", *"pakket", "enter")
        assert app.screen.text_area.text.startswith("Hoi Cees, kijk op https://lv.nl/s?a=1&b={x} \"quoted\"")


async def test_the_key_is_in_the_footer_and_in_the_keys_panel(history):
    from webcare_tui.widgets.footer import Footer

    app = make_app(Config(), history, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await open_anna(pilot)
        assert "^g Suggest" in str(app.screen.query_one(Footer).render())
        await press(pilot, "question_mark")
        listed = "\n".join(str(group.render()) for group in app.screen.query(".group"))
        assert "Suggest" in listed and "^g" in listed
