"""Provides `webcare accounts add | list | remove`: platform accounts, their tokens in the keyring.

The token is asked with hidden input (or read from stdin for scripts) and goes to the
system keyring only; the config file gets the account's name, platform and options.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime
from typing import Any, TextIO

from webcare_tui.config import Config, append_account, config_path, is_secret_key, remove_account
from webcare_tui.connectors.base import connector_class
from webcare_tui.credentials import delete_secret, secret_source, set_secret
from webcare_tui.safe_text import clean
from webcare_tui.store import Store


def add_parser(subcommands: Any) -> argparse.ArgumentParser:
    """Add `accounts` to the `webcare` command's subparsers."""
    accounts = subcommands.add_parser("accounts", help="add, list or remove platform accounts (tokens in the keyring)")
    accounts_actions = accounts.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = accounts_actions.add_parser("add", help="ask for the token (hidden) and add the account")
    add.add_argument("platform", help="mastodon, x, telegram, facebook, instagram, matrix, chatwoot, …")
    add.add_argument("name", help="the account's name in webcare, e.g. brand-x")
    add.add_argument("--set", type=_option, action="append", metavar="KEY=VALUE",
                     help="a non-secret option such as base_url=https://mastodon.social (repeat for more)")
    add.add_argument("--token-stdin", action="store_true", help="read the token from stdin (scripts)")
    accounts_actions.add_parser("list", help="each account's platform, sync state and token source")
    remove = accounts_actions.add_parser("remove", help="remove the account and delete its token")
    remove.add_argument("name")
    accounts.set_defaults(handler=run)
    return accounts


def _option(text: str) -> tuple[str, Any]:
    """KEY=VALUE from the command line; numbers and true/false become TOML numbers and booleans."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"give options as KEY=VALUE, not {key.strip() or '=…'!r}")
    if is_secret_key(key):  # said without the value: it is a secret
        raise argparse.ArgumentTypeError(f"{key.strip()!r} is a secret: it is asked for (hidden) and kept in the"
                                         " keyring, never written to the config file")
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return key.strip(), lowered == "true"
    try:
        return key.strip(), int(value)
    except ValueError:
        return key.strip(), value


def run(args: argparse.Namespace, config: Config, store: Store, out: TextIO) -> int:
    path = config.path or config_path()
    if args.action == "list":
        if not config.accounts:
            print(f"no accounts in {path}: the app runs on the demo. Add one with `webcare accounts add`.", file=out)
            return 0
        for account in config.accounts:
            state = store.sync_state(account.name)
            token = secret_source(account.name) or "MISSING"
            synced = state["last_sync_at"]
            seen = datetime.fromtimestamp(synced).strftime("%Y-%m-%d %H:%M") if synced else "never"
            line = f"{account.name:<16} {account.platform:<10} {state['state'] or 'not synced':<12} token: {token:<11}"
            line += f" last sync: {seen}"
            if state["last_error"]:
                line += f"  ({clean(state['last_error'], single_line=True)})"
            print(line, file=out)
        return 0
    if args.action == "remove":
        removed = remove_account(path, args.name)
        had_secret = delete_secret(args.name)
        if not removed and not had_secret:
            print(f"webcare: there is no account {args.name!r} in {path} or the keyring", file=sys.stderr)
            return 1
        print(f"removed account {args.name!r}" + (" and its token" if had_secret else ""), file=out)
        return 0
    connector_class(args.platform)  # KeyError names the installed platforms
    if any(account.name == args.name for account in config.accounts):
        print(f"webcare: account {args.name!r} is already in {path}; remove it first to replace it",
              file=sys.stderr)
        return 1
    secret = sys.stdin.readline().strip() if args.token_stdin else getpass.getpass(f"token for {args.name}: ")
    if not secret:
        print("webcare: no token given; nothing was stored", file=sys.stderr)
        return 1
    set_secret(args.name, secret)  # first: a missing keyring leaves the config file untouched
    append_account(path, args.name, args.platform, dict(args.set or []))
    print(f"added {args.platform} account {args.name!r} to {path}; its token is in the keyring", file=out)
    return 0
