"""Reply drafts: a reply begun in the composer is kept per case in the store, comes back with `r`
(also after a restart), goes when it is sent or emptied, and shows on the case screen and its inbox row."""

from __future__ import annotations

import pytest
from conftest import HOUR, MINUTE, T0, msg, press, screen_lines, settle, wait_for

from webcare_tui.app import make_app
from webcare_tui.case_view import read_case
from webcare_tui.cases import CaseService
from webcare_tui.config import Config
from webcare_tui.ingest import ingest
from webcare_tui.outbox import Outbox, ReplyError
from webcare_tui.screens.case import CaseScreen, first_words
from webcare_tui.screens.inbox import InboxScreen
from webcare_tui.screens.reply import ReplyScreen
from webcare_tui.store import SCHEMA_VERSION, Store
from webcare_tui.widgets.case_list import CaseList

TYPED = "Hoi Anna, we kijken [b]ernaar[/b] en bellen je morgen terug"


@pytest.fixture
def inbox(store):
    ingest(store, [
        msg(0, author="anna", text="Mijn wifi is kapot"),
        msg(10 * MINUTE, author="bram", text="Waar blijft mijn pakket?"),
        msg(20 * MINUTE, author="cees", text="Factuur klopt niet"),
    ])
    return store


def case_of(store, handle: str) -> int:
    return next(case["id"] for case in store.list_cases() if case["author_handle"] == f"@{handle}")


def title(app) -> str:
    return str(app.screen.query_one("#title").render())


def composer_text(app) -> str:
    assert isinstance(app.screen, ReplyScreen)
    return app.screen.query_one("#text").text


def row_of(app, handle: str) -> str:
    """The inbox line of `handle`'s case ("" while its page is read)."""
    return next((line for line in screen_lines(app.screen.query_one(CaseList)) if f"@{handle}" in line), "")


# -- the store and the service --------------------------------------------------------------------


def test_a_draft_is_kept_replaced_and_deleted_per_case(inbox):
    anna, bram = case_of(inbox, "anna"), case_of(inbox, "bram")
    cases = CaseService(inbox, clock=lambda: T0 + MINUTE)
    cases.keep_draft(anna, "tim", "Hoi Anna")
    cases.keep_draft(anna, "tim", "Hoi Anna, we kijken")
    cases.keep_draft(bram, "tim", "Hoi Bram")
    assert inbox.draft(anna) == {"agent": "tim", "text": "Hoi Anna, we kijken", "updated_at": T0 + MINUTE}
    cases.keep_draft(bram, "tim", "  \n ")  # an emptied composer: no draft
    assert inbox.draft(bram) is None
    assert read_case(inbox, anna).reply_draft == "Hoi Anna, we kijken" and read_case(inbox, bram).reply_draft == ""


def test_the_drafts_table_is_migration_15(tmp_path):
    import sqlite3

    from webcare_tui.store.migrations import migrate

    conn = sqlite3.connect(tmp_path / "v14.db", isolation_level=None)
    migrate(conn, "v14.db", target=14)
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'drafts'").fetchall()
    assert migrate(conn, "v14.db", target=15) == 14  # a store of the version before gets the table
    columns = [row[1] for row in conn.execute("PRAGMA table_info(drafts)")]
    assert columns == ["case_id", "agent", "text", "updated_at"]
    conn.close()
    with Store(tmp_path / "new.db") as store:
        assert store.draft(1) is None and SCHEMA_VERSION >= 15


def test_a_sent_reply_takes_the_draft_with_it_and_a_refused_one_leaves_it(inbox):
    anna = case_of(inbox, "anna")
    cases, outbox = CaseService(inbox, clock=lambda: T0), Outbox(inbox, clock=lambda: T0)
    cases.keep_draft(anna, "tim", "Hoi Anna")
    with pytest.raises(ReplyError):  # refused: nothing of it is written, the draft stays
        cases.without_draft(anna, lambda: outbox.queue_reply(anna, "   ", agent="tim"))
    assert inbox.draft(anna)["text"] == "Hoi Anna"
    cases.without_draft(anna, lambda: outbox.queue_reply(anna, "Hoi Anna ^TR", agent="tim"))
    assert inbox.draft(anna) is None and inbox.case_messages(anna)[-1]["text"] == "Hoi Anna ^TR"


def test_a_merged_case_brings_its_draft_unless_the_case_it_joins_has_one(inbox):
    ingest(inbox, [msg(MINUTE, author="anna", text="En de tv"), msg(2 * MINUTE, author="anna", text="En de radio")])
    anna = case_of(inbox, "anna")
    cases = CaseService(inbox, clock=lambda: T0)
    first, tv, radio = (message["id"] for message in inbox.case_messages(anna))
    radio_case = cases.split(radio, actor="tim")
    tv_case = cases.split(tv, actor="tim")
    cases.keep_draft(tv_case, "tim", "Over de tv")
    cases.merge(anna, tv_case, actor="tim")
    assert inbox.draft(anna)["text"] == "Over de tv" and inbox.draft(tv_case) is None
    cases.keep_draft(radio_case, "tim", "Over de radio")
    cases.merge(anna, radio_case, actor="tim")
    assert inbox.draft(anna)["text"] == "Over de tv"  # the case's own draft stays


