"""`webcare wall` in a real browser: Debian's Chromium, driven by Playwright, against uvicorn on a free port.

An agent signs in through the form, the tiles show the numbers of `webcare report --json`, a new
message shows up by itself, and the page says "reconnecting" while the server restarts, then goes
on with the same session. The page must run under its own Content-Security-Policy: any script or
style the policy blocks is a console error, and the test fails on one. A screenshot of the page on
a 1920x1080 screen is saved beside the test's files.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from conftest import MINUTE, T0, msg
from test_report import parse as report_args

from webcare_tui import report
from webcare_tui.bulk import import_jsonl
from webcare_tui.config import Agent, Config
from webcare_tui.connectors.demo_traffic import generate_history
from webcare_tui.ingest import ingest
from webcare_tui.kpi import STATUS_SYMBOLS, format_duration, format_share
from webcare_tui.wall.app import make_app
from webcare_tui.wall.view import FRESH

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed "
                               "(pip install playwright; its own browser download is not needed)")

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "wall password 42"
ZONE = ZoneInfo("Europe/Amsterdam")
END = datetime(2025, 11, 24, 17, 30, tzinfo=ZONE)  # a Monday, just past the peak
RAW = {"kpi": {"timezone": "Europe/Amsterdam", "deadline": "30m",
               "targets": {"service_level": 0.8, "avg_response": "40m", "open_max": 150, "first_response": "30m",
                           "replies_min": 250}},
       "team": {"agents": [{"id": "sanne", "role": "lead"}, {"id": "tim"}]}}
LABELS = ("Vraag", "Klacht", "Storing", "Factuur", "Compliment", "Hypotheken")
TILE_KEYS = {"incoming": ("incoming", str), "replies": ("replies", str), "completed": ("completed", str),
             "open": ("open", str), "avg": ("response_avg_seconds", format_duration),
             "median": ("response_median_seconds", format_duration),
             "first": ("first_response_avg_seconds", format_duration), "service": ("service_level", format_share)}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Served:
    """The wall under uvicorn in a thread, on one port across restarts."""

    def __init__(self, config: Config, store, clock: Clock) -> None:
        self.config, self.store, self.clock = config, store, clock
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, password: str = PASSWORD) -> None:
        app = make_app(self.config, self.store, password, clock=self.clock, refresh=1)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, ws="none",
                                                    log_level="warning", timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, name="wall-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:  # uvicorn sets it once it listens
            assert self.thread.is_alive(), "the server thread ended before it listened"
            assert time.monotonic() < deadline, "the server did not start within 15 s"
            self.thread.join(0.01)

    def stop(self) -> None:
        assert self.server is not None and self.thread is not None
        self.server.should_exit = True
        self.thread.join(15)
        assert not self.thread.is_alive(), "the server did not stop within 15 s"


@pytest.fixture
def busy_store(store):
    """Four weeks of demo traffic up to END, its newest cases labelled as a team would."""
    result = import_jsonl(store, [generate_history(11, END, 29, 150)], Config().threading)
    assert result.new_messages > 5000
    for case in store.list_cases()[:400]:
        store.set_labels(case["id"], add=[LABELS[case["id"] % len(LABELS)]])
    return store


@pytest.fixture
def served(busy_store):
    clock = Clock(END.timestamp())
    wall = Served(Config(agent=Agent(id="tim"), raw=RAW), busy_store, clock)
    wall.start()
    yield wall
    if wall.thread is not None and wall.thread.is_alive():
        wall.stop()


@pytest.fixture
def page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1920, "height": 1080})
            opened = context.new_page()
            opened.set_default_timeout(15_000)
            errors: list[str] = []
            opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            opened.on("pageerror", lambda error: errors.append(str(error)))
            opened.errors = errors  # type: ignore[attr-defined]
            yield opened
        finally:
            browser.close()


def expected(store, clock: Clock, *argv: str) -> dict:
    """What `webcare report --json` says, with the wall's clock."""
    out = io.StringIO()
    assert report.run(report_args(*argv, "--json"), Config(agent=Agent(id="tim"), raw=RAW), store, out,
                      clock=clock) == 0
    return json.loads(out.getvalue())


