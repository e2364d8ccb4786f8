"""Provides sentiment scoring of short social posts in nl, de, en, fr and es, offline.

`score_sentiment(text, language)` returns a score in [-1, 1]; `sentiment_label` turns it
into "negative" / "neutral" / "positive" (|score| <= 0.05 is neutral, the convention the
inbox filter uses); `author_sentiment` derives an author's mood from their messages;
`analyse(text)` gives language and score in one pass (what ingest should call).

The method is VADER's (Hutto & Gilbert 2014) made multilingual: each word's polarity comes
from a published lexicon (lexicons/README.md names them), a negator within three words
before it turns it over and damps it ("niet goed", "nicht gut", "not bad"; in Dutch, German
and French also right after it: "das gefällt mir nicht", "j'aime pas"), an intensifier
strengthens or a downtoner weakens the next polar word, a clause after "but"/"maar"/
"aber"/"mais"/"pero" weighs 1.5 times and the one before it half, words in capitals and
exclamation marks add emphasis, emoji and emoticons count in every language. The sum is
squashed into [-1, 1] by x / sqrt(x² + 15). "doesn't work"-type phrases (a negated "work"
verb) are negative, as they are in webcare. Pure Python and dictionary look-ups: ~15 µs
of CPU a post on the 2-core test machine, ~26 µs with language detection (`analyse`);
bench/sentiment.py measures it, and accuracy on labelled tweets.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from webcare_tui.language import detect_words

LANGUAGES = ("nl", "de", "en", "fr", "es")
NEUTRAL_BAND = 0.05  # |score| at or below this is neutral (the inbox filter's convention too)
MAX_CHARS = 5000  # a longer post is scored on its beginning: a wall of text must not stall an import
_LANGUAGE_TOKENS = 200  # the language shows in a post's first words

_LEXICONS = Path(__file__).parent / "lexicons"
_SCALE = 4.0  # lexicon polarity [-1, 1] -> VADER valence units, where the constants below live
_ALPHA = 15.0  # VADER's normalisation constant
_NEGATION = -0.74  # VADER: a negated word flips and loses a quarter of its strength
_BOOST = 0.293  # VADER: an intensifier adds this much (a downtoner takes it away)
_CAPS = 0.733  # VADER: a polar word in capitals within mixed-case text
_EXCLAIM = 0.292  # VADER: each "!" (up to four) adds this much in the text's direction
_WINDOW = 3  # a negator reaches this many words
_WORK_NEGATED = -2.0  # "werkt niet", "geht nicht", "doesn't work": a complaint
_MIN_POLARITY = 0.1  # weaker lexicon entries are noise (VADER rates "number" 0.3 of 4)

# Function words per language. Lower case, apostrophes as "'".
_NEGATORS = {
    "en": "not no never nothing nobody none neither nor cannot without aint ain't dont don't doesnt doesn't "
          "didnt didn't isnt isn't wasnt wasn't arent aren't werent weren't cant can't couldnt couldn't "
          "wont won't wouldnt wouldn't shouldnt shouldn't havent haven't hasnt hasn't hadnt hadn't",
    "nl": "niet geen nooit niets niks noch zonder nergens niemand",
    "de": "nicht kein keine keinen keinem keiner keines nie niemals nichts nix ohne weder niemand nirgends",
    "fr": "ne n' pas jamais rien aucun aucune sans ni personne guère",
    "es": "no nunca jamás jamas nada ni nadie ningún ninguna ninguno sin tampoco",
}
_BOOSTERS = {
    "en": "very really so too extremely super totally absolutely completely incredibly utterly highly "
          "most such damn fucking freaking hugely seriously especially",
    "nl": "heel erg zeer echt super ontzettend enorm hartstikke zo te vreselijk verschrikkelijk "
          "bijzonder extreem mega totaal volledig ongelooflijk zwaar",
    "de": "sehr echt total extrem wirklich so super mega richtig voll absolut äußerst ausserst besonders "
          "unglaublich zu ziemlich völlig voellig komplett tierisch übelst uebelst",
    "fr": "très tres vraiment trop tellement super hyper si extrêmement extremement complètement "
          "totalement absolument grave vachement carrément carrement tout",
    "es": "muy super súper tan realmente demasiado totalmente sumamente increíblemente increiblemente "
          "mega re bien completamente absolutamente",
}
_DOWNTONERS = {
    "en": "slightly somewhat kinda kindof barely hardly little bit fairly rather",
    "nl": "beetje redelijk vrij nogal enigszins ietwat wat",
    "de": "etwas bisschen bissl kaum eher leicht halbwegs einigermaßen",
    "fr": "peu assez plutôt plutot légèrement legerement",
    "es": "poco algo apenas ligeramente",
}
_BUT = {"en": "but however", "nl": "maar echter", "de": "aber jedoch doch", "fr": "mais pourtant",
        "es": "pero sino aunque"}
# Verbs of working: neutral alone, a complaint when negated ("doesn't work", "werkt niet").
_WORK = {
    "en": "work works working worked",
    "nl": "werkt werken werkte functioneert functioneren lukt doet",
    "de": "funktioniert funktionieren funktionierte geht ging klappt klappte läuft lief",
    "fr": "marche marchent fonctionne fonctionnent",
    "es": "funciona funcionan funcionó sirve sirven",
}
# Fixed phrases in which a polar word is not polar: the word, then the words before it that neutralise it.
_NOT_AFTER = {
    "nl": {"laat": "hoe"},
    "en": {"like": "would i'd we'd you'd they'd looks look looked feels feel sounds seems something"},
    "de": {"gut": "na"},
    "fr": {"bien": "eh"},
    "es": {},
}
# Post-negation ("das gefällt mir nicht", "werkt niet", "j'aime pas") is normal in these languages.
_NEGATION_AFTER = {"nl", "de", "fr"}
_FRENCH_ELISION = ("n'", "l'", "d'", "j'", "c'", "s'", "m'", "t'", "qu'")

_EMOTICONS = {
    ":)": 2.0, ":-)": 2.0, ":))": 2.4, ":)))": 2.6, "=)": 1.7, ":]": 1.6, ":d": 2.3, ":-d": 2.3, "=d": 2.3,
    ";)": 1.4, ";-)": 1.4, ";d": 1.8, ":p": 1.4, ":-p": 1.4, ";p": 1.3, ":*": 1.7, ":-*": 1.7, "<3": 1.9,
    "<33": 2.1, "<333": 2.3, "^^": 1.5, "^_^": 1.8, ":')": 1.2, "(:": 1.9,
    ":(": -1.9, ":-(": -1.9, ":((": -2.3, ":(((": -2.6, "=(": -1.8, ":[": -1.5, ":'(": -2.2, ":'-(": -2.2,
    ";(": -1.9, ":/": -1.1, ":-/": -1.1, ":\\": -1.1, ":|": -0.6, ":-|": -0.6, ":s": -1.0, ">:(": -2.4,
    "</3": -2.2, "-_-": -1.0, "-.-": -1.0, "):": -1.9, "d:": -1.5,
}
_EMOJI = {  # valence in VADER units, after the Emoji Sentiment Ranking (Kralj Novak et al. 2015) signs
    "😀": 2.0, "😃": 2.1, "😄": 2.2, "😁": 2.1, "😆": 1.9, "😅": 0.8, "🤣": 2.0, "😂": 1.5, "🙂": 1.3,
    "😉": 1.4, "😊": 2.2, "😇": 1.9, "🥰": 2.8, "😍": 2.8, "🤩": 2.6, "😘": 2.4, "😗": 1.5, "😚": 1.9,
    "😙": 1.7, "😋": 1.8, "😛": 1.3, "😜": 1.4, "🤪": 1.2, "😝": 1.2, "🤗": 2.0, "😎": 1.8, "🥳": 2.5,
    "👍": 1.8, "👌": 1.6, "👏": 2.0, "🙌": 2.1, "💪": 1.6, "🙏": 1.3, "🤝": 1.4, "✌": 1.2, "🤞": 0.8,
    "❤": 2.6, "🧡": 2.4, "💛": 2.4, "💚": 2.4, "💙": 2.4, "💜": 2.4, "🖤": 1.2, "🤍": 2.0, "💕": 2.6,
    "💖": 2.6, "💗": 2.5, "💓": 2.4, "💞": 2.5, "💘": 2.4, "💝": 2.4, "♥": 2.4, "😻": 2.4, "💯": 1.8,
    "✨": 1.4, "🎉": 2.2, "🥂": 1.8, "🍾": 1.8, "🌟": 1.7, "⭐": 1.5, "🔥": 1.0, "✅": 1.2, "☺": 1.9,
    "😌": 1.2, "🆒": 1.2, "🏆": 1.8, "🌈": 1.4, "☀": 1.2, "🍀": 1.3, "💐": 1.8, "🌹": 1.6,
    "😐": -0.3, "😑": -0.7, "😶": -0.3, "🙄": -1.4, "😏": -0.2, "😒": -1.7, "😬": -0.9, "🤨": -0.8,
    "😕": -1.3, "🙁": -1.5, "☹": -1.8, "😟": -1.6, "😮": -0.3, "😯": -0.3, "😲": -0.4, "😳": -0.6,
    "🥺": -0.6, "😦": -1.3, "😧": -1.4, "😨": -1.9, "😰": -2.0, "😥": -1.5, "😢": -2.2, "😭": -2.2,
    "😱": -1.8, "😖": -2.0, "😣": -1.8, "😞": -2.1, "😓": -1.6, "😩": -2.1, "😫": -2.1, "🥱": -0.8,
    "😤": -2.0, "😡": -2.7, "😠": -2.5, "🤬": -3.0, "👿": -2.3, "💀": -1.0, "☠": -1.6, "💩": -1.8,
    "👎": -2.0, "💔": -2.4, "🤮": -2.6, "🤢": -2.2, "😷": -1.0, "🤒": -1.4, "🤕": -1.4, "😪": -1.3,
    "😴": -0.5, "🤦": -1.6, "🤷": -0.4, "❌": -1.4, "⚠": -0.9, "🖕": -3.0, "😿": -2.0, "🐌": -0.8,
    "⛔": -1.3, "🚫": -1.3, "😵": -1.5, "🥴": -1.0, "😔": -1.8,
}

_SKIP = re.compile(r"(?:https?://|www\.)\S+|@\w+")
_ELONGATED = re.compile(r"([a-z])\1\1")  # "gooood", "suuuper", "nooo": a cheap test on the whole text
_ELONGATION = re.compile(r"([^\W\d_])\1{2,}")
_EMOJI_CHAR = re.compile(r"[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50\u2B55\u203C\u2049]")
_PUNCTUATION = ".,;:!?\"'()[]{}<>«»“”„‘*#…/\\|~-_=+&%$§^`´"
_CLAUSE_END = frozenset(".;,!?\n")


def _read(name: str) -> dict[str, float]:
    words: dict[str, float] = {}
    path = _LEXICONS / name
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            word, _, value = line.partition("\t")
            words[word.replace("’", "'")] = float(value) * _SCALE
    return words


def _inflections(language: str, words: dict[str, float]) -> dict[str, float]:
    """Inflected adjective forms the lexicons list only as lemma ("goede", "schlechten")."""
    forms: dict[str, float] = {}
    if language == "de":
        for word, value in words.items():
            if len(word) >= 3 and not word.endswith("e"):
                for suffix in ("e", "en", "em", "er", "es"):
                    forms[word + suffix] = value
    elif language == "nl":
        for word, value in words.items():
            if len(word) > 3 and not word.endswith("e"):
                forms[_dutch_e_form(word)] = value
                forms[word + "ste"] = value
    return forms


def _dutch_e_form(word: str) -> str:
    """The attributive form of a Dutch adjective: goed → goede, groot → grote, dom → domme, boos → boze."""
    vowels = "aeiou"
    if word[-1] == "f" and word[-2] in vowels:
        word = word[:-1] + "v"
    elif word[-1] == "s" and word[-2] in vowels:
        word = word[:-1] + "z"
    if len(word) >= 3 and word[-1] not in vowels and word[-2] in vowels and word[-3] == word[-2] and word[-2] != "e":
        return word[:-2] + word[-1] + "e"  # groot → grote (long vowel stays long in an open syllable)
    if (len(word) >= 3 and word[-1] not in vowels + "wjy" and word[-2] in vowels and word[-3] not in vowels
            and not word.endswith(("ig", "lijk", "isch", "baar", "zaam", "loos", "achtig"))):
        return word + word[-1] + "e"  # dom → domme (short vowel stays short)
    return word + "e"


_POLAR, _NEGATOR, _BOOSTER, _BUT_WORD, _WORK_VERB, _CLAUSE, _SYMBOL = range(7)


class _Language:
    """One language's lexicon (words, emoticons, emoji) and function words, ready for look-ups."""

    __slots__ = ("words", "kinds", "simple", "boosts", "not_after", "negation_after", "french")

    def __init__(self, language: str | None):
        words: dict[str, float] = {}
        if language in LANGUAGES:
            words = _read(f"{language}.tsv")
            for line in (_LEXICONS / "extra.tsv").read_text(encoding="utf-8").splitlines():
                fields = line.split("\t")
                if len(fields) == 3 and fields[0] == language:
                    words[fields[1]] = float(fields[2]) * _SCALE
            for word, value in _inflections(language, words).items():
                words.setdefault(word, value)
            # weak entries are noise (VADER rates "number" +0.3 of 4); extra.tsv removes words with 0
            words = {word: value for word, value in words.items() if abs(value) >= _MIN_POLARITY * _SCALE}
        code = language or ""
        self.not_after = {word: frozenset(before.split()) for word, before in _NOT_AFTER.get(code, {}).items()}
        self.boosts = {w: _BOOST for w in _BOOSTERS.get(code, "").split()}
        self.boosts.update({w: -_BOOST for w in _DOWNTONERS.get(code, "").split()})
        kinds: dict[str, int] = {}
        for word in words:
            kinds[word] = _POLAR
        # a function word is never also a polar word ("no", "so", "super" as an intensifier)
        for kind, table in ((_WORK_VERB, _WORK), (_BUT_WORD, _BUT), (_NEGATOR, _NEGATORS)):
            for word in table.get(code, "").split():
                kinds[word] = kind
        for word in self.boosts:
            kinds[word] = _BOOSTER
        for token in _CLAUSE_END:
            kinds[token] = _CLAUSE
        # intensifiers keep their own polarity for when nothing follows them ("war super")
        self.words = {w: v for w, v in words.items() if kinds[w] in (_POLAR, _BOOSTER)}
        self.words.update(_EMOTICONS)
        self.words.update(_EMOJI)
        kinds.update(dict.fromkeys(_EMOTICONS, _SYMBOL))
        kinds.update(dict.fromkeys(_EMOJI, _SYMBOL))
        self.kinds = kinds
        # tokens that only add their value: no negator, intensifier, "but", "work" verb or fixed phrase
        # (a dict of words, not a frozenset: the garbage collector's full passes skip it, tens of thousands)
        self.simple = dict.fromkeys(word for word, kind in kinds.items()
                                    if kind in (_POLAR, _SYMBOL, _CLAUSE) and word not in self.not_after)
        self.negation_after = language in _NEGATION_AFTER
        self.french = language == "fr"


