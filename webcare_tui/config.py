"""Provides the agent's configuration: one TOML file, validated into typed objects.

The file lives in the user config dir (`WEBCARE_CONFIG` overrides the path); the
store in the user data dir (`WEBCARE_DB` or `--db` override it). Every error names
the file, the line and the key. Secrets never live here: they are in keyring.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from webcare_tui.case_rules import ThreadingRules

APP = "webcare-tui"
SECTIONS = {"agent", "team", "cases", "kpi", "account", "view", "keymap", "macros", "rules", "rule", "alerts",
            "demo", "blocks"}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


SECRET_WORDS = ("token", "password", "secret", "api_key", "apikey")  # what an account option must never be


def is_secret_key(key: str) -> bool:
    """Whether an account option by this name would hold a secret (`access_token`, `client_secret`…)."""
    return any(word in key.lower() for word in SECRET_WORDS)


class ConfigError(ValueError):
    """The config file cannot be used; the message names file, line and key."""


def config_path() -> Path:
    return Path(os.environ.get("WEBCARE_CONFIG") or Path(platformdirs.user_config_dir(APP)) / "config.toml")


def db_path(override: str | None = None) -> Path:
    return Path(override or os.environ.get("WEBCARE_DB") or Path(platformdirs.user_data_dir(APP)) / "webcare.db")


@dataclass(frozen=True)
class Agent:
    """Who is signed in. Without a config file: Tim, one of the demo's agents."""

    id: str = "tim"
    name: str = "Tim Ruiter"
    initials: str = "TR"
    signature: dict[str, str] = field(default_factory=lambda: {"x": " ^TR", "default": "\n\nGroetjes, Tim"})


@dataclass(frozen=True)
class Account:
    name: str
    platform: str
    options: dict[str, Any] = field(default_factory=dict)  # e.g. base_url, user_id: never secrets


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    agent: Agent = field(default_factory=Agent)
    team: tuple[dict[str, Any], ...] = ()
    threading: ThreadingRules = field(default_factory=ThreadingRules)
    accounts: tuple[Account, ...] = ()
    demo_seed: int = 7
    keymap: dict[str, str] = field(default_factory=dict)  # binding id → keys, e.g. "case.reply" → "r"
    keymap_where: dict[str, str] = field(default_factory=dict)  # binding id → "file:line: keymap.id", for errors
    raw: dict[str, Any] = field(default_factory=dict)  # sections later features read
    text: str = ""  # the file as read, for line numbers in later features' errors


def parse_duration(value: Any, where: str) -> int:
    """"30m", "7d", "2h" or a number of seconds → seconds."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise ConfigError(f"{where}: {value!r} is not a duration such as \"30m\", \"2h\" or \"7d\"")
    return int(match[1]) * _UNITS[match[2]]


class _Reader:
    """Finds the line of a key so errors can name it (tomllib gives no positions)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.lines = path, text.splitlines()

    def where(self, key: str, section: str | None = None) -> str:
        inside = section is None
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if section is not None and stripped.startswith("["):
                inside = stripped.strip("[]").strip() == section
                if inside and key == section:
                    return f"{self.path}:{number}: [{section}]"
            elif inside and re.match(rf"^[\"']?{re.escape(key)}[\"']?\s*=", stripped):
                return f"{self.path}:{number}: {section + '.' if section else ''}{key}"
        return f"{self.path}: {section + '.' if section else ''}{key}"


