"""Provides `HttpApi`: one platform's HTTP calls, with every failure turned into a `ConnectorError`.

Each real connector talks to its platform through one `HttpApi`. It maps what goes
wrong on the wire to what the sync and outbox workers need to decide:

- no connection, DNS failure → retryable ("offline");
- a timeout while sending a write → `outcome_unknown` (the platform may have it);
- 401/403 with a refused token → `needs_auth`;
- 429 → `retry_after` from `Retry-After` or the platform's reset header, bounded by
  `bounded_wait` (never more than MAX_WAIT, never infinite);
- 5xx → retryable; other 4xx → permanent, in the platform's own words, cut to
  MAX_ERROR_TEXT only after the request's credentials in them are masked (`error_text`).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from webcare_tui.connectors.base import ConnectorError

TIMEOUT = httpx.Timeout(20.0, connect=10.0)
MAX_ERROR_TEXT = 300
# Rate-limit waits (seconds): what a platform asks for is held to these (`bounded_wait`).
MAX_WAIT = 900.0  # at worst the workers ask again after 15 minutes, whatever the platform said
MIN_WAIT = 1.0  # a reset already past (clock skew) waits a moment, not a busy loop
DEFAULT_WAIT = 60.0  # a limit without a readable wait


def bounded_wait(wait: float | None, *, unit: float = 1.0) -> float:
    """Any wait a platform asks for, as seconds a worker can keep: within [MIN_WAIT, MAX_WAIT].

    Every rate-limit wait and hold goes through here, so that no header or body can make a
    worker sleep forever, spin, or crash (`inf`, `nan`, `1e300`, `10**400`, a reset long past).

    Args:
        wait: the platform's number of `unit`s; None when it said nothing readable.
        unit: seconds per unit of `wait` (0.001 for Matrix's milliseconds, 60 for Meta's minutes).

    Returns:
        DEFAULT_WAIT when `wait` is None, not a number, NaN or infinite; MIN_WAIT when it is less
        (zero, negative, a reset already past); MAX_WAIT when it is more; else `wait` in seconds.
    """
    if wait is None or isinstance(wait, bool) or not isinstance(wait, int | float):
        return DEFAULT_WAIT
    try:
        number = float(wait)
    except OverflowError:  # an integer beyond any float: finite, only huge
        return MAX_WAIT if wait > 0 else MIN_WAIT
    seconds = number * unit  # a product too large for a float is inf: the cap
    if not math.isfinite(number) or math.isnan(seconds):  # nan: 0 × an infinite unit
        return DEFAULT_WAIT
    return min(max(seconds, MIN_WAIT), MAX_WAIT)


_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_BEYOND_FLOATS = 10**400


def _number(text: str) -> int | float | None:
    """A header's number: whole numbers exactly (10**400 is huge, not infinite), else a float; None for none."""
    text = text.strip()
    if _INTEGER.fullmatch(text):
        if len(text.lstrip("+-").lstrip("0")) > 400:  # int() refuses 4,300 digits; any of these is beyond floats
            return -_BEYOND_FLOATS if text.startswith("-") else _BEYOND_FLOATS
        return int(text)
    try:
        return float(text)
    except ValueError:
        return None


def _until(epoch: int | float, now: float) -> int | float:
    """Seconds from `now` to `epoch`; an integer beyond any float stays one (bounded_wait caps it)."""
    try:
        return float(epoch) - now
    except OverflowError:
        return epoch


def retry_after_seconds(response: httpx.Response, clock: Callable[[], float] = time.time) -> float:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or an `x-rate-limit-reset`/
    `x-ratelimit-reset` header (epoch seconds or an ISO time, as Mastodon sends), bounded by
    `bounded_wait`: DEFAULT_WAIT when no header says a readable wait."""
    value = response.headers.get("retry-after")
    if value:
        seconds = _number(value)
        if seconds is not None:
            return bounded_wait(seconds)
        try:
            return bounded_wait(parsedate_to_datetime(value).timestamp() - clock())
        except (TypeError, ValueError, OverflowError, OSError):  # not a date, or a year no clock here holds
            pass
    for name in ("x-rate-limit-reset", "x-ratelimit-reset"):
        value = response.headers.get(name)
        if not value:
            continue
        epoch = _number(value)
        if epoch is None:
            try:
                epoch = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except (ValueError, OverflowError, OSError):
                continue
        return bounded_wait(_until(epoch, clock()))
    return DEFAULT_WAIT


# Where a request carries its credentials: these headers and query parameters, and Telegram's
# bot token as a path segment ("/bot123456:ABC…/sendMessage").
_SECRET_HEADERS = re.compile(r"authorization|cookie|token|secret|api[-_]?key|password", re.IGNORECASE)
_SECRET_PARAMS = re.compile(r"token|secret|key|password|signature|^sig$", re.IGNORECASE)
_BOT_TOKEN = re.compile(r"bot([0-9]+:[A-Za-z0-9_-]+)")
MASK = "•••"  # as `Connector.redact` shows a secret


def request_secrets(request: httpx.Request | None) -> list[str]:
    """The credentials `request` carried (a bearer token, an API key header or parameter, a bot
    token in the path), each also as a URL would quote it; longest first. A credential is at least 4
    characters (as for `Connector.redact`), a value found only by its name's look at least 8 (a
    pagination token, not a common word)."""
    if request is None:
        return []
    found = []
    for name, value in request.headers.items():
        if name.lower() in ("authorization", "proxy-authorization"):
            scheme, _, credentials = value.strip().partition(" ")
            found.append(credentials.strip() or scheme)
        elif _SECRET_HEADERS.search(name) and len(value.strip()) >= 8:
            found.append(value.strip())
    found += [value for name, value in request.url.params.multi_items()
              if _SECRET_PARAMS.search(name) and len(value) >= 8]
    found += [match[1] for segment in request.url.path.split("/") if (match := _BOT_TOKEN.fullmatch(segment))]
    variants = {variant for secret in found if len(secret) >= 4 for variant in (secret, quote(secret, safe=""))}
    return sorted(variants, key=len, reverse=True)


def masked(text: str, secrets: list[str]) -> str:
    """`text` with every one of `secrets` shown as MASK."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def error_text(response: httpx.Response) -> str:
    """The platform's own words for a failed call: a JSON error field, else the body's start.

    Credentials the request carried (`request_secrets`) are masked before the words are cut to
    MAX_ERROR_TEXT, so a server that echoes the token cannot leave half of it at the cut.
    """
    try:
        secrets = request_secrets(response.request)
    except RuntimeError:  # a response made without a request (tests)
        secrets = []

    def said(text: str) -> str:
        return masked(text, secrets)[:MAX_ERROR_TEXT]

    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error_description", "error", "message", "detail", "description", "errors", "title"):
            value = body.get(key)
            if isinstance(value, dict):  # Graph API: {"error": {"message": ...}}
                value = value.get("message") or value.get("type")
            if isinstance(value, list) and value:  # X: {"errors": [{"message": ...}]}
                first = value[0]
                value = first.get("message") or first.get("detail") if isinstance(first, dict) else first
            if value:
                return said(str(value))
    return said(response.text.strip()) or response.reason_phrase


