"""Tests for the demo traffic generator: determinism, format, ordering and realism."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from webcare_tui.connectors.demo_traffic import AGENTS, PLATFORMS, LiveTraffic, generate_history
from webcare_tui.ingest import ingest
from webcare_tui.message_format import parse_message

AMS = ZoneInfo("Europe/Amsterdam")
END = datetime(2026, 11, 25, 17, 30, 0, tzinfo=AMS)
DAYS = 4
FIELDS = {
    "platform", "account", "external_id", "author_id", "author_handle", "author_name", "author_followers",
    "author_type", "text", "created_at", "direction", "visibility", "in_reply_to", "agent", "url", "language",
}
AUTHOR_TYPES = {"customer", "influencer", "press", "employee", "bot"}


@pytest.fixture(scope="module")
def history() -> list[dict]:
    return list(generate_history(42, END, DAYS, 400))


def _at(message: dict) -> datetime:
    return datetime.fromisoformat(message["created_at"])


def _author(message: dict) -> tuple[str, str]:
    return message["platform"], message["author_id"]


# --------------------------------------------------------------------------- history


def test_history_is_deterministic_per_seed(history):
    again = list(generate_history(42, END, DAYS, 400))
    assert again == history
    other = list(generate_history(43, END, DAYS, 400))
    assert other != history
    assert {m["text"] for m in other} != {m["text"] for m in history}


def test_history_size_follows_conversations_per_day(history):
    conversations = sum(1 for m in history if m["direction"] == "in" and m["in_reply_to"] is None)
    assert 3 * 400 < len(history) < 5 * 400 * DAYS
    assert 0.8 * 400 * DAYS < sum(1 for m in history if m["direction"] == "out") + conversations
    assert len(list(generate_history(42, END, 0, 400))) == 0


def test_every_message_has_exactly_the_normalized_fields(history):
    for m in history:
        assert set(m) == FIELDS, m
        assert m["platform"] in PLATFORMS
        assert m["account"] == "demo-" + m["platform"]
        assert isinstance(m["external_id"], str) and m["external_id"]
        assert isinstance(m["author_id"], str) and m["author_id"]
        assert isinstance(m["author_handle"], str) and m["author_handle"]
        assert isinstance(m["author_name"], str) and m["author_name"]
        assert isinstance(m["author_followers"], int) and m["author_followers"] >= 0
        assert m["author_type"] in AUTHOR_TYPES
        assert isinstance(m["text"], str) and 20 <= len(m["text"]) <= 280, m["text"]
        moment = _at(m)
        assert moment.tzinfo is not None and moment.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
        assert m["direction"] in ("in", "out")
        assert m["visibility"] in ("public", "private")
        assert m["language"] in ("nl", "de", "en")
        assert m["url"] is None or m["url"].startswith("https://")
        if m["platform"] in ("whatsapp", "messenger"):
            assert m["visibility"] == "private"
        if m["direction"] == "out":
            assert m["agent"] in AGENTS
            assert m["in_reply_to"] is not None
        else:
            assert m["agent"] is None


def test_platform_specific_ids_and_handles(history):
    for m in history:
        platform, eid, handle = m["platform"], m["external_id"], m["author_handle"]
        if platform == "x":
            assert eid.isdigit() and handle.startswith("@") and len(handle) <= 16
        elif platform == "whatsapp":
            assert eid.startswith("wamid.")
            assert handle.startswith("+") and handle[1:] == m["author_id"] and handle[1:].isdigit()
        elif platform == "messenger":
            assert eid.startswith("m_")
            assert m["author_followers"] == 0
        if m["visibility"] == "public":
            assert m["url"] is not None
        if platform == "x" and m["visibility"] == "public" and m["direction"] == "in":
            assert "@Lindeveld" in m["text"]
        if platform == "x" and m["visibility"] == "public" and m["direction"] == "out":
            assert m["text"].startswith(handle + " ") and " ^" in m["text"]


def test_sorted_within_window_and_never_after_end(history):
    moments = [_at(m) for m in history]
    assert moments == sorted(moments)
    assert moments[-1] <= END
    assert moments[0] >= END - timedelta(days=DAYS)
    assert moments[-1] > END - timedelta(hours=2)


def test_an_author_id_names_one_author(history):
    names: dict[tuple[str, str], tuple[str, str]] = {}
    for m in history:
        who = (m["author_handle"], m["author_name"])
        assert names.setdefault(_author(m), who) == who


def test_a_handle_names_one_author_on_its_platform(history):
    """One handle = one author id per platform, in the history and in the live traffic beside it."""
    live = LiveTraffic(42).between(A, A + timedelta(hours=6))
    owners: dict[tuple[str, str], set[str]] = {}
    for m in [*history, *live]:
        owners.setdefault((m["platform"], m["author_handle"]), set()).add(m["author_id"])
    shared = {handle: ids for handle, ids in owners.items() if len(ids) > 1}
    assert not shared
    assert len(owners) > 1000


def test_handles_stay_unique_across_a_long_history():
    """Names repeat among ten thousand authors; the number after the name part keeps their handles apart,
    also where the numbers grow a digit (after the 90th, 990th and 9,990th author)."""
    authors: dict[tuple[str, str], str] = {}
    for m in generate_history(5, END, 20, 800):
        assert authors.setdefault((m["platform"], m["author_handle"]), m["author_id"]) == m["author_id"], m
    assert len(authors) > 10_000


def test_external_ids_are_unique_per_platform(history):
    keys = [(m["platform"], m["external_id"]) for m in history]
    assert len(keys) == len(set(keys))


def test_replies_thread_to_earlier_messages_of_the_same_author(history):
    seen: dict[tuple[str, str], dict] = {}
    answered = 0
    for m in history:
        if m["in_reply_to"] is not None:
            parent = seen.get((m["platform"], m["in_reply_to"]))
            assert parent is not None, "in_reply_to must name an earlier message"
            assert _author(parent) == _author(m)
            assert parent["visibility"] == m["visibility"]
            assert _at(parent) < _at(m)
            if m["direction"] == "out":
                assert parent["direction"] == "in"
            else:
                assert parent["direction"] == "out"
                answered += 1
        seen[(m["platform"], m["external_id"])] = m
    outbound = sum(1 for m in history if m["direction"] == "out")
    assert 0.35 * outbound < answered < 0.9 * outbound


def test_agents_reply_in_the_customers_language(history):
    greetings = {"nl": ("Hoi", "Hey", "Hallo"), "de": ("Hallo", "Hi"), "en": ("Hi", "Hey")}
    for m in history:
        if m["direction"] == "out" and m["visibility"] == "private" and m["author_type"] == "customer":
            assert m["text"].startswith(greetings[m["language"]]), m["text"]


def test_recent_conversations_still_wait_for_an_answer(history):
    answered = {m["in_reply_to"] for m in history if m["direction"] == "out"}
    recent = [m for m in history if m["direction"] == "in" and _at(m) > END - timedelta(minutes=30)]
    assert recent
    assert any(m["external_id"] not in answered for m in recent)


def test_language_platform_and_visibility_mix(history):
    n = len(history)
    languages = Counter(m["language"] for m in history)
    assert 0.45 < languages["nl"] / n < 0.65
    assert 0.12 < languages["de"] / n < 0.30
    assert 0.17 < languages["en"] / n < 0.35
    platforms = Counter(m["platform"] for m in history)
    assert 0.22 < platforms["x"] / n < 0.38
    assert all(platforms[p] / n > 0.08 for p in PLATFORMS)
    private = sum(1 for m in history if m["visibility"] == "private") / n
    assert 0.4 < private < 0.7
    public_x = [m for m in history if m["platform"] == "x"]
    assert {m["visibility"] for m in public_x} == {"public", "private"}


def test_authors_are_mostly_ordinary_customers_and_some_return(history):
    types = Counter(m["author_type"] for m in history)
    assert types["customer"] / len(history) > 0.85
    followers = [m["author_followers"] for m in history if m["author_type"] == "customer" and m["platform"] == "x"]
    assert sorted(followers)[len(followers) // 2] < 1000
    # a returning author opens a new conversation long after an earlier one
    first_seen: dict[tuple[str, str], datetime] = {}
    returned = set()
    for m in history:
        if m["direction"] == "in" and m["in_reply_to"] is None:
            key, moment = _author(m), _at(m)
            if key in first_seen and moment - first_seen[key] > timedelta(hours=12):
                returned.add(key)
            first_seen.setdefault(key, moment)
    assert 0.03 * len(first_seen) < len(returned) < 0.5 * len(first_seen)


def test_customers_come_back_with_a_new_case_after_the_earlier_one_closed(store):
    """Over six weeks about 15 % of the authors have two or three cases: they came back with a new
    matter after their earlier case had closed and could no longer reopen (the default threading rules)."""
    ingest(store, [parse_message(m) for m in generate_history(8, END, 42, 120)])
    per_author = Counter(author for (author,) in store.db.execute("SELECT author_id FROM cases").fetchall())
    several = [author for author, count in per_author.items() if count > 1]
    assert 0.08 * len(per_author) < len(several) < 0.3 * len(per_author)
    assert max(per_author.values()) in (3, 4)
    for author in several[:50]:
        newest, *earlier = store.author_cases(author)
        for case in earlier:
            assert case["status"] == "closed" and case["last_message_at"] + 14 * 86_400 < newest["created_at"]


def test_a_short_history_has_no_second_cases_yet(store):
    """Within two weeks an earlier case still reopens: a customer's message there joins it."""
    ingest(store, [parse_message(m) for m in generate_history(8, END, 14, 80)])
    assert store.db.execute("SELECT count(*) FROM cases").fetchone()[0] == \
        store.db.execute("SELECT count(DISTINCT author_id) FROM cases").fetchone()[0]


