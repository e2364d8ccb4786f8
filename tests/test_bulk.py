"""Bulk import through the two-process pipeline gives exactly what plain ingest gives."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timezone
from pathlib import Path

import pytest

from webcare_tui import bulk, cli
from webcare_tui.bulk import bulk_ingest, import_jsonl
from webcare_tui.connectors.demo_traffic import generate_history
from webcare_tui.ingest import ingest
from webcare_tui.message_format import parse_message
from webcare_tui.store import Store, StoreError

END = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)


def demo_messages(days=3.0, per_day=60):
    return [parse_message(item) for item in generate_history(5, END, days, per_day)]


def snapshot(store: Store):
    """What the store holds, each row named by what it is rather than by its id: a large file's
    import hands out its messages by author, so its ids come in another order than a plain ingest's."""
    def rows(sql):
        return sorted(store.conn.execute(sql).fetchall(), key=repr)

    case = "(SELECT a.platform || '/' || a.platform_author_id || '@' || c.created_at FROM cases c" \
           " JOIN authors a ON a.id = c.author_id WHERE c.id = {})"
    return (
        rows("SELECT platform, platform_author_id, handle, followers FROM authors"),
        rows(f"SELECT {case.format('cases.id')}, status, owner, last_message_at, waiting_since, closed_at,"
             " message_count FROM cases"),
        rows(f"SELECT external_id, {case.format('case_id')}, direction, text FROM messages"),
        rows(f"SELECT {case.format('case_id')}, at, actor, kind, detail FROM case_events"),
        rows("SELECT m.external_id FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
             " WHERE messages_fts MATCH 'pakket OR Rechnung OR parcel'"),
        rows(f"SELECT {case.format('case_id')}, name FROM case_labels JOIN labels ON labels.id = label_id"),
    )


RULES = """
[[rule]]
name = "Bezorging"
words = ["pakket", "Paket", "parcel", "order", "Bestellung"]
labels = ["Bezorging"]

[[rule]]
name = "Klacht"
sentiment = "negative"
labels = ["Klacht"]
"""


def router():
    import tomllib

    from webcare_tui.rules import Router, load_rules

    book = load_rules(tomllib.loads(RULES), RULES, "rules.toml")
    return Router(book, lambda team: None, clock=END.timestamp)


def test_pipelined_import_equals_plain_ingest(tmp_path):
    messages = demo_messages()
    assert len(messages) > 300
    with Store(tmp_path / "plain.db") as plain, Store(tmp_path / "bulk.db") as piped:
        expected = ingest(plain, messages, batch_size=100_000)
        got = bulk_ingest(piped, messages, batch_size=40)  # many slices, a transaction each
        assert (got.new_messages, got.new_cases) == (expected.new_messages, expected.new_cases)
        assert snapshot(piped) == snapshot(plain)
        again = bulk_ingest(piped, messages, batch_size=40)
        assert (again.new_messages, again.duplicates) == (0, len(messages))


def test_routing_across_slices_sees_the_labels_of_the_slices_before(tmp_path):
    messages = demo_messages()
    with Store(tmp_path / "plain.db") as plain, Store(tmp_path / "bulk.db") as piped:
        ingest(plain, messages, batch_size=100_000, router=router())
        bulk_ingest(piped, messages, batch_size=40, router=router())
        expected = snapshot(plain)
        assert len(expected[-1]) > 50  # the rules labelled many cases, most over several messages
        assert snapshot(piped) == expected  # the same labels, and each "labels" event once


def test_a_slow_slice_makes_the_next_ones_smaller_and_nothing_is_lost(tmp_path, monkeypatch):
    """A transaction that held the lock longer than bulk.LOCK_AIM makes the slices after it smaller."""
    messages = demo_messages(days=1, per_day=60)
    sizes: list[int] = []

    class Recording(bulk.Threader):
        def prepare(self, batch):
            sizes.append(len(batch))
            return super().prepare(batch)

    monkeypatch.setattr(bulk, "Threader", Recording)
    monkeypatch.setattr(bulk, "LOCK_AIM", 0.0)  # every slice is too slow
    monkeypatch.setattr(bulk, "MIN_SLICE", 7)
    with Store(tmp_path / "plain.db") as plain, Store(tmp_path / "bulk.db") as piped:
        expected = ingest(plain, messages, batch_size=100_000)
        got = bulk_ingest(piped, messages, batch_size=40)
        assert sizes[0] == 40 and set(sizes[1:-1]) == {7} and sum(sizes) == len(messages)
        assert (got.new_messages, got.new_cases) == (expected.new_messages, expected.new_cases)
        assert snapshot(piped) == snapshot(plain)