def _language(language: str | None) -> _Language:
    # every language without a lexicon shares one entry: "it", "pt", "ca"… must not evict the five
    return _load(language if language in LANGUAGES else None)


@lru_cache(maxsize=len(LANGUAGES) + 1)
def _load(language: str | None) -> _Language:
    return _Language(language)


def score_sentiment(text: str, language: str | None) -> float:
    """The sentiment of `text` in [-1, 1]: below -0.05 negative, above 0.05 positive.

    Args:
        text: the post as the customer wrote it (links and @handles are ignored).
        language: its ISO 639-1 code; for a language without a lexicon (or None)
            only emoji and emoticons count.

    Returns:
        0.0 for empty or non-text input. Never raises.
    """
    try:
        if not isinstance(text, str) or not text:
            return 0.0
        return _score(text[:MAX_CHARS], _language(language))
    except Exception:  # noqa: BLE001 - a sentiment is an annotation: it must never stop an import
        return 0.0


def analyse(text: str) -> tuple[str | None, float]:
    """The language and the sentiment of one post: `detect_language` and `score_sentiment` in one pass.

    Faster than calling both (the post is split into words once, and the language
    detector gets those words); use it at ingest. The language can differ from
    `detect_language(text)` on a rare post where the two tokenisations disagree.

    Returns:
        (ISO 639-1 code or None, score in [-1, 1]). Never raises.
    """
    try:
        if not isinstance(text, str) or not text:
            return None, 0.0
        text = text[:MAX_CHARS]
        raw, unusual = _raw_tokens(text)
        language = detect_words(raw[:_LANGUAGE_TOKENS])
        lang = _language(language)
        return language, _score_tokens(text, _normalised(raw, unusual, lang), lang)
    except Exception:  # noqa: BLE001 - an annotation must never stop an import
        return None, 0.0


