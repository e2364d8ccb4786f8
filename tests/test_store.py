"""The store file: migrations, version checks, WAL and the indexes the inbox needs."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import HOUR, MINUTE, T0, msg

from webcare_tui.case_query import builtin_views
from webcare_tui.ingest import ingest
from webcare_tui.store import SCHEMA_VERSION, CaseFilter, SchemaTooNew, Store, StoreError
from webcare_tui.store.inbox import default_sort
from webcare_tui.store.migrations import migrate, schema_version


def test_a_new_file_gets_the_current_schema_in_wal_mode(tmp_path):
    with Store(tmp_path / "new.db") as store:
        assert schema_version(store.conn) == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = set(store.db.table_names())
        assert {"accounts", "authors", "messages", "cases", "labels", "case_labels", "memos", "case_events",
                "outbox", "sync_state", "messages_fts", "memos_fts"} <= tables


def test_an_older_file_is_migrated_and_keeps_its_data(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, str(path), target=1)  # a file as version 1 of webcare-tui left it
    conn.execute("INSERT INTO authors (id, platform, platform_author_id) VALUES (1, 'x', 'anna')")
    conn.execute("INSERT INTO cases (id, author_id, platform, account, status, created_at, last_message_at,"
                 " last_direction) VALUES (1, 1, 'x', 'a', 'open', 0, 0, 'in')")
    conn.execute("INSERT INTO memos (id, case_id, agent, text, created_at) VALUES (1, 1, 'tim', 'terugbellen', 0)")
    conn.close()
    with Store(path) as store:
        assert store.schema_before == 1
        assert schema_version(store.conn) == SCHEMA_VERSION
        # migration 2 indexed the memo that was already there
        assert store.conn.execute("SELECT rowid FROM memos_fts WHERE memos_fts MATCH 'terugbellen'").fetchall() == [(1,)]
        assert store.case_memos(1)[0]["text"] == "terugbellen"


def label_ids(store, case_id):
    names = dict(store.conn.execute("SELECT id, name FROM labels"))
    ids = store.conn.execute("SELECT label_ids FROM cases WHERE id = ?", (case_id,)).fetchone()[0]
    return sorted(names[int(i)] for i in ids.split(",")) if ids else []


def test_a_cases_own_copy_of_its_labels_follows_every_change(store):
    ingest(store, [msg(0, author="anna"), msg(10, author="bram")])
    anna, bram = (case["id"] for case in sorted(store.list_cases(), key=lambda c: c["id"]))
    with store.transaction():
        store.set_labels(anna, add=["Storing", "Factuur"])
        store.set_labels(bram, add=["Klacht"])
    assert (label_ids(store, anna), label_ids(store, bram)) == (["Factuur", "Storing"], ["Klacht"])
    with store.transaction():
        store.set_labels(anna, remove=["Storing"])
        store.set_labels(bram, add=["Factuur"])
    assert (label_ids(store, anna), label_ids(store, bram)) == (["Factuur"], ["Factuur", "Klacht"])
    with store.transaction():
        store.move_case_contents(bram, anna)  # a merge
        store.set_labels(anna, add=["Factuur"])  # already there: nothing changes
    assert (label_ids(store, anna), label_ids(store, bram)) == (["Factuur", "Klacht"], [])
    with store.transaction():
        store.set_labels(anna, remove=["Factuur", "Klacht"])
    assert store.conn.execute("SELECT label_ids FROM cases WHERE id = ?", (anna,)).fetchone()[0] == ""


def test_migration_8_copies_the_labels_a_file_had(tmp_path):
    path = tmp_path / "v7.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, str(path), target=7)
    conn.execute("INSERT INTO authors (id, platform, platform_author_id) VALUES (1, 'x', 'anna')")
    for case_id in (1, 2):
        conn.execute("INSERT INTO cases (id, author_id, platform, account, status, created_at, last_message_at,"
                     " last_direction) VALUES (?, 1, 'x', 'a', 'open', 0, 0, 'in')", (case_id,))
    conn.execute("INSERT INTO labels (id, name) VALUES (1, 'Storing'), (2, 'Factuur')")
    conn.execute("INSERT INTO case_labels (case_id, label_id) VALUES (1, 2), (1, 1)")
    conn.close()
    with Store(path) as store:
        assert (label_ids(store, 1), label_ids(store, 2)) == (["Factuur", "Storing"], [])


def waiting_counts(store):
    """open_case_counts as kept by the triggers, and as counted from the cases themselves."""
    kept = store.conn.execute("SELECT platform, coalesce(owner, '-'), label_ids, count FROM open_case_counts"
                              " WHERE count != 0").fetchall()
    counted = store.conn.execute(
        "SELECT platform, coalesce(owner, '-'), label_ids, count(*) FROM cases WHERE last_direction = 'in'"
        " AND status IN ('new', 'open', 'awaiting_approval') GROUP BY 1, 2, 3").fetchall()
    return sorted(kept), sorted(counted)


def test_the_waiting_case_counts_follow_every_change(store):
    from webcare_tui.cases import CaseService

    service = CaseService(store)
    ingest(store, [msg(0, author="anna"), msg(10, author="bram", platform="facebook"), msg(20, author="cees"),
                   msg(30, author="cees", text="Hallo?")])
    anna, bram, cees = (case["id"] for case in sorted(store.list_cases(), key=lambda c: c["id"]))
    kept, counted = waiting_counts(store)
    assert kept == counted == [("facebook", "-", "", 1), ("x", "-", "", 2)]
    service.assign(anna, "tim", actor="lisa")
    service.label(bram, actor="tim", add=["Storing"])
    ingest(store, [msg(HOUR, "out", author="cees", agent="sanne")])  # answered: no longer waiting
    kept, counted = waiting_counts(store)
    assert kept == counted and sum(row[3] for row in kept) == 2
    service.set_status(anna, "closed", actor="tim")
    ingest(store, [msg(2 * HOUR, author="cees", text="Dank!"), msg(2 * HOUR, author="dirk")])
    service.label(bram, actor="tim", remove=["Storing"])
    thanks = store.case_messages(cees)[-1]["id"]
    split_off = service.split(thanks, actor="tim")
    kept, counted = waiting_counts(store)
    assert kept == counted and sum(row[3] for row in kept) == 3  # bram, dirk and the split-off "Dank!"
    service.merge(cees, split_off, actor="tim")
    kept, counted = waiting_counts(store)
    assert kept == counted
    assert sorted(row[:2] for row in kept) == [("facebook", "-"), ("x", "-"), ("x", "sanne")]


def test_migration_9_counts_the_cases_a_file_had_waiting(tmp_path):
    path = tmp_path / "v8.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, str(path), target=8)
    conn.execute("INSERT INTO authors (id, platform, platform_author_id) VALUES (1, 'x', 'anna')")
    for case_id, status, direction in ((1, "open", "in"), (2, "new", "in"), (3, "pending", "out"), (4, "open", "out")):
        conn.execute("INSERT INTO cases (id, author_id, platform, account, status, created_at, last_message_at,"
                     " last_direction) VALUES (?, 1, 'x', 'a', ?, 0, 0, ?)", (case_id, status, direction))
    conn.close()
    with Store(path) as store:
        kept, counted = waiting_counts(store)
        assert kept == counted == [("x", "-", "", 2)]


def run_starts(store):
    """Each message's stored (run_start, answered_at, answered_by), and what its case's order gives:
    2 for the first message, 1 after ours; a run start's answer is our next message."""
    stored, truth = {}, {}
    for case_id, in store.conn.execute("SELECT DISTINCT case_id FROM messages").fetchall():
        rows = store.conn.execute("SELECT id, direction, created_at, agent, run_start, answered_at, answered_by"
                                  " FROM messages WHERE case_id = ? ORDER BY created_at, id", (case_id,)).fetchall()
        before = None
        for index, (message_id, direction, _, _, *marks) in enumerate(rows):
            stored[message_id] = tuple(marks)
            start = None if direction == "out" else 2 if before is None else 1 if before == "out" else None
            answer = next(((at, agent) for _, way, at, agent, *_ in rows[index + 1:] if way == "out"), (None, None))
            truth[message_id] = (start, *answer) if start else (None, None, None)
            before = direction
    return stored, truth


