"""Prompts take what the completion shows, refuse names outside the team, and ask once before a new label."""

from __future__ import annotations

import pytest
from conftest import MINUTE, msg, press

from webcare_tui.app import make_app
from webcare_tui.cases import CaseService
from webcare_tui.config import Config
from webcare_tui.ingest import ingest
from webcare_tui.screens.case import CaseScreen
from webcare_tui.screens.prompt import PromptScreen, completion

TEAM = ({"id": "jeroen", "name": "Jeroen"}, {"id": "sanne", "name": "Sanne"})


@pytest.fixture
def inbox(store):
    ingest(store, [msg(0, author="anna", text="Mijn wifi is kapot"),
                   msg(10 * MINUTE, author="bram", text="Waar blijft mijn pakket?")])
    [anna] = [c["id"] for c in store.list_cases() if c["author_handle"] == "@anna"]
    CaseService(store).label(anna, "tim", add=["Compliment"])
    return store


def test_enter_takes_the_name_spelt_else_the_first_the_typing_starts():
    names = ["Compliment", "Comp", "jeroen", "Jeanne"]
    assert completion("je", names) == "jeroen"
    assert completion("COMP", names) == "Comp"  # spelt out: that one, not the longer first match
    assert completion("Compl", names) == "Compliment"
    assert completion("x", names) is None and completion("  ", names) is None


async def open_anna(pilot, app) -> int:
    await press(pilot, "3", "enter")  # anna waits longest
    assert isinstance(app.screen, CaseScreen)
    return app.screen.case_id


def hint(app) -> str:
    return str(app.screen.query_one("#hint").render())


async def test_je_and_enter_hands_over_to_jeroen_and_a_stranger_is_refused(inbox):
    app = make_app(Config(team=TEAM), inbox, connectors={})
    async with app.run_test(size=(80, 24)) as pilot:
        case_id = await open_anna(pilot, app)
        await press(pilot, "a", "j", "e")
        assert hint(app) == "Enter takes jeroen"
        await press(pilot, "enter")
        assert inbox.get_case(case_id)["owner"] == "jeroen"
        await press(pilot, "a", "x", "enter")
        assert isinstance(app.screen, PromptScreen)  # still asking
        assert "'x' is not an agent of the team: jeroen, sanne, tim" in hint(app)
        await press(pilot, "escape")
        assert inbox.get_case(case_id)["owner"] == "jeroen"


async def test_without_a_team_any_name_may_take_a_case(inbox):
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(80, 24)) as pilot:
        case_id = await open_anna(pilot, app)
        await press(pilot, "a", *"noor", "enter")
        assert inbox.get_case(case_id)["owner"] == "noor"


async def test_a_new_label_asks_once_and_a_prefix_takes_the_existing_one(inbox):
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "3", "j", "enter")  # bram: no labels yet
        case_id = app.screen.case_id
        await press(pilot, "l", *"Compl", "enter")
        assert inbox.get_case(case_id)["labels"] == ["Compliment"]
        await press(pilot, "l", *"Storing", "enter")
        assert isinstance(app.screen, PromptScreen)
        assert "'Storing' is a new label: Enter again to make it" in hint(app)
        assert inbox.get_case(case_id)["labels"] == ["Compliment"]
        await press(pilot, "enter")
        assert inbox.get_case(case_id)["labels"] == ["Compliment", "Storing"]


async def test_the_macro_picker_refuses_a_name_that_is_no_macro(inbox):
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(80, 24)) as pilot:
        await open_anna(pilot, app)
        await press(pilot, "m", *"zzz", "enter")
        assert isinstance(app.screen, PromptScreen) and "'zzz' is not a macro" in hint(app)


async def test_a_hint_shows_a_name_from_the_store_as_inert_text(inbox):
    [bram] = [c["id"] for c in inbox.list_cases() if c["author_handle"] == "@bram"]
    CaseService(inbox).label(bram, "chatwoot", add=["Rood\x1b]0;pwned\x07\x1b[31m"])  # as a helpdesk may name it
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(80, 24)) as pilot:
        await open_anna(pilot, app)
        await press(pilot, "l", *"Roo")
        assert "Enter takes Rood" in hint(app) and "\x1b" not in hint(app) and "\x07" not in hint(app)