def _tokens(text: str, lang: _Language) -> list[str]:
    return _normalised(*_raw_tokens(text), lang)


def _raw_tokens(text: str) -> tuple[list[str], bool]:
    """Lowercased words, emoji and emoticons of `text` in order, "." where a clause ends;
    and whether some may need `_normalise` (an apostrophe or a letter three times in a row).

    Splitting on white space and stripping punctuation is twice as fast as a tokenising
    regex here; emoji get spaces around them first so that "top👍" is two tokens.
    """
    low = text.lower()
    if "@" in low or "//" in low or "www." in low:
        low = _SKIP.sub(" ", low)
    if not low.isascii():
        low = low.replace("’", "'")
        if _EMOJI_CHAR.search(low):
            low = _EMOJI_CHAR.sub(_spaced, low)
    tokens: list[str] = []
    append = tokens.append
    for part in low.split():
        word = part.strip(_PUNCTUATION)
        if word == part:  # the common case: a plain word
            append(word)
            continue
        if word:
            append(word)
            if part[-2:] in _EMOTICONS or part[-3:] in _EMOTICONS:
                append(part[-3:] if part[-3:] in _EMOTICONS else part[-2:])  # "danke:)"
        elif part in _EMOTICONS:
            append(part)
        if part[-1] in _CLAUSE_END:
            append(".")
    return tokens, "'" in low or _ELONGATED.search(low) is not None


