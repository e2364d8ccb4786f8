"""The query language and the inbox's keyset-paged queries."""

from __future__ import annotations

import pytest
from conftest import HOUR, MINUTE, T0, msg

from webcare_tui.case_query import CaseQuery, QueryError, builtin_views, parse_query
from webcare_tui.cases import CaseService
from webcare_tui.ingest import ingest
from webcare_tui.store.inbox import SORTS, default_sort, fts_match


def parse(text):
    return parse_query(text, me="tim", now=T0)


def test_the_query_language():
    q = parse('wifi "geen internet" label:storing !label:spam platform:X author:@anna status:open,new owner:me '
              "!assigned lang:DE age:>2h priority:>=2")
    assert q.text == ("wifi", "geen internet")
    assert (q.labels, q.without_labels, q.platforms) == (("storing",), ("spam",), ("x",))
    assert (q.author, q.statuses, q.owner, q.assigned, q.languages) == ("@anna", ("open", "new"), "tim", False, ("de",))
    assert (q.active_before, q.min_priority) == (T0 - 2 * HOUR, 2)
    assert parse("age:<30m").active_after == T0 - 30 * MINUTE
    assert parse("before:2026-11-01").active_before < parse("after:2026-11-01").active_after


@pytest.mark.parametrize("text, reason", [
    ("colour:red", "unknown search key 'colour'"),
    ("status:done", "status:done — status is one of"),
    ("age:2h", "write age:>2h"),
    ("before:yesterday", "YYYY-MM-DD"),
    ('"open quote', "quote is not closed"),
    ("label:", "needs a value"),
])
def test_bad_queries_say_what_is_wrong(text, reason):
    with pytest.raises(QueryError, match=reason):
        parse(text)


def test_search_syntax_typed_by_an_agent_is_never_fts_syntax():
    assert fts_match(("NEAR(a", 'b"c', "wifi*", "AND", "ok")) == '"NEAR a" "b c" "wifi"* "AND"* "ok"'
    assert fts_match(("-- ;",)) == ""


@pytest.fixture
def inbox(store):
    # anna waits since T0, bram since T0+1h, cees got our reply (pending), dirk is closed
    ingest(store, [msg(0, author="anna", text="mijn wifi is kapot"), msg(HOUR, author="bram", text="pakket kwijt"),
                   msg(2 * HOUR, author="cees"), msg(3 * HOUR, "out", author="cees", agent="sanne"),
                   msg(4 * HOUR, author="dirk"), msg(5 * HOUR, author="anna", text="nog steeds geen wifi")])
    service = CaseService(store, clock=lambda: T0 + 6 * HOUR)
    ids = {row["author_id"]: row["id"] for row in store.list_cases()}
    service.set_status(ids["dirk"], "closed", actor="tim")
    service.assign(ids["bram"], "tim", actor="tim")
    service.label(ids["anna"], "tim", add=["Storing"])
    return ids


def titles(rows):
    return [row.author_handle for row in rows]


def test_views_list_the_right_cases_in_the_right_order(store, inbox):
    views = {view.name: view.query for view in builtin_views("tim")}
    page = lambda q: titles(store.page_cases(q, default_sort(q)))  # noqa: E731
    assert page(views["All open"]) == ["@anna", "@bram"]  # anna waits longest (since T0)
    assert page(views["Mine"]) == ["@bram"]
    assert page(views["Unassigned"]) == ["@anna"]
    assert page(views["Pending"]) == ["@cees"]
    assert page(views["Closed"]) == ["@dirk"]
    assert [store.count_cases(v.query) for v in builtin_views("tim")] == [1, 1, 2, 1, 1]


def test_filters_and_full_text_search(store, inbox):
    assert titles(store.page_cases(parse("label:storing"), SORTS["recent"])) == ["@anna"]
    assert titles(store.page_cases(parse("!label:storing status:new,open"), SORTS["recent"])) == ["@bram"]
    assert titles(store.page_cases(parse("wif"), SORTS["recent"])) == ["@anna"]  # prefix while typing
    assert titles(store.page_cases(parse('"geen wifi"'), SORTS["recent"])) == ["@anna"]
    assert store.page_cases(parse('"wifi geen"'), SORTS["recent"]) == []
    assert titles(store.page_cases(parse("author:bram"), SORTS["recent"])) == ["@bram"]
    later = parse_query("age:>150m", me="tim", now=T0 + 6 * HOUR)  # quiet for 2.5 hours: cees (3h) and bram (1h)
    assert titles(store.page_cases(later, SORTS["recent"])) == ["@cees", "@bram"]
    CaseService(store, clock=lambda: T0).memo(inbox["bram"], "tim", "klant belt terug over de router")
    assert titles(store.page_cases(parse("router"), SORTS["recent"])) == ["@bram"]  # memos are searched too


def test_keyset_pages_cover_every_case_once_and_positions_match(store):
    ingest(store, [msg(i * MINUTE, author=f"a{i % 250}") for i in range(500)])
    query, sort = CaseQuery(statuses=("new",)), SORTS["waiting"]
    seen, after = [], None
    while page := store.page_cases(query, sort, after=after, limit=33):
        seen += page
        after = page[-1].sort_key(sort)
    assert len(seen) == len({row.id for row in seen}) == store.count_cases(query) == 250
    assert [row.waiting_since for row in seen] == sorted(row.waiting_since for row in seen)
    assert store.case_position(query, sort, seen[100].sort_key(sort)) == 100
    assert store.page_cases(query, sort, offset=100, limit=1)[0].id == seen[100].id


def test_the_inbox_row_carries_the_last_message_and_labels(store, inbox):
    [row] = store.case_rows([inbox["anna"]])
    assert (row.last_text, row.labels, row.message_count) == ("nog steeds geen wifi", ("Storing",), 2)
    assert row.waiting_since == T0 and row.last_inbound_at == T0 + 5 * HOUR


def test_views_are_served_by_indexes(store, inbox):
    for view in builtin_views("tim"):
        where, params = store._where(view.query)
        sort = default_sort(view.query)
        plan = " ".join(r[3] for r in store.conn.execute(
            f"EXPLAIN QUERY PLAN SELECT id FROM cases c WHERE {where} ORDER BY c.{sort.column}, c.id LIMIT 100",
            params))
        assert "SCAN c" not in plan, (view.name, plan)


def test_author_type_and_sentiment_filters(store, inbox):
    store.conn.execute("UPDATE authors SET author_type = 'press' WHERE platform_author_id = 'bram'")
    store.conn.execute("UPDATE messages SET sentiment = 0.0")  # what ingest scored, made plain for the test
    store.conn.execute("UPDATE messages SET sentiment = -0.6 WHERE text = 'mijn wifi is kapot'")
    assert titles(store.page_cases(parse("type:press"), SORTS["recent"])) == ["@bram"]
    assert titles(store.page_cases(parse("sentiment:negative"), SORTS["recent"])) == ["@anna"]
    assert store.page_cases(parse("sentiment:positive"), SORTS["recent"]) == []
    with pytest.raises(QueryError, match="type:alien"):
        parse("type:alien")

