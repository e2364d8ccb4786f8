"""Provides `DraftQueries`: the store's reply drafts, the text an agent left in the composer per case."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any


class DraftQueries:
    """Mixed into `Store`: one draft per case (the agent's cache is their own), kept until the reply is
    sent or the composer is left empty. Writes go inside the caller's transaction."""

    conn: sqlite3.Connection

    if TYPE_CHECKING:  # provided by `Store`
        def _connection(self) -> sqlite3.Connection: ...

    def save_draft(self, case_id: int, agent: str, text: str, at: int) -> None:
        """Keep `text` as the case's draft (call inside a transaction); a blank one deletes it."""
        if not text.strip():
            self.delete_draft(case_id)
            return
        self.conn.execute(
            "INSERT INTO drafts (case_id, agent, text, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (case_id)"
            " DO UPDATE SET agent = excluded.agent, text = excluded.text, updated_at = excluded.updated_at",
            (case_id, agent, text, at))

    def delete_draft(self, case_id: int) -> None:
        """The case has no draft any more (call inside a transaction)."""
        self.conn.execute("DELETE FROM drafts WHERE case_id = ?", (case_id,))

    def draft(self, case_id: int) -> dict[str, Any] | None:
        """The case's draft: agent, text, updated_at; None when there is none."""
        row = self._connection().execute("SELECT agent, text, updated_at FROM drafts WHERE case_id = ?",
                                         (case_id,)).fetchone()
        return None if row is None else {"agent": row[0], "text": row[1], "updated_at": row[2]}