def _spaced(match: re.Match[str]) -> str:
    return f" {match.group()} "


def _normalised(tokens: list[str], unusual: bool, lang: _Language) -> list[str]:
    """`tokens` with elisions split and elongations shortened where that finds a lexicon word."""
    kinds = lang.kinds
    if unusual:
        tokens = [piece for token in tokens for piece in ((token,) if token in kinds else _normalise(token, lang))]
    return tokens


def _normalise(token: str, lang: _Language) -> tuple[str, ...]:
    """A token as the lexicon spells it: "gooood" → "good", "c'est" → "est", "n'aime" → "ne", "aime"."""
    kinds = lang.kinds
    if token in kinds:
        return (token,)
    if "'" in token:
        if lang.french and token.startswith(_FRENCH_ELISION):
            head, _, rest = token.partition("'")
            return ("ne", rest) if head == "n" else (rest,)
        return (token.strip("'"),)
    if _ELONGATION.search(token):
        for repeat in (r"\1\1", r"\1"):
            shorter = _ELONGATION.sub(repeat, token)
            if kinds.get(shorter) == _POLAR:  # "nooooo" is a cry, not the negator "no"
                return (shorter,)
    return (token,)


def _score(text: str, lang: _Language) -> float:
    return _score_tokens(text, _tokens(text, lang), lang)


