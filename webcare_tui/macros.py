"""Provides macros: a named bundle of actions on one key, loaded from TOML files and applied as one.

A macro file holds one or more ``[[macro]]`` tables::

    [[macro]]
    name = "Hypotheken"
    key = "h"                       # optional ("ctrl+h", "f5", or two keys "g h"); scope = "inbox" | "case"
    assign = "jeroen"
    labels_add = ["Vraag", "Hypotheken"]
    memo = "Hoi Jeroen, kun jij hiernaar kijken?"
    reply = "Bedankt voor je vraag … {agent.signature}"
    status = "pending"

Loading never stops at a bad file: each problem is reported with file, line and
a plain message, and the valid macros load. Applying one to one or many cases is
one transaction; its reply waits in the outbox for the undo grace period.

The example macros are the top-level `macros/` folder of the repository; a wheel
ships the same files as `webcare_tui/example_macros` (see pyproject.toml), and
`example_folder` finds them either way.
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webcare_tui.templates import TemplateError, variables_in
from webcare_tui.toml_lines import line_of, table_starts

ACTIONS = ("assign", "unassign", "labels_add", "labels_remove", "memo", "reply", "reply_block", "visibility",
           "status", "priority", "like", "request_approval")
FIELDS = ("name", "key", "scope", "description", "ask", *ACTIONS)
STATUSES = ("open", "pending", "closed")
_ONE_KEY = r"((ctrl|shift|alt)\+)*([a-z0-9]|f[0-9]{1,2}|[A-Z])"
WHAT_A_MACRO_IS = "give each macro as its own [[macro]] table, with name = \"…\" and its actions below it"
_KEY = re.compile(rf"^{_ONE_KEY}( {_ONE_KEY})?$")  # one key, or a two-key sequence such as "g h"


EXAMPLES_IN_PACKAGE = "example_macros"  # where the wheel puts the repository's macros/ folder


def example_folder() -> Path | None:
    """The example macros that come with webcare-tui, or None if this installation has none.

    Installed (pip, pipx): the package's `example_macros` folder, found through importlib.resources.
    Run from a source checkout (an editable install too): the checkout's `macros/` folder.
    """
    try:
        shipped = importlib.resources.files("webcare_tui").joinpath(EXAMPLES_IN_PACKAGE)
    except (ModuleNotFoundError, OSError):
        shipped = None
    if isinstance(shipped, Path) and shipped.is_dir():  # a zipped installation would need extracting: none here
        return shipped
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "macros").is_dir():
        return checkout / "macros"
    return None


@dataclass(frozen=True)
class Macro:
    name: str
    key: str | None = None
    scope: str = "any"  # any, inbox, case
    description: str = ""
    ask: str | None = None  # a question the agent answers when applying: {ask}
    assign: str | None = None
    unassign: bool = False
    labels_add: tuple[str, ...] = ()
    labels_remove: tuple[str, ...] = ()
    memo: str | None = None
    reply: str | None = None
    reply_block: str | None = None
    visibility: str = "same"
    status: str | None = None
    priority: int | None = None
    like: bool = False
    request_approval: bool = False
    source: str = ""  # file:line, for messages

    def summary(self, *, done: bool = False, liked: bool = True) -> str:
        """What it does (or, `done`, what it did), in one line: for `macros list`, the picker, the screen."""
        labels = " ".join([f"+{label}" for label in self.labels_add] + [f"-{label}" for label in self.labels_remove])
        reply = f"reply ({self.visibility})" + (f" block {self.reply_block}" if self.reply_block else "")
        parts = [
            (f"assigned {self.assign.title()}" if done else f"assign {self.assign}") if self.assign else "",
            ("unassigned" if done else "unassign") if self.unassign else "",
            labels,
            "memo" if self.memo else "",
            ("reply queued" if done else reply) if self.reply or self.reply_block else "",
            ("like queued" if done else "like") if self.like and liked else "",
            f"priority {self.priority}" if self.priority is not None else "",
            ("approval requested" if done else "request approval") if self.request_approval else "",
            self.status or "",
        ]
        return ", ".join(part for part in parts if part)


@dataclass
class MacroSet:
    macros: list[Macro] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def by_name(self, name: str) -> Macro | None:
        return next((m for m in self.macros if m.name.lower() == name.lower()), None)


def load_macros(folders: list[Path], *, agents: set[str] | None = None, blocks: dict[str, str] | None = None) -> MacroSet:
    """Every macro in the *.toml files of `folders` (later folders override earlier ones by name).

    Args:
        agents: the team's agent ids; an `assign` to anyone else is an error (None: not checked).
        blocks: the text blocks a `reply_block` may name.
    """
    result = MacroSet()
    by_name: dict[str, Macro] = {}
    for folder in folders:
        try:
            is_dir, exists = folder.is_dir(), folder.exists()
        except (OSError, ValueError) as error:  # a name too long for the file system
            result.errors.append(f"{folder}: cannot read the macro folder: {error}")
            continue
        if not is_dir:
            result.errors.append(f"{folder}: {'not a folder' if exists else 'there is no such folder'};"
                                 " no macros were read from it")
            continue
        for path in sorted(folder.glob("*.toml")):
            for macro in _load_file(path, result.errors, agents, blocks or {}):
                by_name[macro.name.lower()] = macro
    result.macros = list(by_name.values())
    keys: dict[tuple[str, str], Macro] = {}
    for macro in result.macros:
        if not macro.key:
            continue
        scopes = ("inbox", "case") if macro.scope == "any" else (macro.scope,)
        for scope in scopes:
            other = keys.get((scope, macro.key))
            if other is not None:
                result.errors.append(f"{macro.source}: key {macro.key!r} is already {other.name!r}'s ({other.source})")
            keys[(scope, macro.key)] = macro
    for (scope, key), macro in keys.items():  # "g" alone would make "g h" unreachable
        prefix = key.split(" ")[0]
        if " " in key and (scope, prefix) in keys:
            other = keys[(scope, prefix)]
            problem = (f"{macro.source}: key {key!r} starts with {prefix!r}, which is {other.name!r}'s"
                       f" ({other.source}); a key cannot be both a macro and the start of a sequence")
            if problem not in result.errors:
                result.errors.append(problem)
    return result


def _load_file(path: Path, errors: list[str], agents: set[str] | None, blocks: dict[str, str]) -> list[Macro]:
    try:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff")  # a byte-order mark some editors write
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        errors.append(f"{path}: {error}")
        return []
    except RecursionError:
        errors.append(f"{path}: arrays or tables nested too deep")
        return []
    except (OSError, UnicodeDecodeError) as error:
        errors.append(f"{path}: cannot read: {error}")
        return []
    lines = text.splitlines()
    starts = table_starts(lines, "macro")
    unknown_top = [key for key in data if key != "macro"]
    for key in unknown_top:
        errors.append(f"{path}:{line_of(lines, 1, key)}: unknown setting {key!r}; macros are [[macro]] tables")
    tables = data.get("macro", [])
    written = next((n for n, line in enumerate(lines, 1) if re.match(r"^\[\s*macro\s*[\].]", line.strip())),
                   line_of(lines, 1, "macro"))  # `[macro]` or `macro = …`
    if not isinstance(tables, list):
        errors.append(f"{path}:{written}: {WHAT_A_MACRO_IS}")
        return []
    loaded = []
    for index, table in enumerate(tables):
        start = starts[index] if index < len(starts) else written
        if not isinstance(table, dict):
            errors.append(f"{path}:{start}: {WHAT_A_MACRO_IS}")
            continue
        problems: list[str] = []

        def problem(key: str, message: str, problems: list[str] = problems, start: int = start) -> None:
            problems.append(f"{path}:{line_of(lines, start, key)}: {message}")

        macro = _build(table, problem, agents, blocks, source=f"{path}:{start}")
        errors.extend(problems)
        if macro is not None and not problems:
            loaded.append(macro)
    return loaded


def _build(table: dict[str, Any], problem, agents: set[str] | None, blocks: dict[str, str], source: str) -> Macro | None:
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        problem("name", "a macro needs a name")
        return None
    label = f"macro {name!r}"
    for setting in table:
        if setting not in FIELDS:
            problem(setting, f"{label}: unknown action or setting {setting!r} (known: {', '.join(FIELDS)})")

    def text(key: str) -> str | None:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            problem(key, f"{label}: {key} must be text")
            return None
        if value is not None and not value.strip() and key != "description":
            problem(key, f"{label}: {key} is empty; give it some text or leave it out")
            return None
        return value

    def texts(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            problem(key, f"{label}: {key} must be a list of labels")
            return ()
        return tuple(v.strip() for v in value)

    def flag(key: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            problem(key, f"{label}: {key} is true or false")
            return False
        return value

    key = text("key")
    if key is not None and not _KEY.match(key):
        problem("key", f"{label}: key {key!r} is not a key such as \"h\", \"ctrl+h\", \"f5\" or two keys \"g h\"")
    scope = text("scope") or "any"
    if scope not in ("any", "inbox", "case"):
        problem("scope", f"{label}: scope is \"inbox\", \"case\" or \"any\", not {scope!r}")
    assign = text("assign")
    if assign and agents is not None and assign not in agents:
        problem("assign", f"{label}: there is no agent {assign!r} (the team: {', '.join(sorted(agents))})")
    status = text("status")
    if status is not None and status not in STATUSES:
        problem("status", f"{label}: status is one of {', '.join(STATUSES)}, not {status!r}")
    priority = table.get("priority")
    if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool) or priority not in range(4)):
        problem("priority", f"{label}: priority is 0 (normal) to 3 (urgent)")
    visibility = text("visibility") or "same"
    if visibility not in ("public", "private", "same"):
        problem("visibility", f"{label}: visibility is \"public\", \"private\" or \"same\"")
    ask = text("ask")
    reply, reply_block, memo = text("reply"), text("reply_block"), text("memo")
    if reply and reply_block:
        problem("reply_block", f"{label}: give reply or reply_block, not both")
    if reply_block and reply_block not in blocks:
        problem("reply_block", f"{label}: there is no text block {reply_block!r}"
                + (f" (known: {', '.join(sorted(blocks))})" if blocks else ""))
    for field_name, template in (("reply", reply), ("memo", memo), ("reply_block", blocks.get(reply_block or ""))):
        if not template:
            continue
        try:
            used = variables_in(template)
        except TemplateError as error:
            problem(field_name, f"{label}: {field_name}: {error}")
            continue
        if "ask" in used and not ask:
            problem(field_name, f"{label}: {field_name} uses {{ask}} but the macro has no ask = \"question\"")
    unassign, like, request_approval = flag("unassign"), flag("like"), flag("request_approval")
    if assign and unassign:
        problem("unassign", f"{label}: assign and unassign together")
    actions = [a for a in ACTIONS if a != "visibility" and table.get(a) not in (None, "", [], ())
               and table.get(a) is not False]
    if not actions:
        problem("name", f"{label}: does nothing (give at least one of {', '.join(ACTIONS)})")
    return Macro(
        name=name.strip(), key=key, scope=scope, description=text("description") or "", ask=ask,
        assign=assign, unassign=unassign, labels_add=texts("labels_add"), labels_remove=texts("labels_remove"),
        memo=memo, reply=reply, reply_block=reply_block, visibility=visibility, status=status,
        priority=priority, like=like, request_approval=request_approval, source=source,
    )
