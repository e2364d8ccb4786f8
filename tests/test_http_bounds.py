"""HTTP boundaries against hostile servers (issue 13): any rate-limit header gives a wait within
[MIN_WAIT, MAX_WAIT] or DEFAULT_WAIT, and a server that echoes our token never leaves a piece of
it in what we store or show, wherever its words are cut."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from email.utils import format_datetime

import httpx
import pytest
import respx
from conftest import msg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from webcare_tui.config import Account
from webcare_tui.connectors.base import ConnectorError
from webcare_tui.connectors.http import (
    DEFAULT_WAIT,
    MAX_ERROR_TEXT,
    MAX_WAIT,
    MIN_WAIT,
    HttpApi,
    bounded_wait,
    error_text,
    retry_after_seconds,
)
from webcare_tui.connectors.mastodon import MastodonConnector
from webcare_tui.ingest import ingest
from webcare_tui.outbox import Outbox, OutboxWorker

BASE = "https://social.example"
TOKEN = "tok-SECRET-9c2e71b4a8f0d3e5"
NOW = 1_785_600_000


def in_bounds(wait: float) -> bool:
    return wait == DEFAULT_WAIT or MIN_WAIT <= wait <= MAX_WAIT


# --- Retry-After and the reset headers -----------------------------------------------------------

_header_values = st.one_of(
    st.binary(max_size=40),  # what the wire may carry: httpx decodes it as it can
    st.text(max_size=40).map(lambda text: text.encode("utf-8")),
    st.floats().map(lambda number: repr(number).encode()),  # inf, nan, -0.0, 1e308…
    st.integers(min_value=-(10**30), max_value=10**400).map(lambda number: str(number).encode()),
    st.datetimes(timezones=st.just(timezone.utc)).map(lambda moment: format_datetime(moment, usegmt=True).encode()),
    st.datetimes().map(lambda moment: moment.strftime("%a, %d %b %Y %H:%M:%S -0000").encode()),  # no zone: local
    st.datetimes(timezones=st.sampled_from([None, timezone.utc])).map(lambda moment: moment.isoformat().encode()),
    st.sampled_from([b"inf", b"-inf", b"nan", b"1e400", b"-1", b"0", b"Infinity", b"120, 120", b"0x10",
                     b"Fri, 31 Dec 9999 23:59:59 GMT", b"Mon, 01 Jan 0001 00:00:00 -0000", b"9999-12-31T23:59:59",
                     b"0001-01-01T00:00:00", b"9999-12-31T23:59:59-23:59", b"2026-08-01T16:05:00.000Z"]),
)
_headers = st.dictionaries(st.sampled_from(["Retry-After", "X-Rate-Limit-Reset", "X-RateLimit-Reset"]),
                           _header_values, max_size=3)


@pytest.fixture(params=["UTC", "Asia/Tokyo", "America/Los_Angeles"])
def zone(request, monkeypatch):
    """Naive dates in a header are local times: try zones on both sides of UTC."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="module")
def api():
    return HttpApi("Mastodon", BASE, http=httpx.AsyncClient())  # one client (never used): making one costs ~20 ms


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(headers=_headers, now=st.floats(min_value=0, max_value=253_402_300_799))
def test_any_rate_limit_header_gives_a_bounded_wait(zone, api, headers, now):
    response = httpx.Response(429, headers=list(headers.items()), json={"error": "Too many requests"},
                              request=httpx.Request("GET", f"{BASE}/api/v1/notifications"))
    assert in_bounds(retry_after_seconds(response, lambda: now))
    api.clock = lambda: now
    error = api.failure(response)
    assert error.retryable and error.retry_after is not None and in_bounds(error.retry_after)


_anything = st.one_of(st.none(), st.booleans(), st.floats(), st.integers(min_value=-(10**400), max_value=10**400),
                      st.text(max_size=8), st.decimals(), st.fractions(), st.complex_numbers())


@settings(max_examples=400, deadline=None)
@given(wait=_anything, unit=st.one_of(st.sampled_from([1.0, 0.001, 60.0]), st.floats()))
@example(wait=0.0, unit=math.inf)
def test_any_wait_in_any_unit_is_bounded(wait, unit):
    # before: bounded_wait(0, unit=inf) was nan, and a worker's sleep(nan) raises
    assert in_bounds(bounded_wait(wait, unit=unit))


def test_nan_from_a_zero_wait_in_an_infinite_unit_is_the_default():
    assert bounded_wait(0.0, unit=math.inf) == DEFAULT_WAIT
    assert bounded_wait(5, unit=math.nan) == DEFAULT_WAIT
    assert bounded_wait(5, unit=60.0) == MIN_WAIT * 300


@pytest.mark.parametrize(("value", "expect"), [
    ("120", 120), ("inf", DEFAULT_WAIT), ("nan", DEFAULT_WAIT), ("-5", MIN_WAIT), ("1e300", MAX_WAIT),
    (str(10**400), MAX_WAIT), ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_WAIT), ("Mon, 01 Jan 2001 00:00:00 GMT", MIN_WAIT),
    ("soon", DEFAULT_WAIT),
], ids=lambda value: str(value)[:24])
def test_retry_after_in_seconds_or_as_a_date(value, expect):
    response = httpx.Response(429, headers={"Retry-After": value})
    assert retry_after_seconds(response, lambda: NOW) == expect


def test_a_reset_header_as_epoch_or_iso_time():
    at = datetime.fromtimestamp(NOW + 300, timezone.utc).isoformat()
    assert retry_after_seconds(httpx.Response(429, headers={"X-RateLimit-Reset": at}), lambda: NOW) == 300
    assert retry_after_seconds(httpx.Response(429, headers={"X-Rate-Limit-Reset": str(NOW + 42)}), lambda: NOW) == 42


