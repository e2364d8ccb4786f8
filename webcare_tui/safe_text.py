"""Provides `clean`: untrusted text (customers', platforms') made safe to show.

Terminal escape sequences (CSI, OSC, DCS…) and C0/C1 control characters are
removed, so a message can never retitle the terminal, move the cursor or hide
text. Rich markup is not this module's business: screens show text as `Text`,
never parse it as markup.
"""

from __future__ import annotations

import re

# ESC-introduced sequences: CSI (ESC [ … final), OSC/DCS/SOS/PM/APC (… BEL or ESC \), two-byte escapes.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|$)"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|[\x9d\x90\x98\x9e\x9f].*?(?:\x07|\x1b\\|\x9c|$)"
    r"|\x1b[@-Z\\-_]?",
    re.DOTALL,
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str, *, single_line: bool = False) -> str:
    """`text` without escape sequences and control characters.

    Args:
        single_line: also turn newlines and tabs into spaces (for list rows).
    """
    text = _CONTROLS.sub("", _ESCAPES.sub("", text))
    if single_line:
        text = " ".join(text.split())
    return text
