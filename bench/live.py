"""Benchmark: the console on the 1,000,000-message store while the store is busy.

    python bench/live.py [--presses 200] [--imports 12] [--runs 1] [--quiet]

Runs the console on a copy of the store bench/ui.py builds, with the demo sync writing
live traffic, while other processes run `webcare import` of 200,000 new messages each into
the same file, one after another: `--imports` of them, the keys pressed in rounds until the
last has ended, so that every run has the same load and runs compare. The keys come as an
agent's do: at most `KEYS_A_SECOND` a second (a key held down), and a case opened is read for
`READ` seconds once it shows, and its action waited for, whatever else the console is doing.

Prints the median and p99 of key → refreshed screen for cursor moves, view switches, opening
a case (one the cursor rested on, which the console reads ahead, and one opened at once after
a move) and a case action (timed inside the app, from the key's handler to the callback after
the next refresh, as ../shared/BENCH.md asks); and the longest stall of the app's event loop (a
10 ms tick that came late), and of those how long the console's full garbage-collection passes
held it (it runs them while no key comes, see webcare_tui/idle_gc.py) and the longest stall
that was not one. `--runs` repeats the session beside imports, each on a fresh copy of the
store, and then prints the spread of each figure over the runs: the machine is noisy, and one
run says little. `--quiet` first runs the same without the import (three rounds of keys), for
comparison in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from ingest import returning_file  # noqa: E402 (bench/ingest.py)
from macro import time_calls  # noqa: E402 (bench/macro.py)
from ui import CACHE, build_store, median_p99, percentile, report  # noqa: E402 (bench/ui.py)

IMPORTED = 200_000
IMPORTS = 12  # per session beside imports, by default: about 6 minutes of keys on this 2-core machine, 40-50 cases opened
QUIET_ROUNDS = 3  # rounds of keys in the session without an import
REST = 0.3  # seconds between moving the cursor to a case and opening it, when not at once
READ = 0.5  # seconds an agent reads a case once it shows, before acting on it
SHOWN_WITHIN = 30.0  # seconds: a case or an action not shown by then fails the bench
# keys a second at most, as a key held down repeats (25-33 a second). Keys that came as fast as the
# console answered them, and cases acted on once all its background work had settled, made a version
# whose checks end sooner press twice the keys of another, with more garbage a second and other
# passes: two versions did not compare
KEYS_A_SECOND = 30


def time_until(starter, start: str, ender, end: str, samples: list[float], shown: asyncio.Event | None = None,
               cpu: list[float] | None = None) -> None:
    """Time from a call of `starter.<start>` (a key's handler) to the refresh after the next call of
    `ender.<end>` (where the answer read or written off the UI thread is shown); `shown` is set then.
    `cpu` gets the UI thread's CPU time of the same span: the rest it waited (for a core, a read, the
    interpreter lock)."""
    began: list[tuple[float, float]] = []
    original_start, original_end = getattr(starter, start), getattr(ender, end)

    def started(*args, **kwargs):
        began.append((time.perf_counter(), time.thread_time()))
        return original_start(*args, **kwargs)

    def ended(*args, **kwargs):
        result = original_end(*args, **kwargs)
        if began:
            at, at_cpu = began.pop(0)

            def timed() -> None:
                samples.append(time.perf_counter() - at)
                if cpu is not None:
                    cpu.append(time.thread_time() - at_cpu)
                if shown is not None:
                    shown.set()

            ender.call_after_refresh(timed)
        return result

    setattr(starter, start, started)
    setattr(ender, end, ended)


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.jobs.settled()
    await pilot.pause()


def import_file(number: int) -> Path:
    """200,000 messages the store does not hold (nor the files before this one): the returning
    authors' file under new ids (made once)."""
    path = CACHE / f"live-import-{number}.jsonl"
    if not path.exists():
        with returning_file().open("rb") as source, path.with_suffix(".partial").open("wb") as out:
            for line in source:
                message = orjson.loads(line)
                message["external_id"] += f"-live{number}"
                out.write(orjson.dumps(message) + b"\n")
        path.with_suffix(".partial").rename(path)
    return path


