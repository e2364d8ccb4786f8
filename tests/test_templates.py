"""Reply templates: variables filled, unknown ones refused, braces never reach a customer."""

from __future__ import annotations

import pytest

from webcare_tui.templates import (
    TemplateError,
    case_values,
    choose_signature,
    customer_language,
    render,
    sign,
    variables_in,
)

VALUES = {"author.first_name": "Anna", "agent.name": "Tim Ruiter", "agent.initials": "TR", "case.id": "42",
          "agent.signature": " ^TR"}


def test_variables_are_filled_and_double_braces_are_braces():
    text = render("Hoi {author.first_name}, zaak {case.id} {{ref}} {agent.signature}", VALUES)
    assert text == "Hoi Anna, zaak 42 {ref} ^TR"


HYPOTHEKEN = "Bedankt voor je vraag, Jeroen reageert binnen 3 uur! {agent.signature}"


@pytest.mark.parametrize("signature, reply", [
    ("\n\nGroetjes, Tim", "Bedankt voor je vraag, Jeroen reageert binnen 3 uur!\n\nGroetjes, Tim"),
    ("Groetjes, Tim", "Bedankt voor je vraag, Jeroen reageert binnen 3 uur!\n\nGroetjes, Tim"),
    ("\nGroetjes,\nTim", "Bedankt voor je vraag, Jeroen reageert binnen 3 uur!\n\nGroetjes,\nTim"),
    (" ^TR", "Bedankt voor je vraag, Jeroen reageert binnen 3 uur! ^TR"),  # X: written with a space, on the line
    ("", "Bedankt voor je vraag, Jeroen reageert binnen 3 uur!"),
])
def test_a_signature_goes_on_its_own_line_never_inline(signature, reply):
    """Issue 14: the case's values once held the signature stripped, so "… 3 uur! Groetjes, Tim" ran on."""
    values = case_values({"id": 7, "author_name": "Anna de Vries", "platform": "facebook"}, "Tim Ruiter", "TR",
                         signature)
    assert render(HYPOTHEKEN, values) == reply
    assert render("{agent.signature}", values) == signature.strip()  # alone: no blank line before it
    assert render("Eerst {agent.signature}\n\nDaarna", values).endswith("\n\nDaarna")


def test_signing_puts_the_signature_on_its_own_line_once():
    assert sign("Dank je!  ", "Groetjes, Tim") == "Dank je!\n\nGroetjes, Tim"
    assert sign("Dank je!\n\nGroetjes, Tim", "\n\nGroetjes, Tim") == "Dank je!\n\nGroetjes, Tim"
    assert sign("Dank je!", " ^TR") == "Dank je! ^TR"
    assert sign("Dank je!", "") == "Dank je!"


PER_PLATFORM = {"x": " ^TR", "default": "\n\nGroetjes, Tim"}
PER_LANGUAGE = {"en": "\n\nKind regards, Tim", "de": "\n\nViele Grüße, Tim", "facebook": {"en": "\n\nCheers, Tim"}}


@pytest.mark.parametrize("platform, language, expected", [
    ("facebook", "en", "\n\nCheers, Tim"),  # platform and language
    ("facebook", "en-GB", "\n\nCheers, Tim"),  # its main language
    ("whatsapp", "en", "\n\nKind regards, Tim"),  # language
    ("x", "de", "\n\nViele Grüße, Tim"),  # language before platform
    ("x", "nl", " ^TR"),  # platform
    ("x", None, " ^TR"),
    ("whatsapp", "nl", "\n\nGroetjes, Tim"),  # default
    ("facebook", "fr", "\n\nGroetjes, Tim"),
    ("whatsapp", None, "\n\nGroetjes, Tim"),
])
def test_signature_precedence_platform_and_language_then_language_then_platform_then_default(
        platform, language, expected):
    assert choose_signature(platform, language, PER_PLATFORM, PER_LANGUAGE) == expected


def test_without_any_signature_a_reply_is_not_signed():
    assert choose_signature("x", "en", {}, {}) == ""
    assert choose_signature("x", "en", {"x": " ^TR"}, {"facebook": {"en": "Cheers"}}) == " ^TR"


def test_the_customers_language_is_that_of_their_latest_message_that_has_one():
    messages = [{"direction": "in", "language": "nl"}, {"direction": "out", "language": "de"},
                {"direction": "in", "language": "en"}, {"direction": "in", "language": None},
                {"direction": "in", "language": "  "}]
    assert customer_language(messages) == "en"
    assert customer_language([{"direction": "out", "language": "de"}]) is None
    assert customer_language([]) is None


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
