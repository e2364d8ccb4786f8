"""Provides `act_before`: by when an agent must answer a case.

The earlier of the team's service-level deadline (counted from when the customer
started waiting) and the platform's reply window: WhatsApp, Messenger and
Instagram allow free-form replies only within 24 hours of the customer's last
message.
"""

from __future__ import annotations

from webcare_tui.platforms import REPLY_WINDOWS

DEFAULT_DEADLINE = 30 * 60
DUE_SOON = 10 * 60  # less left than this before the act-before time: the inbox shows it in yellow


def act_before(platform: str, waiting_since: int | None, last_inbound_at: int | None,
               deadline: int = DEFAULT_DEADLINE) -> int | None:
    """The moment the case must be answered by, or None when nobody waits on us."""
    if waiting_since is None:
        return None
    due = waiting_since + deadline
    window = REPLY_WINDOWS.get(platform)
    if window is not None and last_inbound_at is not None:
        due = min(due, last_inbound_at + window)
    return due


def describe_remaining(seconds: int) -> str:
    """Time left in at most five cells: "12m", "3h05", "2d"; late: "-12m", "-3h05", "-2d"."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 3600:
        text = f"{seconds // 60}m"
    elif seconds < 10 * 3600:
        text = f"{seconds // 3600}h{seconds % 3600 // 60:02d}"
    elif seconds < 86_400:
        text = f"{seconds // 3600}h"
    else:
        text = f"{seconds // 86_400}d"
    return sign + text
