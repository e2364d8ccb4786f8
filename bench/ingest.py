"""Benchmark: import 1,000,000 generated messages into an empty store (threading + FTS5).

    python bench/ingest.py [--messages 1000000] [--runs 3]

The messages come from the demo generator (deterministic seed) and are written
once to bench/.cache/; each run imports that file into a fresh store with the
same code path as `webcare import` and prints messages/second, the store's size
on disk and peak memory. See ../shared/BENCH.md for how we measure.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson

from webcare_tui.bulk import import_jsonl
from webcare_tui.connectors.demo_traffic import generate_history
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


def size_on_disk(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    source = messages_file(args.messages)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    rates = []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "bench.db"
            with Store(db) as store:
                started = time.perf_counter()
                result = import_jsonl(store, [source])
                seconds = time.perf_counter() - started
                cases = store.counts()["cases"]
            rate = result.new_messages / seconds
            rates.append(rate)
            print(f"run {run}: {result.new_messages:,} messages, {cases:,} cases in {seconds:.1f} s = "
                  f"{rate:,.0f} msg/s; store {size_on_disk(db) / 1e6:,.0f} MB on disk")
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_writer = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"median {statistics.median(rates):,.0f} msg/s over {len(rates)} runs "
          f"(min {min(rates):,.0f}, max {max(rates):,.0f})")
    print(f"peak RSS: importer {peak_self:.0f} MB, writer process {peak_writer:.0f} MB")


if __name__ == "__main__":  # guarded: the import's writer process re-imports this file
    main()
