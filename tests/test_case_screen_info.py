"""What the console tells a new agent without asking: the case header's deadline and reply window in
plain words, the inbox's column headings, where the cursor goes after a bulk action, and the order `s`
gives a view (issue 14, "the first hour of a new agent")."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from conftest import DAY, HOUR, MINUTE, T0, msg, notice, press, screen_lines, settle, wait_for

from webcare_tui.app import make_app
from webcare_tui.cases import CaseService
from webcare_tui.config import Config
from webcare_tui.deadlines import deadline_words, describe_span, window_words
from webcare_tui.ingest import ingest
from webcare_tui.message_format import shown_time
from webcare_tui.screens.case import CaseScreen
from webcare_tui.widgets.case_list import CaseList, CaseListHeading, heading


def title(app) -> str:
    return str(app.screen.query_one("#title").render())


def case_of(store, handle: str) -> int:
    return next(case["id"] for case in store.list_cases() if case["author_handle"] == f"@{handle}")


# -- the words ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "words"), [
    (0, "under a minute"), (59, "under a minute"), (25 * MINUTE, "25 min"), (-25 * MINUTE, "25 min"),
    (HOUR, "1 h"), (3 * HOUR + 10 * MINUTE + 59, "3 h 10 min"), (DAY, "1 d"), (2 * DAY + 4 * HOUR + 5 * MINUTE, "2 d 4 h"),
])
def test_a_span_in_words(seconds, words):
    assert describe_span(seconds) == words


def test_deadline_and_window_words():
    due = T0 + 30 * MINUTE
    assert deadline_words(due, T0 + 5 * MINUTE) == f"act before {shown_time(due, '%H:%M')} (in 25 min)"
    assert deadline_words(due, T0 + 42 * MINUTE).endswith("(12 min late)")
    assert deadline_words(T0 + 3 * DAY, T0) == f"act before {shown_time(T0 + 3 * DAY, '%a %d %b %H:%M')} (in 3 d)"
    inbound = T0
    assert window_words("messenger", inbound, T0 + 20 * HOUR + 50 * MINUTE) == "reply window closes in 3 h 10 min"
    assert window_words("instagram", inbound, T0 + 26 * HOUR, "private") == \
        "reply window closed 2 h ago: only a message tag reply"
    assert window_words("whatsapp", inbound, T0 + 25 * HOUR) == \
        "reply window closed 1 h ago: only an approved template message"
    assert window_words("instagram", inbound, T0 + HOUR, "public") is None  # a comment has no window
    assert window_words("x", inbound, T0) is None and window_words("messenger", None, T0) is None


# -- the case header ------------------------------------------------------------------------------


@pytest.fixture
def platforms(store):
    ingest(store, [
        msg(0, author="anna", text="Mijn wifi is kapot"),  # X, public
        msg(0, author="mia", platform="messenger", visibility="private", text="Hallo? Mijn bestelling"),
        msg(0, author="wim", platform="whatsapp", visibility="private", text="Wanneer komt de monteur?"),
        msg(0, author="ines", platform="instagram", text="Mooie foto, maar mijn pakket?"),  # a comment
    ])
    return store


async def open_case(pilot, store, handle: str) -> None:
    pilot.app.open_case(case_of(store, handle))
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CaseScreen)
                   and pilot.app.screen.case["author_handle"] == f"@{handle}", f"{handle}'s case")
    await settle(pilot)  # and on screen


async def test_the_header_says_by_when_to_act(platforms):
    app = make_app(Config(), platforms, connectors={}, clock=lambda: T0 + 5 * MINUTE)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_case(pilot, platforms, "anna")
        assert f"act before {shown_time(T0 + 30 * MINUTE, '%H:%M')} (in 25 min)" in title(app)
        assert "reply window" not in title(app)  # X has none


async def test_the_header_says_how_long_the_messenger_window_stays_open_and_when_it_closed(platforms):
    now = [T0 + 20 * HOUR + 50 * MINUTE]
    app = make_app(Config(), platforms, connectors={}, clock=lambda: now[0])
    async with app.run_test(size=(140, 40)) as pilot:
        await open_case(pilot, platforms, "mia")
        shown = title(app)
        assert "reply window closes in 3 h 10 min" in shown and "(20 h 20 min late)" in shown
        now[0] = T0 + 26 * HOUR
        await press(pilot, "P")  # any refresh of the case counts again
        shown = " ".join(title(app).split())
        assert "reply window closed 2 h ago: only a message tag reply" in shown and "(1 d 1 h late)" in shown


async def test_whatsapp_after_its_window_and_an_instagram_comment_without_one(platforms):
    app = make_app(Config(), platforms, connectors={}, clock=lambda: T0 + 25 * HOUR)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_case(pilot, platforms, "wim")
        assert "reply window closed 1 h ago: only an approved template message" in title(app)
        await press(pilot, "escape")
        await open_case(pilot, platforms, "ines")
        assert "act before" in title(app) and "reply window" not in title(app)


async def test_a_closed_case_has_no_act_before_time(platforms):
    anna = case_of(platforms, "anna")
    CaseService(platforms, clock=lambda: T0 + 10 * MINUTE).set_status(anna, "closed", actor="tim")
    app = make_app(Config(), platforms, connectors={}, clock=lambda: T0 + 20 * MINUTE)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_case(pilot, platforms, "anna")
        assert "CLOSED" in title(app) and "act before" not in title(app)
        await press(pilot, "o")  # reopened: the customer still waits since their message
        assert f"act before {shown_time(T0 + 30 * MINUTE, '%H:%M')} (in 10 min)" in title(app)


# -- the inbox's column headings ------------------------------------------------------------------


@pytest.fixture
def team_inbox(store):
    ingest(store, [
        msg(0, author="anna", text="Mijn wifi is kapot"),
        msg(10 * MINUTE, author="bram", text="Waar blijft mijn pakket?"),
        msg(20 * MINUTE, author="cees", text="Mijn factuur klopt niet"),
        msg(30 * MINUTE, author="dirk", text="Factuur klopt niet"),
        msg(40 * MINUTE, author="eva", text="Storing in Utrecht?"),
        msg(50 * MINUTE, "out", author="eva", agent="sanne", text="Klopt, we werken eraan ^SB"),
    ])
    return store


@pytest.mark.parametrize("size", [(80, 24), (140, 40)])
async def test_the_inbox_names_its_columns_in_line_with_the_rows(team_inbox, size):
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=size) as pilot:
        await press(pilot, "3")
        cases = app.screen.query_one(CaseList)
        await wait_for(pilot, lambda: cases.current_row() is not None)
        names = str(app.screen.query_one(CaseListHeading).render())
        rows = screen_lines(cases)
        assert len(names) == len(rows[0]) <= size[0]
        for name in ("STAT", "VIA", "ACT BY", "AUTHOR", "LAST MESSAGE", "OWNER", "AGE"):
            assert name in names
        anna = next(row for row in rows if "@anna" in row)
        assert anna.index("@anna") == names.index("AUTHOR")
        assert names.index("ACT BY") + len("ACT BY") == anna.index("-30m") + len("-30m")  # right-aligned alike
        assert names.rstrip().endswith("AGE") and anna.rstrip().endswith("1h")
        assert anna[names.index("OWNER")] == "-"  # nobody owns it


def test_the_headings_fit_80_columns():
    assert len(heading(78, "act")) == 78 and "LAST MESSAGE" in heading(78, "act")
    assert heading(60, "closed").rstrip().endswith("AGE")


async def test_the_closed_view_says_when_a_case_was_closed_not_by_when_to_act(team_inbox):
    anna = case_of(team_inbox, "anna")  # closed while it waited on us (it keeps its waiting_since)
    CaseService(team_inbox, clock=lambda: T0 + HOUR).set_status(anna, "closed", actor="tim")
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + 3 * HOUR)
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "5")
        cases = app.screen.query_one(CaseList)
        await wait_for(pilot, lambda: cases.current_row() is not None)
        names = str(app.screen.query_one(CaseListHeading).render())
        assert "CLOSED" in names and "ACT BY" not in names
        [row] = [line for line in screen_lines(cases) if line.strip()]
        assert "2h ago" in row and "-" not in row.split("@anna")[0]
        await press(pilot, "4")  # pending: when we last spoke
        names = str(app.screen.query_one(CaseListHeading).render())
        assert "ACTIVE" in names and "2h ago" in screen_lines(cases)[0]
        await press(pilot, "3")
        assert "ACT BY" in str(app.screen.query_one(CaseListHeading).render())


# -- the cursor after a bulk action ---------------------------------------------------------------


def highlighted(app) -> int:
    return app.screen.query_one(CaseList).current_row().id


async def test_the_cursor_stays_on_its_case_after_a_bulk_hand_over(team_inbox):
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "j", "space", "space")  # bram and cees chosen; the cursor on dirk
        cases = app.screen.query_one(CaseList)
        dirk = highlighted(app)
        assert cases.cursor == 3 and len(cases.selected) == 2
        await press(pilot, "a", *"noah", "enter")
        assert {team_inbox.get_case(i)["owner"] for i in (case_of(team_inbox, "bram"), case_of(team_inbox, "cees"))} \
            == {"noah"}
        assert highlighted(app) == dirk and not cases.selected
        await press(pilot, "2")  # Unassigned: anna, dirk (bram and cees left it)
        anna = highlighted(app)
        await press(pilot, "space")  # anna chosen; the cursor on dirk, whom the hand-over moves up a row
        assert highlighted(app) == dirk and cases.cursor == 1
        await press(pilot, "a", *"noah", "enter")
        assert team_inbox.get_case(anna)["owner"] == "noah"
        assert highlighted(app) == dirk and cases.cursor == 0


async def test_the_cursor_goes_to_the_next_case_when_its_own_leaves_the_view_and_says_so(team_inbox):
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "2", "j", "space", "space", "k")  # bram and cees chosen; the cursor back on cees
        cases = app.screen.query_one(CaseList)
        cees, dirk = case_of(team_inbox, "cees"), case_of(team_inbox, "dirk")
        assert highlighted(app) == cees
        await press(pilot, "a", *"noah", "enter")  # both leave Unassigned
        await wait_for(pilot, lambda: cases.count == 2)
        assert highlighted(app) == dirk
        said = notice(app)
        assert "assigned 2 cases to noah" in said and f"case {cees} left Unassigned; the cursor is on case {dirk}" in said


def hold_the_lists_count(store, monkeypatch) -> tuple[threading.Event, threading.Event]:
    """The list's next re-read waits in its count until the second event is set; the first is set as
    it begins to wait. (The views' counts, on the counts thread, go on.)"""
    count_cases = store.count_cases
    counting, go = threading.Event(), threading.Event()

    def held_count(query):
        if not threading.current_thread().name.startswith("webcare-counts") and not counting.is_set():
            counting.set()
            go.wait(10)
        return count_cases(query)

    monkeypatch.setattr(store, "count_cases", held_count)
    return counting, go


def close_elsewhere(store, case_id: int) -> None:
    """Another process (a teammate, the sync) closes the case."""
    other = sqlite3.connect(store.path)
    try:
        other.execute("UPDATE cases SET status = 'closed', closed_at = ? WHERE id = ?", (T0 + HOUR, case_id))
        other.commit()
    finally:
        other.close()


async def test_the_cursor_keeps_its_case_when_the_store_changes_faster_than_the_list_is_read(team_inbox, monkeypatch):
    """Under a busy sync the store changes again and again before the list's re-read is back (on the
    1M store a big view's count takes up to half a second). The rows stay on screen meanwhile, and
    the cursor stays on its case. (From the second change on, the list dropped the rows it showed: it
    went blank until the read was back, and a third change found no case under the cursor, so the
    cursor kept its place in the list, on another customer, without a word.)"""
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "j", "j")  # All open: anna, bram, cees, dirk; the cursor on cees
        cases = app.screen.query_one(CaseList)
        cees = case_of(team_inbox, "cees")
        assert highlighted(app) == cees
        counting, go = hold_the_lists_count(team_inbox, monkeypatch)
        try:
            close_elsewhere(team_inbox, case_of(team_inbox, "anna"))  # a row above the cursor leaves
            for _ in range(3):  # the sync, the outbox, the store watch: each says the store changed
                app.store_changed.publish(None)
                await pilot.pause()
            await wait_for(pilot, counting.is_set, "the list's re-read to begin")
            assert any("@cees" in line for line in screen_lines(cases))  # what was shown stays meanwhile
        finally:
            go.set()
        await settle(pilot)
        assert cases.count == 3 and highlighted(app) == cees and cases.cursor == 1