def test_the_pace_keeps_a_slice_near_the_aim_and_never_above_what_comes():
    pace = bulk._Pace()
    assert pace.limit(3_000) == bulk.FIRST_SLICE and pace.limit(40) == 40  # nothing measured yet
    pace.held(0.26, 3_000)  # twice the aim
    assert pace.limit(3_000) == int(bulk.LOCK_AIM / (0.26 / 3_000))
    for _ in range(30):
        pace.held(0.01, 3_000)  # fast again
    assert pace.limit(3_000) == 3_000 and pace.limit(40) == 40
    pace.held(1_000.0, 1)
    assert pace.limit(3_000) == bulk.MIN_SLICE and pace.limit(40) == 40


def test_the_wal_is_copied_beside_the_import_and_the_rest_between_slices(tmp_path, monkeypatch):
    import threading

    from webcare_tui.store.store import BulkCheckpoints

    messages = demo_messages(days=2, per_day=80)
    monkeypatch.setattr(bulk, "CHECKPOINT_EVERY", 3)
    copies: list[str] = []
    copy = BulkCheckpoints.copy

    def noted(self):
        copies.append(threading.current_thread().name)
        copy(self)

    monkeypatch.setattr(BulkCheckpoints, "copy", noted)
    with Store(tmp_path / "wal.db") as store:
        bulk_ingest(store, messages, batch_size=20)
        assert store.counts()["messages"] == len(messages)
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000  # as before the import
    here = threading.current_thread().name
    assert {name.split("_")[0] for name in copies} == {"webcare-checkpoint", here}  # beside the slices, and here
    assert copies[-1] == here  # the rest at the end
    assert not [t for t in threading.enumerate() if t.name.startswith("webcare-checkpoint")]


def test_duplicates_across_in_flight_batches_are_caught(tmp_path):
    messages = demo_messages(days=1, per_day=40)
    with Store(tmp_path / "dup.db") as store:
        counts = bulk_ingest(store, messages + messages[:30] + messages, batch_size=25)
        assert counts.new_messages == len(messages)
        assert store.counts()["messages"] == len(messages)


def test_an_agent_acting_between_slices_loses_nothing_and_the_events_agree(tmp_path):
    from webcare_tui.cases import CaseService

    messages = demo_messages(days=2, per_day=80)
    path = tmp_path / "agents.db"
    done: dict[int, tuple[str, int]] = {}
    count_then: dict[int, int] = {}

    def agent_acts() -> None:  # on another connection, as the console would, while slices are written
        with Store(path) as console:
            service = CaseService(console)
            waiting = [case for case in console.list_cases() if case["id"] not in done and case["status"] != "closed"]
            for case in waiting[:3]:
                owner = ("jeroen", "sanne", "noah")[len(done) % 3]
                service.assign(case["id"], owner, "tim")
                service.set_priority(case["id"], 2, "tim")
                service.label(case["id"], "tim", add=["Agent"])
                done[case["id"]], count_then[case["id"]] = (owner, 2), case["message_count"]

    def feed():
        for number, message in enumerate(messages):
            if number and number % 30 == 0:
                agent_acts()
            yield message

    with Store(path) as store:
        counts = bulk_ingest(store, feed(), batch_size=25)
        assert counts.new_messages == len(messages) and len(done) > 10
        grown = [case_id for case_id in done if store.get_case(case_id)["message_count"] > count_then[case_id]]
        assert len(grown) > 5  # the import did thread later messages into cases the agent had changed
        for case_id, (owner, priority) in done.items():
            case = store.get_case(case_id)
            assert (case["owner"], case["priority"], "Agent" in case["labels"]) == (owner, priority, True)
            assigned = [e for e in store.case_events(case_id) if e["kind"] == "assigned"]
            assert assigned[-1]["detail"]["to"] == case["owner"]