def test_the_header_shows_the_first_words_of_a_draft_on_one_line():
    assert first_words("Hoi Anna") == "Hoi Anna"
    assert first_words("Hoi Anna,\nwe kijken ernaar en bellen je morgen terug", 30) == "Hoi Anna, we kijken ernaar en…"
    assert first_words("\x1b]0;pwned\x07[b]vet[/b]") == "[b]vet[/b]"


# -- the console ----------------------------------------------------------------------------------


async def test_a_reply_left_with_escape_comes_back_on_the_case_after_another_one(inbox):
    app = make_app(Config(), inbox, connectors={}, clock=lambda: T0 + 30 * MINUTE)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter")  # anna waits longest
        anna = app.screen.case_id
        await press(pilot, "r", *TYPED)
        await press(pilot, "escape")  # nothing is thrown away
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == anna
        assert "✎ draft: Hoi Anna, we kijken [b]ernaar[/b] en…" in title(app)
        assert inbox.draft(anna)["text"] == TYPED
        await press(pilot, "escape")
        assert isinstance(app.screen, InboxScreen)
        await wait_for(pilot, lambda: "✎" in row_of(app, "anna"), "the draft's mark on anna's row")
        assert "@bram" in row_of(app, "bram") and "✎" not in row_of(app, "bram")
        await press(pilot, "j", "enter")  # bram's case: its own (empty) composer
        assert app.screen.case_id != anna and "draft" not in title(app)
        await press(pilot, "r")
        assert composer_text(app) == ""
        await press(pilot, "escape", "escape", "k", "enter")
        assert app.screen.case_id == anna
        await press(pilot, "r")
        assert composer_text(app) == TYPED
    assert inbox.draft(case_of(inbox, "bram")) is None  # opening and leaving an empty composer keeps nothing


async def test_a_draft_survives_a_restart(inbox):
    app = make_app(Config(), inbox, connectors={}, clock=lambda: T0 + 30 * MINUTE)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "j", "enter", "r", *"Bram, je pakket", "escape")
    with Store(inbox.path) as again:  # a new console on the same store file
        app = make_app(Config(), again, connectors={}, clock=lambda: T0 + HOUR)
        async with app.run_test(size=(120, 30)) as pilot:
            await press(pilot, "3")
            await wait_for(pilot, lambda: "✎" in row_of(app, "bram"), "the draft's mark after the restart")
            await press(pilot, "j", "enter")
            assert "✎ draft: Bram, je pakket" in title(app)
            await press(pilot, "r")
            assert composer_text(app) == "Bram, je pakket"


async def test_quitting_with_the_composer_open_keeps_what_was_typed(inbox):
    app = make_app(Config(), inbox, connectors={}, clock=lambda: T0 + 30 * MINUTE)
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "3", "enter")
        anna = app.screen.case_id
        await press(pilot, "r", *"Hoi Anna, een mo")
        await pilot.press("ctrl+q")
    assert inbox.draft(anna)["text"] == "Hoi Anna, een mo"


async def test_sending_the_reply_deletes_its_draft(inbox):
    app = make_app(Config(), inbox, connectors={}, clock=lambda: T0 + 30 * MINUTE)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter", "r", *"Hoi Anna", "escape")
        anna = app.screen.case_id
        assert inbox.draft(anna) is not None
        await press(pilot, "r", *", het is opgelost", "ctrl+s")
        assert inbox.case_messages(anna)[-1]["text"] == "Hoi Anna, het is opgelost ^TR"
        assert inbox.draft(anna) is None and "draft" not in title(app)
        await press(pilot, "r")
        assert composer_text(app) == ""
        await press(pilot, "escape", "escape", "4")  # the case is pending now: its row has no mark
        assert "@anna" in row_of(app, "anna") and "✎" not in row_of(app, "anna")


async def test_an_emptied_composer_deletes_the_draft(inbox):
    app = make_app(Config(), inbox, connectors={}, clock=lambda: T0 + 30 * MINUTE)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter", "r", *"Hoi", "escape")
        anna = app.screen.case_id
        assert inbox.draft(anna)["text"] == "Hoi"
        await press(pilot, "r", "backspace", "backspace", "backspace", "escape")
        assert inbox.draft(anna) is None and "draft" not in title(app)
        await press(pilot, "escape")
        assert "@anna" in row_of(app, "anna") and "✎" not in row_of(app, "anna")


async def test_typing_is_kept_once_it_pauses(inbox, monkeypatch):
    """Without Esc (the console quits, the machine fails): what was typed is in the store once the
    agent stops typing for a moment."""
    from webcare_tui.screens import reply

    monkeypatch.setattr(reply, "KEEP_AFTER", 0.05)
    app = make_app(Config(), inbox, connectors={}, clock=lambda: T0 + 30 * MINUTE)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter")
        anna = app.screen.case_id
        await press(pilot, "r", *"Hoi Anna")
        await wait_for(pilot, lambda: (inbox.draft(anna) or {}).get("text") == "Hoi Anna", "the draft to be kept")
        await settle(pilot)
        assert isinstance(app.screen, ReplyScreen)  # still typing
        await press(pilot, "ctrl+s")
        assert inbox.draft(anna) is None

