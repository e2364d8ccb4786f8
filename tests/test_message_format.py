"""The normalized message format: what is accepted, what is rejected and why."""

from __future__ import annotations

from datetime import datetime

import pytest

from webcare_tui.message_format import InvalidMessage, message_to_dict, parse_message, parse_timestamp, read_jsonl

BASE = {
    "platform": "whatsapp", "account": "brand-wa", "external_id": "wamid.HBgL", "author_id": "31612345678",
    "text": "Hallo 👋", "created_at": "2026-11-25T17:03:12+01:00", "direction": "in", "visibility": "private",
}


@pytest.mark.parametrize("value", [
    "2026-11-25T17:03:12+01:00", "2026-11-25T16:03:12Z", "2026-11-25T16:03:12.250+00:00",
    "2026-03-29T03:30:00+02:00", "2026-11-25T23:59:59-05:00", "2026-11-25T17:00:00+05:30",
])
def test_timestamps_match_the_standard_library(value):
    assert parse_timestamp(value) == int(datetime.fromisoformat(value).timestamp())
    assert parse_timestamp(value) == parse_timestamp(value)  # the cached path agrees with the first


@pytest.mark.parametrize("value, reason", [
    ("2026-11-25T17:03:12", "no UTC offset"),
    ("2026-11-25T17:61:12+01:00", "not an ISO 8601 time"),
    ("2026-11-25T17:03:1x+01:00", "not an ISO 8601 time"),
    ("yesterday", "not an ISO 8601 time"),
    (1764086592, "must be an ISO 8601 string"),
])
def test_bad_timestamps_are_rejected_with_the_reason(value, reason):
    with pytest.raises(InvalidMessage, match=reason):
        parse_timestamp(value)


def test_a_complete_message_round_trips():
    message = parse_message(BASE | {"author_followers": 3, "in_reply_to": 17, "language": "nl"})
    assert (message.platform, message.external_id, message.in_reply_to, message.author_followers) == (
        "whatsapp", "wamid.HBgL", "17", 3)
    again = message_to_dict(message)
    assert parse_message(again) == message


@pytest.mark.parametrize("change, reason", [
    ({"platform": "WhatsApp"}, "platform 'WhatsApp' is not a lowercase name"),
    ({"external_id": "  "}, "external_id is empty"),
    ({"author_id": ["a"]}, "author_id must be a string"),
    ({"text": 5}, "text must be a string"),
    ({"visibility": "friends"}, "visibility must be 'public' or 'private'"),
    ({"author_followers": -1}, "author_followers must be a whole number"),
    ({"author_followers": True}, "author_followers must be a whole number"),
    ({"author_type": "alien"}, "author_type must be one of"),
    ({"url": 7}, "url must be a string"),
    ({"text": None, "account": None}, "missing account, text"),
])
def test_invalid_fields_are_named(change, reason):
    with pytest.raises(InvalidMessage, match=reason):
        parse_message(BASE | change)


def test_read_jsonl_numbers_lines_and_skips_blank_ones():
    lines = [b'{"a": 1}\n', b"\n", b"[1, 2]\n", b"{oops\n"]
    results = [(number, str(item)) for number, item in read_jsonl(lines)]
    assert [number for number, _ in results] == [1, 3, 4]
    assert "missing platform" in results[0][1]
    assert "must be a JSON object" in results[1][1]
    assert "not valid JSON" in results[2][1]


@pytest.mark.parametrize("change", [
    {}, {"in_reply_to": 17}, {"platform": "WhatsApp"}, {"external_id": " 12"}, {"external_id": ""},
    {"author_followers": -3}, {"author_type": "alien"}, {"created_at": "2026-11-25T17:03:12"},
    {"created_at": "2026-11-25T17:03:12Z"}, {"text": None}, {"direction": "out", "agent": "tim"}, {"url": 5},
])
def test_the_fast_line_decoder_judges_exactly_like_parse_message(change):
    import json

    obj = BASE | change
    [(number, from_line)] = list(read_jsonl([json.dumps(obj).encode()]))
    try:
        expected = parse_message(obj)
    except InvalidMessage as error:
        assert isinstance(from_line, InvalidMessage) and str(from_line) == str(error)
    else:
        assert from_line == expected


def test_the_fast_timestamp_path_agrees_with_the_standard_library_on_any_canonical_looking_string():
    from datetime import timedelta, timezone

    from hypothesis import given, settings
    from hypothesis import strategies as st

    offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))
    moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets)
    canonical = moments.map(lambda moment: moment.isoformat(timespec="seconds"))
    # the canonical shape with any characters where the digits and separators go ("17:٠٣:12", "17x03y12")
    shaped = st.tuples(canonical, st.integers(11, 18), st.characters()).map(
        lambda parts: parts[0][:parts[1]] + parts[2] + parts[0][parts[1] + 1:])

    @settings(max_examples=400, deadline=None)
    @given(st.one_of(canonical, shaped))
    def agree(value):
        try:
            expected = int(datetime.fromisoformat(value).timestamp())
        except ValueError:
            with pytest.raises(InvalidMessage):
                parse_timestamp(value)
        else:
            assert parse_timestamp(value) == expected
            assert parse_timestamp(value) == expected  # cached

    agree()
