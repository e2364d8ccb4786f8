"""The search language against hostile input (issue 13): any text gives a query whose SQL runs,
or a plain `QueryError`; dates, ages and priorities stay within what a date and SQLite can hold."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from conftest import T0, msg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from webcare_tui.case_query import KEYS, MAX_LENGTH, MAX_TERMS, CaseQuery, QueryError, parse_query
from webcare_tui.ingest import ingest
from webcare_tui.store.inbox import default_sort

NOW = float(T0)
SQLITE_MAX = 2**63 - 1


def _start_of(day: date) -> int:
    return int(datetime.combine(day, time.min).astimezone().timestamp())


@pytest.mark.parametrize(("text", "before", "after"), [
    ("after:0001-01-01", None, date(2000, 1, 1)), ("before:0001-01-01", date(2000, 1, 1), None),
    ("after:9999-12-31", None, date(9998, 12, 31)), ("before:9999-12-31", date(9998, 12, 31), None),
    ("before:0001-01-01 after:9999-12-31", date(2000, 1, 1), date(9998, 12, 31)),
])
def test_dates_at_the_ends_of_the_calendar_are_held_to_2000_and_9998(store, text, before, after):
    # before: OverflowError from datetime.combine(date.max, time.max).astimezone() killed the console
    query = parse_query(text, me="tim", now=NOW)
    assert query.active_before == (None if before is None else _start_of(before))
    assert query.active_after == (None if after is None else _start_of(after + timedelta(days=1)) - 1)  # its end
    store.count_cases(query)


def test_a_date_in_range_means_what_it_says():
    query = parse_query("before:2026-11-01 after:2026-10-01", me="tim", now=NOW)
    assert query.active_before == _start_of(date(2026, 11, 1))
    assert query.active_after == _start_of(date(2026, 10, 2)) - 1  # the end of 1 October


@pytest.mark.parametrize(("text", "problem"), [
    ("age:>99999999999999999999999d", "age:"),  # was a number SQLite cannot hold
    ("age:>" + "9" * 4000 + "w", "age:"),  # a number no SQLite integer holds
    ("age:>36501d", "at most 100 years"),
    ("age:>²h", "age:"),
    ("priority:>=99999999999999999999", "priority:"),  # was OverflowError in the SQL
    ("priority:²", "priority:"),  # was ValueError: '²'.isdigit() but int('²') fails
    ("x " * (MAX_TERMS + 1), f"at most {MAX_TERMS} terms"),
    ("label:a " * 500, "terms"),  # was 'Expression tree is too large' from SQLite
    ("a" * (MAX_LENGTH + 1), "characters"),
    ('"open', "not closed"),
    ("wifi \\", "not closed"),
    ("after:morgen", "YYYY-MM-DD"),
], ids=lambda value: value[:24] if isinstance(value, str) else str(value))
def test_numbers_beyond_the_bounds_are_a_plain_error(text, problem):
    with pytest.raises(QueryError, match=problem):
        parse_query(text, me="tim", now=NOW)


def test_an_age_of_up_to_100_years_and_a_small_priority_still_work(store):
    query = parse_query("age:>36500d priority:>=2", me="tim", now=NOW)
    assert query.active_before == int(NOW) - 36500 * 86_400 and query.min_priority == 2
    assert store.count_cases(query) == 0


# --- any text ----------------------------------------------------------------------------------

_plain = st.text(st.characters(exclude_characters="\"'\\"), max_size=12)  # quotes come on their own
_values = st.one_of(
    _plain,
    st.builds(lambda sign, number, unit: f"{sign}{number}{unit}", st.sampled_from(["", "<", ">", ">="]),
              st.one_of(st.integers(min_value=0, max_value=10**6), st.integers(min_value=2**62, max_value=10**40)),
              st.sampled_from(["", "m", "h", "d", "w"])),
    st.dates().map(date.isoformat),  # year 1 to 9999
    st.sampled_from(["0001-01-01", "9999-12-31", "1999-12-31", "2000-01-01"]),
    st.sampled_from(["open,new", "yes", "no", "me", "negative", "press", "-1", "1e999", "nan", "０１", "٣", "²"]),
)
_keyed = st.builds(lambda neg, key, value: f"{neg}{key}:{value}", st.sampled_from(["", "!"]), st.sampled_from(KEYS),
                   _values)
_term = st.one_of(
    _keyed,
    _plain,
    st.sampled_from(['"', "'", "\\", "\x00", "[/b]", "\x1b]0;x\x07", "NEAR(", "*", "assigned", "!assigned", '"a b"']),
)
_queries = st.one_of(
    st.lists(_keyed, min_size=1, max_size=4).map(" ".join),
    st.lists(_term, min_size=1, max_size=8).map(" ".join),
    st.text(max_size=200),
)


@pytest.fixture(scope="module")
def searched_store(tmp_path_factory):
    from webcare_tui.store import Store

    with Store(tmp_path_factory.mktemp("query") / "webcare.db") as opened:
        ingest(opened, [msg(0, author="anna", text="wifi kapot"), msg(60, author="bram", text="pakket")])
        yield opened


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_queries, now=st.integers(min_value=946_684_800, max_value=253_402_300_799))
@example(text="after:0001-01-01", now=T0)  # the ones seen to crash the console, always tried
@example(text="priority:>=99999999999999999999", now=T0)
@example(text="age:>99999999999999999999d", now=T0)
@example(text="label:a " * 500, now=T0)
def test_any_text_is_a_query_whose_sql_runs_or_a_plain_error(searched_store, text, now):
    try:
        query = parse_query(text, me="tim", now=now)
    except QueryError as error:
        assert str(error) and "\n" not in str(error)
        return
    assert isinstance(query, CaseQuery)
    for number in (query.active_before, query.active_after, query.min_priority):
        assert number is None or -SQLITE_MAX <= number <= SQLITE_MAX
    searched_store.count_cases(query)
    searched_store.page_cases(query, default_sort(query))


@pytest.mark.parametrize("text", ["label:\udcff", "\ud800", 'author:"x\udc80"'])
def test_bytes_that_are_not_utf8_are_a_plain_error(text):
    """A command line's undecodable bytes arrive as half surrogate pairs, which SQLite cannot bind."""
    with pytest.raises(QueryError, match="not UTF-8"):
        parse_query(text, me="tim", now=NOW)