def _score_tokens(text: str, tokens: list[str], lang: _Language) -> float:
    kinds = lang.kinds
    hits = [(position, token) for position, token in enumerate(tokens) if token in kinds]
    if not hits:
        return 0.0
    # a word in capitals is emphasis when the rest is not in capitals
    shouting = text if not text.isupper() and not text.islower() else ""
    simple = lang.simple
    if all(token in simple for _, token in hits):
        # the common case: polar words, emoji and clause ends only, nothing that modifies a word
        words, kinds = lang.words, lang.kinds
        total = 0.0
        for _, token in hits:
            if kinds[token] != _CLAUSE:
                total += _emphasised(token, words[token], shouting) if kinds[token] == _POLAR else words[token]
    else:
        state = _State(lang, tokens, shouting)
        for position, token in hits:
            state.step(position, token)
        state.end_clause(len(tokens))
        scores = state.scores
        if state.but_at >= 0:
            total = sum(scores[:state.but_at]) * 0.5 + sum(scores[state.but_at:]) * 1.5
        else:
            total = sum(scores)
    if total:
        exclaims = min(text.count("!"), 4) * _EXCLAIM
        total += exclaims if total > 0 else -exclaims
    return max(-1.0, min(1.0, total / math.sqrt(total * total + _ALPHA)))


