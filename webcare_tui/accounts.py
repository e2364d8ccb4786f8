"""Provides `webcare accounts add | list | remove`: platform accounts, their tokens in the keyring.

The token is asked with hidden input (or read from stdin for scripts) and goes to the
system keyring only; the config file gets the account's name, platform and options.
Headless, with `WEBCARE_TOKEN_<NAME>` set in the environment, no keyring is needed: that
token is used (and stored nowhere), and the account is added all the same.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any, TextIO

from webcare_tui.config import Config, append_account, config_path, is_secret_key, remove_account
from webcare_tui.connectors.base import connector_class
from webcare_tui.credentials import CredentialsError, delete_secret, env_name, secret_source, set_secret
from webcare_tui.message_format import shown_time
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
            print(f"no accounts in {clean(str(path), single_line=True)}: the app runs on the demo. Add one with"
                  " `webcare accounts add`.", file=out)
            return 0
        for account in config.accounts:
            state = store.sync_state(account.name)
            token = secret_source(account.name) or "MISSING"
            synced = state["last_sync_at"]
            seen = shown_time(synced) if synced else "never"
            line = (f"{clean(account.name, single_line=True):<16} {clean(account.platform, single_line=True):<10}"
                    f" {clean(state['state'] or 'not synced', single_line=True):<12} token: {token:<11}")
            line += f" last sync: {seen}"
            if state["last_error"]:
                line += f"  ({clean(state['last_error'], single_line=True)})"
            print(line, file=out)
        return 0
    if args.action == "remove":
        removed = remove_account(path, args.name)
        try:
            had_secret = delete_secret(args.name)
        except CredentialsError:
            if not removed:
                raise
            had_secret = False  # no keyring here (headless): there is no token to delete
        if not removed and not had_secret:
            print(f"webcare: there is no account {clean(repr(args.name), single_line=True)} in"
                  f" {clean(str(path), single_line=True)} or the keyring", file=sys.stderr)
            return 1
        print(f"removed account {clean(repr(args.name), single_line=True)}" + (" and its token" if had_secret else ""),
              file=out)
        return 0
    connector_class(args.platform)  # KeyError names the installed platforms
    if any(account.name == args.name for account in config.accounts):
        print(f"webcare: account {clean(repr(args.name), single_line=True)} is already in"
              f" {clean(str(path), single_line=True)}; remove it first to replace it", file=sys.stderr)
        return 1
    variable = env_name(args.name)
    from_env = os.environ.get(variable)
    if args.token_stdin:
        secret = sys.stdin.readline().strip()
    else:  # with the token in the environment there is nothing to ask
        secret = "" if from_env else getpass.getpass(f"token for {clean(args.name, single_line=True)}: ")
    if not secret and not from_env:
        print(f"webcare: no token given; nothing was stored (or set {variable} for headless use)", file=sys.stderr)
        return 1
    if secret:
        try:
            set_secret(args.name, secret)  # first: a missing keyring leaves the config file untouched
            kept = "its token is in the keyring" + (f" ({variable} in the environment overrides it)" if from_env else "")
        except CredentialsError:
            if not from_env:
                raise
            differs = "; the token read was not stored and differs from it" if secret != from_env else ""
            kept = f"its token comes from {variable} in the environment (no keyring here, nothing stored{differs})"
    else:
        kept = f"its token comes from {variable} in the environment (nothing stored)"
    append_account(path, args.name, args.platform, dict(args.set or []))
    print(f"added {clean(args.platform, single_line=True)} account {clean(repr(args.name), single_line=True)} to"
          f" {clean(str(path), single_line=True)}; {kept}", file=out)
    return 0
