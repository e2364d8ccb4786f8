"""The threading rules of DESIGN.md on concrete timelines, through the real ingest path."""

from __future__ import annotations

from conftest import DAY, HOUR, MINUTE, T0, msg

from webcare_tui.case_query import CaseQuery
from webcare_tui.case_rules import ThreadingRules
from webcare_tui.cases import CaseService
from webcare_tui.ingest import ingest
from webcare_tui.store import CaseFilter
from webcare_tui.store.inbox import SORTS


def cases_of(store, author="anna"):
    return sorted(store.list_cases(CaseFilter(author=author)), key=lambda row: row["id"])


def test_same_author_twice_within_an_hour_is_one_case(store):
    counts = ingest(store, [msg(0), msg(40 * MINUTE)])
    assert counts.new_messages == 2 and counts.new_cases == 1
    [case] = cases_of(store)
    assert case["message_count"] == 2
    assert case["status"] == "new"
    assert case["waiting_since"] == T0  # waiting since the first unanswered message


def test_public_and_private_messages_of_one_author_are_one_case(store):
    ingest(store, [msg(0, visibility="public"), msg(10 * MINUTE, visibility="private")])
    [case] = cases_of(store)
    assert case["message_count"] == 2
    assert [m["visibility"] for m in store.case_messages(case["id"])] == ["public", "private"]


def test_different_authors_get_different_cases(store):
    ingest(store, [msg(0, author="anna"), msg(60, author="bram")])
    assert len(store.list_cases()) == 2


def test_reply_makes_pending_and_the_customers_answer_opens_again(store):
    ingest(store, [msg(0), msg(20 * MINUTE, "out", agent="tim")])
    [case] = cases_of(store)
    assert (case["status"], case["owner"], case["waiting_since"]) == ("pending", "tim", None)
    ingest(store, [msg(2 * HOUR)])
    [case] = cases_of(store)
    assert (case["status"], case["owner"], case["message_count"]) == ("open", "tim", 3)
    assert case["waiting_since"] == T0 + 2 * HOUR
    events = [(e["kind"], e["actor"]) for e in store.case_events(case["id"])]
    assert ("assigned", "tim") in events


def test_message_after_close_within_the_reopen_window_reopens(store):
    ingest(store, [msg(0), msg(HOUR, "out")])
    [case] = cases_of(store)
    CaseService(store, clock=lambda: T0 + 2 * HOUR).set_status(case["id"], "closed", actor="tim")
    ingest(store, [msg(2 * HOUR + 3 * DAY)])
    [case] = cases_of(store)
    assert case["status"] == "open" and case["closed_at"] is None and case["message_count"] == 3
    assert any(e["detail"].get("reason") == "reopened" for e in store.case_events(case["id"]))


def test_message_eight_days_after_close_starts_a_new_case(store):
    ingest(store, [msg(0), msg(HOUR, "out")])
    [first] = cases_of(store)
    CaseService(store, clock=lambda: T0 + 2 * HOUR).set_status(first["id"], "closed", actor="tim")
    counts = ingest(store, [msg(2 * HOUR + 8 * DAY)])
    assert counts.new_cases == 1
    old, new = cases_of(store)
    assert (old["status"], old["message_count"]) == ("closed", 2)
    assert (new["status"], new["message_count"]) == ("new", 1)


def test_pending_case_closes_itself_seven_days_after_our_reply(store):
    ingest(store, [msg(0), msg(HOUR, "out")])
    service = CaseService(store, clock=lambda: T0)
    assert service.close_due(now=T0 + HOUR + 7 * DAY - 1) == 0
    assert service.close_due(now=T0 + HOUR + 7 * DAY) == 1
    [case] = cases_of(store)
    assert case["status"] == "closed" and case["closed_at"] == T0 + HOUR + 7 * DAY


