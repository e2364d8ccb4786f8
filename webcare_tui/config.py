"""Provides the agent's configuration: one TOML file, validated into typed objects.

The file lives in the user config dir (`WEBCARE_CONFIG` overrides the path); the
store in the user data dir (`WEBCARE_DB` or `--db` override it). Every error names
the file, the line and the key. Secrets never live here: they are in keyring.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from webcare_tui.case_rules import ThreadingRules
from webcare_tui.message_format import MAX_INTEGER
from webcare_tui.templates import TemplateError, choose_signature, is_language_code, signature_block, variables_in
from webcare_tui.toml_lines import line_of, table_starts

APP = "webcare-tui"
SECTIONS = {"agent", "team", "cases", "kpi", "account", "view", "keymap", "macros", "rules", "rule", "alerts",
            "demo", "blocks", "notify"}
TABLES = {"agent", "team", "cases", "kpi", "keymap", "macros", "rules", "alerts", "demo", "blocks"}  # [name]
ARRAYS = {"account", "view", "rule", "notify"}  # [[name]], one table each
_DURATION = re.compile(r"^\s*([0-9]{1,12})\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
MAX_DURATION = 3650 * 86_400  # ten years: far beyond any window, far within SQLite's integers
MAX_UNDO_GRACE = 3600  # seconds a macro's reply may wait for an undo
DEFAULT_UNDO_GRACE = 10  # seconds a macro's reply waits for an undo, unless [macros] undo_grace says otherwise


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
    """Who is signed in. Without a config file: Tim, one of the demo's agents (`demo_agent`).

    Signatures are held as they follow a reply (`templates.signature_block`): "\\n\\nGroetjes, Tim" on a
    line of its own, " ^TR" on the same line.
    """

    id: str = "tim"
    name: str = "Tim Ruiter"
    initials: str = "TR"
    # [agent] signature: per platform, and "default" for the others
    signature: dict[str, str] = field(default_factory=lambda: {"x": " ^TR", "default": "\n\nGroetjes, Tim"})
    # [agent.signatures]: per customer language ("en" → text), and per platform and language ("x" → {"en": …})
    signatures: dict[str, str | dict[str, str]] = field(default_factory=dict)

    def signature_for(self, platform: str, language: str | None = None) -> str:
        """This agent's signature on a reply on `platform` to a customer writing `language` (see
        `templates.choose_signature`: platform and language > language > platform > default), placed as it
        follows the reply (`templates.signature_block`)."""
        return signature_block(choose_signature(platform, language, self.signature, self.signatures))


def demo_agent() -> Agent:
    """Tim, signed in when there is no config file: he signs in the customer's language, and " ^TR" on X."""
    return Agent(signatures={
        "nl": "\n\nGroetjes, Tim", "en": "\n\nKind regards, Tim", "de": "\n\nViele Grüße, Tim",
        "x": {"nl": " ^TR", "en": " ^TR", "de": " ^TR"},  # platform and language come first: X keeps its initials
    })


@dataclass(frozen=True)
class Account:
    name: str
    platform: str
    options: dict[str, Any] = field(default_factory=dict)  # e.g. base_url, user_id: never secrets


ALERT_KINDS = ("deadline", "audience", "spike", "rule")  # what alerts.py and routing rules raise
SEVERITIES = ("normal", "high", "critical")  # lowest first
NOTIFY_WHEN = ("always", "outside working hours")
NOTIFY_KINDS = ("matrix", "email", "webhook")
WEBHOOK_FORMATS = ("slack", "ntfy")


@dataclass(frozen=True)
class Notify:
    """A `[[notify]]` block: where alerts go when nobody is at the console (`webcare watch`).

    Secrets (the SMTP password, a webhook URL that is one, an ntfy token) are in the keyring under
    `notify_secret_name(name)`; a Matrix channel uses the token of the `[[account]]` it names.
    """

    name: str
    kind: str  # "matrix", "email" or "webhook"
    kinds: frozenset[str] = frozenset(ALERT_KINDS)  # the alert kinds it wants
    min_severity: str = "normal"
    when: str = "always"  # or "outside working hours"
    limit: int = 5  # messages at most per `per` seconds; more alerts are summed up in one message
    per: int = 600
    options: dict[str, Any] = field(default_factory=dict)  # the kind's own keys (room_id, host, url…)
    where: str = ""  # "file:line", for errors while it runs


