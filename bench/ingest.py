"""Benchmark: import 1,000,000 generated messages into an empty store (threading + FTS5).

    python bench/ingest.py [--messages 1000000] [--runs 3] [--rules bench/rules.toml] [--compare-analysis]
                           [--returning]

The messages come from the demo generator (deterministic seed) and are written
once to bench/.cache/; each run imports that file into a fresh store with the
same code path as `webcare import` (language and sentiment of every inbound
message included) and prints messages/second, the store's size on disk and peak
memory. `--rules` routes every message with a rule book, as `webcare import` does
with the config's rules. `--compare-analysis` alternates each run with one whose
language and sentiment are a constant, and prints what the analysis costs the
import. `--returning` imports instead a file whose authors come back, as real traffic does:
the first 200,000 demo messages given to 40,000 authors, about 5 each spread over the 60
days, so most messages join a case stored by an earlier transaction. See
../shared/BENCH.md for how we measure.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson

from webcare_tui import ingest
from webcare_tui.bulk import import_jsonl
from webcare_tui.config import load_config
from webcare_tui.connectors.demo_traffic import generate_history
from webcare_tui.runtime import router_for
from webcare_tui.store import Store

CACHE = Path(__file__).parent / ".cache"
END = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)


def messages_file(count: int) -> Path:
    """The first `count` messages of a 60-day demo history, as JSON Lines (made once)."""
    path = CACHE / f"messages-{count}.jsonl"
    if path.exists():
        return path
    CACHE.mkdir(exist_ok=True)
    started = time.perf_counter()
    per_day = count // (60 * 3) + 1  # ~3.3 messages per conversation
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        written = 0
        for message in generate_history(42, END, 60, per_day):
            out.write(orjson.dumps(message) + b"\n")
            written += 1
            if written == count:
                break
    partial.rename(path)
    print(f"generated {written:,} messages in {time.perf_counter() - started:.1f} s -> {path}")
    return path


def returning_file(count: int = 200_000, authors: int = 40_000) -> Path:
    """`count` demo messages (60 days, oldest first) given to `authors` authors (made once): a
    message goes to one of a sliding window of authors, so each author writes about 5 times over
    some three weeks and their case is updated again and again, in later transactions."""
    path = CACHE / f"returning-{count}-{authors}.jsonl"
    if path.exists():
        return path
    rng = random.Random(11)
    partial = path.with_suffix(".partial")
    with messages_file(300_000).open("rb") as source, partial.open("wb") as out:
        window = authors * 7 // 27  # the authors writing at any time: 60 days * w / (authors - w) = 21 days
        for number, line in enumerate(source):
            if number == count:
                break
            message = orjson.loads(line)
            who = number * (authors - window) // count + rng.randrange(window)
            message.update(author_id=f"returning-{who}", author_handle=f"@klant_{who}", author_name=f"Klant {who}")
            out.write(orjson.dumps(message) + b"\n")
    partial.rename(path)
    return path


def size_on_disk(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def import_once(source: Path, rules: Path | None, label: str) -> float:
    """Import `source` into a fresh store; prints and returns messages/second."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.db"
        with Store(db) as store:
            router = router_for(load_config(rules), store, clock=END.timestamp) if rules else None
            started = time.perf_counter()
            result = import_jsonl(store, [source], router=router)
            seconds = time.perf_counter() - started
            cases = store.counts()["cases"]
        rate = result.new_messages / seconds
        print(f"{label}: {result.new_messages:,} messages, {cases:,} cases in {seconds:.1f} s = "
              f"{rate:,.0f} msg/s; store {size_on_disk(db) / 1e6:,.0f} MB on disk")
    return rate


def without_analysis(*args) -> float:
    """`import_once(*args)` with every inbound message's language and sentiment a constant (for the comparison)."""
    analyse, score = ingest.analyse, ingest.score_sentiment
    ingest.analyse, ingest.score_sentiment = (lambda text: ("nl", 0.0)), (lambda text, language: 0.0)
    try:
        return import_once(*args)
    finally:
        ingest.analyse, ingest.score_sentiment = analyse, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rules", type=Path, help="a config file whose [[rule]] tables route every message")
    parser.add_argument("--returning", action="store_true",
                        help="import 200,000 messages of 40,000 returning authors instead (--messages is ignored)")
    parser.add_argument("--compare-analysis", action="store_true",
                        help="alternate with runs whose language and sentiment are a constant")
    args = parser.parse_args()
    source = returning_file() if args.returning else messages_file(args.messages)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}"
          + (f"; routing with {args.rules}" if args.rules else ""))
    rates, plain = [], []
    for run in range(1, args.runs + 1):
        rates.append(import_once(source, args.rules, f"run {run}"))
        if args.compare_analysis:  # A B A B: the machine's drift hits both alike
            plain.append(without_analysis(source, args.rules, f"run {run} without analysis"))
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_writer = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"median {statistics.median(rates):,.0f} msg/s over {len(rates)} runs "
          f"(min {min(rates):,.0f}, max {max(rates):,.0f})")
    if plain:
        with_, without = statistics.median(rates), statistics.median(plain)
        print(f"without language and sentiment: median {without:,.0f} msg/s; the analysis costs "
              f"{(1 / with_ - 1 / without) * 1e6:.1f} us per message, {1 - with_ / without:.0%} of the import's rate")
    print(f"peak RSS: importer {peak_self:.0f} MB, writer process {peak_writer:.0f} MB")


if __name__ == "__main__":  # guarded: the import's writer process re-imports this file
    main()