async def test_a_cursor_moved_while_the_list_is_read_again_stays_on_the_case_the_agent_moved_to(team_inbox, monkeypatch):
    """The agent moves the cursor while the list is being read again, and the case it left goes out of
    the view meanwhile: the cursor stays on the case the agent moved to. (The re-read looked for the
    case under the cursor when it began: not finding it, it kept the cursor's place in the list, which
    now held the next customer, and said nothing.)"""
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "j")  # All open: anna, bram, cees, dirk; the cursor on bram
        cases = app.screen.query_one(CaseList)
        assert highlighted(app) == case_of(team_inbox, "bram")
        counting, go = hold_the_lists_count(team_inbox, monkeypatch)
        try:
            close_elsewhere(team_inbox, case_of(team_inbox, "bram"))  # a teammate closes bram's case
            app.store_changed.publish(None)
            await wait_for(pilot, counting.is_set, "the list's re-read to begin")
            await pilot.press("j")  # onto cees, as the list still shows it (not `press`: it waits for the re-read)
            await pilot.pause()
            assert highlighted(app) == case_of(team_inbox, "cees")
        finally:
            go.set()
        await settle(pilot)
        assert cases.count == 3 and highlighted(app) == case_of(team_inbox, "cees") and cases.cursor == 1


# -- the order of a view --------------------------------------------------------------------------