def notify_secret_name(name: str) -> str:
    """The keyring entry (and `WEBCARE_TOKEN_…` variable) of a `[[notify]]` block's secret."""
    return f"notify-{name}"


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    agent: Agent = field(default_factory=demo_agent)
    team: tuple[dict[str, Any], ...] = ()
    threading: ThreadingRules = field(default_factory=ThreadingRules)
    accounts: tuple[Account, ...] = ()
    demo_seed: int = 7
    keymap: dict[str, str] = field(default_factory=dict)  # binding id → keys, e.g. "case.reply" → "r"
    keymap_where: dict[str, str] = field(default_factory=dict)  # binding id → "file:line: keymap.id", for errors
    undo_grace: int = DEFAULT_UNDO_GRACE  # [macros] undo_grace: seconds a macro's reply and like wait for an undo
    notify: tuple[Notify, ...] = ()  # [[notify]]: channels for `webcare watch`
    raw: dict[str, Any] = field(default_factory=dict)  # sections later features read
    text: str = ""  # the file as read, for line numbers in later features' errors


def parse_duration(value: Any, where: str) -> int:
    """"30m", "7d", "2h" or a number of seconds → seconds (at most ten years)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DURATION:
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match or int(match[1]) * _UNITS[match[2]] > MAX_DURATION:
        raise ConfigError(f"{where}: {value!r} is not a duration such as \"30m\", \"2h\" or \"7d\" (at most ten years)")
    return int(match[1]) * _UNITS[match[2]]


def _at_line(said: str) -> str:
    """tomllib's "Invalid value (at line 3, column 7)" as ":3: Invalid value (column 7)"."""
    match = re.fullmatch(r"(.*) \(at line (\d+), (column \d+)\)", said, flags=re.S)
    return f":{match[2]}: {match[1]} ({match[3]})" if match else f": {said}"


def _shown(key: str) -> str:
    """A key as an error shows it: plain names as they are, anything else quoted (no raw control characters)."""
    return key if re.fullmatch(r"[A-Za-z0-9_.\[\]-]+", key) else repr(key)