class Imports:
    """`webcare import` of IMPORTED new messages in another process, `count` files one after another
    (see `import_file`): the keys are timed beside an import all along, not only for the seconds
    one import takes."""

    def __init__(self, store_path: Path, count: int) -> None:
        self.store_path = store_path
        self.count = count
        self.said: list[str] = []  # how each import ended
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        for number in range(1, self.count + 1):
            done = subprocess.run([sys.executable, "-m", "webcare_tui", "--db", str(self.store_path), "import",
                                   str(import_file(number))], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            last = done.stdout.decode().strip().splitlines()[-1:] or ["(said nothing)"]
            self.said.append(f"rc {done.returncode}: {last[0]}")

    def running(self) -> bool:
        return self.thread.is_alive()

    def end(self) -> str:
        """How they ended."""
        self.thread.join()
        return f"{len(self.said)} imports; " + "; ".join(sorted(set(self.said)))


class Stalls(NamedTuple):
    longest: float  # seconds a 10 ms tick of the event loop came late, at most
    longest_pass: float  # a full garbage-collection pass, at most
    longest_pass_cpu: float  # the CPU time the UI thread spent in that pass (the rest it waited for a core or the GIL)
    longest_pass_objects: int  # the objects that pass scanned (all but those frozen at the app's start)
    passes: int  # full passes while the keys were timed
    longest_other: float  # a late tick while no full pass ran, at most


def stalls_of(late_ticks: list[tuple[float, float]], passes: list[tuple[float, float, float, int]]) -> Stalls:
    """From the late ticks and the full passes, each (began, ended) by perf_counter (a pass also its CPU time
    and the objects it scanned)."""
    def lateness(tick: tuple[float, float]) -> float:
        return tick[1] - tick[0] - 0.01

    others = [lateness(tick) for tick in late_ticks
              if not any(began < tick[1] and ended > tick[0] for began, ended, *_ in passes)]
    began, ended, cpu, objects = max(passes, key=lambda one: one[1] - one[0], default=(0.0, 0.0, 0.0, 0))
    return Stalls(max(map(lateness, late_ticks), default=0.0), ended - began, cpu, objects, len(passes),
                  max(others, default=0.0))


def timing_full_passes(passes: list[tuple[float, float, float, int]]):
    """A gc callback that notes in `passes` when each full pass began and ended, its CPU time and the
    objects it scans (counted before the pass is timed)."""
    objects = 0
    began = (0.0, 0.0)

    def timed(phase: str, info: dict) -> None:
        nonlocal objects, began
        if info["generation"] == 2:
            if phase == "start":
                objects = len(gc.get_objects())
                began = time.perf_counter(), time.thread_time()
            else:
                passes.append((began[0], time.perf_counter(), time.thread_time() - began[1], objects))
    return timed


async def session(store_path: Path, presses: int, imports: int) -> tuple[dict[str, list[float]], Stalls, str]:
    """Work the console while `imports` run beside it, one after another (none: `QUIET_ROUNDS` rounds
    of keys); returns the samples, the event loop's stalls and how the imports ended."""
    from webcare_tui.app import make_app
    from webcare_tui.config import Account, Config
    from webcare_tui.connectors.demo import DemoConnector
    from webcare_tui.store import Store
    from webcare_tui.widgets.case_list import CaseList

    samples: dict[str, list[float]] = {"cursor": [], "view": [], "open": [], "open at once": [], "open cpu": [],
                                       "action shown": [], "action": []}
    late_ticks: list[tuple[float, float]] = []
    passes: list[tuple[float, float, float, int]] = []
    timer = timing_full_passes(passes)
    importing = None
    demo = DemoConnector(Account("demo", "demo", {"seed": 5, "history_days": 0.05, "rate_per_minute": 120}))
    with Store(store_path) as store:
        app = make_app(Config(), store, connectors={"demo": demo})
        async with app.run_test(size=(120, 40)) as pilot:
            async def ticks() -> None:  # how late a 10 ms timer fires: the loop's stalls
                while True:
                    before = time.perf_counter()
                    await asyncio.sleep(0.01)
                    after = time.perf_counter()
                    if after - before > 0.015:
                        late_ticks.append((before, after))

            ticker = asyncio.create_task(ticks())
            gc.callbacks.append(timer)  # the passes while the ticks are timed (not Python's own at the app's start)
            if imports:
                importing = Imports(store_path, imports)
            inbox = app.screen
            cases = inbox.query_one(CaseList)
            time_calls(cases, "action_move", samples["cursor"], lambda: cases)
            time_until(inbox, "action_view", cases, "_show_first", samples["view"])
            await pilot.press("3", "enter")  # the app keeps this case screen for every case opened
            await settle(pilot)
            case_screen = app.screen
            opened, stored = asyncio.Event(), asyncio.Event()  # the case on screen; the action's result on it
            time_until(app, "open_case", app, "push_screen", samples["open"], opened,  # the frame after
                       samples["open cpu"])
            time_calls(case_screen, "action_priority", samples["action shown"], lambda: case_screen)
            time_until(case_screen, "action_priority", case_screen, "show", samples["action"], stored)
            await pilot.press("escape")
            rounds = 0
            next_key = time.perf_counter()

            async def press(*keys: str) -> None:  # at the pace of a key held down, at most
                nonlocal next_key
                for key in keys:
                    next_key = max(next_key + 1 / KEYS_A_SECOND, time.perf_counter())
                    await asyncio.sleep(next_key - time.perf_counter())
                    await pilot.press(key)

            async def press_and_see(key: str, shown: asyncio.Event) -> None:
                """As an agent, who waits to see what the key did (not for the console's other work)."""
                shown.clear()
                await press(key)
                async with asyncio.timeout(SHOWN_WITHIN):
                    await shown.wait()

            def going() -> bool:  # beside imports, the keys stop as the last import ends (mid-round)
                return importing.running() if importing is not None else rounds < QUIET_ROUNDS

            while going():
                for n in range(presses):
                    await press("j" if n % 7 else "k")
                for n in range(presses // 10):
                    await press(str(n % 5 + 1))
                await press("3")
                for n in range(presses // 10):
                    if not going():
                        break
                    at_once = n % 2 == 1
                    if not at_once:
                        await asyncio.sleep(REST)  # as an agent, who reads the row before opening it
                    await press_and_see("enter", opened)
                    if at_once:
                        samples["open at once"].append(samples["open"].pop())
                    await asyncio.sleep(READ)
                    await press_and_see("P", stored)
                    await press("escape", "j")
                rounds += 1
            ticker.cancel()
            gc.callbacks.remove(timer)  # the passes while keys were timed (not Python's own, once the app gave them back)
    said = importing.end() if importing is not None else ""
    return samples, stalls_of(late_ticks, passes), said


SHOWN = {  # what each kind of sample times, as printed
    "cursor": "cursor move (j, k) → refreshed list",
    "view": "view switch (1-5) → refreshed list",
    "open": "enter → case screen shown (cursor rested on it)",
    "open at once": "enter → case screen shown (at once after j)",
    "open cpu": "  of it the UI thread's CPU time (both kinds of open)",
    "action shown": "case action (priority key) → shown on the case",
    "action": "case action (priority key) → case as stored shown",
}


def figures(samples: dict[str, list[float]], stalls: Stalls) -> dict[str, float]:
    """A session's figures in ms, by name: each kind's median and p99, and the stalls."""
    found = {}
    for kind, times in samples.items():
        found[f"{kind} median"], found[f"{kind} p99"] = median_p99(times) if times else (float("nan"), float("nan"))
    found["longest stall"] = stalls.longest * 1000
    found["longest full GC pass"] = stalls.longest_pass * 1000
    found["its CPU time"] = stalls.longest_pass_cpu * 1000
    found["its objects (thousands)"] = stalls.longest_pass_objects / 1000
    found["full passes"] = stalls.passes
    found["longest stall outside one"] = stalls.longest_other * 1000
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--imports", type=int, default=IMPORTS, help="imports per session, one after another")
    parser.add_argument("--runs", type=int, default=1, help="sessions beside imports")
    parser.add_argument("--quiet", action="store_true", help="also run without the import, first")
    args = parser.parse_args()
    build_store()
    for number in range(1, args.imports + 1):
        import_file(number)
    print(f"machine: {os.cpu_count()} cores")
    runs: list[dict[str, float]] = []
    for imports in ([0] if args.quiet else []) + [args.imports] * args.runs:
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "store.db"
            shutil.copy(CACHE / "ui-1m-labelled.db", copy)
            started = time.perf_counter()
            samples, stalls, said = asyncio.run(session(copy, args.presses, imports))
            what = f"with imports of {IMPORTED:,} messages beside it, one after another ({said})" \
                if imports else "no import"
            print(f"-- {what}, {time.perf_counter() - started:.0f} s; demo sync writing")
            for kind, name in SHOWN.items():
                report(name, samples[kind])
            every = [s for kind, times in samples.items() if kind != "open cpu" for s in times]  # of keys
            print(f"all keys: p99 {percentile(every, 0.99) * 1000:.1f} ms, max {max(every) * 1000:.1f} ms; "
                  f"longest event-loop stall {stalls.longest * 1000:.0f} ms (longest full garbage-collection "
                  f"pass {stalls.longest_pass * 1000:.0f} ms, {stalls.longest_pass_cpu * 1000:.0f} ms of it on the CPU, "
                  f"{stalls.longest_pass_objects:,} objects scanned, of {stalls.passes} passes; "
                  f"longest stall outside one "
                  f"{stalls.longest_other * 1000:.0f} ms)")
            if imports:
                runs.append(figures(samples, stalls))
    if len(runs) > 1:
        print(f"-- spread over the {len(runs)} runs beside imports (ms): lowest – median – highest")
        for name in runs[0]:
            values = sorted(run[name] for run in runs)
            print(f"{name}: {values[0]:.1f} – {statistics.median(values):.1f} – {values[-1]:.1f}")


if __name__ == "__main__":
    main()
