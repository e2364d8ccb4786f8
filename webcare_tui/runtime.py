"""Provides what the TUI and the CLI both set up: the store and the connectors."""

from __future__ import annotations

from webcare_tui.config import Account, Config, db_path
from webcare_tui.connectors.base import Connector, connector_class
from webcare_tui.credentials import get_secret
from webcare_tui.store import Store

DEMO_ACCOUNT = "demo"


def open_store(db: str | None = None) -> Store:
    """The store at `--db`, `WEBCARE_DB` or the user data dir."""
    return Store(db_path(db))


def accounts(config: Config) -> tuple[Account, ...]:
    """The configured accounts; with none, the embedded demo."""
    if config.accounts:
        return config.accounts
    return (Account(DEMO_ACCOUNT, "demo", {"seed": config.demo_seed}),)


def build_connectors(config: Config) -> dict[str, Connector]:
    """One connector per account, by account name.

    Raises:
        KeyError: an account names a platform no installed connector speaks.
        CredentialsError: a secret could not be read.
    """
    built = {}
    for account in accounts(config):
        cls = connector_class(account.platform)
        secret = None if account.platform == "demo" else get_secret(account.name)
        built[account.name] = cls(account, secret)
    return built
