"""Provides `DemoConnector`: the embedded default, a living webcare inbox with no accounts.

Its first fetch delivers `history_days` of realistic history (six weeks by default: long
enough for customers to come back with a new matter after their earlier case closed, so an
agent meets authors with several cases); every later fetch the live trickle since the
cursor (new customers and regulars writing again), plus customers' answers to replies we
sent, so cases cycle open → pending → open → closed. It goes through the same interface,
sync worker and ingest path as a real connector. Deterministic for a seed and a clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from webcare_tui.config import Account
from webcare_tui.connectors.base import Capabilities, Connector, FetchResult, OutgoingReply, SentReply
from webcare_tui.connectors.demo_traffic import LiveTraffic, generate_history
from webcare_tui.message_format import parse_message
from webcare_tui.model import Message

if TYPE_CHECKING:  # the demo path never needs httpx: it costs ~65 ms of start-up
    import httpx

CATCH_UP_LIMIT = 24 * 3600  # after a long pause, replay at most a day of live traffic
# A pending case closes a week after our last reply and reopens for a week after that (the default
# threading rules), so only a history longer than two weeks holds customers with a second case.
HISTORY_DAYS = 42


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


class DemoConnector(Connector):
    platform = "demo"
    capabilities = Capabilities(max_reply_length=None, private_messages=True, like=True, idempotent_send=True)

    def __init__(self, account: Account, secret: str | None = None, http: httpx.AsyncClient | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(account, secret, http)
        options = account.options
        self.seed = int(options.get("seed", 7))
        self.history_days = float(options.get("history_days", HISTORY_DAYS))
        self.per_day = int(options.get("conversations_per_day", 300))
        self.live = LiveTraffic(self.seed, float(options.get("rate_per_minute", 3.0)))
        self.clock = clock
        self._answers: list[tuple[float, dict[str, Any]]] = []  # customers' answers not yet due
        self.sent: dict[str, SentReply] = {}  # by idempotency key: a repeated send publishes once
        self.liked: list[str] = []

    async def fetch(self, cursor: str | None) -> FetchResult:
        now = int(self.clock())
        if cursor is None:  # ~50,000 messages: made off the event loop, which the console draws on
            return FetchResult(await asyncio.to_thread(self._history, now), cursor=str(now))
        since = max(int(cursor), now - CATCH_UP_LIMIT)
        raw = self.live.between(_moment(since), _moment(now))
        due = [answer for at, answer in self._answers if at <= now]
        self._answers = [(at, answer) for at, answer in self._answers if at > now]
        raw.extend(due)
        return FetchResult([parse_message(item) for item in raw], cursor=str(now))

    def _history(self, now: int) -> list[Message]:
        return [parse_message(item) for item in generate_history(self.seed, _moment(now), self.history_days,
                                                                 self.per_day)]

    async def send_reply(self, reply: OutgoingReply) -> SentReply:
        if reply.idempotency_key in self.sent:
            return self.sent[reply.idempotency_key]
        now = int(self.clock())
        digest = hashlib.sha256(reply.idempotency_key.encode()).hexdigest()[:16]
        external_id = f"demo-{digest}"
        sent = {
            "platform": reply.platform, "account": reply.account, "external_id": external_id,
            "author_id": reply.recipient_id, "text": reply.text, "direction": "out",
            "visibility": reply.visibility, "in_reply_to": reply.in_reply_to,
            "created_at": _moment(now).isoformat(),
        }
        answer = self.live.customer_answer(sent, _moment(now))
        if answer is not None:
            delay = random.Random(external_id).uniform(20, 90)  # customers take a little while
            answer["created_at"] = _moment(now + delay).isoformat()
            self._answers.append((now + delay, answer))
        self.sent[reply.idempotency_key] = SentReply(external_id=external_id, created_at=now)
        return self.sent[reply.idempotency_key]

    async def like(self, external_id: str) -> None:
        self.liked.append(external_id)