# --- secrets at the cut -------------------------------------------------------------------------

def straddling(token: str, at: int = MAX_ERROR_TEXT - 8) -> str:
    """A server's error that quotes `token` across the cut at MAX_ERROR_TEXT characters."""
    return "x" * at + token + " is not valid"


def leaked(text: str, token: str) -> bool:
    """Whether any 6 characters of the token show in `text`."""
    return any(token[start:start + 6] in text for start in range(len(token) - 5))


@pytest.mark.parametrize(("headers", "url"), [
    ({"Authorization": f"Bearer {TOKEN}"}, f"{BASE}/api/v1/statuses"),  # Mastodon, X, Meta, Matrix
    ({"api_access_token": TOKEN}, f"{BASE}/api/v1/accounts/1/conversations"),  # Chatwoot
    ({}, f"{BASE}/api/v1/statuses?access_token={TOKEN}"),  # a token as a query parameter
])
def test_the_token_is_masked_before_the_words_are_cut(headers, url):
    request = httpx.Request("POST", url, headers=headers)
    for body in ({"error": straddling(TOKEN)}, {"errors": [{"message": straddling(TOKEN)}]}):
        said = error_text(httpx.Response(422, json=body, request=request))
        # before: the cut left "tok-SECRET" and the later masking missed it (the whole token was not there)
        assert not leaked(said, TOKEN) and len(said) <= MAX_ERROR_TEXT and said.startswith("xxx")
    said = error_text(httpx.Response(502, text=straddling(TOKEN, MAX_ERROR_TEXT - 3), request=request))
    assert not leaked(said, TOKEN)


def test_a_bot_token_in_the_path_is_masked_in_a_proxys_error_page():
    bot = "123456789:AAHf9Qx2LmZ7pT4kW8rV1sN6bY3cD5eG0hJ"
    request = httpx.Request("POST", f"https://api.telegram.org/bot{bot}/sendMessage")
    upstream = f" upstream https://api.telegram.org/bot{bot}/sendMessage</html>"
    page = "<html>502 Bad Gateway " + "." * (MAX_ERROR_TEXT - 80) + upstream  # the token straddles the cut
    assert page.index(bot) < MAX_ERROR_TEXT < page.index(bot) + len(bot)
    said = error_text(httpx.Response(502, text=page, request=request))
    assert not leaked(said, bot.split(":")[1])
    quoted = error_text(httpx.Response(502, text="." * 290 + bot.replace(":", "%3A"), request=request))
    assert not leaked(quoted, bot.split(":")[1])


def test_words_without_a_token_are_cut_as_before():
    request = httpx.Request("GET", f"{BASE}/x", headers={"Authorization": f"Bearer {TOKEN}"})
    assert error_text(httpx.Response(500, json={"error": "y" * 500}, request=request)) == "y" * MAX_ERROR_TEXT
    assert error_text(httpx.Response(503, text="", request=request)) == "Service Unavailable"


async def test_an_echoed_token_at_the_cut_never_reaches_the_outbox_row(store):
    ingest(store, [msg(0, author="anna", platform="mastodon")])
    [case] = store.list_cases()
    outbox_id = Outbox(store, clock=lambda: NOW).queue_reply(case["id"], "We kijken ernaar", agent="tim")
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get("/api/v1/accounts/anna").respond(200, json={"id": "anna", "acct": "anna"})
        mock.get(url__regex=r"/api/v1/statuses/[^/]+$").respond(200, json={"id": "1", "visibility": "public"})
        mock.post("/api/v1/statuses").respond(422, json={"error": straddling(TOKEN)})
        connector = MastodonConnector(Account("brand-mastodon", "mastodon", {"base_url": BASE}), TOKEN)
        [delivery] = await OutboxWorker(store, {"brand-mastodon": connector}, clock=lambda: NOW).deliver_due()
        await connector.aclose()
    row = store.outbox_row(outbox_id)
    assert delivery.state == "failed" and "•••" in row["last_error"]
    assert not leaked(row["last_error"], TOKEN) and not leaked(delivery.error or "", TOKEN)
    masked = connector.safe(ConnectorError(f"echo {TOKEN}"))  # and the whole token is masked as ever
    assert masked.message == "echo •••" and TOKEN not in str(masked)


# --- a lookup that may find nothing ------------------------------------------------------------------------


async def test_json_gives_none_only_for_the_statuses_said_to_mean_missing():
    async with httpx.AsyncClient() as http:
        api = HttpApi("Mastodon", BASE, http=http)
        with respx.mock(base_url=BASE) as mock:
            route = mock.get("/thing")
            route.respond(404, json={"error": "Record not found"})
            assert await api.json("GET", "/thing", missing=(404, 410)) is None
            with pytest.raises(ConnectorError, match=r"refused the request \(404") as refused:
                await api.json("GET", "/thing")  # not said to mean missing: an error as ever
            assert not refused.value.retryable
            route.respond(403, json={"error": "This action is not allowed"})
            with pytest.raises(ConnectorError, match=r"\(403"):
                await api.json("GET", "/thing", missing=(404, 410))
            route.respond(200, text="<html>captive portal</html>", headers={"content-type": "text/html"})
            with pytest.raises(ConnectorError, match="not JSON") as proxy:
                await api.json("GET", "/thing", missing=(404, 410))
            assert proxy.value.retryable
            route.respond(200, json={"id": "1"})
            assert await api.json("GET", "/thing", missing=(404, 410)) == {"id": "1"}
