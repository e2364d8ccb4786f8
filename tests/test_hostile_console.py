"""The console against hostile input (issue 13), driven with Pilot: a search for year 1, a stored
time no calendar can show, a link to a local file, no browser at all, and handles that hide
characters or pass for another. The console stays up and says what happened."""

from __future__ import annotations

import webbrowser
from dataclasses import replace

import pytest
from conftest import MINUTE, conversation, msg, notice, press, screen_lines, settle, wait_for

from webcare_tui.alerts import AlertSettings, audience_alerts, deadline_alerts
from webcare_tui.app import make_app
from webcare_tui.config import Config
from webcare_tui.ingest import ingest
from webcare_tui.screens.case import CaseScreen
from webcare_tui.widgets.case_list import CaseList
from webcare_tui.widgets.timeline import Timeline

HIDDEN = "an\u200bna"  # an Instagram-style handle (no @) with a zero-width space: shows as "anna" unless marked


@pytest.fixture
def inbox(store):
    ingest(store, [
        replace(msg(0, author="anna", text="Kijk eens", platform="instagram"), url="file:///etc/passwd"),
        replace(msg(10 * MINUTE, author="bram", text="Mijn pakket"), url="https://x.com/bram/status/1"),
    ])
    return store


# --- dates ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("search", "shown"), [
    ("after:0001-01-01", 2), ("before:9999-12-31", 2),  # year 1 counts as 2000-01-01, 9999 as 9998-12-31
    ("after:9999-12-31", 0), ("before:0001-01-01", 0),  # so the search is applied, not dropped
])
async def test_a_search_at_the_ends_of_the_calendar_keeps_the_console_up(inbox, east_of_utc, search, shown):
    # before: OverflowError from the search killed the app
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        cases = app.screen.query_one(CaseList)
        await press(pilot, "3", "slash", *search)
        await wait_for(pilot, lambda: cases.count == shown, f"{shown} cases for {search}")
        assert app.is_running and app.return_code is None


@pytest.mark.parametrize(("search", "said"), [("age:>99999999999999999999d", "at most 100 years"),
                                              ("priority:>=99999999999999999999", "write priority:2")])
async def test_a_number_beyond_any_search_is_refused_in_plain_words(inbox, search, said):
    # before: SQLite's OverflowError, the search lost
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "slash", *search)
        await settle(pilot)
        assert app.is_running and said in notice(app)


async def test_a_case_whose_times_no_calendar_shows_opens_with_the_raw_number(inbox, east_of_utc):
    # written before times were checked: year 9999 in UTC is year 10000 in Tokyo, and year 1
    inbox.conn.execute("UPDATE messages SET created_at = 253402300799 WHERE external_id IN"
                       " (SELECT external_id FROM messages ORDER BY id LIMIT 1)")
    inbox.conn.execute("UPDATE cases SET created_at = -62135596800")
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter")  # OverflowError from datetime.fromtimestamp killed the console
        assert isinstance(app.screen, CaseScreen) and app.is_running
        trail = conversation(app) + "\n".join(screen_lines(app.screen.query_one(Timeline)))  # as text and as drawn
        assert "@253402300799" in trail


# --- links -------------------------------------------------------------------------------------

@pytest.fixture
def browser(monkeypatch):
    """webbrowser.open as the test says it goes: the URLs it was given, and what it answers."""
    calls: list[str] = []
    answer = [True]

    def fake_open(url, *args, **kwargs):
        calls.append(url)
        return answer[0]

    monkeypatch.setattr(webbrowser, "open", fake_open)
    return calls, answer


async def open_case_of(app, pilot, handle_part: str) -> None:
    cases = app.screen.query_one(CaseList)
    await press(pilot, "3")
    for _ in range(cases.count):
        if handle_part in ((row := cases.current_row()) and row.author_handle or ""):
            break
        await press(pilot, "j")
    else:
        pytest.fail(f"no case of {handle_part!r} in the view")
    await press(pilot, "enter")
    assert isinstance(app.screen, CaseScreen)


async def test_b_opens_no_file_link_and_says_why(inbox, browser):
    calls, _ = browser
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await open_case_of(app, pilot, "anna")
        await press(pilot, "b")
        assert calls == []  # before: webbrowser.open("file:///etc/passwd") and "opened"
        said = notice(app)
        assert "not opened" in said and "only http and https" in said and "file:" in said


@pytest.mark.parametrize("url", ["javascript:alert(1)", "x-terminal-emulator:sh", "/etc/passwd",
                                 "https://evil.example/\x1b]0;t\x07", "https://evil.example/a b"])
async def test_b_opens_no_other_scheme_and_no_link_with_controls(store, browser, url):
    calls, _ = browser
    ingest(store, [replace(msg(0, author="cees"), url=url)])
    app = make_app(Config(), store, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter", "b")
        assert calls == [] and "not opened" in notice(app) and "\x1b" not in notice(app)


async def test_b_says_when_no_browser_could_be_started(inbox, browser):
    calls, answer = browser
    answer[0] = False  # what webbrowser.open answers on a machine without a browser (a server over ssh)
    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        await open_case_of(app, pilot, "bram")
        await press(pilot, "b")
        assert calls == ["https://x.com/bram/status/1"]
        assert notice(app) == "no browser could be started; the link is https://x.com/bram/status/1"
        answer[0] = True
        await press(pilot, "b")
        assert notice(app) == "opened https://x.com/bram/status/1"


# --- handles -----------------------------------------------------------------------------------

@pytest.fixture
def spoofed(store):
    """Two authors whose handles have no @ (Instagram, Chatwoot): one hides a character, one is Cyrillic."""
    hidden = replace(msg(0, author="anna", platform="instagram", text="Help"), author_handle=HIDDEN)
    cyrillic = replace(msg(5 * MINUTE, author="anna2", platform="instagram", text="Hallo"), author_handle="\u0430nna")
    ingest(store, [hidden, cyrillic])
    return store


async def test_handles_without_an_at_show_what_they_are_in_the_list_and_the_case(spoofed):
    app = make_app(Config(), spoofed, connectors={})
    async with app.run_test(size=(120, 30)) as pilot:
        cases = app.screen.query_one(CaseList)
        await press(pilot, "3")
        lines = screen_lines(cases)[:2]
        # before: both showed as a plain "anna"
        assert any("⚠an�na" in line for line in lines) and any("⚠\u0430nna" in line for line in lines)
        await open_case_of(app, pilot, "\u200b")
        title = str(app.screen.query_one("#title").render())
        panel = str(app.screen.query_one("#author").render())
        assert "⚠an�na Anna" in title and panel.startswith("⚠an�na\n")


def test_alerts_name_authors_by_their_handle_shown_for_what_it_is():
    rows = [{"id": 1, "platform": "instagram", "waiting_since": 0, "last_inbound_at": 0, "author_handle": HIDDEN,
             "author_name": "Anna"}]
    [deadline] = deadline_alerts(rows, 1500, AlertSettings(), lambda platform: 1800)
    assert "(⚠an�na, instagram)" in deadline.text
    [audience] = audience_alerts([{"author_handle": "\u0430nna", "author_name": "Anna", "author_type": "press",
                                   "followers": 0, "text": "slecht", "platform": "instagram", "message_id": 7,
                                   "case_id": 1}])
    assert audience.text.startswith("negative from ⚠\u0430nna (press)")
