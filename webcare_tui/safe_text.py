"""Provides `clean`: untrusted text (customers', platforms') made safe to show, and `safe_json`:
JSON that keeps every string exactly and still cannot act on a terminal.

Every text that reaches a terminal, from the CLI as well as the console, goes through `clean`.
It removes terminal escape sequences (CSI, OSC, DCS…) and C0/C1 control characters, so a message
can never retitle the terminal, move the cursor or hide text; it removes bidi controls and
invisible characters, so text shows in the order it was written and nothing hides inside a word;
and it makes a handle show what it really is (see `clean`). Rich markup is not this module's
business: screens show text as `Text`, never parse it as markup.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

# ESC-introduced sequences: CSI (ESC [ … final), OSC/DCS/SOS/PM/APC (… BEL or ESC \), two-byte escapes;
# and their C1 forms (CSI U+009B, OSC U+009D…).
_ESCAPES = (
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|$)"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x9d\x90\x98\x9e\x9f].*?(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b[@-Z\\-_]?"
)
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but tab and newline, DEL, C1
# Bidi controls: LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM ALM.
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
# Everything else that is drawn as nothing: every format character (Unicode category Cf: zero-width
# space and non-joiner, word joiner, invisible operators, BOM, soft hyphen, interlinear annotation,
# tags…) and the other default-ignorable code points (Hangul fillers, combining grapheme joiner,
# Khmer inherent vowels, Mongolian selectors, the reserved ones). ZWJ and the variation selectors
# are not here: `_keep_joiner` and `_keep_selector` decide about them.
INVISIBLE = (
    "\u00ad\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200c\u2060-\u2065\u206a-\u206f"
    "\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e00ff\U000e01f0-\U000e0fff"
    "\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f\u3164\uffa0\ufff0-\ufff8"
)
ZWJ = "\u200d"
_SELECTORS = "\ufe00-\ufe0f\U000e0100-\U000e01ef"
# A subdivision flag (England, Scotland, Wales): black flag, 1-6 tag letters or digits, cancel tag.
_FLAG = "\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{1,6}\U000e007f"

_LINE_BREAKS = "\r\x0b\x0c\x85\u2028\u2029"  # CR, VT, FF, NEL, line and paragraph separators
_LONE = "\ud800-\udfff"  # half a surrogate pair (from undecodable bytes): cannot even be printed
# What the pattern below starts with: checked first, so text with none of it costs one scan.
_FIRST = f"{_CONTROLS}{_LINE_BREAKS}{BIDI_CONTROLS}{INVISIBLE}{ZWJ}{_SELECTORS}{_LONE}\U0001f3f4"
_HIDDEN = re.compile(
    f"(?=[{_FIRST}])(?:(?P<flag>{_FLAG})|(?P<esc>{_ESCAPES})|(?P<newline>\r\n?|[{_LINE_BREAKS}])|(?P<zwj>{ZWJ})"
    f"|(?P<vs>[{_SELECTORS}])|(?P<lone>[{_LONE}])|(?P<control>[{_CONTROLS}])|[{BIDI_CONTROLS}{INVISIBLE}])",
    re.DOTALL,
)
# Where something was taken out (never left in the result): a character drawn as nothing, which a
# handle shows as �; an escape sequence or control character, which only gets the handle its ⚠.
_GONE, _CUT = "\x00", "\x01"
_TAKEN = _GONE + _CUT
# A mention: @ (or a wide @) up to the next white space; one inside a word (an e-mail address) is not.
_AT = "@\uff20\ufe6b"
_MENTION = re.compile(f"[{_AT}]\\S*")
WARNING = "⚠"  # before a handle that is not what it looks like
HIDDEN_MARK = "\ufffd"  # in a handle, where something that shows as nothing was

_EMOJI_TEXT = "‼⁉ℹ〰〽"  # emoji that Unicode files as punctuation or letters


def _emoji(char: str) -> bool:
    """A pictograph (or modifier) that a ZWJ or an emoji variation selector may follow."""
    return ord(char) > 0x7F and (unicodedata.category(char) in ("So", "Sm", "Sk") or char in _EMOJI_TEXT)


def _keep_joiner(text: str, at: int) -> bool:
    """ZWJ between two emoji (👨‍👩‍👧, 🏳️‍🌈, 👩🏽‍💻) makes one picture: kept. Anywhere else it hides."""
    before = text[at - 1] if at else ""
    if before == "\ufe0f" and at >= 2:
        before = text[at - 2]
    after = text[at + 1: at + 2]
    return bool(before) and bool(after) and _emoji(before) and _emoji(after)


def _keep_selector(text: str, at: int) -> bool:
    """A variation selector right after an emoji (❤️), a keycap's digit (1️⃣) or a CJK ideograph:
    kept, one per character. After a letter, a space or another selector it shows nothing: gone."""
    before = text[at - 1] if at else ""
    if not before:
        return False
    if _emoji(before):
        return True
    if before in "0123456789#*" and text[at: at + 1] in "\ufe0e\ufe0f":
        return text[at + 1: at + 2] == "\u20e3"
    return unicodedata.name(before, "").startswith("CJK")


def _hide(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "flag":
        return match.group()
    if kind == "newline":
        return "\n"
    if kind == "zwj" and _keep_joiner(match.string, match.start()):
        return ZWJ
    if kind == "vs" and _keep_selector(match.string, match.start()):
        return match.group()
    return _CUT if kind in ("esc", "control") else _GONE


# Letters that look like Latin ones, per script: a handle made of these alone (@асе) passes for Latin.
_LOOKALIKES = {
    "CYRILLIC": set("аеорсухіјѕԁԛԝһӏүАВЕКМНОРСТУХЅІЈԚԜҮ"),
    "GREEK": set("αικνορυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"),
    "ARMENIAN": set("օսհոզցւ"),
    "CHEROKEE": set("ᎪᏴᏟᎬᎻᏆᏦᏞᎷᏃᏢᏚᎢᏙᏉᎳᎥᏀᎠᏩ"),
}
# Scripts a real name mixes (Unicode TR39 "highly restrictive"): Latin with Japanese, Chinese or Korean.
_MIXES = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", "HAN", "BOPOMOFO"}),
          frozenset({"LATIN", "HAN", "HANGUL"}))
_SCRIPT_NAMES = {"CJK": "HAN", "IDEOGRAPHIC": "HAN", "KATAKANA-HIRAGANA": "KATAKANA", "ARABIC-INDIC": "ARABIC",
                 "EXTENDED": "ARABIC"}
# Latin letters without an ASCII base letter that are ordinary in European names (not lookalikes).
_LATIN_LETTERS = set("ßøæœðþłđħŋıəĸ")


def _script(char: str) -> str:
    """The script of a letter or digit, from its Unicode name (good enough to tell Latin from Cyrillic)."""
    first = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_NAMES.get(first, first)


def looks_like_another(handle: str) -> bool:
    """True when `handle` can pass for a different one: compatibility forms (ａｎｎａ, 𝐚𝐧𝐧𝐚),
    scripts mixed (Latin with Cyrillic: @аnna), a handle made of lookalikes alone (Cyrillic @асе),
    or a Latin letter that is not an accented ASCII letter (ɑ for a, ɡ for g)."""
    if handle.isascii():
        return False
    if unicodedata.normalize("NFKC", handle) != unicodedata.normalize("NFC", handle):
        return True
    scripts: set[str] = set()
    letters = []
    for char in handle:
        category = unicodedata.category(char)
        if not (category[0] == "L" or category == "Nd") or char.isascii() and not char.isalpha():
            continue
        script = "LATIN" if char.isascii() else _script(char)
        if script == "DIGIT":
            continue
        if script == "LATIN" and not char.isascii():
            base = unicodedata.normalize("NFD", char)[0]
            if not base.isascii() and char.lower() not in _LATIN_LETTERS:
                return True
        scripts.add(script)
        letters.append(char)
    if len(scripts) > 1:
        return not any(scripts <= mix for mix in _MIXES)
    if len(scripts) == 1:
        lookalikes = _LOOKALIKES.get(next(iter(scripts)))
        return lookalikes is not None and all(char in lookalikes for char in letters)
    return False


def _show_handle(handle: str, cut: bool = False) -> str:
    """`handle` (with `_GONE` and `_CUT` where something was taken out) as it really is."""
    shown = handle.replace(_CUT, "")
    visible = shown.replace(_GONE, "")
    taken = cut or len(visible) < len(handle)
    shown = shown.replace(_GONE, HIDDEN_MARK)
    if (taken or looks_like_another(visible)) and not shown.startswith(WARNING):
        return WARNING + shown
    return shown


def _show_mention(match: re.Match[str]) -> str:
    text, at = match.string, match.start() - 1
    while at >= 0 and text[at] in _TAKEN:
        at -= 1
    before = text[at] if at >= 0 else ""  # what shows before it
    if before.isalnum() or before == "_":
        return match.group()
    shown = _show_handle(match.group())
    return shown[1:] if before == WARNING and shown.startswith(WARNING) else shown


def clean(text: str, *, single_line: bool = False, handle: bool = False) -> str:
    r"""`text` safe for a terminal and honest about what it says.

    Always removed: escape sequences, C0 and C1 control characters (newline stays unless
    `single_line`; a tab becomes spaces; CR, CRLF, VT, FF, NEL and U+2028/9 become newlines), bidi
    controls (U+202A–202E, U+2066–2069, U+200E/F, U+061C), characters drawn as nothing (zero-width
    space and non-joiner, word joiner, BOM, soft hyphen, tags, Hangul fillers…) and half surrogate
    pairs (from undecodable bytes: they cannot even be printed). Emoji stay whole: a ZWJ between two
    emoji (👨‍👩‍👧), one variation selector after an emoji, a keycap digit or a CJK ideograph, and a
    subdivision flag's tags (🏴 England) are kept; anywhere else they hide, and are removed.

    Handles: an impersonator must not pass for the customer, a colleague or our own account. A
    handle shows what it really is:
      - where a character drawn as nothing (zero-width, bidi control, filler, odd white space) was
        in it, U+FFFD (�) stands in its place, so `@an\u200bna` and `@ann\u200ba` differ on screen;
      - a handle that had anything taken out (those, an escape sequence, a control character) or
        that can pass for another (`looks_like_another`: letters of another script that look like
        Latin ones, fullwidth or mathematical letters) gets ⚠ in front, where cutting a column short
        cannot lose it: `@an\u200bna` shows as `⚠@an�na`, `@\u0430nna` (Cyrillic а) as `⚠@аnna`,
        `@e\x1b[5mvil` as `⚠@evil`. `@anna`, `@josé` and `@山田taro` show as themselves.
    With `handle=True` this applies to the whole text; in any text it applies to every @-mention
    (@ not inside a word, up to white space), so a message naming `@klm_suppоrt` is marked too.
    A ⚠ the customer typed is harmless: it only makes the handle look less trustworthy.

    Args:
        single_line: also turn newlines and tabs into single spaces (for list rows).
        handle: `text` is one handle (implies `single_line`): besides the hidden characters, white
            space other than an inner plain space is shown as �.
    """
    if handle and text.isascii() and text.isprintable() and " " not in text:
        return text  # the common handle, as the rules below leave it: an alert check cleans 65,000
    text = _HIDDEN.sub(_hide, text)
    if handle:
        cut = _CUT in text
        text = text.replace(_CUT, "")
        text = "".join(_GONE if char.isspace() and char != " " or char == "\u2800" else char for char in text)
        inner = text.strip(" ")  # a space before or after shows as nothing too
        before = len(text) - len(text.lstrip(" "))
        return _show_handle(_GONE * before + inner + _GONE * (len(text) - before - len(inner)), cut)
    if any(at in text for at in _AT):
        text = _MENTION.sub(_show_mention, text)
    text = text.replace(_GONE, "").replace(_CUT, "") if _GONE in text or _CUT in text else text
    if single_line:
        return " ".join(text.split())
    return text.expandtabs(4) if "\t" in text else text


def unsafe_link(url: str) -> str | None:
    """Why a link from a message must not be opened in a browser here, or None when it may: only http
    and https (file:, javascript: or a program's own scheme could open a file or a program on this
    computer), and nothing a browser might read differently from what the agent sees."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        why = f"a {scheme}: link could open a file or a program on this computer" if scheme else "this link has no scheme"
        return f"only http and https links open from here; {why}"
    if any(ord(char) <= 0x20 or 0x7F <= ord(char) <= 0x9F for char in url):
        return "the link has spaces or control characters in it"
    return None


def shown_author(handle: str | None, name: str | None, fallback: str = "") -> str:
    """A customer on one line: the handle as it really is (`clean`'s handle rule), else the name,
    else `fallback`."""
    if handle:
        return clean(handle, handle=True, single_line=True)
    return clean(name or fallback, single_line=True)


_JSON_UNSAFE = re.compile(f"[\x7f-\x9f\u2028\u2029{_LONE}{BIDI_CONTROLS}{INVISIBLE}{ZWJ}{_SELECTORS}]")


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # as JSON spells it: a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def safe_json(data: Any, *, indent: int | None = 2) -> str:
    """`data` as JSON (UTF-8 text, not ASCII) with every control, bidi, invisible and lone surrogate
    character escaped (`\\u009b`, `\\u202e`): the strings come back exactly as they were, and
    printed on a terminal nothing acts or hides."""
    return _JSON_UNSAFE.sub(_json_escape, json.dumps(data, ensure_ascii=False, indent=indent))
