"""Shared fixtures: a fresh store on a temporary file, a message builder, and an in-memory keyring."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest

from webcare_tui.model import Direction, Message, Visibility
from webcare_tui.store import Store

# the platforms' specs and recorded responses beside the checkout (../shared/data; see its README):
# tests that need them skip with the path they looked for when it is not there
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
T0 = 1_764_000_000  # 2025-11-24 16:00 UTC: the start of every timeline
MINUTE, HOUR, DAY = 60, 3600, 86_400
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def log_file(tmp_path: Path, monkeypatch):
    """Every test's app logs to a file of the test's own, never to the user's state dir; its
    handler goes after the test."""
    from logging.handlers import RotatingFileHandler

    from webcare_tui.supervisor import log

    path = tmp_path / "logs" / "webcare.log"
    monkeypatch.setenv("WEBCARE_LOG", str(path))
    yield path
    for handler in [h for h in log.handlers if isinstance(h, RotatingFileHandler)]:
        log.removeHandler(handler)
        handler.close()


@pytest.fixture(autouse=True)
def import_keeps_the_priority(monkeypatch):
    """A `webcare import` run inside the test process leaves its CPU priority alone: lowered, it
    could not be raised again, and every later test of the worker would run at it. (A command run
    as its own process lowers its own: see test_bulk.)"""
    from webcare_tui import cli

    monkeypatch.setattr(cli, "yield_the_cpu", lambda: None)


@pytest.fixture
def east_of_utc(monkeypatch):
    """The local time zone is Tokyo's for the test (where 9999-12-31 23:59:59 UTC is already year 10000)."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "webcare.db") as opened:
        yield opened


def msg(at: int, direction: str = "in", *, author: str = "anna", platform: str = "x", visibility: str = "public",
        agent: str | None = None, text: str = "Waar blijft mijn pakket?", external_id: str | None = None) -> Message:
    """A message `at` seconds after T0 from (or, outbound, to) `author`."""
    return Message(
        platform=platform, account=f"brand-{platform}", external_id=external_id or f"m{next(_ids)}",
        author_id=author, text=text, created_at=T0 + at, direction=Direction(direction),
        visibility=Visibility(visibility), author_handle=f"@{author}", author_name=author.title(),
        author_followers=100, agent=agent if agent or direction == "in" else "tim",
    )


@pytest.fixture
async def http():
    """An httpx client for a connector under test (respx answers its requests)."""
    import httpx

    async with httpx.AsyncClient() as client:
        yield client


async def settle(pilot) -> None:
    """Let the app catch up: every read and write it started off the UI thread (and those their
    results started) has shown its result; fails after 10 s instead of hanging."""
    await pilot.pause()
    await asyncio.wait_for(pilot.app.jobs.settled(), timeout=10)
    await pilot.pause()


async def press(pilot, *keys: str) -> None:
    """Press `keys` as an agent does: each one's effect is on screen before the next."""
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def wait_for(pilot, condition, what: str = "the app to get there", tries: int = 500) -> None:
    """Let the app run (its background counts, sync and workers) until `condition()` holds; fails
    saying `what` after `tries` pauses of 20 ms (10 s), never gives up silently."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    assert condition(), f"gave up waiting for {what}"


def references_a_full_gc_pass_follows() -> int:
    """How many references Python's full garbage-collection pass goes through now (after one): what
    the console keeps for long should add few, or each pass holds its event loop the longer."""
    import gc

    gc.collect()
    gc.collect()  # a tuple of tuples is let go once those inside were, maybe a pass later
    return len(gc.get_referents(*gc.get_objects()))


def notice(app) -> str:
    """The notice line of the screen on top."""
    return str(app.screen.query_one("#notice").render())


def conversation(app) -> str:
    """The case screen's timeline as text."""
    from webcare_tui.widgets.timeline import Timeline

    return "\n".join(item.content.plain for item in app.screen.query_one(Timeline).items)


def screen_lines(widget) -> list[str]:
    """What `widget` draws, line by line."""
    return ["".join(segment.text for segment in widget.render_line(y)) for y in range(widget.size.height)]


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    """A store file for a `webcare` command, with no config file."""
    monkeypatch.setenv("WEBCARE_CONFIG", str(tmp_path / "absent.toml"))
    return str(tmp_path / "cli.db")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """`webcare *argv`: its exit code, stdout and stderr."""
    from webcare_tui.cli import main

    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def only_macros(tmp_path, monkeypatch, text: str) -> None:
    """The app loads this one macro file instead of the example macros."""
    from webcare_tui import runtime

    folder = tmp_path / "macros"
    folder.mkdir()
    (folder / "m.toml").write_text(text)
    monkeypatch.setattr(runtime, "example_folder", lambda: folder)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """The OS keyring's interface, kept in memory (the test's edge, like a fake HTTP server)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.secrets.get((service, username))

    def set_password(self, service, username, password):
        self.secrets[(service, username)] = password

    def delete_password(self, service, username):
        if (service, username) not in self.secrets:
            raise keyring.errors.PasswordDeleteError("not found")
        del self.secrets[(service, username)]


@pytest.fixture
def memory_keyring():
    before = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(before)