def load_config(path: Path | None = None) -> Config:
    """Read and validate the config file; a missing file gives the defaults (demo mode).

    Raises:
        ConfigError: with file, line and key of the first problem.
    """
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the config file: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    reader = _Reader(path, text)
    for key in data:
        if key not in SECTIONS:
            raise ConfigError(f"{reader.where(key)}: unknown setting {key!r} (known: {', '.join(sorted(SECTIONS))})")
    agent = _agent(data.get("agent", {}), reader)
    cases = data.get("cases", {})
    threading = ThreadingRules(
        reopen_window=parse_duration(cases.get("reopen_window", "7d"), reader.where("reopen_window", "cases")),
        auto_close_after=parse_duration(cases.get("auto_close_after", "7d"), reader.where("auto_close_after", "cases")),
    )
    accounts = []
    for entry in data.get("account", []):
        name, platform = entry.get("name"), entry.get("platform")
        if not isinstance(name, str) or not isinstance(platform, str):
            raise ConfigError(f"{reader.where('account', 'account')}: every [[account]] needs a name and a platform")
        for secret in entry:
            if is_secret_key(secret):
                raise ConfigError(
                    f"{reader.where(secret, 'account')}: secrets do not belong in the config file;"
                    f" run `webcare accounts add {platform} {name}` to keep it in the keyring"
                )
        options = {k: v for k, v in entry.items() if k not in ("name", "platform")}
        accounts.append(Account(name, platform, options))
    team = data.get("team", {}).get("agents", [])
    demo_seed = data.get("demo", {}).get("seed", 7)
    keymap = data.get("keymap", {})
    for action, keys in keymap.items():
        if not isinstance(keys, str) or not keys.strip():
            raise ConfigError(f"{reader.where(action, 'keymap')}: give the keys as text, e.g. \"r\" or \"ctrl+r,f5\"")
    keymap_where = {action: reader.where(action, "keymap") for action in keymap}
    return Config(path=path, agent=agent, team=tuple(team), threading=threading,
                  accounts=tuple(accounts), demo_seed=demo_seed, keymap=keymap, keymap_where=keymap_where, raw=data,
                  text=text)


def _agent(section: dict[str, Any], reader: _Reader) -> Agent:
    known = {"id", "name", "initials", "signature"}
    for key in section:
        if key not in known:
            raise ConfigError(f"{reader.where(key, 'agent')}: unknown key (known: {', '.join(sorted(known))})")
    name = section.get("name", section.get("id", "Agent"))
    initials = section.get("initials") or "".join(part[0] for part in name.split()[:2]).upper()
    signature = section.get("signature", {})
    if isinstance(signature, str):
        signature = {"default": signature}
    if not isinstance(signature, dict) or not all(isinstance(v, str) for v in signature.values()):
        raise ConfigError(f"{reader.where('signature', 'agent')}: signature must be text or a table of texts per platform")
    return Agent(id=section.get("id", "agent"), name=name, initials=initials, signature=signature or {})


def _toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    import json

    return json.dumps(text, ensure_ascii=False)


def append_view(path: Path, name: str, query: str, key: str) -> None:
    """Add a saved view to the config file (created if missing), keeping what is there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = f"\n[[view]]\nname = {_toml_string(name)}\nquery = {_toml_string(query)}\nkey = {_toml_string(key)}\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(block)


def append_account(path: Path, name: str, platform: str, options: dict[str, Any]) -> None:
    """Add an `[[account]]` block (no secrets: those live in the keyring) to the config file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["", "[[account]]", f"name = {_toml_string(name)}", f"platform = {_toml_string(platform)}"]
    for key, value in options.items():
        rendered = _toml_string(value) if isinstance(value, str) else str(value).lower() if isinstance(
            value, bool) else str(value)
        lines.append(f"{key} = {rendered}")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def remove_account(path: Path, name: str) -> bool:
    """Take the `[[account]]` block named `name` out of the config file, keeping every other line.

    Returns:
        Whether there was one.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.lstrip().startswith("[")] + [len(lines)]
    for start, end in zip(starts, starts[1:]):
        if lines[start].strip() != "[[account]]":
            continue
        block = "".join(lines[start + 1:end])
        try:
            if tomllib.loads(block).get("name") == name:
                while start > 0 and not lines[start - 1].strip():  # the blank line before it, too
                    start -= 1
                path.write_text("".join(lines[:start] + lines[end:]), encoding="utf-8")
                return True
        except tomllib.TOMLDecodeError:
            continue
    return False


def locator(config: Config, section: str):
    """`where(key)` → "file:line: section.key" for errors about keys of one section of the config file."""
    if config.path is None or not config.text:
        return lambda key: f"[{section}] {key}"
    reader = _Reader(config.path, config.text)
    return lambda key: reader.where(key, section)
