"""Provides `render`: reply and memo templates with variables, strictly checked.

    "Hoi {author.first_name}, ik heb het doorgezet naar Jeroen. {agent.signature}"

Variables: author.first_name, author.name, author.handle, agent.name,
agent.first_name, agent.initials, agent.signature, case.id, platform, ask.
An unknown variable or a stray brace is an error: a customer never receives
literal braces. `{{` and `}}` write a brace.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

VARIABLES = ("author.first_name", "author.name", "author.handle", "agent.name", "agent.first_name",
             "agent.initials", "agent.signature", "case.id", "platform", "ask")


class TemplateError(ValueError):
    """A template that cannot be filled; the message names the variable."""


def variables_in(template: str) -> list[str]:
    """The variables a template uses, checked for syntax.

    Raises:
        TemplateError: a stray brace or an unknown variable.
    """
    try:
        parsed = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)
                  if name is not None]
    except ValueError as error:
        raise TemplateError(f"broken braces in the template ({error}); write {{{{ or }}}} for a brace") from None
    fields = []
    for name, spec, conversion in parsed:
        if spec or conversion:
            raise TemplateError(f"write {{{name}}} plainly, without ! or : after the name")
        fields.append(name)
    for name in fields:
        if name not in VARIABLES:
            raise TemplateError(f"unknown variable {{{name}}} (known: {', '.join(VARIABLES)})")
    return fields


MAY_BE_EMPTY = {"agent.signature"}  # an agent may sign nothing; an empty {ask} or name is a mistake


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill a template; every variable it uses must have a value.

    Raises:
        TemplateError: unknown variable, or one without a value here (e.g. {ask}).
    """
    for name in variables_in(template):
        if values.get(name) is None or (values[name] == "" and name not in MAY_BE_EMPTY):
            raise TemplateError(f"{{{name}}} has no value for this case")
    return _Fill(values).format(template)


class _Fill(string.Formatter):
    """Looks up "author.first_name" as one name, not as attribute access."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[str, str]:
        return str(self.values[field_name]), field_name


def first_name(name: str | None) -> str:
    return (name or "").split(" ")[0].strip()


def case_values(case: Mapping[str, object], agent_name: str, agent_initials: str, signature: str,
                ask: str | None = None) -> dict[str, str]:
    """The variables' values for one case (a row of `Store.get_case`) and the signed-in agent."""
    return {
        "author.first_name": first_name(str(case.get("author_name") or "")) or str(case.get("author_handle") or ""),
        "author.name": str(case.get("author_name") or ""),
        "author.handle": str(case.get("author_handle") or ""),
        "agent.name": agent_name,
        "agent.first_name": first_name(agent_name),
        "agent.initials": agent_initials,
        "agent.signature": signature.strip(),
        "case.id": str(case.get("id")),
        "platform": str(case.get("platform") or ""),
        "ask": ask or "",
    }
