"""Provides what the TUI and the CLI both set up: the store and the connectors."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from webcare_tui.config import APP, Account, Config, ConfigError, db_path
from webcare_tui.connectors.base import Connector, connector_class
from webcare_tui.macros import example_folder
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


def remote_actions_of(config: Config):
    """Which case actions each account's platform keeps itself (Chatwoot), without building connectors."""
    kinds = {}
    for account in accounts(config):
        try:
            kinds[account.name] = connector_class(account.platform).capabilities.case_actions
        except KeyError:
            continue
    return lambda name: kinds.get(name, frozenset())


def build_connectors(config: Config) -> dict[str, Connector]:
    """One connector per account, by account name.

    Raises:
        KeyError: an account names a platform no installed connector speaks.
        ConfigError: an account's options are wrong.
        CredentialsError: a secret could not be read.
    """
    from webcare_tui.credentials import get_secret  # keyring: only for real accounts

    built = {}
    for account in accounts(config):
        cls = connector_class(account.platform)
        secret = None if account.platform == "demo" else get_secret(account.name)
        try:
            built[account.name] = cls(account, secret)
        except ValueError as error:  # a connector that checks its options up front
            said = str(error).replace(secret, "•••") if secret else str(error)  # whatever it quotes
            raise ConfigError(f"account {account.name!r} ({account.platform}): {said}") from None
    return built


def macro_folders(config: Config) -> list[Path]:
    """Where macros are read from, later folders winning: the team's shared folder
    (`[macros] dir`, e.g. a git checkout) and the agent's own folder in the config dir.
    With neither, the examples that come with webcare-tui (`macros.example_folder`), so the demo
    has macros to try.
    With a `dir` that is not there, `load_macros` says so (the agent's own macros still load)."""
    own = Path(platformdirs.user_config_dir(APP)) / "macros"
    team = config.raw.get("macros", {}).get("dir")  # text: load_config checked it
    folders = [_expanded(Path(team))] if team else []
    if own.is_dir():
        folders.append(own)
    return folders or [examples for examples in [example_folder()] if examples]


def _expanded(path: Path) -> Path:
    try:
        return path.expanduser()
    except RuntimeError:  # "~someone" without a home: load_macros says the folder is not there
        return path


def team_agents(config: Config) -> set[str]:
    """Everyone a macro may assign to; empty means unknown (the demo's team is not configured)."""
    agents = {str(agent["id"]) for agent in config.team if isinstance(agent, dict) and agent.get("id")}
    return agents | {config.agent.id} if agents else set()


def rule_book(config: Config):
    """The routing rules of the config file (with any problems in `.errors`)."""
    from webcare_tui.rules import RuleBook, load_rules

    if config.path is None or not config.raw:
        return RuleBook()
    return load_rules(config.raw, config.text, config.path)


def router_for(config: Config, store: Store, clock=None, book=None):
    """A `Router` for ingest when the config has routing rules, else None; `book` spares reading them again."""
    import time

    from webcare_tui.rules import Router

    book = book if book is not None else rule_book(config)
    if not book.rules:
        return None
    return Router(book, store.last_rule_assignment, clock or time.time)


def alert_settings(config: Config):
    """The `[alerts]` thresholds (ConfigError names the line of a bad one)."""
    from webcare_tui.alerts import AlertSettings
    from webcare_tui.config import locator

    return AlertSettings.from_config(config.raw.get("alerts", {}), locator(config, "alerts"))
