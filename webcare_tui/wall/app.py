"""Provides `make_app`: the wall as a Starlette application (read-only, password-protected).

    GET  /            the page (a browser without a session is sent to /login)
    GET  /panel       the page's body, which the page fetches every `refresh` seconds
    GET  /kpi.json    `webcare report --date D --json`, byte for byte (`?date=`: YYYY-MM-DD, today, yesterday)
    GET  /login       the sign-in form; POST /login checks it and sets the session cookie
    POST /logout      ends this browser's session
    GET  /static/...  the style sheet and the page's one script (no CDN, nothing inline)
    GET/POST /hooks/meta  Meta's webhook (Instagram @mentions), only when its secrets are set: `hooks`

Every route but /login, /static and /hooks needs the password (Meta's deliveries carry a signature
instead, checked by `hooks`): HTTP Basic (`curl -u wall:PASSWORD`) or
the session cookie set by the form. Wrong passwords are limited per client (`auth.Guesses`): 401
for each, 429 with Retry-After after five in a minute. Reads go through the store's read-only
connections on one thread of our own (`Store._reader` gives each thread its own); the wall
never writes, but for the mentions Meta's webhook brings (through `ingest`, on a thread of `hooks`).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webcare_tui import __version__, report
from webcare_tui.config import Config
from webcare_tui.kpi import KpiSettings, settings_from_config
from webcare_tui.wall.auth import Guesses, Password, client_key
from webcare_tui.wall.hooks import PATH as HOOKS_PATH
from webcare_tui.wall.hooks import MetaHooks, MetaSecrets, bounded_body
from webcare_tui.wall.view import Numbers, panel

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
REFRESH = 10.0  # seconds between the page's updates
COOKIE = "webcare_wall"
SESSION_DAYS = 30  # a session unused this long ends; every update renews it (see REISSUE)
REISSUE = 3600  # a session cookie older than this is replaced by a new one on its next use
FORM_LIMIT = 4096  # bytes of a sign-in form
HEADERS = {
    # nothing inline, nothing from elsewhere: the page's script and style are files of ours
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class SecurityHeaders:
    """Adds HEADERS to every response, `Cache-Control: no-store` to all but the static files (numbers
    and pages are never kept), and HSTS when the request came over HTTPS (through the proxy)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if scope["path"].startswith("/static/"):
                    headers["Cache-Control"] = "no-cache"
                else:
                    headers["Cache-Control"] = "no-store"
                if scope.get("scheme") == "https":
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, with_headers)


