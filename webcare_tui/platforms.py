"""Provides what each platform allows, for replies: length limits and reply windows.

Connectors declare the same in their `Capabilities`; this table serves the demo
(which speaks for several platforms) and the screens before a connector is known.
"""

from __future__ import annotations

import re
import unicodedata

# Longest reply each platform accepts (characters). Instagram: a comment takes 2200, a direct
# message 1000; a Facebook comment 8000, a private reply (through Messenger) 2000 (MAX_PRIVATE_REPLY_LENGTH).
MAX_REPLY_LENGTH = {"x": 280, "mastodon": 500, "instagram": 2200, "messenger": 2000, "facebook": 8000,
                    "whatsapp": 4096, "telegram": 4096, "matrix": 15000}

# Where a private reply allows less than a public one.
MAX_PRIVATE_REPLY_LENGTH = {"instagram": 1000, "facebook": 2000}

# Free-form replies only within this long after the customer's last message (seconds).
REPLY_WINDOWS = {"whatsapp": 24 * 3600, "messenger": 24 * 3600, "instagram": 24 * 3600}

# Platforms where we can like (favourite, react to) a customer's message.
# Instagram's API cannot like comments or messages.
LIKE_PLATFORMS = frozenset({"x", "facebook", "mastodon", "telegram", "matrix", "whatsapp"})


# --- X's weighted length (twitter-text configuration v3) ---------------------------------------

_LIGHT = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))  # count 1, the rest 2
URL_LENGTH = 23  # every link is shortened to a t.co link of this length
URL_PATTERN = re.compile(
    r"https?://\S+|(?<![\w@.-])(?:[a-z0-9-]+\.)+(?:com|net|org|nl|de|be|eu|io|co|uk|fr|info|app|shop)\b(?:/\S*)?",
    re.IGNORECASE)
_EMOJI_PARTS = {0x200D, 0xFE0E, 0xFE0F, 0x20E3}  # joiners and presentation selectors inside an emoji


def _is_emoji(code: int) -> bool:
    return 0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF


def _weigh(text: str) -> int:
    total = 0
    in_emoji = False  # the previous character was (part of) an emoji
    joining = False  # ... and a zero-width joiner followed it
    flag_half = False  # the previous character was the first regional indicator of a flag
    for char in text:
        code = ord(char)
        if in_emoji and (code in _EMOJI_PARTS or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F):
            joining = code == 0x200D  # skin tones, selectors and tags belong to the emoji before them
            continue
        if joining and _is_emoji(code):  # the next part of a ZWJ sequence: one emoji in all
            joining = False
            continue
        joining = False
        in_emoji = _is_emoji(code)
        regional = 0x1F1E6 <= code <= 0x1F1FF
        if regional and flag_half:  # the second half of a flag
            flag_half = False
            continue
        flag_half = regional
        total += 1 if any(start <= code <= end for start, end in _LIGHT) else 2
    return total


def weighted_length(text: str) -> int:
    """The length X counts for a post: links 23, emoji 2, CJK and other heavy characters 2, the rest 1.

    An approximation of twitter-text v3 (X's own counter): it recognises http(s) links and
    bare domains of common top-level domains, and emoji sequences joined by ZWJ.
    """
    text = unicodedata.normalize("NFC", text)
    total, position = 0, 0
    for match in URL_PATTERN.finditer(text):
        total += _weigh(text[position:match.start()]) + URL_LENGTH
        position = match.end()
    return total + _weigh(text[position:])


def reply_length(platform: str, text: str) -> int:
    """The length the platform counts: X weighs links, emoji and CJK; elsewhere characters."""
    return weighted_length(text) if platform == "x" else len(text)
