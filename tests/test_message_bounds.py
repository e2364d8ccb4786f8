"""The message boundary (issue 13): every line and every connector's message is held to explicit
ranges (time, counts, nesting, line and field length, text size); what is outside is rejected with
the reason, alone, or (a long text) cut with a visible mark."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from conftest import T0, msg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webcare_tui.bulk import import_jsonl
from webcare_tui.config import Account
from webcare_tui.connectors.base import Connector, FetchResult, OutgoingReply, SentReply
from webcare_tui.connectors.mastodon import parse_status
from webcare_tui.message_format import (
    AHEAD,
    DEPTH_LIMIT,
    EARLIEST,
    FIELD_LIMIT,
    LINE_LIMIT,
    MAX_INTEGER,
    TEXT_LIMIT,
    InvalidMessage,
    check_messages,
    cut_text,
    message_to_dict,
    parse_line,
    parse_message,
    read_jsonl,
)
from webcare_tui.model import AUTHOR_TYPES, Message
from webcare_tui.sync import SyncRunner

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc).timestamp()  # the injected clock
BASE = {
    "platform": "x", "account": "brand-x", "external_id": "1861", "author_id": "42", "author_handle": "@anna",
    "author_followers": 120, "text": "Waar blijft mijn pakket?", "created_at": "2026-11-25T17:03:12+01:00",
    "direction": "in", "visibility": "public",
}
STRING_FIELDS = ("platform", "account", "external_id", "author_id", "author_handle", "author_name", "author_type",
                 "in_reply_to", "agent", "url", "language")


def line(**change) -> bytes:
    return json.dumps(BASE | change, ensure_ascii=False).encode() + b"\n"


def judged(raw: bytes | str, now: float = NOW) -> Message | InvalidMessage:
    [(number, item)] = list(read_jsonl([raw], now=now))
    return item


def assert_in_range(message: Message, now: float = NOW) -> None:
    """What the boundary promises of every message it lets through."""
    assert type(message.created_at) is int and EARLIEST <= message.created_at <= int(now) + AHEAD
    assert message.author_followers is None or (
        type(message.author_followers) is int and 0 <= message.author_followers <= MAX_INTEGER)
    assert type(message.text) is str and len(message.text) <= TEXT_LIMIT
    for name in STRING_FIELDS:
        value = getattr(message, name)
        assert value is None or (type(value) is str and len(value) <= FIELD_LIMIT)
    assert message.direction in ("in", "out") and message.visibility in ("public", "private")
    assert message.author_type is None or message.author_type in AUTHOR_TYPES


# --- timestamps ------------------------------------------------------------------------------

@pytest.mark.parametrize("created_at, reason", [
    ("0001-01-01T00:00:00+00:00", "before 2000-01-01"),
    ("0001-01-01T00:30:00+01:00", "before 2000-01-01"),
    ("1999-12-31T23:59:59Z", "before 2000-01-01"),
    ("1970-01-01T00:00:00Z", "before 2000-01-01"),
    ("9999-12-31T23:59:59+00:00", "more than a day in the future"),
    ("9999-12-31T23:59:59-23:59", "more than a day in the future"),
    ("2026-12-07T12:00:01Z", "more than a day in the future"),  # NOW + 1 day + 1 s
])
def test_a_time_out_of_range_is_rejected_with_the_reason(created_at, reason):
    for item in (judged(line(created_at=created_at)), judged(line(created_at=created_at, platform="unseen"))):
        assert isinstance(item, InvalidMessage) and reason in str(item) and created_at[:19] in str(item)
    with pytest.raises(InvalidMessage, match=reason):
        parse_message(BASE | {"created_at": created_at}, now=NOW)


@pytest.mark.parametrize("created_at", ["2000-01-01T00:00:00Z", "2000-01-01T01:00:00+01:00", "2026-12-07T12:00:00Z",
                                        "2026-12-07T13:00:00+01:00"])
def test_the_edges_of_the_time_range_are_accepted(created_at):
    assert isinstance(judged(line(created_at=created_at)), Message)
    assert isinstance(parse_message(BASE | {"created_at": created_at}, now=NOW), Message)


def test_the_clock_is_the_callers():
    tomorrow = line(created_at="2026-12-07T11:00:00Z")
    assert isinstance(judged(tomorrow, now=NOW), Message)
    assert "more than a day in the future" in str(judged(tomorrow, now=NOW - 7200))


# --- numbers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("followers", [2**63, 2**64 - 1, 2**64, 10**30])
def test_a_count_beyond_sqlites_integers_is_rejected(followers):
    raw = line().replace(b'"author_followers": 120', f'"author_followers": {followers}'.encode())
    item = judged(raw)
    assert isinstance(item, InvalidMessage) and "author_followers must be a whole number" in str(item)
    if followers < 2**64:  # larger ones are floats to orjson
        with pytest.raises(InvalidMessage, match="author_followers"):
            parse_message(orjson.loads(raw), now=NOW)


def test_the_largest_sqlite_integer_is_a_count():
    assert judged(line(author_followers=MAX_INTEGER)).author_followers == MAX_INTEGER


# --- nesting ---------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [10, 900, 1_000, DEPTH_LIMIT - 2, DEPTH_LIMIT + 1, 5_000, 200_000])
def test_deep_nesting_is_a_plain_rejection_or_ignored_never_a_crash(depth):
    raw = line()[:-2] + b', "extra": ' + b"[" * depth + b"]" * depth + b"}\n"
    lines = [line(external_id="a"), raw, line(external_id="b")]
    results = list(read_jsonl(lines, now=NOW))
    assert [number for number, _ in results] == [1, 2, 3]
    assert isinstance(results[0][1], Message) and isinstance(results[2][1], Message)
    if depth >= DEPTH_LIMIT:
        assert str(results[1][1]) == f"nested deeper than {DEPTH_LIMIT:,} levels"
    else:  # an unknown field, however nested, is ignored
        assert isinstance(results[1][1], Message)


# --- encodings -------------------------------------------------------------------------------

def test_a_byte_order_mark_at_the_start_of_a_file_is_ignored():
    first, second = b"\xef\xbb\xbf" + line(external_id="1"), line(external_id="2")
    results = list(read_jsonl([first, second], now=NOW))
    assert [(number, item.external_id) for number, item in results] == [(1, "1"), (2, "2")]
    assert judged("\ufeff" + line().decode()).external_id == "1861"  # decoded lines too
    assert "UTF-16" in str(judged("\n".encode("utf-16")[:2] + line()))


# --- size ------------------------------------------------------------------------------------

def test_a_huge_text_is_cut_with_a_visible_mark():
    text = "Mijn pakket. " + "x" * 50_000_000
    for item in (judged(line(text=text)), parse_message(BASE | {"text": text}, now=NOW)):
        assert isinstance(item, Message) and len(item.text) <= TEXT_LIMIT
        assert item.text.startswith("Mijn pakket. xxx") and item.text.endswith("… [cut: 49.9 MB more]")
    again = parse_message(message_to_dict(item), now=NOW)  # a cut text is not cut again
    assert again.text == item.text


def test_cutting_counts_what_was_cut_in_bytes():
    assert cut_text("é" * TEXT_LIMIT) == "é" * TEXT_LIMIT  # at the limit: kept whole
    cut = cut_text("é" * (TEXT_LIMIT + 1))
    assert len(cut) <= TEXT_LIMIT and cut.endswith("… [cut: 66 bytes more]")  # 33 two-byte characters


def test_a_long_text_in_a_short_line_still_fits_and_a_long_field_is_rejected():
    assert judged(line(text="y" * TEXT_LIMIT)).text == "y" * TEXT_LIMIT
    for name in ("author_name", "external_id", "url"):
        item = judged(line(**{name: "n" * (FIELD_LIMIT + 1)}))
        assert isinstance(item, InvalidMessage) and str(item).startswith(f"{name} is 4,097 characters long")
        assert isinstance(judged(line(**{name: "n" * FIELD_LIMIT})), Message)


def test_a_line_longer_than_the_limit_is_rejected_unparsed():
    raw = b" " * (LINE_LIMIT + 1)
    assert str(judged(raw)) == "the line is 67.1 MB long; a line may be at most 64 MiB"


# --- one bad line never takes its batch with it ------------------------------------------------

BAD_LINES = {
    "huge followers": (20, line(external_id="huge", author_followers=2**63), "author_followers"),
    "year 9999": (90, line(external_id="far", created_at="9999-12-31T23:59:59+00:00"), "in the future"),
    "year 1": (150, line(external_id="old", created_at="0001-01-01T00:00:00+00:00"), "before 2000-01-01"),
    "deep": (199, line(external_id="deep")[:-2] + b', "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}\n", "nested"),
}


@pytest.mark.parametrize("kinds", [[kind] for kind in BAD_LINES] + [list(BAD_LINES)], ids=str)
def test_a_bad_line_in_a_batch_leaves_every_good_line_imported(store, tmp_path, kinds) -> None:
    lines = [line(external_id=f"g{number}", author_id=f"a{number % 7}") for number in range(200)]
    for kind in kinds:
        number, raw, _ = BAD_LINES[kind]
        lines[number] = raw
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(lines))  # and a byte-order mark
    rejected: list[tuple[int, str]] = []
    result = import_jsonl(store, [path], on_reject=lambda source, number, reason: rejected.append((number, reason)))
    assert (result.new_messages, result.rejected) == (200 - len(kinds), len(kinds))
    assert [number for number, _ in rejected] == [BAD_LINES[kind][0] + 1 for kind in kinds]
    for kind, (_, reason) in zip(kinds, rejected):
        assert BAD_LINES[kind][2] in reason
    assert store.counts()["messages"] == 200 - len(kinds)


# --- connectors: the same boundary ---------------------------------------------------------

def test_a_connectors_messages_are_held_to_the_same_ranges():
    status = {
        "id": "109", "created_at": "9999-12-31T23:59:59.000Z", "content": "<p>Hallo</p>", "visibility": "public",
        "account": {"id": "7", "acct": "anna@example.social", "followers_count": 2**63},
    }
    far = parse_status(status, account="brand-m", own_id="1")
    huge = parse_status(status | {"id": "110", "created_at": "2026-12-01T10:00:00.000Z"}, account="brand-m",
                        own_id="1")
    fine = parse_status(status | {"id": "111", "created_at": "2026-12-01T10:00:00.000Z",
                                  "account": status["account"] | {"followers_count": 3}}, account="brand-m", own_id="1")
    long = msg(0, text="z" * 100_000)
    kept, refused = check_messages([far, huge, fine, long, msg(10**15 - T0)], now=NOW)
    assert kept == [fine, long] and long.text.endswith("… [cut: 34.5 kB more]")
    assert refused[0].startswith("109: created_at '9999-12-31T23:59:59+00:00' is more than a day in the future")
    assert refused[1].startswith("110: author_followers must be a whole number from 0 to 9,223,372,036,854,775,807")
    assert "created_at 1000000000000000 is more than a day in the future" in refused[2]
    assert "before 2000-01-01" in check_messages([msg(-T0)], now=NOW)[1][0]


class OnePage(Connector):
    platform = "mastodon"

    def __init__(self, page: FetchResult) -> None:
        super().__init__(Account("brand-m", "mastodon"))
        self.page = page

    async def fetch(self, cursor):
        return self.page if cursor is None else FetchResult([], cursor=cursor)

    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        raise NotImplementedError


async def test_a_sync_page_with_one_bad_message_stores_the_rest_and_advances(store):
    huge, far, good = msg(0, external_id="huge"), msg(60, external_id="far"), msg(120, external_id="good")
    huge.author_followers, far.created_at = 2**63, 253402300799  # 9999-12-31
    runner = SyncRunner(store, {"brand-m": OnePage(FetchResult([huge, far, good], cursor="c1"))},
                        clock=lambda: NOW)
    [status] = await runner.sync_once()
    assert (status.state, status.new_messages) == ("online", 1)
    assert store.sync_state("brand-m")["cursor"] == "c1"  # the account is not stuck on the page
    assert [reason.split(":")[0] for reason in status.skipped] == ["huge", "far"]


# --- property-based: any input gives a message in range or a plain error --------------------------

def _offsets() -> st.SearchStrategy[timezone]:
    return st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))


TIMES = st.one_of(
    st.datetimes(timezones=_offsets()).map(datetime.isoformat),
    st.datetimes(min_value=datetime(1999, 12, 30), max_value=datetime(2027, 1, 1), timezones=_offsets()).map(
        lambda moment: moment.isoformat(timespec="seconds")),
    st.text(max_size=30),
    st.integers(),
)
JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        st.text(max_size=20))
JSON = st.recursive(JSON_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                    max_leaves=12)
FIELD_VALUES = {
    "platform": st.one_of(st.sampled_from(["x", "mastodon", "X", ""]), JSON),
    "created_at": TIMES,
    "author_followers": st.one_of(st.none(), st.integers(), st.integers(2**62, 2**66), st.integers(-5, 5), JSON),
    "author_type": st.one_of(st.sampled_from(sorted(AUTHOR_TYPES)), JSON),
    "direction": st.one_of(st.sampled_from(["in", "out"]), JSON),
    "text": st.one_of(st.text(), st.integers(0, 3 * TEXT_LIMIT).map(lambda size: "t" * size), JSON),
    "author_name": st.one_of(st.text(), st.integers(0, 2 * FIELD_LIMIT).map(lambda size: "n" * size), JSON),
    "external_id": st.one_of(st.text(), st.integers(), JSON),
    "in_reply_to": st.one_of(st.none(), st.text(), st.integers(), JSON),
    "extra": JSON,
}
OBJECTS = st.fixed_dictionaries({}, optional=FIELD_VALUES).map(lambda change: BASE | change)


def _fits_64_bits(value) -> bool:
    if isinstance(value, dict):
        return all(_fits_64_bits(item) for item in value.values())
    if isinstance(value, list):
        return all(_fits_64_bits(item) for item in value)
    return not isinstance(value, int) or -(2**63) <= value < 2**64


def _lines(obj) -> list[bytes | str]:
    text = json.dumps(obj, ensure_ascii=False)
    return [text, text.encode(), b"\xef\xbb\xbf" + text.encode()]


HYPOTHESIS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                              HealthCheck.data_too_large])


@HYPOTHESIS
@given(OBJECTS)
def test_any_object_is_a_message_in_range_or_a_plain_error(obj) -> None:
    expected: Message | InvalidMessage
    try:
        expected = parse_message(obj, now=NOW)
        assert_in_range(expected)
    except InvalidMessage as error:
        expected = error
    for raw in _lines(obj):
        item = judged(raw)
        if isinstance(item, Message):
            assert_in_range(item)
        else:
            assert type(item) is InvalidMessage and str(item)
        if _fits_64_bits(obj):  # the same object as a line: the same verdict, about the same field
            assert type(item) is type(expected)  # (orjson reads a larger integer as a float)
            assert str(item).split()[0] == str(expected).split()[0] if isinstance(item, InvalidMessage) \
                else item == expected


@HYPOTHESIS
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300),
                 st.lists(JSON, max_size=3).map(lambda items: json.dumps(items)),
                 OBJECTS.map(lambda obj: json.dumps(obj)[:-1])))  # cut short
def test_any_line_is_a_message_in_range_or_a_plain_error(raw):
    for number, item in read_jsonl([raw, raw], now=NOW):
        assert number in (1, 2)
        if isinstance(item, Message):
            assert_in_range(item)
        else:
            assert type(item) is InvalidMessage and str(item)


@HYPOTHESIS
@given(st.builds(
    Message, platform=st.just("mastodon"), account=st.just("brand-m"), external_id=st.text(min_size=1),
    author_id=st.text(min_size=1), text=st.one_of(st.text(), st.integers(0, 3 * TEXT_LIMIT).map(lambda n: "t" * n)),
    created_at=st.one_of(st.integers(), st.integers(EARLIEST - 5, int(NOW) + AHEAD + 5)),
    direction=st.sampled_from(["in", "out"]), visibility=st.sampled_from(["public", "private"]),
    author_handle=st.one_of(st.none(), st.text()), author_followers=st.one_of(st.none(), st.integers()),
    url=st.one_of(st.none(), st.integers(0, 2 * FIELD_LIMIT).map(lambda n: "u" * n)),
))
def test_any_connector_message_is_kept_in_range_or_refused_with_the_reason(message):
    before = {field.name: getattr(message, field.name) for field in fields(Message)}
    kept, refused = check_messages([message], now=NOW)
    assert len(kept) + len(refused) == 1
    if kept:
        assert_in_range(kept[0])
        assert {name: value for name, value in before.items() if name != "text"} == {
            name: getattr(kept[0], name) for name in before if name != "text"}
    else:
        assert refused[0].startswith(message.external_id[:80]) and ": " in refused[0]


def test_parse_line_is_read_jsonl_for_one_document():
    assert parse_line(line(), now=NOW).external_id == "1861"
    deep = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for raw, reason in ((b"", "the line is empty"), (deep, "nested deeper"), (b"{", "not valid JSON"),
                        (line(created_at="9999-01-01T00:00:00Z"), "future")):
        with pytest.raises(InvalidMessage, match=reason):
            parse_line(raw, now=NOW)


@pytest.mark.parametrize("change, reason", [
    ({"external_id": 10**5000}, "external_id is a number beyond 64 bits"),
    ({"in_reply_to": -(10**5000)}, "in_reply_to is a number beyond 64 bits"),
    ({"platform": 10**5000}, "platform a number beyond 64 bits is not"),
    ({"direction": ["in"] * 10**6}, "direction must be 'in' or 'out', not ['in', 'in', 'in', 'in', 'in', 'in', ...]"),
    ({"visibility": "p" * 10**7}, "visibility must be 'public' or 'private', not 'ppppppppppppppppppppppppp"),
    ({"author_followers": 10**5000}, "author_followers must be a whole number"),
])
def test_a_huge_value_gives_a_short_plain_reason(change, reason):
    with pytest.raises(InvalidMessage) as raised:
        parse_message(BASE | change, now=NOW)
    assert str(raised.value).startswith(reason) and len(str(raised.value)) < 200