def build_id() -> str:
    """Changes when the page's files or the version do: an open page reloads itself then."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted([*(HERE / "templates").iterdir(), *(HERE / "static").iterdir()]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def _local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this server only (no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class Wall:
    """The wall's state: settings, password, guesses, the numbers' cache and its reader thread."""

    def __init__(self, config: Config, store: Any, password: str, clock: Callable[[], float],
                 refresh: float, guesses: Guesses | None) -> None:
        self.config, self.store, self.clock, self.refresh = config, store, clock, refresh
        self.settings: KpiSettings = settings_from_config(config.raw, str(config.path or "config"))
        self.password = Password(password)
        self.guesses = guesses or Guesses()
        self.numbers = Numbers(store, self.settings, clock)
        # one thread reads: its own read-only connection (Store._reader), and a flood of requests queues
        # here instead of opening a connection each
        self.reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webcare-wall")
        self.build = build_id()
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                                     undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    async def read(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.reader, function, *args)

    def render(self, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(build=self.build, **values)
        return HTMLResponse(html, status_code=status, headers={"X-Wall-Build": self.build})

    # -- who is asking -----------------------------------------------------------

    def signed_in(self, request: Request) -> float | None:
        """The age of the request's valid session, None without one."""
        return self.password.session_age(request.cookies.get(COOKIE), SESSION_DAYS * 86_400)

    def set_session(self, response: Response, request: Request) -> None:
        response.set_cookie(COOKIE, self.password.session(), max_age=SESSION_DAYS * 86_400, path="/",
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")

    def check(self, request: Request) -> Response | None:
        """None when the request may see the numbers; else the answer: 401 or 429."""
        if self.signed_in(request) is not None:
            return None
        header = request.headers.get("authorization")
        if header is None:
            return self.unauthorised(request, "sign in: the form at /login, or HTTP Basic with the wall's password")
        key = client_key(request.client.host if request.client else None)
        if wait := self.guesses.wait(key):
            return self.too_many(wait)
        if self.password.basic(header):
            self.guesses.succeeded(key)
            return None
        self.failed(key)
        return self.unauthorised(request, "wrong password")

    def failed(self, key: str) -> None:
        self.guesses.failed(key)
        log.warning("webcare wall: a wrong password from %s", key)

    def unauthorised(self, request: Request, text: str) -> Response:
        # the page's own updates ask for no Basic challenge: a browser would pop up its password dialog
        # on the TV instead of the page going to the form
        scheme = "Form" if request.headers.get("x-webcare-wall") else "Basic"
        return PlainTextResponse(text + "\n", 401, headers={"WWW-Authenticate": f'{scheme} realm="webcare wall", '
                                                                                 'charset="UTF-8"'})

    def too_many(self, wait: int) -> Response:
        return PlainTextResponse(f"too many wrong passwords: try again in {wait} seconds\n", 429,
                                 headers={"Retry-After": str(wait)})

    def renewed(self, response: Response, request: Request) -> Response:
        """Replace an ageing session cookie, so a screen that stays on never has to sign in again."""
        age = self.signed_in(request)
        if age is not None and age > REISSUE:
            self.set_session(response, request)
        return response

    # -- the day asked for -------------------------------------------------------

    def asked(self, request: Request) -> tuple[date | None | str, date] | Response:
        """`?date=` read as `webcare report --date` reads it (YYYY-MM-DD, today, yesterday; none: today):
        the value the report takes and the day it names; a 400 with the report's words for anything else."""
        text = request.query_params.get("date")
        today = self.settings.today(self.clock())
        if not text:
            return None, today
        try:
            value = report.parse_day(text)
        except argparse.ArgumentTypeError as error:
            return PlainTextResponse(f"{error}\n", 400)
        return value, report.resolve_day(value, today) or today

    def day(self, request: Request) -> date | Response:
        asked = self.asked(request)
        return asked if isinstance(asked, Response) else asked[1]

    # -- routes ----------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        refused = self.check(request)
        if refused is not None:
            if refused.status_code == 401 and "authorization" not in request.headers and _wants_html(request):
                return RedirectResponse("/login?next=" + quote(_local_path(str(request.url.path) + (
                    "?" + request.url.query if request.url.query else "")), safe=""), 303)
            return refused
        day = self.day(request)
        if isinstance(day, Response):
            return day
        values = await self.panel_values(day)
        return self.renewed(self.render("page.html", refresh=self.refresh, date=request.query_params.get("date", ""),
                                        **values), request)

    async def panel(self, request: Request) -> Response:
        refused = self.check(request)
        if refused is not None:
            return refused
        day = self.day(request)
        if isinstance(day, Response):
            return day
        values = await self.panel_values(day)
        return self.renewed(self.render("panel.html", **values), request)

    async def panel_values(self, day: date) -> dict[str, Any]:
        data = await self.read(self.numbers.get, day)
        return panel(data, self.settings, self.settings.today(self.clock()))

    async def kpi_json(self, request: Request) -> Response:
        refused = self.check(request)
        if refused is not None:
            return refused
        asked = self.asked(request)  # checked here, so a bad date is a 400 and not the report's exit code
        if isinstance(asked, Response):
            return asked
        # `webcare report [--date D] --json`: the same function with the same arguments
        args = argparse.Namespace(date=asked[0], first=None, last=None, by=None, json=True, csv=False)
        out = io.StringIO()
        code = await self.read(report.run, args, self.config, self.store, out, self.clock)
        if code != 0:
            return PlainTextResponse("the report could not be made: see the server's log\n", 500)
        return self.renewed(Response(out.getvalue(), media_type="application/json"), request)

    async def login_form(self, request: Request) -> Response:
        target = _local_path(request.query_params.get("next"))
        if self.signed_in(request) is not None:
            return RedirectResponse(target, 303)
        return self.render("login.html", next=target, error="")

    async def login(self, request: Request) -> Response:
        if not _same_origin(request):
            return PlainTextResponse("sign in from the wall's own page\n", 403)
        body = await bounded_body(request, FORM_LIMIT)
        if body is None:
            return PlainTextResponse("the form is too long\n", 413)
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        target = _local_path((form.get("next") or ["/"])[0])
        key = client_key(request.client.host if request.client else None)
        if wait := self.guesses.wait(key):
            refused = self.render("login.html", 429, next=target,
                                  error=f"Too many wrong passwords. Try again in {wait} seconds.")
            refused.headers["Retry-After"] = str(wait)
            return refused
        if not self.password.matches((form.get("password") or [""])[0]):
            self.failed(key)
            return self.render("login.html", 401, next=target, error="Wrong password.")
        self.guesses.succeeded(key)
        response = RedirectResponse(target, 303)
        self.set_session(response, request)
        return response

    async def logout(self, request: Request) -> Response:
        if not _same_origin(request):
            return PlainTextResponse("sign out from the wall's own page\n", 403)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                               secure=request.url.scheme == "https")
        return response


def _wants_html(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def _same_origin(request: Request) -> bool:
    """A form posted from the wall's own page, not from another site's (a client that says neither,
    as curl, is let through: it holds no cookie of ours to abuse)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", "") and parts.scheme in ("http", "https")


def make_app(config: Config, store: Any, password: str, *, clock: Callable[[], float] = time.time,
             refresh: float = REFRESH, guesses: Guesses | None = None, meta: MetaSecrets | None = None) -> Starlette:
    """The wall over `store` (a `Store`, read only).

    Args:
        password: the one password (see `auth.load_password`).
        clock: now, in epoch seconds (tests fix it).
        refresh: seconds between the page's updates.
        guesses: the limit on wrong passwords (tests give one with their own clock).
        meta: Meta's app secret and verify token (`hooks.load_meta_secrets`): with them, `/hooks/meta`
            takes Instagram mentions into `store`; without, there is no such route.

    Raises:
        KpiConfigError: `[kpi]` or `[team]` of the config cannot be used.
    """
    wall = Wall(config, store, password, clock, refresh, guesses)
    hooks = MetaHooks(config, store, meta, clock) if meta is not None else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        wall.reader.shutdown(wait=False, cancel_futures=True)
        if hooks is not None:
            await hooks.aclose()

    app = Starlette(
        routes=[
            Route("/", wall.page, methods=["GET"]),
            Route("/panel", wall.panel, methods=["GET"]),
            Route("/kpi.json", wall.kpi_json, methods=["GET"]),
            Route("/login", wall.login_form, methods=["GET"]),
            Route("/login", wall.login, methods=["POST"]),
            Route("/logout", wall.logout, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
            *([Route(HOOKS_PATH, hooks.verify, methods=["GET"]), Route(HOOKS_PATH, hooks.receive, methods=["POST"])]
              if hooks is not None else []),
        ],
        middleware=[Middleware(SecurityHeaders)],
        lifespan=lifespan,
    )
    app.state.wall = wall
    app.state.hooks = hooks
    return app
