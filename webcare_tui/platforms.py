"""Provides what each platform allows, for replies: length limits and reply windows.

Connectors declare the same in their `Capabilities`; this table serves the demo
(which speaks for several platforms) and the screens before a connector is known.
"""

from __future__ import annotations

# Longest reply each platform accepts (characters).
MAX_REPLY_LENGTH = {"x": 280, "mastodon": 500, "instagram": 1000, "messenger": 2000, "facebook": 8000,
                    "whatsapp": 4096, "telegram": 4096, "matrix": 15000}

# Free-form replies only within this long after the customer's last message (seconds).
REPLY_WINDOWS = {"whatsapp": 24 * 3600, "messenger": 24 * 3600, "instagram": 24 * 3600}

# Platforms where we can like (favourite, react to) a customer's message.
# Instagram's API cannot like comments or messages.
LIKE_PLATFORMS = frozenset({"x", "facebook", "mastodon", "telegram", "matrix", "whatsapp"})
