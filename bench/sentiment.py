"""Benchmark: language detection and sentiment scoring — speed per message and accuracy.

    python bench/sentiment.py [--messages 20000] [--runs 5]

Speed: CPU µs per message (process time: this machine is shared, wall time would count
the neighbours) for `detect_language`, `score_sentiment`, both, and `analyse` (both in
one pass, what ingest should call), over the inbound texts of the demo history
(deterministic seed; realistic lengths and languages) and over the labelled samples;
median of `--runs` runs after a warm-up. For scale, the same run times the import's own
JSON-line decoding (`message_format.read_jsonl`) of the demo messages.
Accuracy: on the labelled samples in bench/data/ (see bench/data/README.md for their
sources), per language: language detection (the file's language is the truth) and
three-class sentiment accuracy and macro-F1, scored with the file's language and with
the detected one (see bench/data/README.md on tuning); and language detection on the
demo posts against the generator's own language field.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson

from webcare_tui.connectors.demo_traffic import generate_history
from webcare_tui.language import detect_language
from webcare_tui.message_format import read_jsonl
from webcare_tui.sentiment import analyse, score_sentiment, sentiment_label

DATA = Path(__file__).parent / "data"
LABELS = ("negative", "neutral", "positive")


def labelled(language: str) -> list[tuple[str, str]]:
    rows = []
    for line in (DATA / f"sentiment-{language}.tsv").read_text(encoding="utf-8").splitlines():
        label, _, text = line.partition("\t")
        if label in LABELS:
            rows.append((label, text))
    return rows


def demo_messages(count: int) -> list[dict]:
    messages = []
    end = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)
    for message in generate_history(42, end, 10, max(count // 20, 10)):
        messages.append(message)
        if len(messages) == count:
            break
    return messages


def demo_texts(count: int) -> list[str]:
    return [m["text"] for m in demo_messages(count) if m.get("direction") == "in"]


def per_message(texts: list[str], step, runs: int) -> tuple[float, float]:
    """Median and worst run of µs per message for `step(text)`."""
    for text in texts[:200]:
        step(text)  # warm-up: model and lexicons load once
    timings = []
    for _ in range(runs):
        started = time.process_time()
        for text in texts:
            step(text)
        timings.append((time.process_time() - started) / len(texts) * 1e6)
    return statistics.median(timings), max(timings)


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    scores = []
    for label in LABELS:
        tp = sum(1 for gold, got in pairs if gold == label and got == label)
        fp = sum(1 for gold, got in pairs if gold != label and got == label)
        fn = sum(1 for gold, got in pairs if gold == label and got != label)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def both(text: str) -> float:
    return score_sentiment(text, detect_language(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")

    samples = {language: labelled(language) for language in ("nl", "de", "en", "fr", "es")
               if (DATA / f"sentiment-{language}.tsv").exists()}
    messages = demo_messages(args.messages)
    lines = [orjson.dumps(message) for message in messages]
    median, worst = per_message(lines, lambda line: list(read_jsonl([line])), args.runs)
    print(f"reference: the import decodes a JSON line in {median:.1f} µs ({worst:.1f}) on this machine now")
    corpora = {"demo history": [m["text"] for m in messages if m.get("direction") == "in"],
               "labelled samples": [text for rows in samples.values() for _, text in rows]}
    for name, texts in corpora.items():
        average = sum(map(len, texts)) / len(texts)
        print(f"\nspeed on {len(texts):,} {name} texts (mean {average:.0f} chars), median (worst) of {args.runs} runs:")
        languages = [detect_language(text) for text in texts]
        pairs = list(zip(texts, languages))
        for label, step in (("detect_language", detect_language),
                            ("score_sentiment", None),
                            ("both", both),
                            ("analyse", analyse)):
            if step is None:
                median, worst = _score_only(pairs, args.runs)
            else:
                median, worst = per_message(texts, step, args.runs)
            print(f"  {label:16} {median:6.1f} µs/message ({worst:.1f})")

    inbound = [m for m in messages if m.get("direction") == "in" and m.get("language")]
    agree = sum(1 for m in inbound if detect_language(m["text"]) == m["language"])
    unknown = sum(1 for m in inbound if detect_language(m["text"]) is None)
    print(f"\nlanguage of {len(inbound):,} demo posts (the generator's own language field as truth): "
          f"{agree / len(inbound):.1%} right, {unknown / len(inbound):.1%} unknown")

    print("\naccuracy on labelled samples (never used for tuning):")
    print(f"  {'lang':4} {'n':>4}  {'lang-id':>7}  {'sentiment acc':>13} {'macro-F1':>8}  "
          f"{'with detected lang':>18}  {'majority baseline':>17}")
    for language, rows in samples.items():
        detected = [detect_language(text) for _, text in rows]
        language_accuracy = sum(1 for found in detected if found == language) / len(rows)
        given = [(gold, sentiment_label(score_sentiment(text, language))) for gold, text in rows]
        auto = [(gold, sentiment_label(score_sentiment(text, found)))
                for (gold, text), found in zip(rows, detected)]
        accuracy = sum(1 for gold, got in given if gold == got) / len(rows)
        auto_accuracy = sum(1 for gold, got in auto if gold == got) / len(rows)
        majority = max(sum(1 for gold, _ in rows if gold == label) for label in LABELS) / len(rows)
        print(f"  {language:4} {len(rows):4}  {language_accuracy:7.0%}  {accuracy:13.0%} {macro_f1(given):8.2f}  "
              f"{auto_accuracy:18.0%}  {majority:17.0%}")
        confusion = {(g, p): sum(1 for gold, got in given if gold == g and got == p) for g in LABELS for p in LABELS}
        print("       gold→predicted " + "  ".join(f"{g[:3]}:" + "/".join(str(confusion[g, p]) for p in LABELS)
                                            for g in LABELS) + "  (neg/neu/pos)")


def _score_only(pairs: list[tuple[str, str | None]], runs: int) -> tuple[float, float]:
    for text, language in pairs[:200]:
        score_sentiment(text, language)
    timings = []
    for _ in range(runs):
        started = time.process_time()
        for text, language in pairs:
            score_sentiment(text, language)
        timings.append((time.process_time() - started) / len(pairs) * 1e6)
    return statistics.median(timings), max(timings)


if __name__ == "__main__":
    main()
