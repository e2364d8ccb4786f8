"""Language detection of short social posts: the five webcare languages, noise, bad input."""

from __future__ import annotations

import pytest

from webcare_tui import language
from webcare_tui.language import detect_language

POSTS = [
    ("nl", "@NS_online alweer vertraging op het traject Utrecht - Amersfoort, wanneer rijdt de trein weer?"),
    ("nl", "Mijn pakket is nog steeds niet bezorgd, kunnen jullie even kijken? #postnl"),
    ("nl", "Top geholpen door jullie medewerker vandaag, dank jullie wel! 👍"),
    ("nl", "waarom krijg ik geen bevestiging van mijn bestelling?? https://t.co/a1b2c3"),
    ("de", "@DB_Bahn Zug fällt schon wieder aus, echt nicht gut 😡"),
    ("de", "Vielen Dank für die schnelle Hilfe, jetzt funktioniert alles wieder!"),
    ("de", "Wann kommt endlich mein Paket an? Ich warte schon seit einer Woche."),
    ("de", "Die App stürzt bei jedem Login ab, könnt ihr euch das bitte anschauen?"),
    ("en", "@united worst flight ever, lost my bag and nobody cares"),
    ("en", "Thanks for the quick reply, the issue is fixed now :)"),
    ("en", "Where is my refund? It has been three weeks already."),
    ("en", "Can you DM me the tracking number please"),
    ("fr", "@SNCF encore un train supprimé ce matin, c'est vraiment nul"),
    ("fr", "Merci beaucoup pour votre aide rapide, tout fonctionne maintenant !"),
    ("fr", "Je n'ai toujours pas reçu ma commande, que se passe-t-il ?"),
    ("fr", "Bonjour, est-ce que le magasin de Lyon est ouvert dimanche ?"),
    ("es", "@Iberia el peor servicio que he visto, nunca más vuelo con vosotros"),
    ("es", "Muchas gracias por la ayuda, muy amables 😊"),
    ("es", "¿Cuándo llega mi pedido? Llevo una semana esperando"),
    ("es", "Hola, ¿puedo cambiar la dirección de entrega de mi pedido?"),
]


@pytest.mark.parametrize(("expected", "text"), POSTS)
def test_detects_the_language_of_real_looking_posts(expected, text):
    assert detect_language(text) == expected


@pytest.mark.parametrize(("expected", "text"), [
    ("en", "not bad"),  # too short for the model alone: marker words decide
    ("nl", "bedankt!!"),
    ("es", "no funciona"),
    ("de", "nicht gut"),
    ("nl", "niet goed"),
])
def test_two_word_posts_are_decided_by_marker_words(expected, text):
    assert detect_language(text) == expected


def test_shouted_posts_are_read_in_lower_case():
    assert detect_language("WAAROM DUURT HET ZO LANG VOORDAT IK MIJN GELD TERUG KRIJG") == "nl"


def test_links_handles_and_emoji_do_not_vote():
    # an English link and handle around a German sentence
    assert detect_language("@FlyingBlue https://www.example.com/help/english-support Ich habe keine Antwort bekommen") \
        == "de"


@pytest.mark.parametrize("text", [
    "", "   ", "ok", "??!!", "👍👍👍", "😡", "12345 678", "https://t.co/xyz", "@klm @ns", "#", ":-)",
])
def test_says_unknown_when_there_is_nothing_to_go_on(text):
    assert detect_language(text) is None


def test_unsure_and_unmarked_text_is_unknown():
    assert detect_language("lol xd") is None


@pytest.mark.parametrize("text", [None, b"bytes are not text", 42, ["list"]])
def test_non_text_is_unknown_not_an_error(text):
    assert detect_language(text) is None


def test_control_characters_and_escape_sequences_are_harmless():
    text = "\x00\x1b[31m\x07Bedankt voor \x1b]0;title\x07 de snelle hulp, echt top\x7f"
    assert detect_language(text) == "nl"


@pytest.mark.parametrize("text", [
    "\ud83d Thanks a lot for your help with my order today",
    "Thanks a lot for your help\ud83d with my order today",  # inside a word: the model gets "?" instead
])
def test_a_lone_surrogate_from_a_broken_emoji_does_not_break_detection(text):
    assert detect_language(text) == "en"


def test_ten_kilobytes_are_detected_from_their_beginning():
    text = "Ich warte seit Wochen auf eine Antwort vom Kundenservice. " * 180
    assert len(text) > 10_000
    assert detect_language(text) == "de"


def test_only_two_letter_codes_come_back():
    # lid.176 says "ceb" (Cebuano, no ISO 639-1 code) for this with 0.89 confidence: not a code we store
    assert detect_language("Maayong buntag! Unsa man ang imong pangalan? Salamat kaayo sa imong tabang "
                           "karong adlawa.") is None


def test_without_the_model_only_marker_words_decide(monkeypatch):
    monkeypatch.setattr(language, "_model", lambda: None)
    assert detect_language("Vielen Dank für die schnelle Hilfe") is None  # one marker word: the model's call
    assert detect_language("Ich habe keine Antwort bekommen") == "de"  # ich, habe, keine


def test_marker_words_of_two_languages_leave_it_to_the_model(monkeypatch):
    asked = []
    real = language._by_model

    def spy(line, votes):
        asked.append(line)
        return real(line, votes)

    monkeypatch.setattr(language, "_by_model", spy)
    assert detect_language("Ich habe the order nicht bekommen, keine Antwort") == "de"
    assert asked  # "the" is an English marker: no shortcut