def test_peak_hour_busier_than_night(history):
    inbound_hours = Counter(_at(m).astimezone(AMS).hour for m in history if m["direction"] == "in")
    assert inbound_hours[17] > 3 * inbound_hours[3]
    assert inbound_hours[17] >= sorted(inbound_hours.values())[-3]  # among the three busiest hours


def test_texts_vary(history):
    texts = [m["text"] for m in history]
    assert len(set(texts)) > 0.6 * len(texts)
    assert any(ch in text for text in texts for ch in "😩😡🙏📦👍")


def test_history_streams_without_building_everything():
    started = time.perf_counter()
    first = next(iter(generate_history(7, END, 365, 5000)))
    assert time.perf_counter() - started < 2.0
    assert _at(first) >= END - timedelta(days=365)


def test_end_must_be_timezone_aware():
    with pytest.raises(ValueError):
        generate_history(1, datetime(2026, 11, 25, 12, 0), 1)


# --------------------------------------------------------------------------- live traffic

A = datetime(2026, 11, 25, 16, 0, 0, tzinfo=AMS)


def test_live_windows_split_anywhere():
    live = LiveTraffic(42, rate_per_minute=3.0)
    c = A + timedelta(hours=2)
    b = A + timedelta(minutes=47, seconds=13, microseconds=500)
    whole = live.between(A, c)
    assert whole == live.between(A, b) + live.between(b, c)
    assert whole == LiveTraffic(42, rate_per_minute=3.0).between(A, c)
    assert whole != LiveTraffic(7, rate_per_minute=3.0).between(A, c)
    assert live.between(c, A) == []


