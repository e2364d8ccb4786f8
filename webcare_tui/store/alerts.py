"""Provides `AlertQueries`: the store's SQL behind alerts (deadlines, loud negative voices, spikes)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from webcare_tui.case_rules import WAITS_ON_US

LIMIT = 200  # negative voices of the last minutes: more than this helps nobody (deadlines have no limit)


class AlertQueries:
    """Mixed into `Store`; reads through the calling thread's own reader (`_read`: alerts are checked in the background)."""

    conn: sqlite3.Connection

    if TYPE_CHECKING:  # provided by `InboxQueries`
        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def cases_waiting_since(self, latest: int) -> list[dict[str, Any]]:
        """Every case that waits on us since `latest` or earlier, longest first: all of them, a case
        overdue is an alert until it is answered (1,336 rows in ~15 ms on the 1M-message bench store)."""
        return self._read(
            "SELECT c.id, c.platform, c.waiting_since, c.last_inbound_at, a.handle AS author_handle,"
            " a.name AS author_name FROM cases c JOIN authors a ON a.id = c.author_id"
            f" WHERE {WAITS_ON_US.format(row='c')} AND c.waiting_since <= ? AND c.merged_into IS NULL"
            " ORDER BY c.waiting_since, c.id", (latest,))

    def negative_messages(self, since: int, below: float, followers: int) -> list[dict[str, Any]]:
        """Inbound messages since `since` scored below `below` (the analyser's negative), from press or authors with ≥ `followers`."""
        return self._read(
            "SELECT m.id AS message_id, m.case_id, m.platform, m.text, a.handle AS author_handle,"
            " a.name AS author_name, a.followers, a.author_type FROM messages m JOIN authors a ON a.id = m.author_id"
            " WHERE m.created_at >= ? AND m.direction = 'in' AND m.sentiment < ?"
            " AND (a.followers >= ? OR a.author_type = 'press') ORDER BY m.created_at DESC LIMIT ?",
            (since, below, followers, LIMIT))

    def inbound_between(self, start: int, end: int) -> list[dict[str, Any]]:
        """Inbound messages created in [start, end): text, case and the case's labels."""
        rows = self._read(
            "SELECT m.case_id, m.text, (SELECT group_concat(l.name, char(31)) FROM case_labels cl"
            "  JOIN labels l ON l.id = cl.label_id WHERE cl.case_id = m.case_id) AS labels"
            " FROM messages m WHERE m.created_at >= ? AND m.created_at < ? AND m.direction = 'in'"
            " ORDER BY m.created_at", (start, end))
        for row in rows:
            row["labels"] = row["labels"].split("\x1f") if row["labels"] else []
        return rows
