"""`webcare wall`: the KPIs as a password-protected web page, through Starlette's TestClient.

Who may see it (Basic, the form's cookie, sign-out, the limit on wrong passwords, no password at
all), that /kpi.json is `webcare report --json`, that the page shows only aggregates and hides the
agents when the team says so, and the plain answers to bad input.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import socket
from html.parser import HTMLParser

import keyring
import keyring.backends.fail
import pytest
from conftest import HOUR, MINUTE, msg
from starlette.testclient import TestClient
from test_kpi import NOW, day  # noqa: F401 (the fixture)
from test_report import parse as report_args

from webcare_tui import cli, report, wall
from webcare_tui.config import Agent, Config
from webcare_tui.credentials import SERVICE
from webcare_tui.ingest import ingest
from webcare_tui.kpi import format_duration, format_share
from webcare_tui.wall.app import COOKIE, make_app
from webcare_tui.wall.auth import KEYRING_USER, PASSWORD_ENV, Guesses, client_key
from webcare_tui.wall.view import FRESH

PASSWORD = "correct horse battery"
DAY = "2025-11-24"
RAW = {"kpi": {"timezone": "Europe/Amsterdam", "deadline": "30m", "deadlines": {"facebook": "1h"},
               "targets": {"service_level": 0.9, "avg_response": "20m", "open_max": 2}},
       "team": {"agents": [{"id": "sanne", "role": "lead"}, {"id": "tim"}]}}
HIDDEN = {**RAW, "kpi": {**RAW["kpi"], "hide_agent_comparison": True}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client(store, raw=RAW, password: str = PASSWORD, guesses: Guesses | None = None, agent: str = "tim",
           clock=lambda: NOW) -> TestClient:
    app = make_app(Config(agent=Agent(id=agent), raw=raw), store, password, clock=clock, guesses=guesses)
    return TestClient(app, follow_redirects=False)


def report_json(store, *argv: str, raw=RAW, agent: str = "tim") -> str:
    out = io.StringIO()
    assert report.run(report_args(*argv), Config(agent=Agent(id=agent), raw=raw), store, out, clock=lambda: NOW) == 0
    return out.getvalue()


class Tiles(HTMLParser):
    """The tiles' values and the breakdown rows' names of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, str] = {}
        self.rows: dict[str, list[str]] = {}
        self._table: str | None = None
        self._in_row_name = False

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "article" and (found.get("id") or "").startswith("tile-"):
            self.tiles[found["id"][5:]] = found["data-value"]
        if tag == "article" and (found.get("id") or "").startswith("by-"):
            self._table = found["id"][3:]
            self.rows[self._table] = []
        self._in_row_name = tag == "th" and found.get("scope") == "row"

    def handle_data(self, data):
        if self._in_row_name and self._table:
            self.rows[self._table].append(data)
            self._in_row_name = False


def page_parts(html: str) -> Tiles:
    parser = Tiles()
    parser.feed(html)
    return parser


# -- who may see it -----------------------------------------------------------


def test_without_a_password_or_with_a_wrong_one_it_is_401(day):  # noqa: F811
    wall_client = client(day)
    for path in ("/", "/panel", f"/kpi.json?date={DAY}"):
        answer = wall_client.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"].startswith('Basic realm="webcare wall"')
        assert wall_client.get(path, auth=("wall", "not the password")).status_code == 401
    assert "sanne" not in wall_client.get("/").text  # nothing of the numbers either
    # the page's own updates (its script says so) get no Basic challenge: no browser dialog on the TV
    answer = wall_client.get("/panel", headers={"X-Webcare-Wall": "1"})
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Form ")


