"""Provides `InboxQueries`: the store's queries behind the inbox and search.

Cases are listed by keyset paging — `WHERE (sort_key, id) > (?, ?) LIMIT n` —
over indexes, so a page costs the same at row 10 and row 100,000, and nothing
ever reads a whole table to show one screen.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from webcare_tui.case_query import CaseQuery
from webcare_tui.case_rules import OPEN_STATUSES


@dataclass(frozen=True)
class Sort:
    """An inbox order: one indexed column (never NULL for the rows it sorts) and the id."""

    name: str
    column: str
    descending: bool


SORTS = {
    "waiting": Sort("oldest waiting first", "waiting_since", False),
    "recent": Sort("newest activity first", "last_message_at", True),
    "oldest": Sort("oldest activity first", "last_message_at", False),
}


def _open_only(query: CaseQuery) -> bool:
    return bool(query.statuses) and set(query.statuses) <= set(OPEN_STATUSES)


def default_sort(query: CaseQuery) -> Sort:
    """Open work by who waits longest; pending and closed cases by latest activity."""
    return SORTS["waiting"] if _open_only(query) else SORTS["recent"]


def sorts_for(query: CaseQuery) -> list[str]:
    """The orders (names in SORTS) a view can take: waiting order only where every case waits on us
    (a pending or closed case waits on nobody: its `waiting_since` may be NULL, which no keyset pages)."""
    return [name for name, sort in SORTS.items() if sort.column != "waiting_since" or _open_only(query)]


@dataclass(frozen=True)
class CaseRow:
    """One inbox line."""

    id: int
    status: str
    priority: int
    platform: str
    account: str
    owner: str | None
    author_handle: str | None
    author_name: str | None
    author_followers: int | None
    labels: tuple[str, ...]
    message_count: int
    created_at: int
    last_message_at: int
    last_inbound_at: int | None
    waiting_since: int | None
    last_text: str
    last_direction: str
    closed_at: int | None = None
    has_draft: bool = False  # the agent left a reply begun in the composer (see DraftQueries)

    def sort_key(self, sort: Sort) -> tuple[int, int]:
        return (getattr(self, sort.column) or 0, self.id)


def fts_match(words: tuple[str, ...]) -> str:
    """FTS5 MATCH text for what the agent typed: words as quoted prefixes, phrases kept.

    Quoting every term means customer-facing syntax (NEAR, AND, column filters,
    stray quotes) is never interpreted: it is searched for as text.
    """
    parts = []
    for word in words:
        tokens = re.findall(r"\w+", word)
        if not tokens:
            continue
        if len(tokens) == 1:
            # a prefix of three letters or more while typing; shorter words match whole
            # (every word starting with "w" is a third of the store)
            parts.append(f'"{tokens[0]}"*' if len(tokens[0]) >= 3 else f'"{tokens[0]}"')
        else:
            parts.append('"' + " ".join(tokens) + '"')
    return " ".join(parts)


def _index_hint(query: CaseQuery, sort: Sort) -> str:
    """Open work in waiting order walks a partial index; without statistics SQLite
    would rather sort every open case, so name the index. One agent's (or nobody's) open
    cases are a range of cases_open_owner; a single open status on its own (awaiting
    approval: a few cases) is found by status and sorted."""
    if sort.column != "waiting_since" or not _open_only(query):
        return ""
    if query.owner is not None or query.assigned is False:
        return " INDEXED BY cases_open_owner"
    return " INDEXED BY cases_open_waiting" if set(query.statuses) == set(OPEN_STATUSES) else ""


_ROW_SQL = (
    "SELECT c.id, c.status, c.priority, c.platform, c.account, c.owner, a.handle, a.name, a.followers,"
    " (SELECT group_concat(l.name, ',') FROM case_labels cl JOIN labels l ON l.id = cl.label_id"
    "  WHERE cl.case_id = c.id),"
    " c.message_count, c.created_at, c.last_message_at, c.last_inbound_at, c.waiting_since,"
    " (SELECT m.text FROM messages m WHERE m.case_id = c.id ORDER BY m.created_at DESC, m.id DESC LIMIT 1),"
    " c.last_direction, c.closed_at, EXISTS (SELECT 1 FROM drafts d WHERE d.case_id = c.id)"
    " FROM cases c{hint} JOIN authors a ON a.id = c.author_id"
)


def _row(values: tuple[Any, ...]) -> CaseRow:
    fields = list(values)
    fields[9] = tuple(sorted(fields[9].split(","))) if fields[9] else ()
    fields[15] = fields[15] or ""
    fields[18] = bool(fields[18])
    return CaseRow(*fields)


class InboxQueries:
    """Mixed into `Store`; reads through its own connection per thread (WAL readers)."""

    conn: sqlite3.Connection
    path: Any
    _readers: threading.local

    def _reader(self) -> sqlite3.Connection:
        """A read connection for the calling thread, so UI and workers never share a cursor."""
        if str(self.path) == ":memory:":
            return self.conn
        local = self.__dict__.setdefault("_readers", threading.local())
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA busy_timeout = 5000")  # a reader waits only while a checkpoint restarts the WAL
        return conn

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """The reads on this thread inside see the store as it was at one moment (one read
        transaction on the thread's reader), whatever other writers commit meanwhile."""
        conn = self._reader()
        if conn is self.conn or conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, through the calling thread's reader (for queries run in the background)."""
        cursor = self._reader().execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def _where(self, query: CaseQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = ["c.merged_into IS NULL"]
        params: list[Any] = []

        def any_of(column: str, values: tuple[str, ...]) -> None:
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)

        if _open_only(query):
            # spelled as in the partial indexes (literals, not parameters) so SQLite can use them
            clauses.append("c.status IN ('new', 'open', 'awaiting_approval')")
        if len(query.statuses) == 1:
            clauses.append("c.status = ?")
            params.append(query.statuses[0])
        elif query.statuses and set(query.statuses) != set(OPEN_STATUSES):
            any_of("c.status", query.statuses)
        if query.owner is not None:
            clauses.append("c.owner = ?")
            params.append(query.owner)
        if query.assigned is not None:
            clauses.append("c.owner IS NOT NULL" if query.assigned else "c.owner IS NULL")
        if query.platforms:
            any_of("c.platform", query.platforms)
        if query.accounts:
            any_of("c.account", query.accounts)
        for label, negated in [(name, False) for name in query.labels] + [(name, True) for name in query.without_labels]:
            clauses.append(("NOT " if negated else "") + "EXISTS (SELECT 1 FROM case_labels cl JOIN labels l"
                           " ON l.id = cl.label_id WHERE cl.case_id = c.id AND l.name = ?)")
            params.append(label)
        if query.author:
            handle = query.author.lstrip("@")
            clauses.append("c.author_id IN (SELECT id FROM authors WHERE handle IN (?, ?) OR name = ?"
                           " OR platform_author_id = ?)")
            params += [handle, "@" + handle, query.author, query.author]
        if query.languages:
            clauses.append(f"EXISTS (SELECT 1 FROM messages m WHERE m.case_id = c.id AND m.language IN"
                           f" ({','.join('?' * len(query.languages))}))")
            params.extend(query.languages)
        if query.author_types:
            clauses.append(f"c.author_id IN (SELECT id FROM authors WHERE author_type IN"
                           f" ({','.join('?' * len(query.author_types))}))")
            params.extend(query.author_types)
        if query.sentiments:
            # a score below -0.05 is negative, above 0.05 positive (the sentiment analyser's convention)
            moods = {"negative": "m.sentiment < -0.05", "neutral": "m.sentiment BETWEEN -0.05 AND 0.05",
                     "positive": "m.sentiment > 0.05"}
            either = " OR ".join(moods[mood] for mood in query.sentiments)
            clauses.append(f"EXISTS (SELECT 1 FROM messages m WHERE m.case_id = c.id AND m.direction = 'in'"
                           f" AND ({either}))")
        if query.active_before is not None:
            clauses.append("c.last_message_at < ?")
            params.append(query.active_before)
        if query.active_after is not None:
            clauses.append("c.last_message_at >= ?")
            params.append(query.active_after)
        if query.min_priority is not None:
            clauses.append("c.priority >= ?")
            params.append(query.min_priority)
        match = fts_match(query.text)
        if match:
            clauses.append(
                "c.id IN (SELECT m.case_id FROM messages m WHERE m.id IN"
                " (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"
                " UNION SELECT mo.case_id FROM memos mo WHERE mo.id IN"
                " (SELECT rowid FROM memos_fts WHERE memos_fts MATCH ?))"
            )
            params += [match, match]
        elif query.text:
            clauses.append("0")  # only punctuation was typed: nothing matches
        return " AND ".join(clauses), params

    def count_cases(self, query: CaseQuery) -> int:
        where, params = self._where(query)
        return self._reader().execute(f"SELECT count(*) FROM cases c WHERE {where}", params).fetchone()[0]

    def page_cases(self, query: CaseQuery, sort: Sort, after: tuple[int, int] | None = None,
                   limit: int = 100, offset: int = 0) -> list[CaseRow]:
        """Up to `limit` cases in `sort` order, after the row with key `after` (keyset),
        or from `offset` when no key is known (a jump into the middle)."""
        where, params = self._where(query)
        direction = "DESC" if sort.descending else "ASC"
        if after is not None:
            where += f" AND (c.{sort.column}, c.id) {'<' if sort.descending else '>'} (?, ?)"
            params += list(after)
        sql = (f"{_ROW_SQL.format(hint=_index_hint(query, sort))} WHERE {where} ORDER BY c.{sort.column} {direction}, c.id {direction}"
               f" LIMIT {int(limit)}" + (f" OFFSET {int(offset)}" if after is None and offset else ""))
        return [_row(values) for values in self._reader().execute(sql, params)]

    def case_position(self, query: CaseQuery, sort: Sort, key: tuple[int, int]) -> int:
        """How many cases come before the one with `key` in this view and order."""
        where, params = self._where(query)
        where += f" AND (c.{sort.column}, c.id) {'>' if sort.descending else '<'} (?, ?)"
        return self._reader().execute(f"SELECT count(*) FROM cases c WHERE {where}", params + list(key)).fetchone()[0]

    def case_rows(self, ids: list[int]) -> list[CaseRow]:
        marks = ",".join("?" * len(ids))
        return [_row(values) for values in self._reader().execute(f"{_ROW_SQL.format(hint='')} WHERE c.id IN ({marks})", ids)]
