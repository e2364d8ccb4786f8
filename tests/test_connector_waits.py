"""Rate-limit waits from poisoned headers and bodies (`inf`, `nan`, negatives, 1e300, 10**400, dates
long past or far off, garbage) come out of every connector as a wait a worker can keep."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import respx
from conftest import T0

from webcare_tui.config import Account
from webcare_tui.connectors.base import ConnectorError
from webcare_tui.connectors.http import DEFAULT_WAIT, MAX_WAIT, MIN_WAIT, bounded_wait
from webcare_tui.connectors.mastodon import MastodonConnector
from webcare_tui.connectors.matrix import MatrixConnector
from webcare_tui.connectors.meta import FacebookConnector
from webcare_tui.connectors.telegram import TelegramConnector
from webcare_tui.connectors.x import XConnector
from webcare_tui.outbox import Outbox, OutboxWorker
from webcare_tui.sync import SyncRunner

FIXTURES = Path(__file__).parent / "fixtures"
NOW = 1_785_600_000  # 2026-08-01 16:00 UTC: every connector's clock here
HUGE = "1" + "0" * 400  # 10**400 as JSON: an int no float holds (float() raises OverflowError)


def load(path: str):
    return json.loads((FIXTURES / path).read_text(encoding="utf-8"))


def sane(wait: float | None) -> float:
    """`wait`, checked to be one a worker can keep: finite and within [0, MAX_WAIT]."""
    assert wait is not None and math.isfinite(wait) and 0 <= wait <= MAX_WAIT, wait
    return wait


def raw_json(status: int, text: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON answer written by hand: Python's json reads `Infinity`, `NaN`, `1e400` and 400-digit ints."""
    return httpx.Response(status, content=text.encode(), headers={"content-type": "application/json"} | (headers or {}))


# --- the one rule ------------------------------------------------------------------------------

@pytest.mark.parametrize(("wait", "unit", "expect"), [
    (42, 1.0, 42.0),
    (2.5, 1.0, 2.5),
    (2000, 0.001, 2.0),  # Matrix's milliseconds
    (5, 60.0, 300.0),  # Meta's minutes
    (None, 1.0, DEFAULT_WAIT),
    (True, 1.0, DEFAULT_WAIT),  # JSON true is no number of seconds
    ("42", 1.0, DEFAULT_WAIT),  # callers parse text; text that reaches here is unreadable
    (math.inf, 1.0, DEFAULT_WAIT),
    (-math.inf, 1.0, DEFAULT_WAIT),
    (math.nan, 1.0, DEFAULT_WAIT),
    (-5, 1.0, MIN_WAIT),
    (0, 1.0, MIN_WAIT),
    (0.2, 1.0, MIN_WAIT),
    (1e300, 1.0, MAX_WAIT),
    (10**20, 1.0, MAX_WAIT),
    (10**400, 1.0, MAX_WAIT),  # float(10**400) raises OverflowError
    (-(10**400), 1.0, MIN_WAIT),
    (1e307, 60.0, MAX_WAIT),  # the product overflows to inf
    (10**400, 0.001, MAX_WAIT),  # 10**400 / 1000 raises OverflowError
])
def test_bounded_wait_keeps_every_wait_within_its_bounds(wait, unit, expect):
    assert sane(bounded_wait(wait, unit=unit)) == expect


@pytest.mark.parametrize(("given", "expect"), [
    (math.inf, DEFAULT_WAIT), (math.nan, DEFAULT_WAIT), (-3.0, MIN_WAIT), (1e300, MAX_WAIT), (120.0, 120.0)])
def test_a_connector_error_bounds_its_retry_after_whoever_makes_it(given, expect):
    error = ConnectorError("a third-party connector's rate limit", retry_after=given)
    assert sane(error.retry_after) == expect
    assert replace(error, message="redacted").retry_after == expect  # bounding twice changes nothing
    assert ConnectorError("no wait said").retry_after is None


# --- HttpApi's headers, through the Mastodon connector ----------------------------------------

@pytest.fixture
async def mastodon():
    with respx.mock(base_url="https://social.example", assert_all_called=False) as router:
        router.get("/api/v1/accounts/verify_credentials").respond(200, json=load("mastodon/verify_credentials.json"))
        async with httpx.AsyncClient() as client:
            yield router, MastodonConnector(Account("brand-masto", "mastodon", {"base_url": "https://social.example"}),
                                            "tok-123456", client, clock=lambda: NOW)