def authors(app) -> list[str]:
    return [row.split("@")[1].split()[0] for row in screen_lines(app.screen.query_one(CaseList)) if "@" in row]


async def test_s_changes_the_order_at_once_says_which_and_each_view_keeps_its_own(team_inbox):
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3")
        assert authors(app) == ["anna", "bram", "cees", "dirk"] and "oldest waiting first" in notice(app)
        await press(pilot, "s")  # the first press changes the order
        assert authors(app) == ["dirk", "cees", "bram", "anna"]
        assert "All open now sorted newest activity first" in notice(app)
        await press(pilot, "2")  # another view has its own order
        assert authors(app) == ["anna", "bram", "cees", "dirk"] and "oldest waiting first" in notice(app)
        await press(pilot, "3")  # and this one kept the one chosen
        assert authors(app) == ["dirk", "cees", "bram", "anna"] and "newest activity first" in notice(app)
        await press(pilot, "s", "s")  # oldest activity, then round to oldest waiting
        assert "oldest waiting first" in notice(app) and authors(app)[0] == "anna"


async def test_pending_and_closed_views_are_never_put_in_waiting_order(team_inbox):
    ingest(team_inbox, [msg(HOUR, "out", author="dirk", agent="tim", text="Wij zoeken het uit ^TR")])
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + 2 * HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "4")
        assert authors(app) == ["dirk", "eva"] and "newest activity first" in notice(app)
        await press(pilot, "s")
        assert authors(app) == ["eva", "dirk"] and "oldest activity first" in notice(app)
        await press(pilot, "s")  # cases that wait on nobody have no waiting order: back to the first
        assert authors(app) == ["dirk", "eva"] and "newest activity first" in notice(app)


