"""Provides `SuggestQueries`: the store's SQL behind suggested answers (see `webcare_tui.suggest`).

Similar customer messages are found through `messages_fts`, one term at a time and newest first
(`ORDER BY rowid DESC LIMIT n` walks a term's postings from their end and stops): a common word
costs as little as a rare one, and no query ranks every hit of a word that half the store holds
(FTS5's bm25() would, and with `columnsize=0` it re-tokenizes each hit to learn its length: 170 ms
for 23,000 hits on the 1M store). The caller weighs the terms and ranks the candidates itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from webcare_tui.store.sql import chunks


def fts_term(token: str) -> str:
    """One word as FTS5 MATCH text: a quoted string, so nothing in it is FTS syntax (NEAR, AND, a
    column filter, a `*`). Callers pass words of letters and digits; a quote is doubled anyway."""
    return '"' + token.replace('"', '""') + '"'


class SuggestQueries:
    """Mixed into `Store`; reads through the calling thread's own reader (suggestions are computed in
    the background, see `InboxQueries._reader`)."""

    conn: sqlite3.Connection

    if TYPE_CHECKING:  # provided by `InboxQueries`
        def _reader(self) -> sqlite3.Connection: ...
        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def suggest_subject(self, case_id: int, recent: int = 60) -> dict[str, Any] | None:
        """The case to suggest for: its platform, account and author (handle, name), and its latest
        `recent` messages newest first (`messages`: id, direction, text, created_at, language); None when there
        is no such case. A case merged into another is read as that one."""
        seen: set[int] = set()
        while True:  # a merged case is read as the one it went into
            rows = self._read(
                "SELECT c.id, c.platform, c.account, c.merged_into, c.last_message_at, a.handle AS author_handle,"
                " a.name AS author_name FROM cases c JOIN authors a ON a.id = c.author_id WHERE c.id = ?", (case_id,))
            if not rows:
                return None
            case = rows[0]
            seen.add(case_id)
            if case["merged_into"] is None or case["merged_into"] in seen:
                break
            case_id = case["merged_into"]
        case["messages"] = self._read(
            "SELECT id, direction, text, created_at, language FROM messages WHERE case_id = ?"
            " ORDER BY created_at DESC, id DESC LIMIT ?", (case["id"], recent))
        return case

    def newest_message_id(self) -> int:
        """The highest message id: about how many messages the store holds (ids are not reused)."""
        return self._reader().execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]

    def term_hits(self, tokens: Sequence[str], per_term: int) -> list[list[int]]:
        """For each word, the ids of the newest `per_term` messages (in or out) that hold it, newest
        first. Each word is searched as text (see `fts_term`)."""
        reader = self._reader()
        return [[row[0] for row in reader.execute(
            "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
            (fts_term(token), per_term))] for token in tokens]

    def answered_inbound(self, ids: Sequence[int], exclude_case: int) -> list[dict[str, Any]]:
        """The customer messages among `ids` outside case `exclude_case`, each with the reply of ours
        that answered it (`reply_id`: our next message in its case; None while it waits): id, case_id,
        account, platform, created_at, text, language, reply_id."""
        found: list[dict[str, Any]] = []
        for chunk in chunks(ids):
            found += self._read(
                "SELECT m.id, m.case_id, m.account, m.platform, m.created_at, m.text, m.language,"
                " (SELECT o.id FROM messages o WHERE o.case_id = m.case_id AND o.direction = 'out'"
                "  AND (o.created_at, o.id) > (m.created_at, m.id) ORDER BY o.created_at, o.id LIMIT 1) AS reply_id"
                f" FROM messages m WHERE m.id IN ({','.join('?' * len(chunk))}) AND m.direction = 'in'"
                " AND m.case_id != ?", (*chunk, exclude_case))
        return found

    def replies_by_id(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Our messages by id, with the customer they went to: id, case_id, account, platform, text,
        agent, created_at, author_handle, author_name."""
        found: list[dict[str, Any]] = []
        for chunk in chunks(ids):
            found += self._read(
                "SELECT o.id, o.case_id, o.account, o.platform, o.text, o.agent, o.created_at,"
                " a.handle AS author_handle, a.name AS author_name FROM messages o JOIN authors a ON a.id = o.author_id"
                f" WHERE o.id IN ({','.join('?' * len(chunk))}) AND o.direction = 'out'", chunk)
        return found

    def recent_replies(self, account: str, limit: int, exclude_case: int, window: int) -> list[dict[str, Any]]:
        """Our newest `limit` replies in `account` outside case `exclude_case`, among the store's newest
        `window` messages (walked back by id, so the cost stays bounded for an account that is seldom
        written to: about 0.1 ms per 1,000 messages), newest first: the columns of `replies_by_id`, and
        `language`: that of the customer message before it in its case (the one it answered)."""
        return self._read(
            "SELECT o.id, o.case_id, o.account, o.platform, o.text, o.agent, o.created_at,"
            " a.handle AS author_handle, a.name AS author_name,"
            " (SELECT i.language FROM messages i WHERE i.case_id = o.case_id AND i.direction = 'in'"
            "  AND (i.created_at, i.id) < (o.created_at, o.id) ORDER BY i.created_at DESC, i.id DESC LIMIT 1) AS language"
            " FROM messages o JOIN authors a ON a.id = o.author_id"
            " WHERE o.id > (SELECT coalesce(max(id), 0) FROM messages) - ? AND o.account = ? AND o.direction = 'out'"
            " AND o.case_id != ? ORDER BY o.id DESC LIMIT ?", (window, account, exclude_case, limit))

    def macros_applied(self, case_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The macros applied to these cases (`case_events` of kind "macro"): case_id, at, actor, name."""
        found: list[dict[str, Any]] = []
        for chunk in chunks(case_ids):
            found += self._read(
                "SELECT case_id, at, actor, json_extract(detail, '$.name') AS name FROM case_events"
                f" WHERE case_id IN ({','.join('?' * len(chunk))}) AND kind = 'macro'"
                " AND json_valid(detail) ORDER BY at, id", chunk)
        return [row for row in found if isinstance(row["name"], str)]
