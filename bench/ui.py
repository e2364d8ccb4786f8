"""Benchmark: the console on a store of 1,000,000 cached messages.

    python bench/ui.py [--presses 300]

Prints the time from process start to the inbox's first frame with case rows,
the median and p99 of keystroke → refreshed screen for cursor moves and view
switches (timed inside the app, from the key's handler to the callback after the
next refresh, as ../shared/BENCH.md asks), search latency while typing, and peak
RSS. The store is built once from bench/.cache (see bench/ingest.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()  # as early as this process can tell

CACHE = Path(__file__).parent / ".cache"
STORE = CACHE / "ui-1m-labelled.db"


def build_store() -> Path:
    if STORE.exists():
        return STORE
    sys.path.insert(0, str(Path(__file__).parent))
    from ingest import END, messages_file  # noqa: E402 (bench/ingest.py)

    from webcare_tui.bulk import import_jsonl
    from webcare_tui.config import load_config
    from webcare_tui.runtime import router_for
    from webcare_tui.store import Store

    source = messages_file(1_000_000)
    partial = STORE.with_suffix(".partial")
    with Store(partial) as store:
        # topic labels from a real rule book: label views and per-label KPIs read them
        rules = load_config(Path(__file__).parent / "rules.toml")
        import_jsonl(store, [source], router=router_for(rules, store, clock=END.timestamp))
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    partial.rename(STORE)
    return STORE


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def median_p99(samples: list[float]) -> tuple[float, float]:
    """The median and p99 of `samples` (seconds), in ms."""
    ms = [s * 1000 for s in samples]
    return statistics.median(ms), percentile(ms, 0.99)


def report(name: str, samples: list[float]) -> None:
    if not samples:
        print(f"{name}: no samples")
        return
    median, p99 = median_p99(samples)
    print(f"{name}: median {median:.1f} ms, p99 {p99:.1f} ms ({len(samples)} samples)")


async def first_paint() -> None:
    """Child process: print seconds from process start to the first frame with rows."""
    from webcare_tui.app import make_app
    from webcare_tui.config import Config
    from webcare_tui.store import Store
    from webcare_tui.widgets.case_list import CaseList

    with Store(STORE) as store:
        app = make_app(Config(), store, connectors={})
        async with app.run_test(size=(120, 40)) as pilot:
            while not app.screen.query(CaseList) or app.screen.query_one(CaseList).count == 0:
                await pilot.pause(0.001)
            painted = asyncio.get_running_loop().create_future()
            app.screen.query_one(CaseList).call_after_refresh(lambda: painted.set_result(time.perf_counter()))
            print(f"{await painted - STARTED:.3f}")


async def keystrokes(presses: int) -> None:
    from webcare_tui.app import make_app
    from webcare_tui.config import Config
    from webcare_tui.store import Store
    from webcare_tui.widgets.case_list import CaseList

    samples: dict[str, list[float]] = {"cursor": [], "view": [], "search key": [], "search": []}
    with Store(STORE) as store:
        app = make_app(Config(), store, connectors={})
        async with app.run_test(size=(120, 40)) as pilot:
            inbox = app.screen
            cases = inbox.query_one(CaseList)

            def timed(kind: str, handler):
                def wrapper(*args):
                    started = time.perf_counter()
                    handler(*args)
                    cases.call_after_refresh(lambda: samples[kind].append(time.perf_counter() - started))
                return wrapper

            cases.action_move = timed("cursor", cases.action_move)
            cases.action_move_page = timed("cursor", cases.action_move_page)
            inbox.action_view = timed("view", inbox.action_view)
            await pilot.press("3")  # All open
            for n in range(presses):
                await pilot.press("j" if n % 10 else "pagedown")
            for n in range(presses // 10):
                await pilot.press("j" if n % 2 else "k")
            for n in range(60):
                await pilot.press(str(n % 5 + 1))
            await pilot.press("3", "slash")
            typed = [0.0]
            original_show = inbox.show_view  # what the search box's key handler runs

            def key_typed(**options) -> None:
                typed[0] = time.perf_counter()
                original_show(**options)
                started = typed[0]
                cases.call_after_refresh(lambda: samples["search key"].append(time.perf_counter() - started))

            original_first = cases._show_first

            def results_shown(*args) -> None:
                original_first(*args)
                started = typed[0]
                cases.call_after_refresh(lambda: samples["search"].append(time.perf_counter() - started))

            inbox.show_view = key_typed
            cases._show_first = results_shown
            for word in ("wifi", "pakket", "Rechnung", "storing", "monteur"):
                for letter in word:
                    await pilot.press(letter)
                    await pilot.pause(0.15)  # an agent's typing pace: every key's results arrive
                await pilot.press(*["backspace"] * len(word))
                await pilot.pause(0.3)
    report("cursor move (j, pagedown)", samples["cursor"])
    report("view switch (1-5)", samples["view"])
    report("search: typed key → screen (the query runs in the background)", samples["search key"])
    report("search: typed key → results on screen", samples["search"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=300)
    parser.add_argument("--first-paint-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_paint_child:
        asyncio.run(first_paint())
        return
    build_store()
    print(f"machine: {os.cpu_count()} cores; store {STORE.stat().st_size / 1e6:,.0f} MB")
    paints = [float(subprocess.run([sys.executable, __file__, "--first-paint-child"], capture_output=True, text=True,
                                   check=True).stdout.strip().splitlines()[-1]) for _ in range(5)]
    print(f"first paint (process start → rows on screen): median {statistics.median(paints):.2f} s "
          f"(runs: {', '.join(f'{p:.2f}' for p in paints)})")
    asyncio.run(keystrokes(args.presses))
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
