"""Provides `OutboxQueries`: the store's SQL for replies we write, the outbox that delivers them and
the case state a helpdesk platform reported (team mode)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from webcare_tui.store.errors import StoreError


class OutboxQueries:
    """Mixed into `Store` (which provides `conn`, `_rows` and `_reader`)."""

    conn: sqlite3.Connection

    if TYPE_CHECKING:  # provided by `Store` and `InboxQueries`
        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...
        def _reader(self) -> sqlite3.Connection: ...
        def _connection(self) -> sqlite3.Connection: ...
        def recompute_run_starts(self, case_ids: Iterable[int]) -> None: ...

    def reply_context(self, case_id: int) -> dict[str, Any]:
        """What a reply in this case needs: recipient, account, last inbound message."""
        rows = self._rows(
            "SELECT c.platform, c.account, a.platform_author_id AS recipient_id, a.id AS author_row,"
            " m.external_id AS last_inbound_id, m.visibility AS last_inbound_visibility,"
            " m.account AS last_inbound_account"
            " FROM cases c JOIN authors a ON a.id = c.author_id"
            " LEFT JOIN messages m ON m.id = (SELECT id FROM messages WHERE case_id = c.id AND direction = 'in'"
            "  ORDER BY created_at DESC, id DESC LIMIT 1)"
            " WHERE c.id = ?",
            (case_id,),
        )
        if not rows:
            raise StoreError(f"there is no case {case_id}")
        return rows[0]

    def insert_message(self, case_id: int, author_row: int, platform: str, account: str, external_id: str,
                       text: str, created_at: int, direction: str, visibility: str, in_reply_to: str | None,
                       agent: str | None) -> int:
        """One message written by us (call inside a transaction); returns its id."""
        cursor = self.conn.execute(
            "INSERT INTO messages (platform, account, external_id, case_id, author_id, direction, visibility, text,"
            " created_at, in_reply_to, agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (platform, account, external_id, case_id, author_row, direction, visibility, text, created_at,
             in_reply_to, agent),
        )
        message_id = cursor.lastrowid
        assert message_id is not None  # a successful INSERT sets it
        self.conn.execute("INSERT INTO messages_fts (rowid, text) VALUES (?, ?)", (message_id, text))
        self.recompute_run_starts([case_id])  # ours is the last word, as a rule
        return message_id

    def confirm_message(self, message_id: int, external_id: str, url: str | None) -> None:
        """The platform accepted our message: it takes the platform's id."""
        self.conn.execute("UPDATE messages SET external_id = ?, url = coalesce(?, url) WHERE id = ?",
                          (external_id, url, message_id))

    def delete_message(self, message_id: int) -> None:
        row = self._connection().execute("SELECT text, case_id FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is not None:
            self.conn.execute("INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', ?, ?)",
                              (message_id, row[0]))
            self.conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            self.recompute_run_starts([row[1]])

    def add_outbox(self, key: str, case_id: int, account: str, platform: str, kind: str, payload: dict,
                   now: int, state: str = "queued") -> int:
        """A new row: "queued" for the worker, or "awaiting_approval" (a draft the worker never selects)."""
        cursor = self.conn.execute(
            "INSERT INTO outbox (idempotency_key, case_id, account, platform, kind, payload, state, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, case_id, account, platform, kind, orjson.dumps(payload).decode(), state, now, now),
        )
        assert cursor.lastrowid is not None  # a successful INSERT sets it
        return cursor.lastrowid

    def set_outbox_payload(self, outbox_id: int, payload: dict, now: int) -> None:
        """Replace a row's payload (an approved draft gets its message and the lead's text)."""
        self.conn.execute("UPDATE outbox SET payload = ?, updated_at = ? WHERE id = ?",
                          (orjson.dumps(payload).decode(), now, outbox_id))

    def move_drafts(self, source: int, target: int) -> int:
        """Move a case's reply drafts waiting for approval to another case (a merge); returns how many
        wait in `target` now (call inside a transaction)."""
        self.conn.execute("UPDATE outbox SET case_id = ? WHERE case_id = ? AND kind = 'reply'"
                          " AND state = 'awaiting_approval'", (target, source))
        return len(self.case_drafts(target))

    def case_drafts(self, case_id: int, state: str = "awaiting_approval") -> list[dict[str, Any]]:
        """A case's reply drafts in `state` ("awaiting_approval", or "rejected"), oldest first."""
        return self._outbox_rows("o.case_id = ? AND o.kind = 'reply' AND o.state = ?", (case_id, state))

    def _outbox_rows(self, where: str, params: Sequence[Any], limit: int | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT * FROM outbox o WHERE {where} ORDER BY o.id" + (f" LIMIT {int(limit)}" if limit else "")
        rows = self._rows(sql, params)
        for row in rows:
            row["payload"] = orjson.loads(row["payload"])
        return rows

    def outbox_due(self, now: int, limit: int = 20) -> list[dict[str, Any]]:
        """Queued rows ready to send, oldest first; a case's rows go strictly in order, so an
        earlier row not yet sent (or failed, or of unknown outcome) holds back the later ones.

        Only 'queued' rows: a draft awaiting a lead's approval is never among them, and it holds
        nothing back (it takes its place in line when it is approved)."""
        return self._outbox_rows(
            "o.state = 'queued' AND coalesce(o.next_attempt_at, 0) <= ? AND NOT EXISTS (SELECT 1 FROM outbox e"
            " WHERE e.case_id = o.case_id AND e.id < o.id"
            "  AND e.state NOT IN ('sent', 'discarded', 'awaiting_approval', 'rejected'))",
            (now,),
            limit,
        )

    def outbox_in_state(self, state: str) -> list[dict[str, Any]]:
        return self._outbox_rows("o.state = ?", (state,))

    def outbox_row(self, outbox_id: int) -> dict[str, Any]:
        rows = self._outbox_rows("o.id = ?", (outbox_id,))
        if not rows:
            raise StoreError(f"there is no outbox entry {outbox_id}")
        return rows[0]

    def case_outbox(self, case_id: int) -> list[dict[str, Any]]:
        return self._outbox_rows("o.case_id = ?", (case_id,))

    def outbox_after(self, outbox_id: int, case_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The rows of these cases newer than `outbox_id` (what an action queued, see `undo`)."""
        return self._outbox_rows(f"o.id > ? AND o.case_id IN ({','.join('?' * len(case_ids))})", (outbox_id, *case_ids))

    def last_outbox_id(self) -> int:
        return self._rows("SELECT coalesce(max(id), 0) AS id FROM outbox", ())[0]["id"]

    def update_outbox(self, outbox_id: int, now: int, **fields: Any) -> None:
        """Set `state`, `attempts`, `next_attempt_at`, `last_error`, `remote_id` (any of them)."""
        allowed = {"state", "attempts", "next_attempt_at", "last_error", "remote_id"}
        assert set(fields) <= allowed, set(fields) - allowed
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.conn.execute(f"UPDATE outbox SET {assignments}, updated_at = ? WHERE id = ?",
                          (*fields.values(), now, outbox_id))

    def outbox_by_remote_id(self, remote_id: str) -> list[dict[str, Any]]:
        """Rows whose delivery the platform gave this id (a reply's message, a memo's note), oldest first."""
        return self._outbox_rows("o.remote_id = ?", (remote_id,))

    def outbox_unconfirmed_memos(self, case_id: int) -> list[dict[str, Any]]:
        """The case's memos for the platform that went (or may have gone) out without the platform's id
        coming back: being sent, found sent after a crash, or of unknown outcome."""
        return [row for row in self._outbox_rows(
            "o.case_id = ? AND o.kind = 'case_action' AND o.remote_id IS NULL AND o.state IN ('sending', 'sent',"
            " 'unknown')", (case_id,)) if row["payload"].get("action") == "memo"]

    def outbox_waiting(self) -> int:
        """Rows not yet delivered: what the header shows."""
        return self._reader().execute(
            "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending', 'unknown', 'failed')").fetchone()[0]

    def case_actions_waiting(self, case_id: int) -> list[dict[str, Any]]:
        """The case's platform-side case actions not yet delivered (queued, sending, failed, unknown)."""
        return self._outbox_rows("o.case_id = ? AND o.kind = 'case_action' AND o.state IN"
                                 " ('queued', 'sending', 'failed', 'unknown')", (case_id,))

    # -- remote case state (team mode) -----------------------------------------

    def case_of_thread(self, platform: str, thread: str) -> int | None:
        """The case holding the latest message whose external id starts with `thread` (a platform
        conversation), or None. A range on the unique (platform, external_id) index, not LIKE."""
        end = thread[:-1] + chr(ord(thread[-1]) + 1)
        row = self._connection().execute(
            "SELECT case_id FROM messages WHERE platform = ? AND external_id >= ? AND external_id < ?"
            " ORDER BY created_at DESC, id DESC LIMIT 1", (platform, thread, end)).fetchone()
        return row[0] if row else None

    def remote_case_state(self, case_id: int) -> dict[str, Any] | None:
        """What the platform last reported of the case: status, owner, labels (a list), priority (an index
        into `cases.PRIORITIES`), team (as `RemoteCase.team`: '' for none), updated_at. A field it has not
        reported yet is None."""
        rows = self._rows("SELECT status, owner, labels, priority, team, updated_at FROM remote_case_state"
                          " WHERE case_id = ?", (case_id,))
        if not rows:
            return None
        rows[0]["labels"] = orjson.loads(rows[0]["labels"]) if rows[0]["labels"] is not None else None
        return rows[0]

    def save_remote_case_state(self, case_id: int, account: str, status: str | None, owner: str | None,
                               labels: list[str] | None, updated_at: int, *, priority: int | None = None,
                               team: str | None = None) -> None:
        self.conn.execute(
            "INSERT INTO remote_case_state (case_id, account, status, owner, labels, priority, team, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (case_id) DO UPDATE SET account = excluded.account,"
            " status = excluded.status, owner = excluded.owner, labels = excluded.labels,"
            " priority = excluded.priority, team = excluded.team, updated_at = excluded.updated_at",
            (case_id, account, status, owner, None if labels is None else orjson.dumps(labels).decode(), priority,
             team, updated_at))

    def last_event_id(self) -> int:
        """The newest case event's id (0: none), to read what a write adds after it (`cases_teamed_by_rules_after`)."""
        return self._connection().execute("SELECT coalesce(max(id), 0) FROM case_events").fetchone()[0]

    def cases_teamed_by_rules_after(self, event_id: int) -> list[int]:
        """The cases a routing rule gave a team in the events after `event_id`, in the order it did."""
        return list(dict.fromkeys(row[0] for row in self._connection().execute(
            "SELECT case_id FROM case_events WHERE id > ? AND kind = 'team' AND actor LIKE 'rule:%' ORDER BY id",
            (event_id,))))
