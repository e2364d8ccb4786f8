"""Provides `webcare wall`: the dashboard's KPIs as a live, read-only, password-protected web page.

    webcare wall [--host 127.0.0.1] [--port 8080]
    webcare wall --set-password
    webcare wall --set-meta-webhook

The page is for a TV on the office wall: the day's tiles with their target status, the breakdowns
per agent, platform and label, inbound messages per hour against the same weekday last week, and
the hour × weekday heatmap; it updates itself and rides out a restart of the server. `/kpi.json`
is `webcare report --json` for one day. Aggregates only: no message, author or case ever shows.
With Meta's app secret and verify token set, `/hooks/meta` also takes Instagram @mentions from Meta's
webhook into the store (`wall.hooks`).

This module stays light (the `webcare` command imports it for its parser); the web server and
its libraries are imported when `webcare wall` runs.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import Any, TextIO

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a port: give a whole number from 1 to 65535")
    return value


def add_parser(subcommands: Any) -> argparse.ArgumentParser:
    """Add `wall` to the `webcare` command's subparsers."""
    wall = subcommands.add_parser(
        "wall", help="serve the KPIs as a live, password-protected web page (for a TV)",
        description="Serve the dashboard's KPIs as a read-only web page that updates itself. The password "
        "comes from WEBCARE_WALL_PASSWORD or the keyring (--set-password), never from a file or the command line.")
    wall.add_argument("--host", default=DEFAULT_HOST,
                      help=f"the address to listen on (default {DEFAULT_HOST}: this machine only; put a TLS reverse "
                      "proxy in front to reach it from elsewhere)")
    wall.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"the port (default {DEFAULT_PORT})")
    wall.add_argument("--set-password", action="store_true",
                      help="ask for the wall's password (hidden) and keep it in the keyring, then exit")
    wall.add_argument("--set-meta-webhook", action="store_true",
                      help="ask for the Meta app secret and the webhook's verify token (hidden) and keep them in "
                      "the keyring, then exit: /hooks/meta then takes Instagram @mentions")
    wall.set_defaults(handler=run)
    return wall


def run(args: argparse.Namespace, config: Any, store: Any, out: TextIO) -> int:
    """`webcare wall`: set the password, or serve until Ctrl-C. 2 with a plain reason when it cannot start."""
    from webcare_tui.wall.auth import WallPasswordError, load_password, set_password
    from webcare_tui.wall.hooks import MetaWebhookError, load_meta_secrets, set_meta_webhook

    try:
        if args.set_password:
            set_password(out)
            return 0
        if getattr(args, "set_meta_webhook", False):
            set_meta_webhook(out)
            return 0
        password = load_password()
    except (WallPasswordError, MetaWebhookError) as error:
        print(f"webcare: wall: {error}", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        given = "no secret" if getattr(args, "set_meta_webhook", False) else "no password"
        print(f"\nwebcare: wall: {given} given; nothing was stored", file=sys.stderr)
        return 2
    try:
        meta = load_meta_secrets()
    except MetaWebhookError as error:  # the wall serves all the same, without the webhook
        print(f"webcare: wall: {error}", file=sys.stderr)
        meta = None
    return serve(config, store, password, args.host, args.port, meta=meta)


def serve(config: Any, store: Any, password: str, host: str, port: int, *, meta: Any = None) -> int:
    """Serve the wall over `store` on host:port until stopped (Ctrl-C, SIGTERM); uvicorn says where it
    listens; with `meta` (`hooks.MetaSecrets`) Meta's webhook too. 2 with a plain reason when it cannot start."""
    import uvicorn

    from webcare_tui.kpi import KpiConfigError
    from webcare_tui.wall.app import make_app

    try:
        app = make_app(config, store, password, meta=meta)
    except KpiConfigError as error:
        print(f"webcare: wall: {error}", file=sys.stderr)
        return 2
    if not _loopback(host):
        print(f"webcare: wall: listening on {host} over plain HTTP: anyone on the network can reach it; put a TLS "
              "reverse proxy in front (see README, \"The wall on a TV\")", file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    if meta is not None:
        hooks = app.state.hooks
        print(f"webcare: wall: Meta's webhook at /hooks/meta takes the Instagram mentions of "
              f"{len(hooks.accounts)} account(s)" + ("" if hooks.accounts else ": no instagram account has an "
                                                     "ig_user_id, so every mention is ignored"), file=sys.stderr)
    # proxy_headers: behind a proxy on this machine (FORWARDED_ALLOW_IPS for another), the client's own
    # address counts its wrong passwords and https sets the cookie's Secure; no access log: a TV asks every 10 s
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, proxy_headers=True, server_header=False,
                                           ws="none", lifespan="on", access_log=False, log_level="info",
                                           timeout_graceful_shutdown=5))
    try:
        server.run()
    except SystemExit:  # uvicorn could not listen (its reason is logged above: in use, not an address…)
        print(f"webcare: wall: could not listen on {shown}:{port} (the reason is above)", file=sys.stderr)
        return 2
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
