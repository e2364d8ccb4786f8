"""Sentiment of webcare posts in five languages: lexicons, negation, emphasis, emoji, authors."""

from __future__ import annotations

import math
import random

import pytest
from conftest import references_a_full_gc_pass_follows

from webcare_tui import sentiment
from webcare_tui.sentiment import (
    NEUTRAL_BAND,
    analyse,
    author_sentiment,
    score_sentiment,
    sentiment_label,
)

POSTS = [
    # Dutch
    ("nl", "negative", "@NS alweer een trein uitgevallen en niemand zegt iets. Belachelijk!"),
    ("nl", "negative", "Wat een waardeloze klantenservice, al drie keer gebeld 😡"),
    ("nl", "negative", "Mijn internet werkt niet, dit is de tweede storing deze week"),
    ("nl", "negative", "Niet goed geholpen, ik ben echt teleurgesteld"),
    ("nl", "neutral", "Hoe laat gaat de winkel in Utrecht open op zondag?"),
    ("nl", "neutral", "Kunnen jullie me een DM sturen met het bestelnummer?"),
    ("nl", "positive", "Super snel geholpen, dank jullie wel! 👍"),
    ("nl", "positive", "Heel vriendelijke medewerker, alles is netjes opgelost"),
    ("nl", "positive", "Niet slecht hoor, sneller geleverd dan verwacht"),
    # German
    ("de", "negative", "@DB_Bahn Zug fällt schon wieder aus, echt nicht gut 😡"),
    ("de", "negative", "Die App funktioniert seit dem Update nicht mehr. Total nervig!"),
    ("de", "negative", "Unverschämter Kundenservice, keiner meldet sich zurück"),
    ("de", "negative", "Das gefällt mir gar nicht"),
    ("de", "neutral", "Wann kommt mein Paket an? Sendungsnummer 12345"),
    ("de", "neutral", "Habt ihr am Samstag geöffnet?"),
    ("de", "positive", "Vielen Dank für die schnelle Hilfe, jetzt klappt alles!"),
    ("de", "positive", "Super freundliche Beratung im Laden heute :)"),
    ("de", "positive", "Kein schlechter Service, ich bin zufrieden"),
    # English
    ("en", "negative", "@united worst flight ever, lost my bag and nobody cares"),
    ("en", "negative", "The app doesn't work since the update. So annoying!!"),
    ("en", "negative", "This is TERRIBLE service, I want a refund"),
    ("en", "neutral", "Where can I find my order number?"),
    ("en", "neutral", "Can you DM me the tracking link please"),
    ("en", "positive", "Thanks for the quick reply, problem solved :)"),
    ("en", "positive", "not bad at all, the new update is great"),
    ("en", "positive", "Love the new store in Leeds ❤️"),
    # French
    ("fr", "negative", "@SNCF encore un train supprimé, c'est vraiment nul"),
    ("fr", "negative", "Ça ne marche pas depuis hier, je suis déçu"),
    ("fr", "negative", "Service client lamentable, j'aime pas du tout"),
    ("fr", "neutral", "Bonjour, le magasin de Lyon est ouvert dimanche ?"),
    ("fr", "neutral", "Quel est le numéro de téléphone du service client ?"),
    ("fr", "positive", "Merci beaucoup pour votre aide rapide !"),
    ("fr", "positive", "C'est pas mal du tout, livraison très rapide 😊"),
    ("fr", "positive", "Conseiller très sympa et efficace, bravo"),
    # Spanish
    ("es", "negative", "@Iberia el peor servicio que he visto, nunca más"),
    ("es", "negative", "La aplicación no funciona y nadie me ayuda. Qué vergüenza"),
    ("es", "negative", "Estoy harto, el pedido llegó roto y tarde 😠"),
    ("es", "neutral", "¿Cuándo abre la tienda de Madrid el domingo?"),
    ("es", "neutral", "Hola, ¿puedo cambiar la dirección de entrega?"),
    ("es", "positive", "Muchas gracias por la ayuda, muy amables"),
    ("es", "positive", "Todo perfecto, el pedido llegó rapidísimo 👏"),
    ("es", "positive", "Excelente atención, os lo recomiendo"),
]


@pytest.mark.parametrize(("language", "expected", "text"), POSTS)
def test_labels_real_looking_posts(language, expected, text):
    assert sentiment_label(score_sentiment(text, language)) == expected


