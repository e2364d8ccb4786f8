"""Reply templates: variables filled, unknown ones refused, braces never reach a customer."""

from __future__ import annotations

import pytest

from webcare_tui.templates import TemplateError, render, variables_in

VALUES = {"author.first_name": "Anna", "agent.name": "Tim Ruiter", "agent.initials": "TR", "case.id": "42",
          "agent.signature": "^TR"}


def test_variables_are_filled_and_double_braces_are_braces():
    text = render("Hoi {author.first_name}, zaak {case.id} {{ref}} {agent.signature}", VALUES)
    assert text == "Hoi Anna, zaak 42 {ref} ^TR"


@pytest.mark.parametrize("template, reason", [
    ("Hoi {author.voornaam}", "unknown variable {author.voornaam}"),
    ("Hoi {author.first_name", "broken braces"),
    ("Hoi }", "broken braces"),
    ("Zaak {case.id!r}", "without ! or :"),
    ("Nummer {ask}", "{ask} has no value"),
])
def test_bad_templates_are_errors(template, reason):
    with pytest.raises(TemplateError, match=reason.replace("{", r"\{").replace("}", r"\}")):
        render(template, VALUES)


def test_variables_in_lists_what_a_template_needs():
    assert variables_in("{ask} en {agent.name}") == ["ask", "agent.name"]