def test_a_browser_without_a_session_is_sent_to_the_form(day):  # noqa: F811
    answer = client(day).get(f"/?date={DAY}", headers={"Accept": "text/html,application/xhtml+xml"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2F%3Fdate%3D2025-11-24"


def test_http_basic_works_with_any_user_name(day):  # noqa: F811
    wall_client = client(day)
    answer = wall_client.get(f"/kpi.json?date={DAY}", auth=("wall", PASSWORD))
    assert answer.status_code == 200 and answer.json()["team"]["incoming"] == 10
    assert wall_client.get("/panel", auth=("tv", PASSWORD)).status_code == 200
    assert COOKIE not in wall_client.cookies  # Basic sets no session


def test_the_form_sets_a_cookie_that_then_works_and_outlives_a_restart(day):  # noqa: F811
    wall_client = client(day)
    form = wall_client.get("/login?next=/%3Fdate%3D2025-11-24")
    assert form.status_code == 200 and 'type="password"' in form.text
    wrong = wall_client.post("/login", data={"password": "guess", "next": "/"})
    assert wrong.status_code == 401 and "Wrong password." in wrong.text and COOKIE not in wall_client.cookies
    signed_in = wall_client.post("/login", data={"password": PASSWORD, "next": f"/?date={DAY}"})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == f"/?date={DAY}"
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain HTTP here; over the TLS proxy it is Secure
    page = wall_client.get(f"/?date={DAY}")
    assert page.status_code == 200 and page_parts(page.text).tiles["incoming"] == "10"
    assert wall_client.get(f"/kpi.json?date={DAY}").status_code == 200
    restarted = client(day)  # a new process with the same password: the TV stays signed in
    restarted.cookies.set(COOKIE, wall_client.cookies[COOKIE])
    assert restarted.get("/panel").status_code == 200
    changed = client(day, password="a new password 2")  # a new password signs everyone out
    changed.cookies.set(COOKIE, wall_client.cookies[COOKIE])
    assert changed.get("/panel").status_code == 401


def test_a_forged_cookie_is_refused(day):  # noqa: F811
    wall_client = client(day)
    wall_client.cookies.set(COOKIE, "eyJ3YWxsIjoxfQ.ZZZZZZ.forged-signature")
    assert wall_client.get("/panel").status_code == 401


def test_sign_out_ends_the_session(day):  # noqa: F811
    wall_client = client(day)
    wall_client.post("/login", data={"password": PASSWORD, "next": "/"})
    assert wall_client.get("/panel").status_code == 200
    out = wall_client.post("/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert COOKIE not in wall_client.cookies
    assert wall_client.get("/panel").status_code == 401


def test_after_five_wrong_passwords_in_a_minute_it_is_429(day):  # noqa: F811
    clock = Clock()
    wall_client = client(day, guesses=Guesses(clock=clock))
    browser = TestClient(wall_client.app, follow_redirects=False)
    assert browser.post("/login", data={"password": PASSWORD}).status_code == 303  # a TV signed in before
    for _ in range(5):
        assert wall_client.get("/kpi.json", auth=("wall", "guess")).status_code == 401
    refused = wall_client.get("/kpi.json", auth=("wall", PASSWORD))  # even the right one, for now
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert "try again in 60 seconds" in refused.text
    form = wall_client.post("/login", data={"password": PASSWORD})
    assert form.status_code == 429 and form.headers["retry-after"] == "60" and COOKIE not in wall_client.cookies
    assert browser.get("/panel").status_code == 200  # a session is no guess: the TV keeps its numbers
    clock.now += 30
    assert wall_client.get("/kpi.json", auth=("wall", PASSWORD)).headers["retry-after"] == "30"
    clock.now += 31
    assert wall_client.get("/kpi.json", auth=("wall", PASSWORD)).status_code == 200
    assert wall_client.get("/panel").status_code == 401  # no credentials at all is not a guess
    for _ in range(5):
        assert wall_client.get("/panel").status_code == 401


def test_guesses_are_counted_per_client():
    clock = Clock()
    guesses = Guesses(limit=2, window=60, clock=clock, clients=3)
    for _ in range(2):
        guesses.failed("10.0.0.1")
    assert guesses.wait("10.0.0.1") == 60 and guesses.wait("10.0.0.2") == 0
    guesses.succeeded("10.0.0.1")
    assert guesses.wait("10.0.0.1") == 0
    for client_number in range(10):  # bounded memory: the oldest client is forgotten
        guesses.failed(f"10.0.1.{client_number}")
    assert len(guesses._failed) <= 3
    # one IPv6 host has a whole /64; IPv4 in IPv6 is the IPv4 address
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff") == "2001:db8::/64"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7" and client_key(None) == "?"


def test_sign_in_goes_back_only_to_a_page_of_the_wall(day):  # noqa: F811
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        answer = client(day).post("/login", data={"password": PASSWORD, "next": target})
        assert answer.headers["location"] == "/", target


def test_a_form_from_another_site_is_refused(day):  # noqa: F811
    wall_client = client(day)
    answer = wall_client.post("/login", data={"password": PASSWORD}, headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403 and COOKIE not in wall_client.cookies
    answer = wall_client.post("/login", data={"password": PASSWORD}, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert wall_client.post("/login", data={"password": PASSWORD}, headers={"Origin": "http://testserver"}
                            ).status_code == 303


# -- the password --------------------------------------------------------------


def wall_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="webcare")
    wall.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["wall", *argv])


def test_without_a_password_the_server_refuses_to_start_in_plain_words(store, memory_keyring, monkeypatch,
                                                                      capsys):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    args = wall_args()
    assert (args.host, args.port) == ("127.0.0.1", 8080)  # this machine only, unless --host says otherwise
    assert args.handler(args, Config(), store, io.StringIO()) == 2
    err = capsys.readouterr().err
    assert err.startswith("webcare: wall: the wall needs a password and none is set")
    assert "webcare wall --set-password" in err and PASSWORD_ENV in err and "Traceback" not in err
    monkeypatch.setenv(PASSWORD_ENV, "short")
    assert args.handler(args, Config(), store, io.StringIO()) == 2
    assert "shorter than 8 characters" in capsys.readouterr().err


def test_without_a_keyring_it_says_to_use_the_environment(store, monkeypatch, capsys):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    before = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        assert wall.run(wall_args(), Config(), store, io.StringIO()) == 2
    finally:
        keyring.set_keyring(before)
    err = capsys.readouterr().err
    assert "no usable keyring" in err and PASSWORD_ENV in err and "Traceback" not in err


def test_set_password_asks_twice_with_hidden_input_and_keeps_it_in_the_keyring(store, memory_keyring,
                                                                               monkeypatch, capsys):
    import getpass

    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    answers = iter([PASSWORD, PASSWORD, PASSWORD, "another one!"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt: next(answers))
    out = io.StringIO()
    assert wall.run(wall_args("--set-password"), Config(), store, out) == 0
    assert memory_keyring.secrets[(SERVICE, KEYRING_USER)] == PASSWORD
    assert "stored the wall's password in the keyring" in out.getvalue() and PASSWORD not in out.getvalue()
    memory_keyring.secrets.clear()
    assert wall.run(wall_args("--set-password"), Config(), store, io.StringIO()) == 2
    assert "the two passwords differ" in capsys.readouterr().err and not memory_keyring.secrets


def test_the_keyring_password_serves_and_the_environment_wins(store, memory_keyring, monkeypatch):
    from webcare_tui.wall.auth import load_password

    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    memory_keyring.set_password(SERVICE, KEYRING_USER, PASSWORD)
    assert load_password() == PASSWORD
    monkeypatch.setenv(PASSWORD_ENV, "from the environment")
    assert load_password() == "from the environment"


def test_a_port_in_use_is_a_plain_error(store, capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        assert wall.serve(Config(), store, PASSWORD, "127.0.0.1", port) == 2
    finally:
        taken.close()
    assert f"could not listen on 127.0.0.1:{port}" in capsys.readouterr().err


# -- what it shows ---------------------------------------------------------------


def test_kpi_json_is_the_reports_json(day):  # noqa: F811
    wall_client = client(day)
    answer = wall_client.get(f"/kpi.json?date={DAY}", auth=("wall", PASSWORD))
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.text == report_json(day, "--date", DAY, "--json")  # byte for byte
    assert json.loads(answer.text)["team"]["service_level"] == 0.8571
    for when in ("today", "yesterday"):
        assert wall_client.get(f"/kpi.json?date={when}", auth=("wall", PASSWORD)).text == report_json(
            day, "--date", when, "--json")
    assert wall_client.get("/kpi.json", auth=("wall", PASSWORD)).text == report_json(day, "--json")


def test_kpi_json_equals_what_the_webcare_command_prints(day, tmp_path, capsys):  # noqa: F811
    config = tmp_path / "config.toml"
    config.write_text('[agent]\nid = "tim"\n\n[kpi]\ntimezone = "Europe/Amsterdam"\ndeadline = "30m"\n'
                      'targets = { service_level = 0.9, avg_response = "20m" }\n', encoding="utf-8")
    code = cli.main(["--config", str(config), "--db", str(day.path), "report", "--date", DAY, "--json"])
    printed = capsys.readouterr().out
    assert code == 0
    from webcare_tui.config import load_config

    app = make_app(load_config(config), day, PASSWORD)  # the real clock, as the command's: a past day
    answer = TestClient(app).get(f"/kpi.json?date={DAY}", auth=("wall", PASSWORD))
    assert answer.text == printed and json.loads(answer.text)["team"]["incoming"] == 10


def test_the_page_shows_the_reports_numbers(day):  # noqa: F811
    page = client(day).get(f"/?date={DAY}", auth=("wall", PASSWORD))
    assert page.status_code == 200
    team = json.loads(report_json(day, "--date", DAY, "--json"))["team"]
    parts = page_parts(page.text)
    assert parts.tiles == {
        "incoming": str(team["incoming"]), "replies": str(team["replies"]), "completed": str(team["completed"]),
        "open": str(team["open"]), "avg": format_duration(team["response_avg_seconds"]),
        "median": format_duration(team["response_median_seconds"]),
        "first": format_duration(team["first_response_avg_seconds"]), "service": format_share(team["service_level"]),
    }
    assert parts.tiles["service"] == "85.7%"
    # target status by symbol and word, not by colour alone
    assert re.search(r'id="tile-service".*?<span class="symbol"[^>]*>!</span> near target', page.text, re.S)
    assert re.search(r'id="tile-avg".*?<span class="symbol"[^>]*>✗</span> off target', page.text, re.S)
    groups = json.loads(report_json(day, "--date", DAY, "--by", "agent", "--json"))["groups"]
    # every agent of `report --by agent`, the busiest first, the unassigned last
    assert parts.rows["agent"] == ["tim", "sanne", "(unassigned)"]
    assert [group["key"] for group in groups] == ["sanne", "tim", None]
    assert parts.rows["platform"] == ["x", "facebook"]
    assert set(parts.rows["label"]) == {"Storing", "Factuur", "(no label)"}
    assert "<svg" in page.text and 'class="today"' in page.text and 'class="l4"' in page.text  # the charts


def test_the_page_holds_no_customer_text_handles_or_case_ids(store):  # noqa: F811
    secrets = ["ZEBRAPAKKET-4471", "Kerkstraat 12", "klant_geheim_93", "Geheime Klant", "ext-unique-77",
               "https://x.example/status/987654"]
    message = msg(0, author="klant_geheim_93", text="ZEBRAPAKKET-4471 is niet bezorgd op Kerkstraat 12",
                  external_id="ext-unique-77")
    message.url = "https://x.example/status/987654"
    ingest(store, [message, msg(10 * MINUTE, "out", author="klant_geheim_93", agent="tim", text="Sorry, Geheime Klant!"),
                   msg(HOUR, author="other_customer", text="ZEBRAPAKKET-4471 ook bij mij")])
    [case] = [c["id"] for c in store.list_cases() if c["author_id"] == "klant_geheim_93"]
    store.set_labels(case, add=["<script>alert(1)</script>"])
    wall_client = client(store)
    html = wall_client.get(f"/?date={DAY}", auth=("wall", PASSWORD)).text
    html += wall_client.get(f"/panel?date={DAY}", auth=("wall", PASSWORD)).text
    html += wall_client.get(f"/kpi.json?date={DAY}", auth=("wall", PASSWORD)).text
    for secret in secrets:
        assert secret not in html
    assert "other_customer" not in html and "Geheime" not in html
    assert not re.search(r"case\s*#?\d|/case/", html, re.I)  # no case id, no link to one
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # a label, escaped


def test_hide_agent_comparison_publishes_no_agent_rows(day):  # noqa: F811
    shown = client(day).get(f"/?date={DAY}", auth=("wall", PASSWORD)).text
    assert "sanne" in shown and page_parts(shown).rows["agent"]
    for agent in ("tim", "sanne"):  # the lead's own machine does not publish them either: the wall is the room's
        wall_client = client(day, raw=HIDDEN, agent=agent)
        html = wall_client.get(f"/?date={DAY}", auth=("wall", PASSWORD)).text
        parts = page_parts(html)
        assert parts.rows["agent"] == [] and "kpi.hide_agent_comparison" in html
        assert "sanne" not in html and not re.search(r">\s*tim\s*<", html)
        assert parts.tiles["incoming"] == "10"  # the team's numbers stay
        data = wall_client.get(f"/kpi.json?date={DAY}", auth=("wall", PASSWORD)).json()
        assert data["by"] is None and data["groups"] == [] and all(d["groups"] == [] for d in data["days"])


@pytest.mark.parametrize(("path", "said"), [
    ("/kpi.json?date=24-11-2025", "'24-11-2025' is not a day: give YYYY-MM-DD, today or yesterday"),
    ("/kpi.json?date=1999-12-31", "out of range"),
    ("/?date=2025-02-30", "'2025-02-30' is not a day"),
    ("/panel?date=%1b%5b31m", "is not a day"),
])
def test_a_bad_date_is_a_plain_400(day, path, said):  # noqa: F811
    answer = client(day).get(path, auth=("wall", PASSWORD))
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/plain")
    assert said in answer.text and "\x1b" not in answer.text and "Traceback" not in answer.text


def test_security_headers_and_no_inline_script(day):  # noqa: F811
    wall_client = client(day)
    for path in (f"/?date={DAY}", f"/kpi.json?date={DAY}", "/panel"):
        answer = wall_client.get(path, auth=("wall", PASSWORD))
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    html = wall_client.get(f"/?date={DAY}", auth=("wall", PASSWORD)).text
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/wall.js?v=' + re.search(
        r"wall\.js\?v=(\w+)", html)[1] + '" defer>']  # one script, a file of ours
    assert not re.search(r"\son\w+=|style=|javascript:", html)  # no inline handler or style
    assert wall_client.get("/static/wall.js").status_code == 200  # the static files need no password
    assert "http" not in re.sub(r"http-equiv", "", html)  # nothing from elsewhere (no CDN)


def test_todays_page_moves_on_as_messages_arrive(day):  # noqa: F811
    clock = Clock()
    clock.now = NOW  # 00:05 on the 25th
    wall_client = client(day, clock=clock)
    assert page_parts(wall_client.get("/panel", auth=("wall", PASSWORD)).text).tiles["incoming"] == "0"
    ingest(day, [msg(7 * HOUR + MINUTE, author="ilse")])  # 00:01, as a sync in the console would
    clock.now += FRESH  # many screens within FRESH seconds cost one computation; then the numbers are new
    assert page_parts(wall_client.get("/panel", auth=("wall", PASSWORD)).text).tiles["incoming"] == "1"


def test_an_empty_store_shows_dashes_and_no_data_yet(store):
    html = client(store).get("/panel", auth=("wall", PASSWORD)).text
    parts = page_parts(html)
    assert parts.tiles["incoming"] == "0" and parts.tiles["avg"] == "–" and parts.tiles["service"] == "–"
    assert re.search(r'id="tile-service".*?<span class="symbol"[^>]*>·</span> no data yet', html, re.S)
    assert parts.rows == {"agent": [], "platform": [], "label": []} and html.count("nothing this day") == 3
    assert "no sentiment yet" in html