@pytest.mark.parametrize(("language", "plain", "negated"), [
    ("nl", "goed", "niet goed"),
    ("nl", "slecht", "niet slecht"),
    ("de", "gut", "nicht gut"),
    ("de", "guter Service", "kein guter Service"),
    ("en", "bad", "not bad"),
    ("en", "I like it", "I don't like it"),
    ("fr", "mal", "pas mal"),
    ("fr", "j'aime", "je n'aime pas"),
    ("es", "bueno", "no es bueno"),
])
def test_a_negator_turns_a_word_over_and_weakens_it(language, plain, negated):
    before, after = score_sentiment(plain, language), score_sentiment(negated, language)
    assert before * after < 0
    assert abs(after) < abs(before)


@pytest.mark.parametrize(("language", "text"), [
    ("nl", "Het werkt niet"),
    ("de", "Die App funktioniert nicht"),
    ("en", "It doesn't work"),
    ("fr", "Ça ne marche pas"),
    ("es", "No funciona"),
])
def test_a_negated_working_verb_is_a_complaint(language, text):
    assert score_sentiment(text, language) < -NEUTRAL_BAND


def test_a_working_verb_alone_is_neutral():
    assert score_sentiment("Het werkt", "nl") == 0.0


@pytest.mark.parametrize(("language", "text"), [
    ("de", "Das gefällt mir nicht"),
    ("nl", "Die nieuwe app bevalt me niet"),
])
def test_a_negator_after_the_word_counts_in_dutch_and_german(language, text):
    assert score_sentiment(text, language) < -NEUTRAL_BAND


def test_negation_stops_at_the_end_of_a_clause():
    assert score_sentiment("Niet vandaag. Goed geholpen!", "nl") > NEUTRAL_BAND


@pytest.mark.parametrize(("language", "plain", "stronger"), [
    ("nl", "slecht", "echt heel slecht"),
    ("de", "schlecht", "sehr schlecht"),
    ("en", "good", "really good"),
    ("fr", "nul", "vraiment nul"),
    ("es", "malo", "muy malo"),
])
def test_intensifiers_strengthen(language, plain, stronger):
    assert abs(score_sentiment(stronger, language)) > abs(score_sentiment(plain, language))


def test_downtoners_weaken():
    assert 0 < score_sentiment("een beetje teleurgesteld", "nl") * -1 < -score_sentiment("teleurgesteld", "nl")


def test_the_clause_after_but_weighs_more():
    assert score_sentiment("The staff was nice but the food was terrible", "en") < 0
    assert score_sentiment("Het eten was slecht maar het personeel was geweldig", "nl") > 0
    assert score_sentiment("Die Lieferung war langsam, aber der Service war super", "de") > 0


def test_capitals_and_exclamation_marks_add_emphasis():
    assert score_sentiment("this is TERRIBLE", "en") < score_sentiment("this is terrible", "en")
    assert score_sentiment("top!!!", "nl") > score_sentiment("top", "nl")


def test_a_wholly_shouted_post_is_not_extra_emphasis():
    assert score_sentiment("THIS IS TERRIBLE", "en") == pytest.approx(score_sentiment("this is terrible", "en"))


@pytest.mark.parametrize(("text", "expected"), [
    ("👍", "positive"), ("😡😡", "negative"), (":)", "positive"), (":-(", "negative"), ("<3", "positive"),
    ("danke:)", "positive"), ("top👍", "positive"),
])
def test_emoji_and_emoticons_count_in_any_language(text, expected):
    assert sentiment_label(score_sentiment(text, None)) == expected
    assert sentiment_label(score_sentiment(text, "xx")) == expected


def test_words_of_a_language_without_lexicon_are_neutral():
    assert score_sentiment("Grazie mille, bellissimo", "it") == 0.0


def test_handles_links_and_hashtag_signs_are_not_words():
    assert score_sentiment("@lovely_support https://example.com/great/love", "en") == 0.0
    assert score_sentiment("vandaag weer #fail", "nl") == score_sentiment("vandaag weer fail", "nl")


def test_inflected_and_elongated_forms_find_their_lemma():
    assert score_sentiment("een goede ervaring", "nl") > NEUTRAL_BAND
    assert score_sentiment("mit einem schlechten Gefühl", "de") < -NEUTRAL_BAND
    assert score_sentiment("sooooo goooood", "en") > NEUTRAL_BAND
    assert score_sentiment("c'est l'horreur", "fr") < -NEUTRAL_BAND


def test_an_elongated_cry_is_not_a_negator():
    assert score_sentiment("NOOOOO this is bad", "en") < -NEUTRAL_BAND


def test_dutch_and_german_lexicons_are_real_lexicons():
    for language in ("nl", "de", "en", "fr"):
        assert len(sentiment._language(language).words) > 2_500, language


