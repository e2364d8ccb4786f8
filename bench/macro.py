"""Benchmark: one-key actions on a store of 1,000,000 cached messages.

    python bench/macro.py [--presses 200]

Times, inside the app, from the key's handler to the callback after the refreshed
screen (as ../shared/BENCH.md asks): the Hypotheken macro applied to the case under
the cursor in "All open" again and again; enter on a case of "All open" (opening the
case screen), then escape and j; and on a case screen the priority key (an action that
changes the case and adds a line to its timeline). Runs on a copy of the store
bench/ui.py builds, so the cached store stays as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ui import STORE, build_store, report  # noqa: E402 (bench/ui.py)


@asynccontextmanager
async def running_app(path: Path):
    """The app on the store at `path`, in a headless terminal: (app, pilot)."""
    from webcare_tui.app import make_app
    from webcare_tui.config import Config
    from webcare_tui.store import Store

    with Store(path) as store:
        app = make_app(Config(), store, connectors={})
        async with app.run_test(size=(120, 40)) as pilot:
            yield app, pilot


def time_calls(owner, name: str, samples: list[float], refreshed) -> None:
    """Wrap `owner.<name>`: each call is timed from its start to the callback after the next
    refresh of `refreshed()` (the widget or screen that shows the result)."""
    original = getattr(owner, name)

    def timed(*args) -> None:
        started = time.perf_counter()
        original(*args)
        refreshed().call_after_refresh(lambda: samples.append(time.perf_counter() - started))

    setattr(owner, name, timed)


async def presses(path: Path, count: int) -> list[float]:
    from webcare_tui.widgets.case_list import CaseList

    samples: list[float] = []
    async with running_app(path) as (app, pilot):
        inbox = app.screen
        cases = inbox.query_one(CaseList)
        time_calls(inbox, "action_macro", samples, lambda: cases)
        await pilot.press("3")
        for _ in range(count):
            await pilot.press("h")
        await pilot.pause(0.2)
        assert "Hypotheken" in str(inbox.query_one("#notice").render())
    return samples


async def case_opens(path: Path, count: int) -> list[float]:
    samples: list[float] = []
    async with running_app(path) as (app, pilot):
        await pilot.press("3")
        time_calls(app, "open_case", samples, lambda: app.screen)
        for _ in range(count):
            await pilot.press("enter")
            await pilot.pause(0.05)  # the screen's first frame, before escape
            await pilot.press("escape", "j")
    return samples


async def case_presses(path: Path, count: int) -> list[float]:
    samples: list[float] = []
    async with running_app(path) as (app, pilot):
        await pilot.press("3", "enter")
        screen = app.screen
        time_calls(screen, "action_priority", samples, lambda: screen)
        for _ in range(count):
            await pilot.press("P")
        await pilot.pause(0.2)
        assert "priority" in str(screen.query_one("#notice").render())
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=200)
    args = parser.parse_args()
    build_store()
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "store.db"
        shutil.copy(STORE, copy)
        print(f"machine: {os.cpu_count()} cores; store {copy.stat().st_size / 1e6:,.0f} MB (a copy)")
        report("macro key → refreshed inbox (Hypotheken)", asyncio.run(presses(copy, args.presses)))
        report("enter → case screen shown", asyncio.run(case_opens(copy, args.presses // 4)))
        report("case screen: priority key → refreshed case", asyncio.run(case_presses(copy, args.presses)))


if __name__ == "__main__":
    main()