class _Reader:
    """Finds the line of a key so errors can name it (tomllib gives no positions)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.lines = path, text.splitlines()

    def line(self, key: str, section: str | None = None) -> int | None:
        """The line of `key = …` in `[section]`, or of a top-level key or table (`section` None)."""
        quoted = rf"[\"']?{re.escape(key)}[\"']?"
        if section is None:
            header, top = re.compile(rf"^\[\[?\s*{quoted}\s*[.\]]"), True
            for number, line in enumerate(self.lines, start=1):
                stripped = line.strip()
                if header.match(stripped) or (top and re.match(rf"^{quoted}\s*[=.]", stripped)):
                    return number
                top = top and not stripped.startswith("[")  # below the first table only headers name it
            return None
        inside = False
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if stripped.startswith("["):
                inside = stripped.strip("[]").strip() == section
                if inside and key == section:
                    return number
            elif inside and re.match(rf"^{quoted}\s*=", stripped):
                return number
        return None

    def at(self, number: int | None, name: str) -> str:
        return f"{self.path}:{number}: {_shown(name)}" if number else f"{self.path}: {_shown(name)}"

    def where(self, key: str, section: str | None = None) -> str:
        """"file:line: section.key" for a key of a table, or of the top level (`section` None)."""
        if section is not None and key == section:
            return self.at(self.line(key, section), f"[{section}]")
        if section is None:
            return self.at(self.line(key), key)
        # not on a line of its own (`demo = { seed = 7 }`, `[kpi.targets]`): the line that opens its section
        return self.at(self.line(key, section) or self.line(section.split(".")[0]), f"{section}.{key}")

    def start(self, section: str, index: int) -> int | None:
        """The line of the `index`th `[[section]]` header (0-based), if it is written as one."""
        starts = table_starts(self.lines, section)
        return starts[index] if index < len(starts) else None

    def item(self, section: str, index: int, key: str | None = None) -> str:
        """"file:line: section.key" in the `index`th `[[section]]` table (0-based)."""
        start = self.start(section, index)
        if start is None:  # written inline, `section = [{...}]`
            return self.where(section)
        return self.at(line_of(self.lines, start, key) if key else start, f"{section}.{key}" if key else section)

    def mention(self, text: str, after: int | None) -> int | None:
        """The first line from `after` on that holds `text` (an id inside an inline array of tables)."""
        if after is None:
            return None
        return next((number for number in range(after, len(self.lines) + 1) if text in self.lines[number - 1]), after)


def load_config(path: Path | None = None) -> Config:
    """Read and validate the config file; a missing file gives the defaults (demo mode).

    Every key any part of the program reads is checked here for its type and range, so
    what reads `Config.raw` later can take its values as they are.

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
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}{_at_line(str(error))}") from None
    except RecursionError:  # arrays nested thousands deep
        raise ConfigError(f"{path}: arrays or tables nested too deep") from None
    reader = _Reader(path, text)
    _plain_values(data, reader)
    for key, value in data.items():
        if key not in SECTIONS:
            raise ConfigError(f"{reader.where(key)}: unknown setting {key!r} (known: {', '.join(sorted(SECTIONS))})")
        if key in TABLES and not isinstance(value, dict):
            raise ConfigError(f"{reader.where(key)}: [{key}] must be a table: a [{key}] line with its keys below it")
        if key in ARRAYS and not (isinstance(value, list) and all(isinstance(item, dict) for item in value)):
            raise ConfigError(f"{reader.where(key)}: give each {key} as its own [[{key}]] table")
    agent = _agent(data.get("agent", {}), reader)
    cases = data.get("cases", {})
    _known(cases, {"reopen_window", "auto_close_after"}, "cases", reader)
    threading = ThreadingRules(
        reopen_window=parse_duration(cases.get("reopen_window", "7d"), reader.where("reopen_window", "cases")),
        auto_close_after=parse_duration(cases.get("auto_close_after", "7d"), reader.where("auto_close_after", "cases")),
    )
    accounts = _accounts(data.get("account", []), reader)
    team = _team(data.get("team", {}), reader)
    demo = data.get("demo", {})
    _known(demo, {"seed"}, "demo", reader)
    demo_seed = demo.get("seed", 7)
    if isinstance(demo_seed, bool) or not isinstance(demo_seed, int):
        raise ConfigError(f"{reader.where('seed', 'demo')}: seed is a whole number, e.g. 7")
    keymap = data.get("keymap", {})
    for action, keys in keymap.items():
        if not isinstance(keys, str) or not keys.strip():
            raise ConfigError(f"{reader.where(action, 'keymap')}: give the keys as text, e.g. \"r\" or \"ctrl+r,f5\"")
    keymap_where = {action: reader.where(action, "keymap") for action in keymap}
    _views(data.get("view", []), reader)
    _rules(data.get("rule", []), reader)
    _blocks(data.get("blocks", {}), reader)
    undo_grace = _macros(data.get("macros", {}), reader)
    _later_sections(data, reader)
    notify = _notify(data.get("notify", []), reader, accounts, data)
    return Config(path=path, agent=agent, team=tuple(team), threading=threading,
                  accounts=tuple(accounts), demo_seed=demo_seed, keymap=keymap, keymap_where=keymap_where,
                  undo_grace=undo_grace, notify=tuple(notify), raw=data, text=text)


def _known(section: dict[str, Any], known: set[str], name: str, reader: _Reader) -> None:
    for key in section:
        if key not in known:
            raise ConfigError(f"{reader.where(key, name)}: unknown key (known: {', '.join(sorted(known))})")


