"""Provides `act_before`: by when an agent must answer a case, and the words the case screen says
it in (`deadline_words`, `window_words`).

The earlier of the team's service-level deadline (counted from when the customer
started waiting) and the platform's reply window: WhatsApp, Messenger and
Instagram allow free-form replies only within 24 hours of the customer's last
message.
"""

from __future__ import annotations

from webcare_tui.case_rules import OPEN_STATUSES
from webcare_tui.message_format import shown_time
from webcare_tui.platforms import REPLY_WINDOWS

DEFAULT_DEADLINE = 30 * 60
DUE_SOON = 10 * 60  # less left than this before the act-before time: the inbox shows it in yellow
# what a platform with a reply window still allows once it closed: Meta a reply with a message tag
# (HUMAN_AGENT, up to 7 days), WhatsApp only an approved template
AFTER_WINDOW = {"messenger": "a message tag reply", "instagram": "a message tag reply",
                "whatsapp": "an approved template message"}


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


def case_act_before(status: str, platform: str, waiting_since: int | None, last_inbound_at: int | None,
                    deadline: int = DEFAULT_DEADLINE) -> int | None:
    """`act_before` for a case in `status`: only open work has one (closing or setting a case pending
    by hand keeps its `waiting_since`, but then it waits on nobody)."""
    if status not in OPEN_STATUSES:
        return None
    return act_before(platform, waiting_since, last_inbound_at, deadline)


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


def describe_span(seconds: int) -> str:
    """A span of time in words, to the minute: "25 min", "3 h 10 min", "2 d 4 h", "under a minute"."""
    seconds = abs(int(seconds))
    if seconds < 60:
        return "under a minute"
    minutes = seconds // 60
    days, hours, minutes = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def _clock(moment: int, now: int) -> str:
    """A moment as the agent reads it: the time alone today, with the day otherwise."""
    same_day = shown_time(moment, "%Y-%m-%d") == shown_time(now, "%Y-%m-%d")
    return shown_time(moment, "%H:%M" if same_day else "%a %d %b %H:%M")


def deadline_words(due: int, now: int) -> str:
    """"act before 14:30 (in 25 min)", or once it passed "act before 14:30 (25 min late)"."""
    left = due - now
    when = f"in {describe_span(left)}" if left >= 0 else f"{describe_span(left)} late"
    return f"act before {_clock(due, now)} ({when})"


def window_closes(platform: str, last_inbound_at: int | None, visibility: str | None = None) -> int | None:
    """When the platform's reply window for free-form replies closes; None where there is none. On
    Instagram the window is one of direct messages: a public comment (`visibility`) has none."""
    window = REPLY_WINDOWS.get(platform)
    if window is None or last_inbound_at is None or visibility == "public":
        return None
    return last_inbound_at + window


def window_words(platform: str, last_inbound_at: int | None, now: int, visibility: str | None = None) -> str | None:
    """"reply window closes in 3 h 10 min", or "reply window closed 2 h ago: only a message tag
    reply"; None on a platform without a reply window."""
    closes = window_closes(platform, last_inbound_at, visibility)
    if closes is None:
        return None
    if closes > now:
        return f"reply window closes in {describe_span(closes - now)}"
    allowed = AFTER_WINDOW.get(platform)
    return f"reply window closed {describe_span(now - closes)} ago" + (f": only {allowed}" if allowed else "")
