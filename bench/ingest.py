"""Benchmark: import 1,000,000 generated messages into an empty store (threading + FTS5).

    python bench/ingest.py [--messages 1000000] [--runs 3] [--rules bench/rules.toml] [--compare-analysis]
                           [--returning | --both] [--file FILE…] [--against DIR…]

The messages come from the demo generator (deterministic seed) and are written
once to bench/.cache/; each run imports that file into a fresh store with the
same code path as `webcare import` (language and sentiment of every inbound
message included) and prints messages/second, the store's size on disk and peak
memory. `--rules` routes every message with a rule book, as `webcare import` does
with the config's rules. `--compare-analysis` alternates each run with one whose
language and sentiment are a constant, and prints what the analysis costs the
import. `--returning` imports instead a file whose authors come back, as real traffic does:
the first 200,000 demo messages given to 40,000 authors (each of one platform), about 5 each
spread over some three weeks of the 60 days, so most messages join a case stored by an earlier
transaction. `--both` measures both files in the same run, alternating; `--file` another file. Each run also prints how long its write transactions held
the store's write lock (median and max: an agent's action waits at most that long).
`--against DIR…` runs every measurement in a fresh process, alternating this checkout with the
ones in DIR (other versions, e.g. `git worktree`s), and prints the ratios of their rates. See
../shared/BENCH.md for how we measure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import islice
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
    message goes to one of a sliding window of its platform's authors (an author is a platform's:
    each platform gets its share of them), so each author writes about 5 times over some three
    weeks and their case is updated again and again, in later transactions. (The file before this
    one, returning-200000-40000.jsonl, drew authors across platforms: 115,736 authors of 1.7
    messages each, not 40,000 of 5.)"""
    path = CACHE / f"returning-{count}-{authors}-per-platform.jsonl"
    if path.exists():
        return path
    with messages_file(300_000).open("rb") as source:
        platforms = Counter(orjson.loads(line)["platform"] for line in islice(source, count))
    rng = random.Random(11)
    seen: Counter[str] = Counter()
    partial = path.with_suffix(".partial")
    with messages_file(300_000).open("rb") as source, partial.open("wb") as out:
        for line in islice(source, count):
            message = orjson.loads(line)
            platform = message["platform"]
            own = max(2, round(authors * platforms[platform] / count))  # this platform's authors
            window = max(1, own * 7 // 27)  # those writing at any time: 60 days * w / (own - w) = 21 days
            who = seen[platform] * (own - window) // platforms[platform] + rng.randrange(window)
            seen[platform] += 1
            message.update(author_id=f"returning-{who}", author_handle=f"@klant_{who}", author_name=f"Klant {who}")
            out.write(orjson.dumps(message) + b"\n")
    partial.rename(path)
    return path


def size_on_disk(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


@contextmanager
def lock_times(store: Store, held: list[float]):
    """Note in `held` how long each transaction of `store` held the write lock (from its BEGIN
    IMMEDIATE to its COMMIT): an import whose writes run in another process notes none."""
    transaction = store.transaction

    @contextmanager
    def timed(**how):
        with transaction(**how):
            began = time.perf_counter()
            yield
        held.append(time.perf_counter() - began)  # after the COMMIT

    store.transaction = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        del store.transaction


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def import_once(source: Path, rules: Path | None, label: str, quiet: bool = False) -> tuple[float, list[float], str]:
    """Import `source` into a fresh store; prints and returns messages/second, the lock times and
    the CPU time per message of this process and of its child (on a busy machine, steadier than
    the rate: the slower of the two sets the pace)."""
    held: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.db"
        with Store(db) as store:
            router = router_for(load_config(rules), store, clock=END.timestamp) if rules else None
            with lock_times(store, held):
                cpu, child_cpu = time.process_time(), children_cpu()
                started = time.perf_counter()
                result = import_jsonl(store, [source], router=router)
                seconds = time.perf_counter() - started
                cpu, child_cpu = time.process_time() - cpu, children_cpu() - child_cpu
            cases = store.counts()["cases"]
        rate = result.new_messages / seconds
        used = (f"CPU per message {cpu / result.new_messages * 1e6:.1f} us here, "
                f"{child_cpu / result.new_messages * 1e6:.1f} us in the child")
        if not quiet:
            print(f"{label}: {result.new_messages:,} messages, {cases:,} cases in {seconds:.1f} s = "
                  f"{rate:,.0f} msg/s; store {size_on_disk(db) / 1e6:,.0f} MB on disk; {locks(held)}; {used}")
    return rate, held, used


def locks(held: list[float]) -> str:
    if len(held) < 2:
        return "writes in another process"
    return (f"write lock held {len(held)} times, median {statistics.median(held) * 1000:.0f} ms, "
            f"max {max(held) * 1000:.0f} ms")


def in_other_process(checkout: Path, source: Path, rules: Path | None) -> tuple[float, list[float], str]:
    """`import_once` in a fresh process that imports the package from `checkout`."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    command = [sys.executable, __file__, "--single", str(source)] + (["--rules", str(rules)] if rules else [])
    done = subprocess.run(command, env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True)
    rate, held, used = json.loads(done.stdout.splitlines()[-1])
    return rate, held, used


def compare(sources: dict[str, Path], others: list[Path], runs: int, rules: Path | None) -> None:
    """Alternate this checkout (A) and the `others` (B, C…), each run in a fresh process, per source."""
    sides = {"A": Path(__file__).resolve().parent.parent} | {chr(66 + n): other for n, other in enumerate(others)}
    for side, checkout in sides.items():
        print(f"{side}: {checkout}")
    rates: dict[tuple[str, str], list[float]] = {}
    for run in range(1, runs + 1):
        for name, source in sources.items():
            for side, checkout in sides.items():
                rate, held, used = in_other_process(checkout, source, rules)
                rates.setdefault((name, side), []).append(rate)
                print(f"run {run} {name:9s} {side}: {rate:7,.0f} msg/s; {locks(held)}; {used}", flush=True)
    for name in sources:
        a = rates[(name, "A")]
        print(f"{name}: A median {statistics.median(a):,.0f} msg/s ({min(a):,.0f}-{max(a):,.0f})")
        for side in list(sides)[1:]:
            b = rates[(name, side)]
            ratios = sorted(x / y for x, y in zip(a, b))
            print(f"{name}: {side} median {statistics.median(b):,.0f} msg/s ({min(b):,.0f}-{max(b):,.0f}); "
                  f"A/{side} per run {', '.join(f'{r:.2f}' for r in ratios)}")


def without_analysis(*args) -> tuple[float, list[float], str]:
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
    parser.add_argument("--both", action="store_true", help="the --messages file and the returning file, alternating")
    parser.add_argument("--file", type=Path, action="append", default=[],
                        help="(also) import this JSON Lines file; may be given more than once")
    parser.add_argument("--compare-analysis", action="store_true",
                        help="alternate with runs whose language and sentiment are a constant")
    parser.add_argument("--against", type=Path, metavar="DIR", nargs="+",
                        help="alternate with the package in other checkouts, each run in a fresh process")
    parser.add_argument("--single", type=Path, help=argparse.SUPPRESS)  # one quiet run for --against
    args = parser.parse_args()
    if args.single:
        print(json.dumps(import_once(args.single, args.rules, "", quiet=True)))
        return
    sources = {}
    if (not args.returning and not args.file) or args.both:
        sources[f"{args.messages // 1000}k"] = messages_file(args.messages)
    if args.returning or args.both:
        sources["returning"] = returning_file()
    for other in args.file:
        sources[other.stem[:20]] = other.resolve()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}"
          + (f"; routing with {args.rules}" if args.rules else ""))
    if args.against:
        compare(sources, [other.resolve() for other in args.against], args.runs, args.rules)
        return
    rates: dict[str, list[float]] = {name: [] for name in sources}
    plain: list[float] = []
    for run in range(1, args.runs + 1):
        for name, source in sources.items():
            rates[name].append(import_once(source, args.rules, f"run {run} {name}")[0])
            if args.compare_analysis:  # A B A B: the machine's drift hits both alike
                plain.append(without_analysis(source, args.rules, f"run {run} {name} without analysis")[0])
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for name, got in rates.items():
        print(f"{name}: median {statistics.median(got):,.0f} msg/s over {len(got)} runs "
              f"(min {min(got):,.0f}, max {max(got):,.0f})")
    if plain:
        with_, without = statistics.median(rates[next(iter(rates))]), statistics.median(plain)
        print(f"without language and sentiment: median {without:,.0f} msg/s; the analysis costs "
              f"{(1 / with_ - 1 / without) * 1e6:.1f} us per message, {1 - with_ / without:.0%} of the import's rate")
    print(f"peak RSS: importer {peak_self:.0f} MB, child process {peak_child:.0f} MB")


if __name__ == "__main__":  # guarded: the import's writer process re-imports this file
    main()