def _text(value: Any, where: str, what: str) -> str:
    """`value` if it is text with something in it, else a ConfigError: "`what` is …"."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {what}")
    return value


def _agent(section: dict[str, Any], reader: _Reader) -> Agent:
    _known(section, {"id", "name", "initials", "signature", "signatures"}, "agent", reader)
    agent_id = _text(section.get("id", "agent"), reader.where("id", "agent"), "id is text, e.g. \"tim\"")
    name = _text(section.get("name", section.get("id", "Agent")), reader.where("name", "agent"),
                 "name is text, e.g. \"Tim Ruiter\"")
    initials = section.get("initials", "".join(part[0] for part in name.split()[:2]).upper())
    if not isinstance(initials, str):
        raise ConfigError(f"{reader.where('initials', 'agent')}: initials are text, e.g. \"TR\"")
    signature = section.get("signature", {})
    if isinstance(signature, str):
        signature = {"default": signature}
    if not isinstance(signature, dict) or not all(isinstance(v, str) for v in signature.values()):
        raise ConfigError(f"{reader.where('signature', 'agent')}: signature must be text or a table of texts per platform")
    signature = {platform: _signature(text, reader.where("signature", "agent")) for platform, text in signature.items()}
    signatures = _signatures(section.get("signatures", {}), reader)
    return Agent(id=agent_id, name=name, initials=initials, signature=signature, signatures=signatures)


def _signature(text: str, where: str) -> str:
    """A signature as it follows a reply (`templates.signature_block`); control characters are refused."""
    if any(ord(c) < 32 and c not in "\n\t" or 127 <= ord(c) < 160 for c in text):
        raise ConfigError(f"{where}: {text!r} has control characters; a signature is plain text")
    return signature_block(text)


_SIGNATURES_EXAMPLE = 'e.g. [agent.signatures] with en = "Kind regards, Tim", or x = { en = " ^TR" } for X'


def _signatures(section: Any, reader: _Reader) -> dict[str, str | dict[str, str]]:
    """`[agent.signatures]`: a text per customer language (`en = "Kind regards, Tim"`), a table of them per
    platform (`x = { en = " ^TR" }`). Language codes are kept in lower case, as messages carry them."""

    def where(*keys: str) -> str:
        """"file:line: agent.signatures.x.en": the key's own line, else the nearest that holds it."""
        lines = [reader.line(keys[-1], ".".join(("agent.signatures", *keys[:-1]))) if keys else None,
                 reader.line(keys[0], "agent.signatures") if len(keys) > 1 else None,
                 reader.line("signatures", "agent"), reader.line("agent")]
        return reader.at(next((line for line in lines if line), None), ".".join(("agent.signatures", *keys)))

    if not isinstance(section, dict):
        raise ConfigError(f"{where()}: signatures is a table, {_SIGNATURES_EXAMPLE}")
    chosen: dict[str, str | dict[str, str]] = {}
    for key, value in section.items():
        if isinstance(value, dict):
            per_language: dict[str, str] = {}
            for code, text in value.items():
                if not is_language_code(code.lower()):
                    raise ConfigError(f"{where(key, code)}: {code!r} is not a language code such as nl, en or de")
                if not isinstance(text, str):
                    raise ConfigError(f"{where(key, code)}: a signature is text, e.g. {code} = \" ^TR\"")
                per_language[code.lower()] = _signature(text, where(key, code))
            chosen[key] = per_language
        elif not isinstance(value, str):
            raise ConfigError(f"{where(key)}: a signature is text (per language) or a table of texts (per platform),"
                              f" {_SIGNATURES_EXAMPLE}")
        elif not is_language_code(key.lower()):
            raise ConfigError(f"{where(key)}: {key!r} is not a language code such as nl, en or de; a signature for"
                              f" a platform goes in [agent] signature, or here as {key} = {{ en = \"…\" }} for one"
                              " language on it")
        else:
            chosen[key.lower()] = _signature(value, where(key))
    return chosen


def _accounts(entries: list[dict[str, Any]], reader: _Reader) -> list[Account]:
    accounts: list[Account] = []
    for index, entry in enumerate(entries):
        name, platform = entry.get("name"), entry.get("platform")
        if not isinstance(name, str) or not name.strip() or not isinstance(platform, str) or not platform.strip():
            key = "platform" if isinstance(name, str) and name.strip() else "name"
            raise ConfigError(f"{reader.item('account', index, key)}: every [[account]] needs a name and a platform,"
                              " both text")
        for secret in entry:
            if is_secret_key(secret):
                raise ConfigError(
                    f"{reader.item('account', index, secret)}: secrets do not belong in the config file;"
                    f" run `webcare accounts add {platform} {name}` to keep it in the keyring"
                )
        earlier = next((i for i, other in enumerate(accounts) if other.name == name), None)
        if earlier is not None:
            line = reader.start("account", earlier)
            raise ConfigError(f"{reader.item('account', index, 'name')}: there is already an account {name!r}"
                              + (f" (line {line})" if line else "") + "; give each its own name")
        options = {k: v for k, v in entry.items() if k not in ("name", "platform")}
        accounts.append(Account(name, platform, options))
    return accounts


