"""Provides `render`: reply and memo templates with variables, strictly checked.

    "Hoi {author.first_name}, ik heb het doorgezet naar Jeroen. {agent.signature}"

Variables: author.first_name, author.name, author.handle, agent.name,
agent.first_name, agent.initials, agent.signature, case.id, platform, ask.
An unknown variable or a stray brace is an error: a customer never receives
literal braces. `{{` and `}}` write a brace.

Also the agent's signature: which one a reply gets (`choose_signature`: per platform
and customer language, `customer_language`), and where it goes (`signature_block`,
`sign`): on a line of its own after a blank line, wherever `{agent.signature}` stands
in a template, never run on after the text; only a signature written with leading
spaces, such as X's " ^TR", follows the text on its line.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
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

    `{agent.signature}` takes the place `signature_block` gives it: the spaces before it go, and the
    signature follows on a line of its own after a blank line (or, written " ^TR", on the same line).

    Raises:
        TemplateError: unknown variable, or one without a value here (e.g. {ask}).
    """
    for name in variables_in(template):
        if values.get(name) is None or (values[name] == "" and name not in MAY_BE_EMPTY):
            raise TemplateError(f"{{{name}}} has no value for this case")
    parts: list[str] = []
    for literal, variable, _, _ in string.Formatter().parse(template):  # literal: with {{ and }} as one brace
        parts.append(literal)
        if variable == "agent.signature":
            before = "".join(parts).rstrip()
            block = signature_block(str(values[variable]))
            parts = [before, block if before else block.lstrip()]
        elif variable is not None:
            parts.append(str(values[variable]))
    return "".join(parts)


def signature_block(signature: str) -> str:
    """The signature as it follows a reply's text: after a blank line ("\\n\\nGroetjes, Tim"), however it was
    written, unless it was written with leading spaces and no line break (" ^TR" on X): then after one space.
    An empty signature adds nothing."""
    text = signature.strip()
    if not text:
        return ""
    lead = signature[:len(signature) - len(signature.lstrip())]
    return " " + text if lead and "\n" not in lead and "\r" not in lead else "\n\n" + text


def sign(text: str, signature: str) -> str:
    """`text` with `signature` after it (as `signature_block` places it), never twice."""
    body, block = text.rstrip(), signature_block(signature)
    if not block or body.endswith(block.strip()):
        return body
    return body + block if body else block.lstrip()


def language_codes(language: str | None) -> tuple[str, ...]:
    """The codes a signature may be set for, most specific first: "pt-BR" → ("pt-br", "pt")."""
    code = (language or "").strip().lower().replace("_", "-")
    if not code:
        return ()
    main = code.split("-")[0]
    return (code, main) if main != code else (code,)


def choose_signature(platform: str, language: str | None, by_platform: Mapping[str, str],
                     by_language: Mapping[str, str | Mapping[str, str]]) -> str:
    """The agent's signature for a reply on `platform` to a customer who writes `language`.

    Precedence: platform and language (`by_language["x"]["en"]`) > language (`by_language["en"]`)
    > platform (`by_platform["x"]`) > `by_platform["default"]` > none ("").

    Args:
        by_platform: `[agent] signature`: per platform, and "default".
        by_language: `[agent.signatures]`: per language code a text; per platform a table of texts by language.
    """
    codes = language_codes(language)
    on_platform = by_language.get(platform)
    if isinstance(on_platform, Mapping):
        for code in codes:
            if isinstance(on_platform.get(code), str):
                return on_platform[code]
    for code in codes:
        general = by_language.get(code)
        if isinstance(general, str):
            return general
    return by_platform.get(platform, by_platform.get("default", ""))


_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


def is_language_code(code: str) -> bool:
    """Whether `code` is a language code a signature may be set for: "nl", "en", "pt-br"."""
    return bool(_LANGUAGE_CODE.match(code))


def customer_language(messages: Iterable[Mapping[str, Any]]) -> str | None:
    """The language a case's customer writes: that of their latest message that has one.

    Args:
        messages: the case's messages, oldest first (rows of `Store.case_messages`).
    """
    language = None
    for message in messages:
        said = message.get("language")
        if message.get("direction") == "in" and isinstance(said, str) and said.strip():
            language = said.strip()
    return language


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
        "agent.signature": signature,  # render() puts it on its own line (a " ^TR" on the same one)
        "case.id": str(case.get("id")),
        "platform": str(case.get("platform") or ""),
        "ask": ask or "",
    }