def sign_in(page, served: Served) -> None:
    page.goto(served.url + "/")
    assert "/login" in page.url  # no session: the form
    page.fill("#password", "not it")
    page.click("button[type=submit]")
    assert page.text_content(".error") == "Wrong password."
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#tile-incoming")
    assert page.url == served.url + "/"
    assert page.errors == ["Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    page.errors.clear()  # the wrong password's answer; from here on, none


def tile_values(page) -> dict[str, str]:
    return {tile: page.text_content(f"#tile-{tile} .value") for tile in TILE_KEYS}


def test_the_page_shows_the_reports_numbers_and_updates_itself(page, served, tmp_path):
    sign_in(page, served)
    report_now = expected(served.store, served.clock)
    team = report_now["team"]
    assert tile_values(page) == {tile: shape(team[key]) if team[key] is not None else "–"
                                 for tile, (key, shape) in TILE_KEYS.items()}
    assert int(tile_values(page)["incoming"]) > 100
    for tile, target in (("service", "service_level"), ("avg", "avg_response"), ("open", "open_max"),
                         ("first", "first_response"), ("replies", "replies_min")):
        status = team["targets"][target]["status"]
        assert page.text_content(f"#tile-{tile} .target .symbol") == STATUS_SYMBOLS[status]
        assert status in page.get_attribute(f"#tile-{tile}", "class").split()
    agents = [name.strip() for name in page.locator("#by-agent tbody th").all_text_contents()]
    keys = [group["key"] or "(unassigned)" for group in expected(served.store, served.clock, "--by", "agent")["groups"]]
    assert len(keys) <= 6 and sorted(agents) == sorted(keys)  # all of them: the table has room for six
    labels = [name.strip() for name in page.locator("#by-label tbody th").all_text_contents()]
    assert set(labels) <= {*LABELS, "(no label)"} and "(no label)" in labels
    assert page.locator(".hours svg rect.today").count() > 10 and page.locator(".heat svg rect").count() == 7 * 24
    assert page.text_content("#connection").startswith("● live")

    shot = tmp_path / "wall.png"
    page.screenshot(path=str(shot))

    before = int(tile_values(page)["incoming"])
    assert END.timestamp() == T0 + 30 * MINUTE
    ingest(served.store, [msg(29 * MINUTE, author="nieuw")])  # a minute ago
    served.clock.now += FRESH
    sync_api.expect(page.locator("#tile-incoming .value")).to_have_text(str(before + 1))  # by itself, no reload
    assert page.errors == []  # nothing the Content-Security-Policy blocked, no script error


def test_the_page_says_reconnecting_while_the_server_restarts_and_goes_on(page, served, tmp_path):
    page.goto(served.url + "/login")
    page.screenshot(path=str(tmp_path / "wall-sign-in.png"))
    sign_in(page, served)
    served.stop()
    page.wait_for_selector("#connection.reconnecting")
    assert "reconnecting" in page.text_content("#connection")
    page.screenshot(path=str(tmp_path / "wall-reconnecting.png"))
    assert page.locator("body.stale").count() == 1  # the old numbers, dimmed
    served.start()  # a new process, the same password: the session cookie still holds
    page.wait_for_selector("#connection.live", timeout=20_000)
    assert page.url == served.url + "/" and page.locator("#tile-incoming .value").count() == 1
    assert page.locator("body.stale").count() == 0
    assert [error for error in page.errors if "ERR_CONNECTION_REFUSED" not in error] == []
    served.stop()
    served.start(password="a new password, 2")  # a new password ends every session: the TV shows the form
    page.wait_for_url(served.url + "/login?next=%2F", timeout=20_000)
    assert page.locator("#password").count() == 1