def test_two_imports_at_once_both_land_whole(tmp_path):
    import threading

    first, second = demo_messages(days=1, per_day=60), demo_messages(days=2, per_day=50)
    path = tmp_path / "two.db"
    with Store(path) as store:
        results = {}

        def run(name, messages):
            with Store(path) as own:
                results[name] = bulk_ingest(own, messages, batch_size=20)

        threads = [threading.Thread(target=run, args=(name, batch)) for name, batch in (("a", first), ("b", second))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        unique = {(m.platform, m.external_id) for m in first + second}
        assert results["a"].new_messages + results["b"].new_messages == len(unique)
        assert store.counts()["messages"] == len(unique)
        per_author = store.conn.execute(
            "SELECT count(*) FROM cases WHERE status != 'closed' AND merged_into IS NULL"
            " GROUP BY author_id HAVING count(*) > 1").fetchall()
        assert per_author == []  # one open case per author: neither import threaded past the other


def test_import_jsonl_reports_bad_lines_from_every_source(tmp_path):
    good = tmp_path / "a.jsonl"
    good.write_text('{"platform": "x"}\n')
    rejected = []
    with Store(tmp_path / "r.db") as store:
        result = import_jsonl(store, [good, iter([{"text": 1}])], on_reject=lambda *line: rejected.append(line))
    assert result.rejected == 2
    assert rejected[0][:2] == (str(good), 1) and "missing" in rejected[0][2]
    assert rejected[1][:2] == ("demo", 1)


def test_a_full_disk_mid_import_is_reported_and_whole_batches_stay(tmp_path):
    messages = demo_messages(days=1, per_day=40)
    with Store(tmp_path / "full.db") as store:
        # the disk "fills up" at the 60th message, in the writer process
        store.conn.execute(f"""CREATE TRIGGER full AFTER INSERT ON messages
                               WHEN NEW.external_id = '{messages[59].external_id}'
                               BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END""")
        with pytest.raises(StoreError, match="the disk is full; free some space; run the import again"):
            bulk_ingest(store, messages, batch_size=25)
        landed = store.counts()["messages"]
        assert landed % 25 == 0 and landed < 60  # whole batches, none after the failure
        store.conn.execute("DROP TRIGGER full")
        rerun = bulk_ingest(store, messages, batch_size=25)
        assert rerun.duplicates == landed and store.counts()["messages"] == len(messages)


def write_jsonl(path, items) -> None:
    import orjson

    with path.open("wb") as out:
        for item in items:
            out.write(orjson.dumps(item) + b"\n")


@pytest.mark.parametrize("slice_most, window", [(40, bulk.WINDOW), (3, 25)],
                         ids=["one window", "windows and authors split across slices"])
def test_a_large_file_is_threaded_by_a_child_process_with_the_same_result(tmp_path, monkeypatch, slice_most, window):
    items = list(generate_history(5, END, 3.0, 60))
    source = tmp_path / "big.jsonl"
    write_jsonl(source, items[:50] + [{"platform": "x"}] + items[50:])  # line 51 is bad
    rejected: list[tuple] = []
    with Store(tmp_path / "here.db") as here, Store(tmp_path / "child.db") as there:
        expected = import_jsonl(here, [source], router=router())  # small: threaded in this process
        monkeypatch.setattr(bulk, "CHILD_FROM_BYTES", 0)
        monkeypatch.setattr(bulk, "MAX_SLICE", slice_most)  # many slices
        monkeypatch.setattr(bulk, "WINDOW", window)
        children = _recording_children(monkeypatch)
        got = import_jsonl(there, [source], on_reject=lambda *line: rejected.append(line), router=router())
        assert len(children) == 1 and got == expected and got.rejected == 1 and got.new_messages == len(items)
        assert rejected == [(str(source), 51, rejected[0][2])] and "missing" in rejected[0][2]
        assert snapshot(there) == snapshot(here)
        # alone with the store, the child threaded each slice while the one before was written: only the
        # first, threaded before any transaction began, was threaded again inside its own
        assert children[0].threaded_again == 1
    assert multiprocessing.active_children() == []  # the child is gone with the import


def test_a_child_threading_ahead_never_undoes_what_an_agent_did_meanwhile(tmp_path, monkeypatch):
    """Agents act between the slices (after one commits, before the next begins): the slice the child
    threaded ahead meanwhile is threaded again, and every change survives."""
    from webcare_tui.cases import CaseService

    items = list(generate_history(5, END, 2.0, 80))
    source = tmp_path / "big.jsonl"
    write_jsonl(source, items)
    path = tmp_path / "agents.db"
    done: dict[int, str] = {}
    slices = 0

    def agent_acts() -> None:  # on another connection, as the console would
        with Store(path) as console:
            service = CaseService(console)
            waiting = [case for case in console.list_cases() if case["id"] not in done and case["status"] != "closed"]
            for case in waiting[:2]:
                owner = ("jeroen", "sanne")[len(done) % 2]
                service.assign(case["id"], owner, "tim")
                service.label(case["id"], "tim", add=["Agent"])
                done[case["id"]] = owner

    held = bulk._Pace.held

    def held_then_act(pace, seconds, messages):  # called once each slice has committed
        nonlocal slices
        held(pace, seconds, messages)
        slices += 1
        if slices % 3 == 0:
            agent_acts()

    monkeypatch.setattr(bulk._Pace, "held", held_then_act)
    monkeypatch.setattr(bulk, "CHILD_FROM_BYTES", 0)
    monkeypatch.setattr(bulk, "MAX_SLICE", 25)
    children = _recording_children(monkeypatch)
    with Store(path) as store:
        result = import_jsonl(store, [source])
        assert result.new_messages == len(items) == store.counts()["messages"] and len(done) > 6
        assert children[0].threaded_again == 1 + (slices - 1) // 3  # the first, and each after an agent acted
        for case_id, owner in done.items():
            case = store.get_case(case_id)
            assert (case["owner"], "Agent" in case["labels"]) == (owner, True)
            assigned = [e for e in store.case_events(case_id) if e["kind"] == "assigned"]
            assert assigned[-1]["detail"]["to"] == case["owner"]
        per_author = store.conn.execute(
            "SELECT count(*) FROM cases WHERE status != 'closed' AND merged_into IS NULL"
            " GROUP BY author_id HAVING count(*) > 1").fetchall()
        assert per_author == []


def _recording_children(monkeypatch) -> list:
    """The `_ThreadedByChild` of each import from now on."""
    made: list = []

    class Recorded(bulk._ThreadedByChild):
        def __init__(self, *args):
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(bulk, "_ThreadedByChild", Recorded)
    return made


def test_a_failing_write_ends_the_import_at_once_and_its_child_with_it(tmp_path, monkeypatch):
    items = list(generate_history(5, END, 3.0, 60))
    source = tmp_path / "big.jsonl"
    write_jsonl(source, items)
    monkeypatch.setattr(bulk, "CHILD_FROM_BYTES", 0)
    monkeypatch.setattr(bulk, "MAX_SLICE", 25)
    with Store(tmp_path / "full.db") as store:
        store.conn.execute(f"""CREATE TRIGGER full AFTER INSERT ON messages
                               WHEN NEW.external_id = '{items[59]["external_id"]}'
                               BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END""")
        with pytest.raises(StoreError, match="the disk is full"):
            import_jsonl(store, [source])
        assert multiprocessing.active_children() == []
        assert 0 < store.counts()["messages"] < len(items)  # the slices before the failing one
        assert store.existing_message_ids(items[59]["platform"], [items[59]["external_id"]]) == set()


def test_the_command_exits_non_zero_at_once_when_the_store_fails(tmp_path):
    import subprocess
    import sys

    items = list(generate_history(5, END, 1.0, 60))
    source = tmp_path / "m.jsonl"
    write_jsonl(source, items)
    db = tmp_path / "cli.db"
    with Store(db) as store:
        store.conn.execute(f"""CREATE TRIGGER full AFTER INSERT ON messages
                               WHEN NEW.external_id = '{items[-1]["external_id"]}'
                               BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END""")
    done = subprocess.run([sys.executable, "-m", "webcare_tui", "--db", str(db), "import", str(source)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "the disk is full; free some space" in done.stderr and "Traceback" not in done.stderr


def test_an_import_yields_the_cpu_and_a_kill_leaves_no_child_running(tmp_path):
    """`webcare import` runs at a lower CPU priority than the consoles beside them, and its threading
    child at the lowest; and after a kill -9 of `webcare import` while its child parses a large file,
    the child ends too."""
    import os
    import signal
    import subprocess
    import sys
    import time

    source = tmp_path / "large.jsonl"
    write_jsonl(source, generate_history(9, END, 40.0, 500))  # ~20 MB: the child parses far ahead
    assert source.stat().st_size > bulk.CHILD_FROM_BYTES
    importer = subprocess.Popen([sys.executable, "-m", "webcare_tui", "--db", str(tmp_path / "k.db"), "import",
                                 str(source)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def children() -> list[int]:
        path = Path(f"/proc/{importer.pid}/task/{importer.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def running(pid: int) -> bool:  # a zombie has ended; init reaps it
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def command(pid: int) -> bytes:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return b""

    def threading_child() -> int | None:  # multiprocessing's spawned process, not its resource tracker
        return next((pid for pid in children() if b"spawn_main" in command(pid)), None)

    def niceness(pid: int) -> int:
        return os.getpriority(os.PRIO_PROCESS, pid)

    try:
        deadline = time.monotonic() + 30
        # the child lowers itself first thing: bounded, and asserted below
        while (child := threading_child()) is None or niceness(child) != bulk.CHILD_NICENESS:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        spawned = children()  # the parsing child (and multiprocessing's resource tracker)
        assert child is not None, "the import started no child"
        assert niceness(child) == bulk.CHILD_NICENESS
        lowered = min(19, os.getpriority(os.PRIO_PROCESS, 0) + cli.IMPORT_NICENESS)
        assert [niceness(pid) for pid in [importer.pid, *spawned] if pid != child] == [lowered] * len(spawned)
    finally:
        os.kill(importer.pid, signal.SIGKILL)
        importer.wait()
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in spawned) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(running(pid) for pid in spawned), "a child of the import outlived it"


def test_a_child_that_dies_before_reading_its_command_ends_the_import_in_plain_words(tmp_path, monkeypatch):
    """Killed with the parent's command unread, the child's end of the pipe resets the connection (not a
    clean EOF): the import still ends with what to do, not a traceback."""
    items = list(generate_history(5, END, 1.0, 60))
    source = tmp_path / "big.jsonl"
    write_jsonl(source, items)

    class Dying(bulk._ThreadedByChild):
        def _ask(self, command: str, size: int) -> None:
            super()._ask(command, size)
            self.child.kill()  # the command sits unread in the child's end
            self.child.join()

    monkeypatch.setattr(bulk, "CHILD_FROM_BYTES", 0)
    monkeypatch.setattr(bulk, "_ThreadedByChild", Dying)
    with Store(tmp_path / "s.db") as store:
        with pytest.raises(StoreError, match="stopped unexpectedly; run the import again"):
            import_jsonl(store, [source])
    assert multiprocessing.active_children() == []


def test_a_childs_slices_hold_whole_authors_each_in_the_files_order():
    messages = demo_messages(days=1, per_day=60)
    windows = [messages[:100], messages[100:]]
    ahead = bulk._ByAuthor()
    for window in windows:
        ahead.add(window)
    slices = []
    while batch := ahead.take(7):
        slices.append(batch)
    handed = [message for batch in slices for message in batch]
    assert ahead.count == 0 and sorted(map(id, handed)) == sorted(map(id, messages))
    assert max(map(len, slices)) == 7

    def author(message):
        return message.platform, message.author_id

    for who in set(map(author, messages)):  # each author's messages keep the file's order
        assert [m for m in handed if author(m) == who] == [m for m in messages if author(m) == who]
    for window in windows:  # and those of one window go in one slice, unless more than a slice holds
        for who in set(map(author, window)):
            theirs = {id(m) for m in window if author(m) == who}
            held_by = {n for n, batch in enumerate(slices) for m in batch if id(m) in theirs}
            assert len(held_by) == (1 if len(theirs) <= 7 else -(-len(theirs) // 7))