def test_live_messages_are_new_inbound_messages_in_the_window():
    live = LiveTraffic(42, rate_per_minute=3.0)
    c = A + timedelta(hours=2)
    messages = live.between(A, c)
    assert 250 < len(messages) < 480  # ~3 a minute
    moments = [_at(m) for m in messages]
    assert moments == sorted(moments)
    assert all(A <= moment < c for moment in moments)
    for m in messages:
        assert set(m) == FIELDS
        assert m["direction"] == "in" and m["in_reply_to"] is None and m["agent"] is None
        assert 20 <= len(m["text"]) <= 280
        if m["platform"] in ("whatsapp", "messenger"):
            assert m["visibility"] == "private"
    keys = [(m["platform"], m["external_id"]) for m in messages]
    assert len(keys) == len(set(keys))


def test_live_mixes_returning_and_new_authors(history):
    known = {_author(m) for m in history}
    messages = LiveTraffic(42).between(A, A + timedelta(hours=2))
    returning = sum(1 for m in messages if _author(m) in known)
    assert 0.15 * len(messages) < returning < 0.5 * len(messages)
    history_ids = {(m["platform"], m["external_id"]) for m in history}
    assert not history_ids & {(m["platform"], m["external_id"]) for m in messages}


def test_customer_answer(history):
    live = LiveTraffic(42)
    at = END + timedelta(minutes=5)
    replies = [m for m in history if m["direction"] == "out"][:300]
    answers = [live.customer_answer(reply, at) for reply in replies]
    assert answers == [LiveTraffic(42).customer_answer(reply, at) for reply in replies]
    given = [(reply, answer) for reply, answer in zip(replies, answers) if answer is not None]
    assert 0.45 * len(replies) < len(given) < 0.75 * len(replies)
    ids = set()
    for reply, answer in given:
        assert set(answer) == FIELDS
        assert answer["direction"] == "in" and answer["agent"] is None
        assert answer["in_reply_to"] == reply["external_id"]
        for field in ("platform", "account", "author_id", "author_handle", "author_name", "visibility", "language"):
            assert answer[field] == reply[field], field
        assert _at(answer) == at
        assert 20 <= len(answer["text"]) <= 280
        ids.add((answer["platform"], answer["external_id"]))
    assert len(ids) == len(given)
    assert not ids & {(m["platform"], m["external_id"]) for m in history}
    assert live.customer_answer(next(m for m in history if m["direction"] == "in"), at) is None
