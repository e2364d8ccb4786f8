"""Benchmark: the dashboard's KPIs on a store of 1,000,000 cached messages.

    python bench/dashboard.py [--runs 15]

Uses the store bench/ui.py builds (bench/.cache/ui-1m-labelled.db, built on first use). "Today"
is the day of the store's newest message (Europe/Amsterdam), as of one minute after it.
Prints the median and worst time of each aggregate query, of a whole day's KPIs
(team, per agent, platform and label: what the tiles and tables need), of the hour ×
weekday heatmap, and of everything the dashboard computes per refresh.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))
from ui import build_store  # noqa: E402 (bench/ui.py)

from webcare_tui.kpi import BUCKET, KpiSettings, day_view, heatmap_range, period_kpis  # noqa: E402
from webcare_tui.store import Store  # noqa: E402


def timed(runs: int, action) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def line(name: str, samples: list[float], note: str = "") -> None:
    print(f"{name:<44} median {statistics.median(samples):7.1f} ms   max {max(samples):7.1f} ms{note}")


def measure(store: Store, settings: KpiSettings, label: str, day, today, now: int, runs: int) -> None:
    start, end = settings.day_bounds(day)
    print(f"\n{label}: {day} ("
          f"{sum(row[3] for row in store.kpi_messages(start, end)['counts'] if row[0] == 'in'):,} inbound, "
          f"{len(store.kpi_runs(start, end)):,} runs)")
    queries = [
        ("messages: counts, per label, cases handled", lambda: store.kpi_messages(start, end)),
        ("cases completed", lambda: store.kpi_completed(start, end)),
        ("open now" if day == today else "open at the end of the day",
         store.kpi_open_now if day == today else (lambda: store.kpi_open_at(end - 1))),
        ("runs (response times, service level)", lambda: store.kpi_runs(start, end)),
        ("incoming per quarter hour", lambda: store.kpi_inbound_buckets(start, end, BUCKET)),
    ]
    for name, query in queries:
        line(f"  {name}", timed(runs, query))
    line("  = the day's KPIs (tiles, agent/platform/label)", timed(runs, lambda: period_kpis(store, settings, day, day, now)),
         "   <- target < 100 ms")
    line(f"  heatmap ({settings.heatmap_weeks} weeks; computed once per day shown)",
         timed(runs, lambda: store.kpi_inbound_buckets(*heatmap_range(settings, day), BUCKET)))
    line("  the dashboard's first load of the day", timed(runs, lambda: day_view(store, settings, day, now)))
    grid = day_view(store, settings, day, now).heatmap
    line("  a refresh of the dashboard (heatmap kept)", timed(runs, lambda: day_view(store, settings, day, now, grid)),
         "   <- every 5 s while today is shown" if day == today else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    path = build_store()
    opened = time.perf_counter()
    store = Store(path)  # the first time, this adds the KPI indexes (migration)
    print(f"store: {path.stat().st_size / 1e6:,.0f} MB, opened in {time.perf_counter() - opened:.2f} s; "
          f"{store.conn.execute('SELECT count(*) FROM messages').fetchone()[0]:,} messages")
    settings = KpiSettings(zone=ZoneInfo("Europe/Amsterdam"))
    now = store.conn.execute("SELECT max(created_at) FROM messages").fetchone()[0] + 60
    today = settings.today(now)
    for label, day in (("today", today), ("yesterday", today - timedelta(days=1))):
        measure(store, settings, label, day, today, now, args.runs)
    store.close()


if __name__ == "__main__":
    main()
