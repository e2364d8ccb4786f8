"""Bulk import through the two-process pipeline gives exactly what plain ingest gives."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from webcare_tui import bulk
from webcare_tui.bulk import bulk_ingest, import_jsonl
from webcare_tui.connectors.demo_traffic import generate_history
from webcare_tui.ingest import ingest
from webcare_tui.message_format import parse_message
from webcare_tui.store import Store, StoreError

END = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)


def demo_messages(days=3.0, per_day=60):
    return [parse_message(item) for item in generate_history(5, END, days, per_day)]


def snapshot(store: Store):
    def rows(sql):
        return store.conn.execute(sql).fetchall()

    return (
        rows("SELECT id, platform, platform_author_id, handle, followers FROM authors ORDER BY id"),
        rows("SELECT id, author_id, status, owner, created_at, last_message_at, waiting_since, closed_at,"
             " message_count FROM cases ORDER BY id"),
        rows("SELECT id, external_id, case_id, direction, text FROM messages ORDER BY id"),
        rows("SELECT case_id, at, actor, kind, detail FROM case_events ORDER BY id"),
        rows("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'pakket OR Rechnung OR parcel' ORDER BY rowid"),
        rows("SELECT case_id, name FROM case_labels JOIN labels ON labels.id = label_id ORDER BY case_id, name"),
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
        got = bulk_ingest(piped, messages, batch_size=40)  # many batches: the writer process runs
        assert (got.new_messages, got.new_cases) == (expected.new_messages, expected.new_cases)
        assert snapshot(piped) == snapshot(plain)
        again = bulk_ingest(piped, messages, batch_size=40)
        assert (again.new_messages, again.duplicates) == (0, len(messages))


def test_routing_in_the_pipeline_sees_the_labels_of_the_batch_in_flight(tmp_path):
    messages = demo_messages()
    with Store(tmp_path / "plain.db") as plain, Store(tmp_path / "bulk.db") as piped:
        ingest(plain, messages, batch_size=100_000, router=router())
        bulk_ingest(piped, messages, batch_size=40, router=router())
        expected = snapshot(plain)
        assert len(expected[-1]) > 50  # the rules labelled many cases, most over several messages
        assert snapshot(piped) == expected  # the same labels, and each "labels" event once


def test_duplicates_across_in_flight_batches_are_caught(tmp_path):
    messages = demo_messages(days=1, per_day=40)
    with Store(tmp_path / "dup.db") as store:
        counts = bulk_ingest(store, messages + messages[:30] + messages, batch_size=25)
        assert counts.new_messages == len(messages)
        assert store.counts()["messages"] == len(messages)


def test_a_clash_with_another_writer_stops_the_import_with_a_plain_error(tmp_path, monkeypatch):
    messages = demo_messages(days=1, per_day=40)
    path = tmp_path / "clash.db"
    with Store(path) as store:
        original = bulk.Threader.prepare
        calls = []

        def prepare_then_another_process_writes(self, batch):
            if len(calls) == 1:  # between batches, someone else takes the next author id
                with Store(path) as other, other.transaction():
                    other.conn.execute("INSERT INTO authors (id, platform, platform_author_id) VALUES (?, 'x', 'z')",
                                       (self.next_author,))
            calls.append(1)
            return original(self, batch)

        monkeypatch.setattr(bulk.Threader, "prepare", prepare_then_another_process_writes)
        with pytest.raises(StoreError, match="another process wrote to the store"):
            bulk_ingest(store, messages, batch_size=25)
        landed = store.counts()["messages"]
        assert 0 < landed < len(messages)  # whole batches before the clash are kept
        monkeypatch.setattr(bulk.Threader, "prepare", original)
        rerun = bulk_ingest(store, messages, batch_size=25)
        assert rerun.duplicates == landed and store.counts()["messages"] == len(messages)


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
        with pytest.raises(StoreError, match="the disk is full; free some space, then run the import again"):
            bulk_ingest(store, messages, batch_size=25)
        landed = store.counts()["messages"]
        assert landed % 25 == 0 and landed < 60  # whole batches, none after the failure
        store.conn.execute("DROP TRIGGER full")
        rerun = bulk_ingest(store, messages, batch_size=25)
        assert rerun.duplicates == landed and store.counts()["messages"] == len(messages)
