"""Provides `NotifyQueries`: the store's SQL behind alerts that leave the console (`notify.py`).

One `notify_queue` row per channel and alert key (migration 16) is the dedupe: an alert is queued
for a channel once, ever, and its state says whether it went out. Rule alerts are read from the
case events a routing rule with `alert = "…"` wrote at ingest.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from webcare_tui.store.sql import chunks

RULE_ALERTS_LIMIT = 500  # rule alerts read per check, newest first: a storm of them is summarised anyway


class NotifyQueries:
    """Mixed into `Store`; writes inside the store's transactions, reads through the caller's own reader."""

    conn: sqlite3.Connection

    if TYPE_CHECKING:  # provided by `Store` and `InboxQueries`
        def transaction(self, *, bulk: bool = False) -> AbstractContextManager[None]: ...
        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def notify_enqueue(self, rows: Iterable[tuple[str, str, str, str, str, int | None]], now: int) -> int:
        """Queue (channel, alert key, kind, severity, text, case id) rows; a key the channel had
        already is left as it is. Returns how many were new."""
        with self.transaction():
            before = self.conn.total_changes
            self.conn.executemany(
                "INSERT OR IGNORE INTO notify_queue (channel, alert_key, kind, severity, text, case_id, next_at,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ((*row, now, now) for row in rows))
            return self.conn.total_changes - before

    def notify_due(self, channel: str, now: int) -> list[dict[str, Any]]:
        """The channel's queued alerts whose time has come, oldest first."""
        return self._rows(
            "SELECT alert_key, kind, severity, text, case_id, attempts, created_at FROM notify_queue"
            " WHERE channel = ? AND state = 'queued' AND next_at <= ? ORDER BY created_at, alert_key",
            (channel, now))

    def notify_in_flight(self, channel: str, now: int | None = None) -> dict[str, list[dict[str, Any]]]:
        """Rows marked 'sending' by batch (the message they went out in), oldest first; with `now`, only
        those whose retry is due."""
        due = "" if now is None else " AND next_at <= ?"
        rows = self._rows(
            "SELECT alert_key, kind, severity, text, case_id, attempts, created_at, batch FROM notify_queue"
            f" WHERE channel = ? AND state = 'sending'{due} ORDER BY created_at, alert_key",
            (channel,) if now is None else (channel, now))
        batches: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            batches.setdefault(row["batch"] or row["alert_key"], []).append(row)
        return batches

    def notify_mark(self, channel: str, keys: Sequence[str], now: int, **fields: Any) -> None:
        """Set `fields` (state, batch, next_at, last_error, sent_at, attempts) on the channel's rows `keys`,
        in one transaction; `attempts=+1` counts one more."""
        sets = []
        params: list[Any] = []
        for name, value in fields.items():
            if name not in ("state", "batch", "next_at", "last_error", "sent_at", "attempts"):
                raise ValueError(f"not a notify_queue field: {name}")
            if name == "attempts":
                sets.append("attempts = attempts + ?")
            else:
                sets.append(f"{name} = ?")
            params.append(value)
        if not sets or not keys:
            return
        with self.transaction():
            for part in chunks(keys):
                self.conn.execute(
                    f"UPDATE notify_queue SET {', '.join(sets)} WHERE channel = ?"
                    f" AND alert_key IN ({','.join('?' * len(part))})", (*params, channel, *part))

    def notify_messages_since(self, channel: str, since: int) -> int:
        """How many messages the channel sent since `since` (a batch of alerts is one message)."""
        rows = self._rows("SELECT count(DISTINCT coalesce(batch, alert_key)) AS n FROM notify_queue"
                          " WHERE channel = ? AND state = 'sent' AND sent_at >= ?", (channel, since))
        return rows[0]["n"]

    def notify_rows(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Every row (of one channel), for `watch --status` and tests."""
        where, params = (" WHERE channel = ?", (channel,)) if channel else ("", ())
        return self._rows("SELECT * FROM notify_queue" + where + " ORDER BY created_at, channel, alert_key", params)

    def rule_alert_events(self, since: int) -> list[dict[str, Any]]:
        """Alerts routing rules raised at ingest (case events of kind 'alert') for messages since `since`,
        newest first, with the case's author and the message's text."""
        rows = self._rows(
            "SELECT e.id, e.case_id, e.at, json_extract(e.detail, '$.text') AS alert,"
            " json_extract(e.detail, '$.rule') AS rule, c.platform, a.handle AS author_handle,"
            " a.name AS author_name, (SELECT m.text FROM messages m WHERE m.platform = c.platform"
            "  AND m.external_id = json_extract(e.detail, '$.message')) AS text"
            " FROM case_events e JOIN cases c ON c.id = e.case_id JOIN authors a ON a.id = c.author_id"
            " WHERE e.kind = 'alert' AND e.at >= ? ORDER BY e.at DESC, e.id DESC LIMIT ?",
            (since, RULE_ALERTS_LIMIT))
        return rows