def test_where_runs_start_stays_right_through_late_messages_splits_merges_and_discards(store, tmp_path):
    import random

    from webcare_tui.bulk import bulk_ingest
    from webcare_tui.cases import CaseService
    from webcare_tui.outbox import Outbox

    rng = random.Random(7)
    timeline = [msg(rng.randrange(0, 6 * HOUR), rng.choice(["in", "in", "out"]), author=rng.choice("abcd"))
                for _ in range(120)]
    ingest(store, timeline[:60], batch_size=7)  # in order within a batch, late across batches
    ingest(store, sorted(timeline[60:], key=lambda m: -m.created_at), batch_size=5)  # newest first: mostly late
    stored, truth = run_starts(store)
    marks = [mark for mark, _, _ in truth.values()]
    assert stored == truth and 2 in marks and 1 in marks
    assert any(at for _, at, _ in truth.values()) and any(m and at is None for m, at, _ in truth.values())
    service, outbox = CaseService(store), Outbox(store, clock=lambda: T0 + 6 * HOUR + 45 * MINUTE)
    case_id = store.list_cases(CaseFilter(author="a"))[0]["id"]
    messages = store.case_messages(case_id)
    service.split(messages[len(messages) // 2]["id"], actor="tim")
    ingest(store, [msg(6 * HOUR + 30 * MINUTE, author="a", text="Hallo?")])
    reply = outbox.queue_reply(case_id, "Dat zoeken we uit", agent="tim", visibility="public")
    ingest(store, [msg(7 * HOUR, author="a", text="Nog iets")])  # the customer answers our reply
    stored, truth = run_starts(store)
    last = store.case_messages(case_id)[-1]["id"]
    assert stored == truth and stored[last] == (1, None, None)
    ingest(store, [msg(8 * HOUR, "out", author="a", agent="sanne")])  # answered in order
    stored, truth = run_starts(store)
    assert stored == truth and stored[last] == (1, T0 + 8 * HOUR, "sanne")
    outbox.discard(reply, actor="tim")  # the customer's message now follows their own
    stored, truth = run_starts(store)
    assert stored == truth and stored[last] == (None, None, None)
    others = [c["id"] for c in store.list_cases(CaseFilter(author="a")) if c["id"] != case_id]
    service.merge(case_id, others[0], actor="tim")
    stored, truth = run_starts(store)
    assert stored == truth
    with Store(tmp_path / "piped.db") as piped:  # the two-process import: late messages across batches in flight
        bulk_ingest(piped, sorted(timeline, key=lambda m: (m.created_at * 7919) % 1000), batch_size=9)
        stored, truth = run_starts(piped)
        assert stored == truth


def test_a_run_answered_in_its_own_batch_or_a_later_one_gets_the_same_answer(tmp_path):
    """Ingest writes a run answered in its own batch with its answer, and marks one stored before."""
    import random

    rng = random.Random(3)
    timeline, at = [], 0
    for _ in range(300):  # in order: a run is answered a few messages later, often in another small batch
        at += rng.randrange(1, 5 * MINUTE)
        direction = rng.choice(["in", "in", "out"])
        timeline.append(msg(at, direction, author=rng.choice("abcdef"), agent=rng.choice(["tim", "sanne"])
                            if direction == "out" else None))
    answered = []
    for size in (1_000, 7, 1):  # one batch; answers in the batch or the one after; always in a later one
        with Store(tmp_path / f"batches-of-{size}.db") as store:
            ingest(store, timeline, batch_size=size)
            stored, truth = run_starts(store)
            assert stored == truth
            answered.append(stored)
    assert answered[0] == answered[1] == answered[2]
    assert sum(1 for start, at, _ in answered[0].values() if start and at) > 50


def test_migrations_10_and_11_mark_where_runs_start_and_their_answers_in_a_file(tmp_path):
    path = tmp_path / "v9.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, str(path), target=9)
    conn.execute("INSERT INTO authors (id, platform, platform_author_id) VALUES (1, 'x', 'anna')")
    conn.execute("INSERT INTO cases (id, author_id, platform, account, status, created_at, last_message_at,"
                 " last_direction) VALUES (1, 1, 'x', 'a', 'open', 0, 40, 'in')")
    for message_id, direction, at in ((1, "in", 0), (2, "in", 10), (3, "out", 20), (4, "in", 30), (5, "in", 40)):
        conn.execute("INSERT INTO messages (id, platform, account, external_id, case_id, author_id, direction,"
                     " visibility, text, created_at) VALUES (?, 'x', 'a', ?, 1, 1, ?, 'public', 'hoi', ?)",
                     (message_id, f"m{message_id}", direction, at))
    conn.close()
    with Store(path) as store:
        marks = store.conn.execute("SELECT id, run_start, answered_at FROM messages ORDER BY id").fetchall()
    assert marks == [(1, 2, 20), (2, None, None), (3, None, None), (4, 1, None), (5, None, None)]


def test_a_file_from_a_newer_version_is_refused_untouched(tmp_path):
    path = tmp_path / "future.db"
    with Store(path) as store:
        ingest(store, [msg(0)])
        store.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    with pytest.raises(SchemaTooNew, match=rf"schema {SCHEMA_VERSION + 3}.*Upgrade webcare-tui"):
        Store(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 3
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1


def test_a_file_that_is_not_a_database_gives_a_plain_error(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("this is not SQLite " * 100)
    with pytest.raises(StoreError, match="not a webcare-tui store"):
        Store(path)


def test_inbox_queries_use_indexes():
    store = Store(":memory:")  # one connection: the views' reads are traced on it
    ingest(store, [msg(0), msg(HOUR, author="bram")])

    def plan(sql, *params):
        return " ".join(row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql, params))

    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)  # the SQL with its values, as the views run it
    views = builtin_views("tim", lead=True)
    for view in views:
        store.page_cases(view.query, default_sort(view.query))
    store.conn.set_trace_callback(None)
    plans = {view.name: plan(sql) for view, sql in zip(views, statements, strict=True)}
    in_order = {name for name, found in plans.items() if "TEMP B-TREE FOR ORDER BY" not in found}
    assert in_order == {"Mine", "Unassigned", "All open", "Pending", "Closed"}  # Approvals: a few cases, sorted
    assert "cases_open_owner (owner=?)" in plans["Mine"] and "cases_open_owner (owner=?)" in plans["Unassigned"]
    thread = plan("SELECT * FROM messages WHERE case_id = ? ORDER BY created_at", 1)
    assert "INDEX messages_case (case_id=?)" in thread and "TEMP B-TREE" not in thread
    assert "INDEX sqlite_autoindex_messages_1 (platform=? AND external_id=?)" in plan(
        "SELECT id FROM messages WHERE platform = ? AND external_id = ?", "x", "1")


def test_the_store_opens_as_a_sqlite_utils_database_for_ad_hoc_exports(store):
    from conftest import msg

    from webcare_tui.ingest import ingest

    ingest(store, [msg(0, author="anna"), msg(60, author="bram")])
    assert {"messages", "cases", "authors", "outbox"} <= set(store.db.table_names())
    assert store.db["messages"].count == 2


def test_known_owners_lists_each_agent_once_by_index_seeks(store):
    from webcare_tui.cases import CaseService

    ingest(store, [msg(0, author=name) for name in "abcde"])
    service = CaseService(store)
    for case, agent in zip(store.list_cases(), ["tim", "sanne", "tim", None, "anouk"]):
        if agent:
            service.assign(case["id"], agent, actor="lead")
    assert store.known_owners() == ["anouk", "sanne", "tim"]
    plan = " ".join(row[3] for row in store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT min(owner) FROM cases WHERE owner > 'a'"))
    assert "cases_owner" in plan


def test_waits_on_us_is_defined_once_and_migration_9_holds_the_same():
    """The triggers of open_case_counts (migration 9) count what case_rules says waits on us: a new
    definition takes a new migration, never a silent difference between the dashboard and the inbox."""
    from webcare_tui.case_rules import WAITS_ON_US, waits_on_us
    from webcare_tui.store.migrations import _WAITING

    assert _WAITING == WAITS_ON_US
    assert waits_on_us("awaiting_approval", "in") and not waits_on_us("open", "out") and not waits_on_us("pending", "in")


def test_an_import_begins_its_next_slice_only_when_no_writer_waits(tmp_path):
    """While a writer waits for the store (here: holds its turn), another process's bulk writer
    cannot begin; once the writer is in, it can. Checked without timing: a non-blocking try."""
    import subprocess
    import sys

    from webcare_tui.store.turn import WriteTurn

    path = tmp_path / "webcare.db"
    try_bulk = ("import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\n"
                "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(3)\n")

    def bulk_may_begin() -> bool:
        done = subprocess.run([sys.executable, "-c", try_bulk, str(path) + "-turn"])
        assert done.returncode in (0, 3)
        return done.returncode == 0

    turn = WriteTurn(path)
    assert bulk_may_begin()
    with turn.waiting():
        assert not bulk_may_begin()
    assert bulk_may_begin()
    turn.close()


def test_migration_17_gives_cases_a_team_and_keeps_chatwoots_priority_and_team_in_a_file(tmp_path):
    path = tmp_path / "v16.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, str(path), target=16)
    conn.execute("INSERT INTO authors (id, platform, platform_author_id) VALUES (1, 'chatwoot', 'anna')")
    conn.execute("INSERT INTO cases (id, author_id, platform, account, status, created_at, last_message_at,"
                 " last_direction, priority) VALUES (1, 1, 'chatwoot', 'team', 'open', 0, 0, 'in', 2)")
    conn.execute("INSERT INTO remote_case_state (case_id, account, status, owner, labels, updated_at)"
                 " VALUES (1, 'team', 'open', 'jeroen', '[\"vraag\"]', 60)")
    conn.close()
    with Store(path) as store:
        case = store.case_state(1)
        assert (case.priority, case.team) == (2, None)  # no team yet: nullable, nothing to fill in
        assert store.get_case(1)["team"] is None
        assert store.remote_case_state(1) == {"status": "open", "owner": "jeroen", "labels": ["vraag"],
                                              "priority": None, "team": None, "updated_at": 60}  # not seen yet
        with store.transaction():
            case.team = "hypotheken"
            store.save_case(case)
            store.save_remote_case_state(1, "team", "open", "jeroen", ["vraag"], 120, priority=3, team="")
    with Store(path) as store:  # both kept across a restart
        assert store.case_state(1).team == "hypotheken"
        assert (store.remote_case_state(1)["priority"], store.remote_case_state(1)["team"]) == (3, "")
