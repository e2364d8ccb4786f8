"""`?` lists every key of the screen, grouped and scrollable; the footer offers the most used keys that fit."""

from __future__ import annotations

import re

import pytest
from conftest import MINUTE, T0, msg, press, screen_lines, settle, wait_for

from webcare_tui.app import make_app
from webcare_tui.config import Config
from webcare_tui.ingest import ingest
from webcare_tui.screens.case import CaseScreen
from webcare_tui.screens.inbox import InboxScreen
from webcare_tui.screens.keys import GROUPS, KeyList, KeysScreen
from webcare_tui.widgets.case_list import CaseList
from webcare_tui.widgets.footer import PRIORITY, Footer


@pytest.fixture
def inbox(store):
    ingest(store, [msg(n * MINUTE, author=f"klant{n}", text=f"Vraag {n}") for n in range(30)])
    return store


def panel_text(app) -> str:
    return "\n".join(str(static.render()) for static in app.screen.query(".group"))


def footer_line(app) -> str:
    return screen_lines(app.screen.query_one(Footer))[0]


async def open_case(pilot, app) -> None:
    await press(pilot, "3")
    cases = app.screen.query_one(CaseList)
    await wait_for(pilot, lambda: cases.current_row() is not None, "the first case")
    await press(pilot, "enter")
    assert isinstance(app.screen, CaseScreen)


async def test_question_mark_lists_the_inbox_keys_grouped_with_the_views_by_name(inbox):
    app = make_app(Config(), inbox, connectors={}, clock=lambda: T0 + 40 * MINUTE)
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "question_mark")
        assert isinstance(app.screen, KeysScreen)
        text = panel_text(app)
        titles = [str(static.render()).split("\n")[0] for static in app.screen.query(".group")]
        assert titles == [group for group in GROUPS if group in titles]  # in the groups' order, each once
        assert {"Move", "Case actions", "Views", "Search and sort", "Macros", "Other"} <= set(titles)
        for view in app.views:  # the real names, and only the views there are (5 of the 9 number keys)
            assert re.search(rf"^ {view.key} +View: {re.escape(view.name)}$", text, re.MULTILINE), view.name
        assert text.count("View: ") == len(app.views) == 5 and "View 1" not in text
        assert "Hypotheken" in text and "Preview Hypotheken" in text  # a macro's own key
        assert "i n" in text and "Storing (nl)" in text  # a two-key macro: both keys and its name
        assert "Search" in text and "Dashboard" in text and "Alerts" in text and "Quit" in text
        descriptions = [line.split("  ")[-1].strip() for line in text.splitlines() if line.startswith(" ")]
        assert len(descriptions) == len(set(descriptions)), "an action listed twice"
        assert "↓ j" in text and "Down" in text  # two keys of one action on one row


async def test_the_keys_panel_scrolls_at_80x24_and_question_mark_or_escape_closes_it(inbox):
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "question_mark")
        keys = app.screen.query_one(KeyList)
        assert keys.max_scroll_y > 0 and keys.scroll_y == 0  # longer than the terminal: it scrolls
        await press(pilot, "pagedown")
        await wait_for(pilot, lambda: keys.scroll_y > 0, "a page down")
        await press(pilot, "end")
        await wait_for(pilot, lambda: keys.scroll_y == keys.max_scroll_y, "the end of the list")
        await press(pilot, "up")
        await wait_for(pilot, lambda: keys.scroll_y == keys.max_scroll_y - 1, "a line up")
        await press(pilot, "question_mark")
        assert isinstance(app.screen, InboxScreen)
        await press(pilot, "question_mark", "escape")
        assert isinstance(app.screen, InboxScreen)
        await press(pilot, "escape")  # escape is the inbox's again
        assert isinstance(app.screen, InboxScreen)


async def test_question_mark_on_a_case_lists_every_case_action(inbox):
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(120, 40)) as pilot:
        await open_case(pilot, app)
        await press(pilot, "question_mark")
        text = panel_text(app)
        for action in ("Close", "Memo", "Pending", "Other case", "Reopen", "Priority", "Merge", "Split", "Reply",
                       "Reply privately", "Retry send", "Assign", "+Label", "-Label", "Hypotheken", "Back"):
            assert f" {action}\n" in text + "\n", action
        assert "Approve" not in text  # only while a draft waits
        assert "Scroll Left" not in text  # bound, but nothing scrolls sideways
        await press(pilot, "escape")
        assert isinstance(app.screen, CaseScreen)


async def test_the_palette_names_a_view_key_by_its_view(inbox):
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(120, 30)):
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"View: Mine", "View: Unassigned", "View: All open"} <= titles
        assert not any(title.startswith("View ") for title in titles)


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
async def test_the_case_footer_offers_a_routine_case_first_and_ends_with_the_keys_key(inbox, size):
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=size) as pilot:
        await open_case(pilot, app)
        footer = app.screen.query_one(Footer)
        line = footer_line(app)
        assert line.rstrip().endswith("? Keys")
        shown = [key.description for key in footer.shown]
        assert shown[:7] == ["Reply", "Close", "Pending", "Memo", "Assign", "+Label", "Macro"]
        assert shown[-1] == "Keys" and all(f"{key.display} {key.description}" in line for key in footer.shown)
        if size[0] >= 140:
            assert {"Other case", "Reopen", "Priority", "Merge", "Split"} <= set(shown)
        hidden = [key for key in footer.keys if key not in footer.shown]
        assert hidden, "more keys than fit: the rest are a ? away"
        ranks = [PRIORITY.index(key_id) for key_id in ("case.reply", "case.close", "case.pending")]
        assert ranks == sorted(ranks)


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
async def test_the_inbox_footer_fits_the_width(inbox, size):
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        footer = app.screen.query_one(Footer)
        line = footer_line(app)
        assert len(line) == size[0] and line.rstrip().endswith("? Keys")
        shown = [key.description for key in footer.shown]
        assert shown[:5] == ["Open", "Select", "Search", "Assign", "Close"]
        if size[0] >= 140:
            assert {"Macro", "Undo", "Sort", "Alerts"} <= set(shown)


async def test_the_footer_shows_the_approval_keys_while_a_draft_waits_and_repaints_only_on_change(inbox):
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(160, 30)) as pilot:
        await open_case(pilot, app)
        footer = app.screen.query_one(Footer)
        keys = footer.keys
        assert "Approve" not in [key.description for key in keys]
        app.screen.refresh_bindings()  # nothing changed: the same keys, not rebuilt
        await pilot.pause()
        assert footer.keys is keys
        app.outbox.queue_reply(app.screen.case_id, "Concept", agent="noah", visibility="public", approval=True)
        app.screen.load()  # a draft waits: the approval keys appear, first
        await settle(pilot)
        assert [key.description for key in footer.shown][:3] == ["Approve", "Edit+approve", "Reject"]


async def test_a_click_on_a_footer_key_presses_it(inbox):
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        line = footer_line(app)
        await pilot.click(Footer, offset=(line.index("? Keys") + 1, 0))
        await settle(pilot)
        assert isinstance(app.screen, KeysScreen)