_TEAM_KEYS = {"id", "name", "team", "role", "hours", "needs_approval"}


def _team(section: dict[str, Any], reader: _Reader) -> list[dict[str, Any]]:
    """`[team] agents`: each a table with a unique text id; hours are read (and checked) with the KPIs."""
    _known(section, {"agents"}, "team", reader)
    agents = section.get("agents", [])
    where = reader.where("agents", "team")
    if not isinstance(agents, list) or not all(isinstance(entry, dict) for entry in agents):
        raise ConfigError(f"{where}: agents is a list of tables, e.g. [{{ id = \"jeroen\", name = \"Jeroen\" }}]")
    seen: set[str] = set()
    for number, entry in enumerate(agents, start=1):
        who = _text(entry.get("id"), where, f"agent {number} needs an id as text, e.g. id = \"jeroen\"")
        here = reader.at(reader.mention(f'"{who}"', reader.line("agents", "team")), "team.agents")
        here += f": agent {who!r}"
        for key, value in entry.items():
            if key not in _TEAM_KEYS:
                raise ConfigError(f"{here}: unknown key {key!r} (known: {', '.join(sorted(_TEAM_KEYS))})")
            if key in ("name", "team", "hours") and not isinstance(value, str):
                raise ConfigError(f"{here}: {key} is text")
        if "role" in entry and entry["role"] != "lead":
            raise ConfigError(f"{here}: role is \"lead\" or left out, not {entry['role']!r}")
        if not isinstance(entry.get("needs_approval", False), bool):
            raise ConfigError(f"{here}: needs_approval is true or false")
        if who in seen:
            raise ConfigError(f"{here}: {who!r} is in the team twice")
        seen.add(who)
    return agents


def _views(entries: list[dict[str, Any]], reader: _Reader) -> None:
    for index, entry in enumerate(entries):
        for key in entry:
            if key not in ("name", "query", "key"):
                raise ConfigError(f"{reader.item('view', index, key)}: unknown key (known: key, name, query)")
        for key, example in (("name", "Storingen"), ("query", "label:storing !assigned")):
            _text(entry.get(key), reader.item("view", index, key if key in entry else None),
                  f"every [[view]] needs a {key} as text, e.g. {key} = \"{example}\"")
        if not isinstance(entry.get("key", ""), str):
            raise ConfigError(f"{reader.item('view', index, 'key')}: key is text, e.g. key = \"6\"")


def _rules(entries: list[dict[str, Any]], reader: _Reader) -> None:
    """The [[rule]] keys `rules.load_rules` takes without checking their type; it reports every other
    problem of a rule itself, rule by rule (`webcare rules check`)."""
    for index, entry in enumerate(entries):
        for key in ("set", "assign", "assign_team"):
            if key in entry and not isinstance(entry[key], str):
                raise ConfigError(f"{reader.item('rule', index, key)}: {key} is text, e.g. {key} = \"hypotheken\"")


def _blocks(section: dict[str, Any], reader: _Reader) -> None:
    for name, block in section.items():
        where = reader.where(name, "blocks")
        _text(block, where, "a text block is text, e.g. storing = \"Hoi {author.first_name}, …\"")
        try:
            variables_in(block)
        except TemplateError as error:
            raise ConfigError(f"{where}: {error}") from None


def _macros(section: dict[str, Any], reader: _Reader) -> int:
    """Check `[macros]`; returns the undo grace in seconds. A `dir` that is not there is the macros' problem
    to report (the agent's own macros still load), not a reason to refuse the whole file."""
    _known(section, {"dir", "undo_grace"}, "macros", reader)
    if "dir" in section:
        folder = _text(section["dir"], reader.where("dir", "macros"), "dir is a folder, e.g. \"~/team/webcare-macros\"")
        if not folder.isprintable():  # it is shown in the macros' errors
            raise ConfigError(f"{reader.where('dir', 'macros')}: {folder!r} has control or invisible characters")
    grace = section.get("undo_grace", DEFAULT_UNDO_GRACE)
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= MAX_UNDO_GRACE:
        raise ConfigError(f"{reader.where('undo_grace', 'macros')}: undo_grace is a number of seconds"
                          f" from 0 to {MAX_UNDO_GRACE}, e.g. 10, not {grace!r}")
    return grace


