"""`clean` and `safe_json`: no text can act on a terminal, hide inside a word or pass for a handle it
is not; emoji stay whole. Property-based (hypothesis) for any input, and by example."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from webcare_tui.safe_text import BIDI_CONTROLS, INVISIBLE, clean, looks_like_another, safe_json, unsafe_link

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064\u034f\u3164\u115f\u1160\uffa0"
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
EMOJI = ["👨\u200d👩\u200d👧", "🏳\ufe0f\u200d🌈", "👩🏽\u200d💻", "❤\ufe0f\u200d🔥", "1\ufe0f\u20e3", "🐈\u200d⬛",
         "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", "🇳🇱", "👍🏻"]
# the pieces an attacker builds with, mixed into arbitrary text so the search finds them often
NASTY = ["\x1b", "\x1b[", "\x1b]0;", "\x07", "\x1b\\", "\x9b", "\x9d", "\x90", "\x9c", "@", "\uff20", "\ufe0f", "\ufe0e",
         "\U000e0100", "\U000e0067", "\U000e007f", "🏴", "\u20e3", "\ud800", "\udfff", "\t", "a", "а", " ", "\u00a0",
         "\u2800", "⚠", "\ufffd", *BIDI, *ZERO_WIDTH, *LINE_BREAKS, *EMOJI]
texts = st.text(max_size=60) | st.lists(st.one_of(st.characters(), st.sampled_from(NASTY + ["x", "1", "山", "_", "."])),
                                        max_size=40).map("".join)

HYPOTHESIS = settings(max_examples=400, database=None, deadline=None)
CONTROL = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]}


def _emoji_like(char: str) -> bool:
    return ord(char) > 0x7F and (unicodedata.category(char) in ("So", "Sm", "Sk") or char in "‼⁉ℹ〰〽")


def assert_terminal_safe(out: str, *, newlines: bool) -> None:
    allowed = {"\n"} if newlines else set()
    assert not (set(out) & CONTROL) - allowed, repr(out)  # no C0/C1 control, so no ESC either
    assert not set(out) & set(BIDI), repr(out)
    assert not any(0xD800 <= ord(char) <= 0xDFFF for char in out), repr(out)
    for at, char in enumerate(out):
        if char == "\u200d":  # kept only inside an emoji: between two pictographs
            before = out[at - 2] if at >= 2 and out[at - 1] == "\ufe0f" else out[at - 1: at]
            assert before and _emoji_like(before) and _emoji_like(out[at + 1: at + 2] or "x"), repr(out)
        elif char in "\ufe0e\ufe0f":  # kept only after an emoji or a keycap's digit
            assert at and (_emoji_like(out[at - 1]) or out[at + 1: at + 2] == "\u20e3"
                           or unicodedata.name(out[at - 1], "").startswith("CJK")), repr(out)
        elif 0xE0000 <= ord(char) <= 0xE0FFF and not 0xE0100 <= ord(char) <= 0xE01EF:  # tags: a flag's only
            assert "🏴" in out and "\U000e007f" in out, repr(out)
        elif unicodedata.category(char) == "Cf":
            raise AssertionError(f"format character {ord(char):04X} left in {out!r}")
    assert not set(out) & {"\u2060", "\ufeff", "\u00ad", "\u200b", "\u200c", "\u3164", "\u115f", "\u1160"}


@HYPOTHESIS
@given(texts)
@example("\x1b]0;pwned\x07title")
@example("@an\u200bna")
def test_any_text_is_safe_for_a_terminal(text):
    out = clean(text)
    assert_terminal_safe(out, newlines=True)
    assert "\t" not in out


@HYPOTHESIS
@given(texts)
def test_a_single_line_has_no_line_break(text):
    out = clean(text, single_line=True)
    assert_terminal_safe(out, newlines=False)
    assert len(out.splitlines()) <= 1 and "\t" not in out and out == out.strip()


@HYPOTHESIS
@given(texts)
def test_a_handle_has_no_white_space_but_inner_plain_spaces(text):
    out = clean(text, handle=True)
    assert_terminal_safe(out, newlines=False)
    assert all(char == " " or not char.isspace() for char in out) and out == out.strip(" ")


@HYPOTHESIS
@given(texts, st.sampled_from([{}, {"single_line": True}, {"handle": True}]))
def test_cleaning_twice_changes_nothing_more(text, how):
    once = clean(text, **how)
    assert clean(once, **how) == once


@HYPOTHESIS
@given(texts)
@example("@an\u200bna")
@example("@e\x1b[5mvil")
def test_a_handle_is_shown_as_it_is_or_marked(text):
    """Nothing is ever taken out of a handle silently: it shows exactly as it is, or with ⚠ in front."""
    for handle in (text, "@" + text):
        out = clean(handle, handle=True)
        assert out == handle or out.startswith("⚠"), (handle, out)


@pytest.mark.parametrize("control", list(BIDI))
def test_bidi_controls_are_removed(control):
    assert clean(f"abc{control}def{control}") == "abcdef"
    assert clean("total \u202e01$\u202c", single_line=True) == "total 01$"


@pytest.mark.parametrize("invisible", [c for c in ZERO_WIDTH if c != "\u200d"] + ["\u200d"])
def test_zero_width_characters_are_removed_from_words(invisible):
    assert clean(f"pa{invisible}ss{invisible}word") == "password"


def test_every_format_character_unicode_knows_is_taken_out():
    """Guards the hard-coded ranges when Python brings a newer Unicode."""
    import re

    hidden = re.compile(f"[{INVISIBLE}{BIDI_CONTROLS}\u200d]")
    missing = [f"{code:04X}" for code in range(0x110000)
               if unicodedata.category(chr(code)) == "Cf" and not hidden.match(chr(code))]
    assert missing == []


@pytest.mark.parametrize("emoji", EMOJI)
def test_emoji_sequences_stay_whole(emoji):
    assert clean(f"Top! {emoji} dank") == f"Top! {emoji} dank"
    assert clean(f"{emoji}{emoji}", single_line=True) == emoji * 2


def test_joiners_and_selectors_outside_emoji_are_removed():
    assert clean("an\u200dna a\ufe0fb \ufe0f👍 山\U000e0100") == "anna ab 👍 山\U000e0100"
    assert clean("🏴\U000e0067\U000e0062 ok") == "🏴 ok"  # tags without the cancel tag: no flag


@pytest.mark.parametrize(("handle", "shown"), [
    ("@an\u200bna", "⚠@an�na"),  # zero-width space: marked where it was
    ("@anna\u200b", "⚠@anna�"),
    ("\u2066@anna\u2069", "⚠�@anna�"),
    ("@\u0430nna", "⚠@\u0430nna"),  # Cyrillic а among Latin letters
    ("@\u0430\u0441\u0435", "⚠@\u0430\u0441\u0435"),  # all Cyrillic, all lookalikes: passes for @ace
    ("@ａｎｎａ", "⚠@ａｎｎａ"),  # fullwidth
    ("@𝐚𝐧𝐧𝐚", "⚠@𝐚𝐧𝐧𝐚"),  # mathematical bold
    ("@\u0251nna", "⚠@\u0251nna"),  # Latin alpha for a
    ("@e\x1b[5mvil", "⚠@evil"),  # an escape sequence: taken out, flagged
    ("@anna\u00a0", "⚠@anna�"),  # no-break space at the end
    (" @anna", "⚠�@anna"),
    ("@anna", "@anna"), ("@josé", "@josé"), ("@Анна", "@Анна"), ("@山田taro", "@山田taro"),
    ("@anna@mastodon.social", "@anna@mastodon.social"), ("@tim:matrix.org", "@tim:matrix.org"),
    ("Zoë de Vries", "Zoë de Vries"), ("", ""),
])
def test_a_handle_shows_what_it_really_is(handle, shown):
    assert clean(handle, handle=True) == shown


def test_mentions_in_any_text_are_marked_too():
    assert clean("Hoi @an\u200bna, bel @klm_supp\u043ert!") == "Hoi ⚠@an�na, bel ⚠@klm_supp\u043ert!"
    assert clean("\u200b@\u0430nna", single_line=True) == "⚠@\u0430nna"
    assert clean("mail anna@ex\u0430mple.com") == "mail anna@ex\u0430mple.com"  # an address, not a mention
    assert clean("bel @anna of @tim") == "bel @anna of @tim"


def test_looks_like_another():
    assert not looks_like_another("@anna_1984") and not looks_like_another("@ΑθήναΠόλη")
    assert looks_like_another("@pаypal") and looks_like_another("@ΑΒΕ")


def test_line_breaks_and_tabs():
    assert clean("a\r\nb\rc\u2028d\x85e\x0bf") == "a\nb\nc\nd\ne\nf"
    assert clean("a\tb") == "a   b" and clean("a\tb\nc", single_line=True) == "a b c"


def test_half_a_surrogate_pair_cannot_break_printing():
    assert clean("x\udcffy") == "xy" and clean("@x\udcffy", handle=True) == "⚠@x\ufffdy"


@HYPOTHESIS
@given(st.recursive(st.none() | st.booleans() | st.integers() | texts,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
                    max_leaves=12))
def test_json_keeps_every_string_and_escapes_what_could_act(data):
    out = safe_json(data)
    # as JSON itself gives them back: two lone surrogates that form a pair read as one character
    assert json.loads(out) == json.loads(json.dumps(data))
    assert not set(out) & (CONTROL - {"\n"}) and not set(out) & set(BIDI + ZERO_WIDTH + "\u2028\u2029")
    assert not any(0xD800 <= ord(char) <= 0xDFFF or 0xE0000 <= ord(char) <= 0xE0FFF for char in out)
    out.encode("utf-8")


def test_json_escapes_c1_controls():
    assert safe_json({"name": "\x9b31mtim\u202e"}, indent=None) == '{"name": "\\u009b31mtim\\u202e"}'
    assert safe_json("\U000e0067") == '"\\udb40\\udc67"'


@pytest.mark.parametrize(("url", "refused"), [
    ("https://example.com/order?id=1", None), ("HTTP://example.com", None),
    ("file:///etc/passwd", "a file: link could open a file or a program"),
    ("javascript:alert(1)", "a javascript: link"), ("slack://open", "a slack: link"),
    ("example.com/x", "this link has no scheme"),
    ("https://exa mple.com", "spaces or control characters"), ("https://example.com/\x1b]8;;", "control characters"),
    ("https://example.com/\x9b", "control characters"),
])
def test_only_plain_http_links_may_open_in_a_browser(url, refused):
    said = unsafe_link(url)
    assert said is None if refused is None else refused in (said or "")
