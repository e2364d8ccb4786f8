"""Benchmark: suggested answers (webcare_tui.suggest), their speed and their accuracy.

    python bench/suggest.py [--cases 300] [--split 0.7] [--steps] [--show N] [--skip-speed] [--skip-accuracy]

Speed: `suggest()` per case (with the example macros) on a copy of the 1M store that bench/ui.py builds
and caches (the cached file stays as it was), over cases picked with a fixed seed, after a warm-up:
median and p99 of the wall time, and of the thread's own CPU time (the machine is shared).

Accuracy, on real conversations: ../shared/data/ibm-customer-care/ holds 525 Twitter customer-care
dialogues of 25 companies, each ending with the agent's link to a support document. Sorted by their
start, the earlier part (`--split`) is the team's history: whole dialogues ingested into a store (the
customer's turns inbound, the agent's outbound, the company as the account). The later part are the
questions: ingested without their final answer. For each question we count whether the agent's real
document link is among the links of the first 3 suggested replies, beside the baseline: the most
frequent document of the company in the history (and, for reference, its 3 most frequent). `--steps`
repeats it with parts of the ranking turned off, to show what each adds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ui import STORE, build_store, percentile  # noqa: E402 (bench/ui.py)

from webcare_tui.model import Message  # noqa: E402
from webcare_tui.store import Store  # noqa: E402
from webcare_tui.store.suggest import SuggestQueries  # noqa: E402
from webcare_tui.suggest import link_key, links, suggest  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ibm-customer-care" / "dev.json"


def open_store(path: Path) -> Store:
    """The store with the suggestion queries (mixed in here until `Store` has them)."""
    if issubclass(Store, SuggestQueries):
        return Store(path)

    class _Store(Store, SuggestQueries):
        pass

    return _Store(path)


# -- speed ------------------------------------------------------------------------------------------


def speed(cases: int) -> None:
    build_store()
    with tempfile.TemporaryDirectory(prefix="suggest-bench-") as folder:
        copy = Path(folder) / "store.db"
        source = sqlite3.connect(f"file:{STORE}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        source.backup(target)  # a consistent copy, WAL included; opening it may migrate it
        source.close()
        target.close()
        from webcare_tui.macros import example_folder, load_macros

        macros = load_macros([folder for folder in [example_folder()] if folder]).macros  # the examples shipped
        with open_store(copy) as store:
            ids = [row[0] for row in store.conn.execute("SELECT id FROM cases WHERE merged_into IS NULL")]
            picked = random.Random(16).sample(ids, min(len(ids), cases + 30))
            for case_id in picked[:30]:  # warm-up: the file's pages into the cache
                suggest(store, case_id, macros=macros)
            samples, cpu, replies = [], [], 0
            for case_id in picked[30:]:
                started, used = time.perf_counter(), time.thread_time()
                found = suggest(store, case_id, macros=macros)
                samples.append((time.perf_counter() - started) * 1000)
                cpu.append((time.thread_time() - used) * 1000)
                replies += bool(found.replies)
            messages = store.newest_message_id()
    print(f"speed on {STORE.name} ({messages:,} messages), {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}: "
          f"suggest() per case median {statistics.median(samples):.1f} ms, p99 {percentile(samples, 0.99):.1f} ms, "
          f"max {max(samples):.1f} ms ({len(samples)} cases, {replies} with a suggested reply; its own CPU time: "
          f"median {statistics.median(cpu):.1f} ms, p99 {percentile(cpu, 0.99):.1f} ms)")


# -- accuracy ---------------------------------------------------------------------------------------


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _messages(dialogue: dict, *, with_answer: bool) -> list[Message]:
    """A dialogue as messages: a customer's turn ("client", "client1"…) inbound from them, the agent's
    outbound to the customer it answers (the one who wrote last)."""
    company = dialogue["dialogHeader"]["company"]
    found: list[Message] = []
    customer = "unknown"
    for turn in dialogue["dialogContent"]:
        writer = next((turn[key] for key in turn if key.startswith("client")), None)
        inbound = "agent" not in turn
        customer = writer or customer if inbound else customer
        found.append(Message(
            platform="x", account=company, external_id=str(turn["tweet_ID"]), author_id=customer,
            author_handle="@" + customer, text=turn["message"], created_at=_epoch(turn["datetime"]),
            direction="in" if inbound else "out", visibility="public", agent=None if inbound else turn["agent"]))
    if with_answer:
        answer = dialogue["agentURL"]
        last = found[-1].created_at if found else _epoch(dialogue["dialogHeader"]["conversationDateTime"])
        found.append(Message(
            platform="x", account=company, external_id=str(answer["tweet_ID"]), author_id=customer,
            author_handle="@" + customer, text=answer["url_utterance"], created_at=last + 60, direction="out",
            visibility="public", agent=company))
    return found


def _targets(dialogue: dict) -> set[str]:
    """The real document, as the link keys it may be written with (its archived and its own address)."""
    answer = dialogue["agentURL"]
    return {link_key(answer["url"]), *(link_key(url) for url in links(answer["url_utterance"]))}


# What made the difference: the same evaluation with parts of the ranking turned off (module settings
# of webcare_tui.suggest), from the plainest (BM25 over past questions, each reply on its own) up.
STEPS = [
    ("similar past questions (BM25), identical replies grouped", {"REPLY_TEXT": 0.0, "USUAL": 0.0, "SIMILAR_TEXT": 1.01,
                                                              "SAME_LINKS_TEXT": 1.01}),
    ("+ near-identical replies grouped (text, same links)", {"REPLY_TEXT": 0.0, "USUAL": 0.0}),
    ("+ replies whose own words match", {"USUAL": 0.0}),
    ("+ the account's usual answers (all of it)", {}),
]


def _hits(store: Store, questions: list[tuple[dict, int]], show: int = 0) -> tuple[int, list[float]]:
    hits, samples = 0, []
    for number, (dialogue, case_id) in enumerate(questions):
        started = time.perf_counter()
        found = suggest(store, case_id, limit=3)
        samples.append((time.perf_counter() - started) * 1000)
        suggested = [{link_key(url) for url in links(reply.text)} for reply in found.replies[:3]]
        hit = any(keys & _targets(dialogue) for keys in suggested)
        hits += hit
        if number < show:
            print(f"\n{'HIT ' if hit else 'MISS'} {dialogue['dialogHeader']['company']}: "
                  f"{dialogue['dialogContent'][-1]['message'][:140]!r}")
            print(f"  real: {dialogue['agentURL']['url_utterance'][:140]!r}")
            for reply in found.replies[:3]:
                print(f"  {reply.score:.2f} {reply.text[:110]!r} ({reply.why})")
    return hits, samples


def accuracy(split: float, show: int, steps: bool) -> None:
    from webcare_tui import suggest as settings
    from webcare_tui.ingest import ingest

    dialogues = sorted(json.loads(DATA.read_text(encoding="utf-8")),
                       key=lambda d: d["dialogHeader"]["conversationDateTime"])
    cut = int(len(dialogues) * split)
    history, questions = dialogues[:cut], dialogues[cut:]
    frequent: dict[str, Counter[str]] = defaultdict(Counter)
    for dialogue in history:
        frequent[dialogue["dialogHeader"]["company"]][dialogue["agentURL"]["doc_id"]] += 1
    baseline = baseline3 = answerable = 0
    for dialogue in questions:
        company, doc = dialogue["dialogHeader"]["company"], dialogue["agentURL"]["doc_id"]
        common = [d for d, _ in frequent[company].most_common(3)]
        baseline += bool(common) and common[0] == doc
        baseline3 += doc in common
        answerable += doc in frequent[company]
    total = len(questions)
    with tempfile.TemporaryDirectory(prefix="suggest-ibm-") as folder, open_store(Path(folder) / "ibm.db") as store:
        batch = [m for d in history for m in _messages(d, with_answer=True)]
        batch += [m for d in questions for m in _messages(d, with_answer=False)]
        batch.sort(key=lambda m: m.created_at)
        ingest(store, batch)
        case_of = dict(store.conn.execute("SELECT external_id, case_id FROM messages"))
        asked = [(d, case_of[str(d["dialogContent"][-1]["tweet_ID"])]) for d in questions]
        hits, samples = _hits(store, asked, show)
        print(f"accuracy on {DATA.parent.name}: {len(history)} dialogues of history, {total} questions "
              f"(split {split:.0%} by time)")
        print(f"  real document among the first 3 suggested replies: {hits}/{total} = {hits / total:.1%}")
        print(f"  baseline, the company's most frequent document:     {baseline}/{total} = {baseline / total:.1%}")
        print(f"  (for reference: its 3 most frequent documents {baseline3 / total:.1%}; the document was ever sent "
              f"by the company before {answerable / total:.1%}: no answer from the history can do better)")
        print(f"  suggest() on this store: median {statistics.median(samples):.1f} ms")
        if steps:
            print("  what made the difference (first 3 replies hold the document):")
            for name, changes in STEPS:
                saved = {key: getattr(settings, key) for key in changes}
                for key, value in changes.items():
                    setattr(settings, key, value)
                try:
                    step_hits, _ = _hits(store, asked)
                finally:
                    for key, value in saved.items():
                        setattr(settings, key, value)
                print(f"    {name:<58} {step_hits}/{total} = {step_hits / total:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300, help="cases timed on the 1M store")
    parser.add_argument("--split", type=float, default=0.7, help="share of the dialogues (by time) that is history")
    parser.add_argument("--show", type=int, default=0, help="print the first N questions with their suggestions")
    parser.add_argument("--steps", action="store_true", help="also the accuracy with parts of the ranking off")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    if not args.skip_accuracy:
        accuracy(args.split, args.show, args.steps)
    if not args.skip_speed:
        speed(args.cases)


if __name__ == "__main__":
    main()
