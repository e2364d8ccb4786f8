"""The live console beside other writers: an import in another process, a script applying
macros and agents at the console all change the same cases at once, and nothing is lost."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
from conftest import MINUTE, msg, press, settle

from webcare_tui.app import make_app
from webcare_tui.config import load_config
from webcare_tui.ingest import ingest
from webcare_tui.message_format import message_to_dict
from webcare_tui.store import Store

CUSTOMERS = 12  # six worked at the console, six by a script
CHUNKS, CHUNK = 8, 8_000  # the import's input, fed a chunk while each agent acts: it is under way throughout
MACROS = Path(__file__).resolve().parents[1] / "macros"


def traffic(chunk: int) -> bytes:
    """New traffic, where every tenth message is one of our customers writing again: the import
    changes the very cases the agents work on."""
    lines = []
    for n in range(chunk * CHUNK, (chunk + 1) * CHUNK):
        author = f"c{n // 10 % CUSTOMERS}" if n % 10 == 0 else f"new{n}"
        message = msg(MINUTE * 60 + n, author=author, text=f"Nog steeds geen antwoord over bestelling {n}?")
        lines.append(orjson.dumps(message_to_dict(message)))
    return b"\n".join(lines) + b"\n"


def events_agree(store: Store, case_id: int) -> bool:
    """The case's owner and priority are the ones its last events gave it."""
    case = store.get_case(case_id)
    events = store.case_events(case_id)
    owners = [e["detail"]["to"] for e in events if e["kind"] == "assigned" and "to" in e["detail"]]
    priorities = [e["detail"]["to"] for e in events if e["kind"] == "priority" and "to" in e["detail"]]
    return (not owners or owners[-1] == case["owner"]) and (not priorities or priorities[-1] == case["priority"])


async def test_an_import_beside_the_console_and_a_script_undoes_nothing_they_do(tmp_path, monkeypatch):
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[agent]\nid = "tim"\nname = "Tim"\n\n[macros]\ndir = "{MACROS}"\n')
    monkeypatch.setenv("WEBCARE_CONFIG", str(config_file))
    path = tmp_path / "webcare.db"
    env = {**os.environ, "WEBCARE_DB": str(path)}
    with Store(path) as store:
        ingest(store, [msg(n * MINUTE, author=f"c{n}", text="Mijn bestelling is niet aangekomen") for n in range(CUSTOMERS)])
        ids = sorted(case["id"] for case in store.list_cases())
        console_cases, script_cases = ids[:6], ids[6:]
        importer = subprocess.Popen([sys.executable, "-m", "webcare_tui", "import", "-"], env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert importer.stdin is not None

        def feed(chunk: int) -> None:
            importer.stdin.write(traffic(chunk))
            importer.stdin.flush()

        app = make_app(load_config(config_file), store, connectors={})
        async with app.run_test(size=(120, 30)) as pilot:
            feeding = asyncio.create_task(asyncio.to_thread(feed, 0))
            script = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "webcare_tui", "macro", "apply", "Hypotheken",
                                 *(f"--case={case_id}" for case_id in script_cases)],
                env=env, capture_output=True, text=True, timeout=120)
            assert script.returncode == 0, script.stderr
            await feeding
            for chunk, case_id in enumerate(console_cases, start=1):
                feeding = asyncio.create_task(asyncio.to_thread(feed, chunk))
                app.open_case(case_id)
                await settle(pilot)
                await press(pilot, "P", "a", *"noah", "enter", "l", *"Spoed", "enter", "enter", "escape")
                await feeding
        feed(CHUNKS - 1)
        said, _ = importer.communicate(timeout=300)  # closes its input: the import ends
        assert importer.returncode == 0, said

        # the import landed whole, beside the replies the macro queued
        assert store.counts()["messages"] == CUSTOMERS + CHUNKS * CHUNK + len(script_cases)
        for case_id in console_cases:
            case = store.get_case(case_id)
            assert (case["owner"], case["priority"], "Spoed" in case["labels"]) == ("noah", 1, True), case
            assert case["message_count"] > 1 and events_agree(store, case_id)  # the import wrote to it too
        for case_id in script_cases:
            case = store.get_case(case_id)
            assert case["owner"] == "jeroen" and {"Vraag", "Hypotheken"} <= set(case["labels"]), case
            assert [m["text"] for m in store.case_memos(case_id)] == ["Hoi Jeroen, kun jij hiernaar kijken?"]
            assert case["message_count"] > 1 and events_agree(store, case_id)