class _State:
    """What one pass over a post's words has seen: scores so far and the negators and
    intensifiers still waiting for a word (positions are token positions)."""

    __slots__ = ("lang", "tokens", "shouting", "scores", "work_at", "negated_at", "negator_at", "boost_at",
                 "boost", "booster", "last_polar_at", "clause_at", "candidate", "but_at")

    def __init__(self, lang: _Language, tokens: list[str], shouting: str):
        self.lang, self.tokens, self.shouting = lang, tokens, shouting
        self.scores: list[float] = []
        self.work_at: set[int] = set()  # indexes in scores of "work" verbs (neutral unless negated)
        self.negated_at: set[int] = set()
        self.negator_at = self.boost_at = self.last_polar_at = self.clause_at = -100
        self.boost = 0.0
        self.booster = -1  # position of an intensifier no word has used yet ("der Service war super")
        self.candidate = -1  # index of the polar word just before a negator ("das gefällt mir nicht")
        self.but_at = -1

    def step(self, position: int, token: str) -> None:
        if self.candidate >= 0 and position - self.negator_at > _WINDOW:
            self._negate(self.candidate)  # nothing polar followed the negator: it was about the word before
        if self.booster >= 0 and position - self.booster > _WINDOW:
            self._lone_booster()
        kind = self.lang.kinds[token]
        if kind == _POLAR or kind == _WORK_VERB:
            self._polar(position, token, kind)
        elif kind == _SYMBOL:  # emoji and emoticons are neither negated nor intensified
            self.scores.append(self.lang.words[token])
        elif kind == _NEGATOR:
            if (position - self.negator_at > _WINDOW and self.lang.negation_after and self.scores
                    and self.clause_at < self.last_polar_at and position - self.last_polar_at <= _WINDOW):
                self.candidate = len(self.scores) - 1
            self.negator_at = position
        elif kind == _BOOSTER:
            boost = self.lang.boosts[token]
            # "echt heel slecht": stacked intensifiers add up (VADER: each word before counts)
            self.boost = self.boost + boost if position - self.boost_at <= _WINDOW else boost
            self.boost_at = position
            self.booster = position if token in self.lang.words else -1
        else:  # a clause ends or turns ("but"): negation and intensifiers stop here
            self.end_clause(position)
            if kind == _BUT_WORD:
                self.but_at = len(self.scores)

    def end_clause(self, position: int) -> None:
        if self.candidate >= 0:
            self._negate(self.candidate)
        if self.booster >= 0:
            self._lone_booster()
        self.negator_at = self.boost_at = -100
        self.clause_at = position

    def _polar(self, position: int, token: str, kind: int) -> None:
        lang = self.lang
        if position and self.tokens[position - 1] in lang.not_after.get(token, ()):
            return  # a fixed phrase: "hoe laat" asks the time, "I would like" asks for something
        index = len(self.scores)
        value = 0.0
        if kind == _POLAR:
            value = lang.words[token]
            if position - self.boost_at <= _WINDOW:
                value += self.boost if value > 0 else -self.boost
                self.booster = -1
            value = _emphasised(token, value, self.shouting)
        else:
            self.work_at.add(index)
        self.scores.append(value)
        if position - self.negator_at <= _WINDOW:
            self._negate(index)
            self.negator_at = -100  # one negator turns one word over
        self.last_polar_at = position

    def _lone_booster(self) -> None:
        """An intensifier nothing followed is a polar word itself ("war super", "echt top" aside)."""
        position, self.booster = self.booster, -1
        self.boost_at = -100
        self._polar(position, self.tokens[position], _POLAR)

    def _negate(self, index: int) -> None:
        if self.candidate == index:
            self.candidate = -1
        if index not in self.negated_at:
            self.negated_at.add(index)
            self.scores[index] = _WORK_NEGATED if index in self.work_at else self.scores[index] * _NEGATION


def _emphasised(token: str, value: float, shouting: str) -> float:
    """`value`, stronger when the word stands in capitals in `shouting` (the post, if mixed-case)."""
    if shouting and len(token) > 2 and token.upper() in shouting:
        return value + (_CAPS if value > 0 else -_CAPS)
    return value


def sentiment_label(score: float | None) -> str:
    """"negative", "neutral" or "positive" for a score; neutral within ±0.05 and for None."""
    if score is None or score != score:  # NaN
        return "neutral"
    if score > NEUTRAL_BAND:
        return "positive"
    if score < -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def author_sentiment(scores: Iterable[float | None], half_life: float = 5.0) -> float | None:
    """An author's sentiment: the mean of their message scores, recent ones weighing more.

    Args:
        scores: the author's message scores, oldest first; None (unscored) is skipped.
        half_life: a message this many messages older than the newest weighs half as much.

    Returns:
        A score in [-1, 1], or None when there is no scored message. Never raises.
    """
    try:
        values = [float(s) for s in scores if s is not None and s == s and isinstance(s, (int, float))]
    except TypeError:
        return None
    if not values:
        return None
    decay = 0.5 ** (1.0 / half_life) if half_life > 0 else 0.0
    weight, total, weights = 1.0, 0.0, 0.0
    for value in reversed(values):
        total += weight * max(-1.0, min(1.0, value))
        weights += weight
        weight *= decay
        if weight < 1e-6:
            break
    return total / weights