def test_late_answer_to_a_pending_case_sees_it_closed_at_last_activity_plus_seven_days(store):
    # Nobody ran the sweep: the message itself finds the case overdue.
    ingest(store, [msg(0), msg(HOUR, "out")])
    ingest(store, [msg(HOUR + 10 * DAY)])  # 3 days after the automatic close: reopens
    [case] = cases_of(store)
    assert case["status"] == "open"
    closes = [e for e in store.case_events(case["id"]) if e["detail"].get("to") == "closed"]
    assert [e["at"] for e in closes] == [T0 + HOUR + 7 * DAY]
    ingest(store, [msg(HOUR * 3 + 10 * DAY, "out"), msg(HOUR * 3 + 26 * DAY)])  # 16 days later: closed 9 days ago
    assert [c["status"] for c in cases_of(store)] == ["closed", "new"]


def test_windows_follow_the_configured_rules(store):
    rules = ThreadingRules(reopen_window=1 * DAY, auto_close_after=2 * DAY)
    ingest(store, [msg(0), msg(HOUR, "out")], rules)
    ingest(store, [msg(HOUR + 2 * DAY + 2 * HOUR)], rules)  # closed at +2d, 2 h later: reopen
    assert len(cases_of(store)) == 1
    # our reply at 2d+4h closes at 4d+4h; a message 1 day and 1 hour after that starts a new case
    ingest(store, [msg(HOUR * 4 + 2 * DAY, "out"), msg(HOUR * 5 + 5 * DAY)], rules)
    assert len(cases_of(store)) == 2


def test_the_same_message_imported_twice_changes_nothing(store):
    batch = [msg(0, external_id="x-1"), msg(HOUR, "out", external_id="x-2")]
    ingest(store, batch)
    before = (store.counts(), store.list_cases(), store.case_events(1))
    counts = ingest(store, batch)
    assert (counts.new_messages, counts.duplicates, counts.new_cases) == (0, 2, 0)
    assert (store.counts(), store.list_cases(), store.case_events(1)) == before


def test_a_repeated_message_within_one_batch_is_stored_once(store):
    counts = ingest(store, [msg(0, external_id="dup"), msg(0, external_id="dup")])
    assert (counts.new_messages, counts.duplicates) == (1, 1)


def test_same_external_id_on_two_platforms_is_two_messages(store):
    counts = ingest(store, [msg(0, platform="x", external_id="42"), msg(0, platform="facebook", external_id="42")])
    assert counts.new_messages == 2


def test_our_first_message_opens_a_pending_case_owned_by_its_agent(store):
    ingest(store, [msg(0, "out", agent="sanne")])
    [case] = cases_of(store)
    assert (case["status"], case["owner"]) == ("pending", "sanne")


def test_a_late_delivered_message_joins_as_history_without_moving_the_status(store):
    ingest(store, [msg(0), msg(HOUR, "out")])
    ingest(store, [msg(30 * MINUTE)])  # older than our reply: delivered late
    [case] = cases_of(store)
    assert case["status"] == "pending" and case["message_count"] == 3
    assert case["last_message_at"] == T0 + HOUR


def test_out_of_order_batch_is_threaded_in_time_order(store):
    ingest(store, [msg(HOUR * 2), msg(HOUR, "out"), msg(0)])
    [case] = cases_of(store)
    assert case["status"] == "open" and case["last_message_at"] == T0 + 2 * HOUR


def test_author_details_are_updated_but_unknown_fields_never_erase(store):
    first = msg(0)
    later = msg(HOUR)
    later.author_followers = 5000
    later.author_name = None
    ingest(store, [first])
    ingest(store, [later])
    author = store.db.query("SELECT name, followers FROM authors").__next__()
    assert author == {"name": "Anna", "followers": 5000}


def test_full_text_search_finds_cases_by_word_and_phrase(store):
    ingest(store, [msg(0, text="Mijn wifi doet het niet"), msg(60, author="bram", text="Pakket kwijt")])

    def found(*words):
        return [row.author_handle for row in store.page_cases(CaseQuery(text=words), SORTS["recent"])]

    assert found("wifi") == ["@anna"]
    assert found("doet het") == ["@anna"] and found("het doet") == []  # a phrase keeps its order