class HttpApi:
    """A platform's HTTP API for one account.

    Args:
        platform: shown in error messages ("Mastodon said: …").
        base_url: every path is relative to it.
        headers: sent on every call (the bearer token goes here, never into a URL we log).
        http: a client to use (tests pass one); otherwise one is made and owned.
        is_auth_error: decides whether a 401/403 means the token is refused (the default);
            platforms that answer 403 for other reasons narrow it.
    """

    def __init__(self, platform: str, base_url: str, headers: dict[str, str] | None = None,
                 http: httpx.AsyncClient | None = None, *, clock: Callable[[], float] = time.time,
                 is_auth_error: Callable[[httpx.Response], bool] = lambda response: response.status_code == 401,
                 rate_limit_status: Callable[[httpx.Response], bool] = lambda response: response.status_code == 429) -> None:
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self.headers = headers or {}
        self._own = http is None
        self.http = http or httpx.AsyncClient(timeout=TIMEOUT)
        self.clock = clock
        self.is_auth_error = is_auth_error
        self.rate_limit_status = rate_limit_status

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    async def request(self, method: str, path: str, *, write: bool = False, expect: tuple[int, ...] = (),
                      **kwargs: Any) -> httpx.Response:
        """Make one call; returns the response when its status is 2xx (or in `expect`).

        Args:
            write: the call changes something on the platform: a timeout after the request
                left means its outcome is unknown.

        Raises:
            ConnectorError: in plain words, with retryable/retry_after/needs_auth/outcome_unknown set.
        """
        headers = self.headers | kwargs.pop("headers", {})
        try:
            response = await self.http.request(method, self.url(path), headers=headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise ConnectorError(f"cannot reach {self.platform} ({type(error).__name__})") from None
        except httpx.TimeoutException as error:
            raise ConnectorError(f"{self.platform} did not answer in time ({type(error).__name__})",
                                 outcome_unknown=write) from None
        except httpx.TransportError as error:
            raise ConnectorError(f"network error talking to {self.platform} ({type(error).__name__})",
                                 outcome_unknown=write) from None
        if response.is_success or response.status_code in expect:
            return response
        raise self.failure(response)

    def failure(self, response: httpx.Response) -> ConnectorError:
        """The `ConnectorError` a failed response stands for."""
        status = response.status_code
        said = error_text(response)
        if self.is_auth_error(response):
            return ConnectorError(f"{self.platform} refused the token ({status}: {said}); sign in again with"
                                  " `webcare accounts add`", retryable=False, needs_auth=True)
        if self.rate_limit_status(response):
            return ConnectorError(f"{self.platform} rate limit reached ({said})",
                                  retry_after=retry_after_seconds(response, self.clock))
        if status >= 500:
            return ConnectorError(f"{self.platform} had a server error ({status}: {said})")
        return ConnectorError(f"{self.platform} refused the request ({status}: {said})", retryable=False)

    async def json(self, method: str, path: str, *, missing: tuple[int, ...] = (), **kwargs: Any) -> Any:
        """`request` and its JSON body; None when the status is one of `missing` (e.g. 404: not there).

        Raises:
            ConnectorError: as `request`, or the body is not JSON (retryable: a proxy's error page).
        """
        response = await self.request(method, path, expect=missing, **kwargs)
        if response.status_code in missing:
            return None
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(f"{self.platform} sent a response that is not JSON"
                                 f" ({response.status_code}, {response.headers.get('content-type', 'no type')})",
                                 outcome_unknown=kwargs.get("write", False)) from None

    async def aclose(self) -> None:
        if self._own:
            await self.http.aclose()
