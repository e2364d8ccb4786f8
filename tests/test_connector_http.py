"""`HttpApi`: what goes wrong on the wire becomes the ConnectorError the workers decide on."""

from __future__ import annotations

import httpx
import pytest
import respx

from webcare_tui.connectors.base import ConnectorError
from webcare_tui.connectors.http import HttpApi

NOW = 1_764_000_000.0
BASE = "https://api.example.test"


@pytest.fixture
async def api():
    async with httpx.AsyncClient() as client:
        yield HttpApi("Example", BASE, {"Authorization": "Bearer secret-token"}, client, clock=lambda: NOW)


async def failure(api: HttpApi, *, write: bool = False) -> ConnectorError:
    with pytest.raises(ConnectorError) as raised:
        await api.request("POST" if write else "GET", "/things", write=write)
    return raised.value


@respx.mock
async def test_the_token_goes_in_the_header_and_paths_join_the_base(api):
    route = respx.get(f"{BASE}/v1/things").respond(200, json={"ok": True})
    assert await api.json("GET", "/v1/things") == {"ok": True}
    assert route.calls.last.request.headers["authorization"] == "Bearer secret-token"


@respx.mock
@pytest.mark.parametrize(("headers", "wait"), [
    ({"Retry-After": "42"}, 42.0),
    ({"Retry-After": "Mon, 24 Nov 2025 16:02:00 GMT"}, 120.0),
    ({"x-rate-limit-reset": str(int(NOW) + 300)}, 300.0),
    ({"X-RateLimit-Reset": "2025-11-24T16:05:00.000Z"}, 300.0),  # Mastodon sends an ISO time
    ({}, 60.0),  # no hint: a minute
])
async def test_a_rate_limit_waits_as_long_as_the_platform_says(api, headers, wait):
    respx.get(f"{BASE}/things").respond(429, headers=headers, json={"error": "Too many requests"})
    error = await failure(api)
    assert error.retryable and error.retry_after == pytest.approx(wait)
    assert "rate limit" in error.message and "Too many requests" in error.message


@respx.mock
async def test_a_refused_token_needs_signing_in_again(api):
    respx.get(f"{BASE}/things").respond(401, json={"error": "The access token is invalid"})
    error = await failure(api)
    assert error.needs_auth and not error.retryable
    assert "The access token is invalid" in error.message and "accounts add" in error.message


@respx.mock
async def test_server_errors_retry_and_refusals_do_not(api):
    respx.get(f"{BASE}/things").respond(503, text="<html>upstream down</html>")
    error = await failure(api)
    assert error.retryable and not error.needs_auth and "503" in error.message
    respx.get(f"{BASE}/things").respond(422, json={"errors": [{"message": "Text is too long"}]})
    error = await failure(api)
    assert not error.retryable and "Text is too long" in error.message


@respx.mock
async def test_a_timeout_after_sending_a_write_leaves_the_outcome_unknown(api):
    respx.post(f"{BASE}/things").mock(side_effect=httpx.ReadTimeout("slow"))
    assert (await failure(api, write=True)).outcome_unknown
    respx.get(f"{BASE}/things").mock(side_effect=httpx.ReadTimeout("slow"))
    read = await failure(api)
    assert read.retryable and not read.outcome_unknown


@respx.mock
async def test_no_connection_is_offline_and_certainly_not_sent(api):
    respx.post(f"{BASE}/things").mock(side_effect=httpx.ConnectError("no route"))
    error = await failure(api, write=True)
    assert error.retryable and not error.outcome_unknown and "cannot reach Example" in error.message


@respx.mock
async def test_a_body_that_is_not_json_is_a_plain_error(api):
    respx.get(f"{BASE}/things").respond(200, text="<html>captive portal</html>", headers={"content-type": "text/html"})
    with pytest.raises(ConnectorError, match="not JSON"):
        await api.json("GET", "/things")