async def test_the_cursors_case_leaving_while_the_list_is_read_again_is_said_rightly(team_inbox, monkeypatch):
    """Another program commits between the list's count and its rows: the notice says where the cursor
    went. (The count and rows read after the commit disagreed: "the view is empty", or nothing said.)"""
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "2", "j", "j", "j")  # Unassigned: anna, bram, cees, dirk; the cursor on dirk
        cases = app.screen.query_one(CaseList)
        cees, dirk = case_of(team_inbox, "cees"), case_of(team_inbox, "dirk")
        assert highlighted(app) == dirk and cases.count == 4
        count_cases = team_inbox.count_cases
        other = sqlite3.connect(team_inbox.path, check_same_thread=False)  # it writes from a reading thread

        def counted_then_another_program_writes(query):
            counted = count_cases(query)
            if not threading.current_thread().name.startswith("webcare-reads"):
                return counted  # the views' counts: the write goes between the list's count and its rows
            monkeypatch.setattr(team_inbox, "count_cases", count_cases)  # once
            other.execute("UPDATE cases SET owner = 'noah' WHERE id = ?", (dirk,))
            other.commit()
            return counted

        try:
            monkeypatch.setattr(team_inbox, "count_cases", counted_then_another_program_writes)
            app.store_changed.publish(None)  # as when another program's write is noticed
            await wait_for(pilot, lambda: cases.count == 3 and "left" in notice(app), "dirk to leave Unassigned")
            assert highlighted(app) == cees
            assert notice(app).endswith(f"case {dirk} left Unassigned; the cursor is on case {cees}")
        finally:
            other.close()


async def test_a_change_while_another_view_is_being_read_shows_that_view_changed(team_inbox, monkeypatch):
    """The sync writes while the first page of the view just chosen is being read: the list shows that
    view, with the change. (It read the view left again, and showed it under the new view's name, with
    its count, until the next change: a two-core run waited 10 s for the sync's cases to show.)"""
    app = make_app(Config(), team_inbox, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "2")  # Unassigned
        cases = app.screen.query_one(CaseList)
        page_cases = team_inbox.page_cases
        reading, go = threading.Event(), threading.Event()

        def held_first_page(query, sort, **where):
            if threading.current_thread().name.startswith("webcare-reads") and not reading.is_set():
                reading.set()
                go.wait(10)  # the next view's first page waits until the store changed
            return page_cases(query, sort, **where)

        other = sqlite3.connect(team_inbox.path)
        try:
            monkeypatch.setattr(team_inbox, "page_cases", held_first_page)
            app.screen.prefetched.clear()  # as at start, before the views' first pages were read ahead
            await pilot.press("3")  # All open: its first page is read in the background
            await wait_for(pilot, reading.is_set, "All open's first page to be read")
            other.execute("UPDATE cases SET status = 'closed', closed_at = ? WHERE id = ?",
                          (T0 + HOUR, case_of(team_inbox, "anna")))
            other.commit()
            app.store_changed.publish(None)  # as when the sync's write is noticed
            go.set()
            await settle(pilot)
        finally:
            go.set()
            other.close()
        shown = app.screen.current_query()
        assert cases.query_ == shown  # All open, not Unassigned read again
        assert cases.count == team_inbox.count_cases(shown)  # anna closed meanwhile: counted without her