@pytest.mark.parametrize(("headers", "expect"), [
    ({"Retry-After": "inf"}, DEFAULT_WAIT),
    ({"Retry-After": "Infinity"}, DEFAULT_WAIT),
    ({"Retry-After": "-inf"}, DEFAULT_WAIT),
    ({"Retry-After": "nan"}, DEFAULT_WAIT),
    ({"Retry-After": "-30"}, MIN_WAIT),
    ({"Retry-After": "0"}, MIN_WAIT),
    ({"Retry-After": "1e300"}, MAX_WAIT),
    ({"Retry-After": str(10**20)}, MAX_WAIT),
    ({"Retry-After": "soon"}, DEFAULT_WAIT),
    ({"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}, MIN_WAIT),
    ({"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, MAX_WAIT),
    ({"Retry-After": "Mon, 24 Nov 99999999999999999999 16:02:00 GMT"}, DEFAULT_WAIT),  # OverflowError before
    ({"Retry-After": "Mon, 24 Nov 2025 16:02:00 +9999"}, DEFAULT_WAIT),
    ({"X-RateLimit-Reset": "inf"}, DEFAULT_WAIT),
    ({"X-RateLimit-Reset": "nan"}, DEFAULT_WAIT),
    ({"X-RateLimit-Reset": "-1"}, MIN_WAIT),
    ({"X-RateLimit-Reset": "1e300"}, MAX_WAIT),
    ({"X-RateLimit-Reset": "0001-01-01T00:00:00Z"}, MIN_WAIT),
    ({"X-RateLimit-Reset": "9999-12-31T23:59:59Z"}, MAX_WAIT),
    ({"X-RateLimit-Reset": "next tuesday"}, DEFAULT_WAIT),
    ({"x-rate-limit-reset": "1e300"}, MAX_WAIT),
    ({"Retry-After": "garbage", "X-RateLimit-Reset": str(NOW + 300)}, 300.0),  # unreadable: the next header says
])
async def test_a_poisoned_rate_limit_header_becomes_a_sane_wait(mastodon, headers, expect):
    router, connector = mastodon
    router.get("/api/v1/notifications").respond(429, headers=headers, json={"error": "Too many requests"})
    with pytest.raises(ConnectorError) as raised:
        await connector.fetch(None)
    assert raised.value.retryable and sane(raised.value.retry_after) == expect


async def test_the_sync_worker_waits_a_bounded_time_on_an_infinite_retry_after(mastodon, store):
    router, connector = mastodon
    router.get("/api/v1/notifications").respond(429, headers={"Retry-After": "inf"}, json={"error": "Slow down"})
    [status] = await SyncRunner(store, {"brand-masto": connector}, clock=lambda: NOW).sync_once()
    assert status.state == "rate_limited" and sane(status.retry_in) == DEFAULT_WAIT  # asyncio.sleep(inf) before


@pytest.mark.parametrize(("retry_after", "delay"), [("inf", DEFAULT_WAIT), ("1e300", MAX_WAIT), ("-5", MIN_WAIT)])
async def test_the_outbox_requeues_a_reply_a_bounded_time_later(mastodon, store, retry_after, delay):
    router, connector = mastodon
    mention = load("mastodon/notifications_mention.json")["body"]
    router.get("/api/v1/notifications").respond(200, json=mention)
    router.get(f"/api/v1/statuses/{mention[0]['status']['id']}").respond(200, json=mention[0]["status"])
    await SyncRunner(store, {"brand-masto": connector}, clock=lambda: NOW).sync_once()
    [case] = store.list_cases()
    outbox_id = Outbox(store, clock=lambda: NOW).queue_reply(case["id"], "We kijken ernaar!", agent="tim")
    router.post("/api/v1/statuses").respond(429, headers={"Retry-After": retry_after}, json={"error": "Slow down"})
    [result] = await OutboxWorker(store, {"brand-masto": connector}, clock=lambda: NOW).deliver_due()
    assert result.state == "queued"  # int(NOW + inf) raised OverflowError before
    assert store.outbox_row(outbox_id)["next_attempt_at"] == NOW + delay


# --- bodies: Telegram's parameters.retry_after, Matrix's retry_after_ms, Meta's usage headers ---

POISONED_NUMBERS = [  # as written in JSON; seconds for Telegram, milliseconds for Matrix
    ("Infinity", DEFAULT_WAIT, DEFAULT_WAIT),
    ("-Infinity", DEFAULT_WAIT, DEFAULT_WAIT),
    ("NaN", DEFAULT_WAIT, DEFAULT_WAIT),
    ("1e400", DEFAULT_WAIT, DEFAULT_WAIT),  # read as inf
    ("1e300", MAX_WAIT, MAX_WAIT),
    (str(10**20), MAX_WAIT, MAX_WAIT),
    (HUGE, MAX_WAIT, MAX_WAIT),
    ("-5", MIN_WAIT, DEFAULT_WAIT),  # Matrix: a negative wait is no wait said; no header says one either
    ("0", MIN_WAIT, MIN_WAIT),
]


@pytest.mark.parametrize(("number", "expect", "_matrix"), POISONED_NUMBERS)
async def test_telegrams_retry_after_parameter_becomes_a_sane_wait(http, number, expect, _matrix):
    token = "7001234567:AAH-S3CRETs3cretS3CRETs3cretS3CRETx"
    connector = TelegramConnector(Account("brand-telegram", "telegram", {"poll_timeout": 0}), token, http,
                                  clock=lambda: NOW)
    flood = ('{"ok": false, "error_code": 429, "description": "Too Many Requests",'
             f' "parameters": {{"retry_after": {number}}}}}')
    with respx.mock(base_url=f"https://api.telegram.org/bot{token}", assert_all_called=False) as api:
        api.post("/getMe").respond(200, json=load("telegram/getMe.json"))
        api.post("/getUpdates").mock(return_value=raw_json(429, flood))
        with pytest.raises(ConnectorError) as raised:
            await connector.fetch(None)
    assert raised.value.retryable and sane(raised.value.retry_after) == expect


@respx.mock
@pytest.mark.parametrize(("number", "_telegram", "expect"), POISONED_NUMBERS)
async def test_matrixs_retry_after_ms_becomes_a_sane_wait(http, number, _telegram, expect):
    connector = MatrixConnector(Account("brand-matrix", "matrix", {"base_url": "https://matrix.example.org",
                                                                   "user_id": "@webcare:localhost"}),
                                "syt_secret", http, clock=lambda: NOW)
    respx.get("https://matrix.example.org/_matrix/client/v3/sync").mock(return_value=raw_json(
        429, f'{{"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": {number}}}'))
    with pytest.raises(ConnectorError) as raised:
        await connector.fetch(None)
    assert raised.value.retryable and sane(raised.value.retry_after) == expect


@respx.mock
async def test_matrix_without_a_body_wait_bounds_the_retry_after_header(http):
    connector = MatrixConnector(Account("brand-matrix", "matrix", {"base_url": "https://matrix.example.org",
                                                                   "user_id": "@webcare:localhost"}),
                                "syt_secret", http, clock=lambda: NOW)
    respx.get("https://matrix.example.org/_matrix/client/v3/sync").respond(
        429, headers={"Retry-After": "1e300"}, json={"errcode": "M_LIMIT_EXCEEDED", "error": "Slow down"})
    with pytest.raises(ConnectorError) as raised:
        await connector.fetch(None)
    assert sane(raised.value.retry_after) == MAX_WAIT


@pytest.mark.parametrize(("usage", "headers", "expect"), [
    ('{"call_count": 100, "estimated_time_to_regain_access": Infinity}', {}, DEFAULT_WAIT),
    ('{"call_count": 100, "estimated_time_to_regain_access": 1e300}', {}, MAX_WAIT),
    ('{"call_count": 100, "estimated_time_to_regain_access": ' + HUGE + "}", {}, MAX_WAIT),  # OverflowError before
    ('{"call_count": 100, "estimated_time_to_regain_access": NaN}', {"Retry-After": "inf"}, DEFAULT_WAIT),
    ('{"call_count": 100, "estimated_time_to_regain_access": -3}', {"Retry-After": "1e300"}, MAX_WAIT),
    ('{"call_count": 100, "estimated_time_to_regain_access": 5}', {"Retry-After": "inf"}, 300.0),
])
@respx.mock(assert_all_called=False)
async def test_metas_regain_access_minutes_become_a_sane_wait(http, respx_mock, usage, headers, expect):
    respx_mock.get("https://graph.facebook.com/v23.0/2121008874780932/feed").respond(
        400, json=load("meta/error_rate_limit.json"), headers={"X-App-Usage": usage} | headers)
    connector = FacebookConnector(Account("brand-fb", "facebook", {"page_id": "2121008874780932", "posts": 1}),
                                  "EAAGm0PX4ZCpsBAKsecretpagetoken", http, clock=lambda: NOW)
    with pytest.raises(ConnectorError) as raised:
        await connector.fetch(None)
    assert raised.value.retryable and sane(raised.value.retry_after) == expect


# --- X: the 429's wait and the holds it keeps per endpoint -------------------------------------

X_USER = "1072250532645998596"
MENTIONS = f"/2/users/{X_USER}/mentions"


@pytest.fixture
def x(http):
    now = [float(T0)]
    connector = XConnector(Account("brand-x", "x", {"user_id": X_USER, "direct_messages": False}), "x-token", http,
                           clock=lambda: now[0])
    with respx.mock(base_url="https://api.x.com", assert_all_called=False) as api:
        yield connector, api, now


LIMITED = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}


@pytest.mark.parametrize(("headers", "expect"), [
    ({"x-rate-limit-reset": "inf"}, DEFAULT_WAIT),
    ({"x-rate-limit-reset": "nan"}, DEFAULT_WAIT),
    ({"x-rate-limit-reset": "-1"}, MIN_WAIT),
    ({"x-rate-limit-reset": "1e300"}, MAX_WAIT),
    ({"x-rate-limit-reset": "soon"}, DEFAULT_WAIT),
    ({"x-rate-limit-remaining": "0", "x-rate-limit-reset": "inf"}, DEFAULT_WAIT),
    ({"x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": "inf"}, DEFAULT_WAIT),
    ({"x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": "1e300"}, MAX_WAIT),
])
async def test_an_x_429_with_a_poisoned_reset_holds_the_endpoint_a_bounded_time(x, headers, expect):
    connector, api, now = x
    mentions = api.get(MENTIONS).mock(return_value=httpx.Response(429, json=LIMITED, headers=headers))
    with pytest.raises(ConnectorError) as raised:
        await connector.fetch(None)
    assert sane(raised.value.retry_after) == expect
    with pytest.raises(ConnectorError) as held:
        await connector.fetch(None)
    assert sane(held.value.retry_after) == expect and mentions.call_count == 1  # held: X is not asked
    now[0] += expect
    mentions.mock(return_value=httpx.Response(200, json={"meta": {"result_count": 0}}))
    assert (await connector.fetch(None)).messages == [] and mentions.call_count == 2  # the hold ended


@pytest.mark.parametrize("reset", ["inf", "1e300", str(10**20)])
async def test_nothing_remaining_with_a_poisoned_reset_holds_no_longer_than_max_wait(x, reset):
    connector, api, now = x
    mentions = api.get(MENTIONS).mock(return_value=httpx.Response(
        200, json={"meta": {"result_count": 0}}, headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}))
    await connector.fetch(None)
    with pytest.raises(ConnectorError) as held:
        await connector.fetch(None)
    assert sane(held.value.retry_after) > 0 and mentions.call_count == 1
    now[0] += MAX_WAIT
    await connector.fetch(None)
    assert mentions.call_count == 2  # inf held the endpoint for good before


@pytest.mark.parametrize("reset", ["inf", "1e300"])
async def test_pacing_with_a_poisoned_reset_polls_again_within_max_wait(x, reset):
    connector, api, now = x
    mentions = api.get(MENTIONS).mock(return_value=httpx.Response(
        200, json={"meta": {"result_count": 0}}, headers={"x-rate-limit-remaining": "14", "x-rate-limit-reset": reset}))
    await connector.fetch(None)
    now[0] += MAX_WAIT
    await connector.fetch(None)
    assert mentions.call_count == 2  # a pace of 1e300 / 15 s skipped the feed silently forever before