@pytest.mark.parametrize(("text", "label"), [
    ("\x00\x01\x1b[31m\x7f", "neutral"), ("\ud83d", "neutral"), ("👍" * 3000, "positive"),
    ("slecht " * 2000, "negative"), ("goed " * 2000, "positive"),
])
def test_odd_text_is_scored_without_the_safety_net(text, label):
    # _score has no except around it: a crash here fails, where score_sentiment would answer 0.0
    score = sentiment._score(text[:sentiment.MAX_CHARS], sentiment._language("nl"))
    assert isinstance(score, float) and -1.0 <= score <= 1.0
    assert sentiment_label(score) == label


@pytest.mark.parametrize("value", [None, b"bytes", 17])
def test_what_is_not_text_is_neutral(value):
    assert score_sentiment(value, "nl") == 0.0


def test_nothing_to_go_on_is_exactly_neutral():
    assert score_sentiment("", "en") == 0.0
    assert score_sentiment(None, "en") == 0.0
    assert score_sentiment("\x00\x1b[2J", "en") == 0.0


def test_a_long_text_saturates_rather_than_overflows():
    assert score_sentiment("slecht " * 2000, "nl") < -0.99
    assert score_sentiment("good " * 20_000, "en") > 0.99


def test_analyse_gives_the_language_and_the_expected_mood_in_one_pass():
    for language, label, text in POSTS:
        found, score = analyse(text)
        assert (found, sentiment_label(score)) == (language, label), text


@pytest.mark.parametrize("text", ["", None, b"x", "👍", "\x00\ud83d", "ok"])
def test_analyse_takes_any_input(text):
    found, score = analyse(text)
    assert found is None
    assert -1.0 <= score <= 1.0


@pytest.mark.parametrize(("score", "label"), [
    (0.0, "neutral"), (NEUTRAL_BAND, "neutral"), (-NEUTRAL_BAND, "neutral"), (0.051, "positive"),
    (-0.051, "negative"), (1.0, "positive"), (-1.0, "negative"), (None, "neutral"), (math.nan, "neutral"),
])
def test_labels_follow_the_inbox_filters_convention(score, label):
    assert sentiment_label(score) == label


def test_author_sentiment_is_none_without_scored_messages():
    assert author_sentiment([]) is None
    assert author_sentiment([None, None]) is None
    assert author_sentiment([math.nan]) is None


def test_author_sentiment_of_one_message_is_its_score():
    assert author_sentiment([0.4]) == pytest.approx(0.4)


def test_recent_messages_weigh_more():
    turned_happy = author_sentiment([-0.8, -0.8, -0.8, 0.9, 0.9, 0.9, 0.9, 0.9])
    turned_angry = author_sentiment([0.9, 0.9, 0.9, 0.9, 0.9, -0.8, -0.8, -0.8])
    assert turned_happy > 0.3
    assert turned_angry < turned_happy
    assert author_sentiment([-0.5, 0.5]) > 0  # the newer one counts more


def test_author_sentiment_skips_unscored_and_stays_in_range():
    assert author_sentiment([None, 0.5, None]) == pytest.approx(0.5)
    assert author_sentiment([5.0, 7.0]) == pytest.approx(1.0)  # out-of-range scores are clamped
    assert author_sentiment(["junk"]) is None


def test_author_sentiment_with_no_memory_is_the_last_score():
    assert author_sentiment([0.9, -0.2], half_life=0) == pytest.approx(-0.2)


def test_random_text_never_reaches_the_safety_net():
    # score_sentiment/analyse catch everything; the scorer underneath must not need that
    rng = random.Random(11)
    pool = [chr(c) for c in [*range(0x250), *range(0x1F300, 0x1F6FF), 0xD83D, 0xFEFF, 0x200B, 0x202E]]
    pool += ["'", "’", "!", ".", "n'", "niet ", "not ", "super ", "http://x.y ", "@a ", "#b ", ":)", "nooooo ",
             "c'est ", "goed ", "werkt ", "aber ", "hoe laat ", "would like ", "echt ", "sehr ", " "]
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 60)))
        for language in (*sentiment.LANGUAGES, None):
            score = sentiment._score(text, sentiment._language(language))
            assert -1.0 <= score <= 1.0


def test_a_loaded_lexicon_adds_little_to_a_full_gc_pass():
    """The lexicons live as long as the console and are loaded after its start-up objects were put
    out of the garbage collector's reach: the full passes, which hold its event loop, must not go
    through their tens of thousands of words each time."""
    sentiment._load.cache_clear()
    before = references_a_full_gc_pass_follows()
    assert score_sentiment("Super service, dank jullie wel!", "nl") > 0.05  # the Dutch lexicon, loaded
    assert references_a_full_gc_pass_follows() - before < 2_000  # 14 now; 8,204 for a frozenset