_MAX_NESTING = 16


def _plain_values(data: dict[str, Any], reader: _Reader) -> None:
    """No value anywhere that a reader further on could choke on: whole numbers within SQLite's
    integers, no nan or inf, no tables nested deeper than any setting needs, keys that print as they are."""

    def walk(value: Any, trail: tuple[str, ...], depth: int = 0) -> None:
        if depth > _MAX_NESTING:
            raise ConfigError(f"{place(trail)}: nested deeper than {_MAX_NESTING} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                if not key.isprintable():  # an escape sequence or a bidi control would reach the terminal
                    raise ConfigError(f"{place((*trail, key))}: a key with control or invisible characters")
                walk(item, (*trail, key), depth + 1)
        elif isinstance(value, list):
            for item in value:
                walk(item, trail, depth + 1)
        elif isinstance(value, int) and not isinstance(value, bool) and not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
            raise ConfigError(f"{place(trail)}: {value} is too large a number")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{place(trail)}: {value} is not a number this setting can use")

    def place(trail: tuple[str, ...]) -> str:
        return reader.where(trail[-1], ".".join(trail[:-1]) or None)

    walk(data, ())


_NOTIFY_COMMON = {"name", "kind", "kinds", "min_severity", "when", "limit", "per"}
_NOTIFY_KEYS = {"matrix": {"account", "room_id", "msgtype"},
                "email": {"host", "port", "from", "to", "username", "starttls", "cafile"},
                "webhook": {"url", "format"}}
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")


def _notify(entries: list[dict[str, Any]], reader: _Reader, accounts: list[Account],
            data: dict[str, Any]) -> list[Notify]:
    """The `[[notify]]` blocks: each a named channel of a known kind with its own keys, no secrets."""
    channels: list[Notify] = []
    for index, entry in enumerate(entries):
        def at(key: str | None = None, index: int = index, entry: dict[str, Any] = entry) -> str:
            return reader.item("notify", index, key if key is None or key in entry else None)

        name = _text(entry.get("name"), at("name"), "every [[notify]] needs a name as text, e.g. name = \"night-mail\"")
        if not name.isprintable() or len(name) > 100:
            raise ConfigError(f"{at('name')}: {name!r}: a name is one short line of plain text")
        kind = entry.get("kind")
        if kind not in NOTIFY_KINDS:
            raise ConfigError(f"{at('kind')}: kind is {', '.join(repr(k) for k in NOTIFY_KINDS)}, not {kind!r}")
        known = _NOTIFY_COMMON | _NOTIFY_KEYS[kind]
        for key in entry:
            if is_secret_key(key):
                raise ConfigError(f"{at(key)}: secrets do not belong in the config file; run"
                                  f" `webcare watch --set-secret {name}` to keep it in the keyring")
            if key not in known:
                raise ConfigError(f"{at(key)}: unknown key for a {kind} channel (known: {', '.join(sorted(known))})")
        earlier = next((i for i, other in enumerate(channels) if other.name == name), None)
        if earlier is not None:
            line = reader.start("notify", earlier)
            raise ConfigError(f"{at('name')}: there is already a [[notify]] {name!r}"
                              + (f" (line {line})" if line else "") + "; give each its own name")
        kinds = entry.get("kinds", list(ALERT_KINDS))
        if isinstance(kinds, str):
            kinds = [kinds]
        if not isinstance(kinds, list) or not kinds or any(k not in ALERT_KINDS for k in kinds):
            raise ConfigError(f"{at('kinds')}: kinds is a list of alert kinds from {', '.join(ALERT_KINDS)},"
                              " e.g. kinds = [\"rule\", \"audience\"]")
        severity = entry.get("min_severity", "normal")
        if severity not in SEVERITIES:
            raise ConfigError(f"{at('min_severity')}: min_severity is {', '.join(repr(s) for s in SEVERITIES)},"
                              f" not {severity!r}")
        when = entry.get("when", "always")
        if when not in NOTIFY_WHEN:
            raise ConfigError(f"{at('when')}: when is \"always\" or \"outside working hours\", not {when!r}")
        if when != "always" and not _has_working_hours(data):
            raise ConfigError(f"{at('when')}: \"outside working hours\" needs working hours: [kpi] working_hours ="
                              " \"mon-fri 08:30-17:00\", or hours for the agents in [team]")
        limit = entry.get("limit", 5)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ConfigError(f"{at('limit')}: limit is the most messages per period, from 1 to 1000, e.g. 5")
        per = parse_duration(entry.get("per", "10m"), at("per"))
        if per < 1:
            raise ConfigError(f"{at('per')}: per is a period such as \"10m\"")
        options = {key: value for key, value in entry.items() if key not in _NOTIFY_COMMON}
        _notify_options(kind, options, at, accounts)
        channels.append(Notify(name, kind, frozenset(kinds), severity, when, limit, per, options,
                               at().rsplit(": ", 1)[0]))
    return channels


def _notify_options(kind: str, options: dict[str, Any], at: Any, accounts: list[Account]) -> None:
    """The keys of one kind of channel (see `_NOTIFY_KEYS`); defaults filled in."""
    if kind == "matrix":
        account = _text(options.get("account"), at("account"),
                        "a matrix channel names the [[account]] whose token sends, e.g. account = \"brand-matrix\"")
        found = next((a for a in accounts if a.name == account), None)
        if found is None or found.platform != "matrix":
            matrix = ", ".join(a.name for a in accounts if a.platform == "matrix") or "none"
            raise ConfigError(f"{at('account')}: {account!r} is not a matrix [[account]] (matrix accounts: {matrix})")
        room = _text(options.get("room_id"), at("room_id"), "room_id is the room's id, e.g. \"!abc123:example.org\"")
        if not room.startswith("!") or ":" not in room or not room.isprintable():
            raise ConfigError(f"{at('room_id')}: {room!r} is not a room id such as \"!abc123:example.org\""
                              " (Element: room settings, Advanced)")
        msgtype = options.setdefault("msgtype", "m.notice")
        if msgtype not in ("m.notice", "m.text"):
            raise ConfigError(f"{at('msgtype')}: msgtype is \"m.notice\" (no ping) or \"m.text\", not {msgtype!r}")
    elif kind == "email":
        host = _text(options.get("host"), at("host"), "host is the SMTP server, e.g. host = \"smtp.example.org\"")
        if not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", host):
            raise ConfigError(f"{at('host')}: {host!r} is not a host name")
        port = options.setdefault("port", 587)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConfigError(f"{at('port')}: port is a number from 1 to 65535, e.g. 587")
        sender = _text(options.get("from"), at("from"), "from is the sender's address, e.g. from = \"webcare@example.org\"")
        if not _ADDRESS.match(sender):
            raise ConfigError(f"{at('from')}: {sender!r} is not an e-mail address")
        to = options.get("to")
        to = [to] if isinstance(to, str) else to
        if not isinstance(to, list) or not to or not all(isinstance(a, str) and _ADDRESS.match(a) for a in to):
            raise ConfigError(f"{at('to')}: to is an address or a list of them, e.g. to = [\"lead@example.org\"]")
        options["to"] = to
        if "username" in options:
            _text(options["username"], at("username"), "username is text (its password is in the keyring)")
        if not isinstance(options.setdefault("starttls", True), bool):
            raise ConfigError(f"{at('starttls')}: starttls is true (the default) or false (a relay on this machine)")
        if "cafile" in options:
            _text(options["cafile"], at("cafile"), "cafile is the path of a PEM file of the CA that signed the server")
    else:
        fmt = options.get("format")
        if fmt not in WEBHOOK_FORMATS:
            raise ConfigError(f"{at('format')}: format is \"slack\" (Slack, Mattermost) or \"ntfy\", not {fmt!r}")
        url = options.get("url")
        if url is not None and (not isinstance(url, str) or not url.startswith(("https://", "http://"))
                                or not url.isprintable()):
            raise ConfigError(f"{at('url')}: url is the webhook's address, e.g. \"https://ntfy.sh/our-team-alerts\";"
                              " leave it out to keep a secret URL in the keyring (`webcare watch --set-secret`)")


def _has_working_hours(data: dict[str, Any]) -> bool:
    kpi = data.get("kpi", {})
    team = data.get("team", {})
    return bool(isinstance(kpi, dict) and kpi.get("working_hours")) or any(
        isinstance(agent, dict) and agent.get("hours") for agent in (team.get("agents", []) if isinstance(team, dict) else []))


# [alerts] numbers: AlertSettings checks their type; these are the ranges its queries can take
_ALERT_RANGES = {"audience_followers": (0, MAX_INTEGER), "spike_min": (1, 1_000_000), "spike_days": (1, 365),
                 "spike_factor": (1, 1_000), "negative_below": (-1, 1)}


def _later_sections(data: dict[str, Any], reader: _Reader) -> None:
    """`[kpi]` and `[alerts]` through their own readers, so a mistake there stops the file here too.
    (`[rules]` and `[[rule]]` are reported rule by rule by `rules.load_rules`, which never raises.)"""
    from webcare_tui.alerts import AlertSettings
    from webcare_tui.kpi import settings_from_config

    settings_from_config(data, str(reader.path))
    alerts = data.get("alerts", {})
    AlertSettings.from_config(alerts, lambda key: reader.where(key, "alerts"))
    for key, (low, high) in _ALERT_RANGES.items():
        if key in alerts and not low <= alerts[key] <= high:
            raise ConfigError(f"{reader.where(key, 'alerts')}: {key} is from {low} to {high}, not {alerts[key]!r}")


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


BLOCK_NAME = re.compile(r"[^\W_][\w.\- ]{0,39}")  # a text block's name: short, printable, no quotes or brackets
_BLOCKS_HEADER = re.compile(r"^\s*\[\s*blocks\s*\]\s*(?:#.*)?$")


def append_block(path: Path, name: str, text: str) -> None:
    """Add a text block (`name = "text"` under `[blocks]`) to the config file (created if missing),
    keeping every other line: into the `[blocks]` table where the file has one, else in a new one
    at the end. The file is replaced whole once the new text is read back as exactly the old
    settings plus this block, so a text or name that TOML would take differently is never written.

    Raises:
        ConfigError: the name is not a plain one (letters, digits, space, `.`, `-`, `_`; at most 40),
            a text block by that name exists, the text cannot be stored (half a surrogate pair), or the
            file does not read as TOML (it is left as it was).
    """
    if name != name.strip() or not BLOCK_NAME.fullmatch(name):
        raise ConfigError(f"{name!r} is not a name for a text block: letters, digits, spaces, '.', '-' and '_',"
                          " at most 40")
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = ""
    try:
        data = tomllib.loads(old)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}; the text block was not saved") from None
    blocks = data.get("blocks", {})
    if not isinstance(blocks, dict):
        raise ConfigError(f"{path}: blocks is not a table; the text block was not saved")
    if name in blocks:
        raise ConfigError(f"there is already a text block {name!r}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError("the text has characters that cannot be stored (half a surrogate pair)") from None
    value = _toml_string(text).replace("\x7f", "\\u007f")  # TOML forbids a raw DEL, which JSON leaves
    line = f"{_toml_string(name)} = {value}\n"
    lines = old.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    header = next((number for number, row in enumerate(lines) if _BLOCKS_HEADER.match(row)), None)
    if header is None:
        new = "".join(lines) + ("\n" if lines else "") + "[blocks]\n" + line
    else:  # after the table's last key (before the blank lines and the next table's header)
        end = next((number for number in range(header + 1, len(lines)) if lines[number].lstrip().startswith("[")),
                   len(lines))
        while end > header + 1 and not lines[end - 1].strip():
            end -= 1
        new = "".join(lines[:end] + [line] + lines[end:])
    try:
        written = tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        written = None
    if written != {**data, "blocks": {**blocks, name: text}}:
        raise ConfigError(f"{path}: the text block cannot be added to this file's [blocks] as it is written;"
                          " add it there by hand")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(new, encoding="utf-8")
    if path.exists():
        os.chmod(partial, path.stat().st_mode & 0o7777)  # the file keeps who may read it
    os.replace(partial, path)


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
