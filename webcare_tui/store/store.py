"""Provides `Store`: one SQLite file (WAL) holding the agent's cache and offline queue.

Every write happens inside `Store.transaction()`, which takes the one writer lock
and a `BEGIN IMMEDIATE`, so a domain action is all-or-nothing and never races the
sync worker. Query methods return plain dicts and dataclasses, never cursors.
"""

from __future__ import annotations

import concurrent.futures
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from webcare_tui.case_rules import CaseState, Event
from webcare_tui.store.alerts import AlertQueries
from webcare_tui.store.drafts import DraftQueries
from webcare_tui.store.errors import StoreError
from webcare_tui.store.inbox import InboxQueries
from webcare_tui.store.kpi import KpiQueries
from webcare_tui.store.migrations import ANSWERS, RUN_START, migrate
from webcare_tui.store.notify import NotifyQueries
from webcare_tui.store.outbox import OutboxQueries
from webcare_tui.store.sql import chunks
from webcare_tui.store.suggest import SuggestQueries
from webcare_tui.store.turn import WriteTurn

CASE_FIELDS = ("id", "author_id", "platform", "account", "status", "owner", "created_at", "last_message_at",
               "last_direction", "last_inbound_at", "waiting_since", "closed_at", "message_count", "priority",
               "team")
_CASE_COLUMNS = ", ".join(CASE_FIELDS)


@dataclass(slots=True)
class AuthorRecord:
    id: int
    handle: str | None
    name: str | None
    followers: int | None
    author_type: str


@dataclass(slots=True)
class IngestRows:
    """One threaded batch, ready to write; tuples in each table's column order."""

    new_authors: list[tuple] = field(default_factory=list)  # id, platform, platform_author_id, handle, name, followers, author_type
    changed_authors: list[tuple] = field(default_factory=list)  # handle, name, followers, author_type, id
    new_cases: list[tuple] = field(default_factory=list)  # see case_row()
    changed_cases: dict[tuple[str, ...], list[tuple]] = field(default_factory=dict)  # see ingest.changed_fields
    messages: list[list] = field(default_factory=list)  # see write_ingest: the columns of messages, in order
    events: list[tuple] = field(default_factory=list)  # see event_row()
    labels: list[tuple] = field(default_factory=list)  # case_id, label name (given by routing rules)
    late_cases: list[int] = field(default_factory=list)  # cases given a message older than their last: see run_start
    answers: list[tuple] = field(default_factory=list)  # our reply's created_at, agent, case_id, id: it answers a
    # run stored before (a run of the same batch is written with its answer)


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Which cases to list; None means any."""

    status: str | None = None
    owner: str | None = None
    author: str | None = None  # handle (with or without @), name or platform id
    limit: int | None = None


def _inserted(cursor: sqlite3.Cursor) -> int:
    """The row id an INSERT just gave (always set after one)."""
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _marks(count: int) -> str:
    return ",".join("?" * count)


class Store(InboxQueries, OutboxQueries, KpiQueries, AlertQueries, DraftQueries, SuggestQueries, NotifyQueries):
    """The local cache: messages, authors, cases, labels, memos, events, outbox, sync state, reply drafts."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"cannot create the folder for {self.path}: {error.strerror}") from None
        try:
            self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA page_size = 8192")
            self.conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path} is not a webcare-tui store: {error}") from None
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA busy_timeout = 5000")
        self.conn.execute("PRAGMA cache_size = -65536")
        self._lock = threading.RLock()
        self._depth = 0
        self._owner: int | None = None  # the thread in a transaction on `conn`
        self._turn = WriteTurn(None if str(path) == ":memory:" else self.path)
        self.schema_before = migrate(self.conn, str(self.path))

    @property
    def db(self):
        """The store as a `sqlite_utils.Database`, for ad-hoc inspection and exports (imported when
        first asked for: it costs ~60 ms of start-up)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def defer_checkpoints(self) -> None:
        """Stop committing transactions from running WAL checkpoints (an fsync can take 100+ ms);
        the caller runs `checkpoint()` from a background thread instead."""
        self.conn.execute("PRAGMA wal_autocheckpoint = 0")

    def checkpoint(self) -> None:
        """Copy the WAL into the database file without blocking readers or the writer (PASSIVE)."""
        local = self.__dict__.setdefault("_checkpointers", threading.local())
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(str(self.path), check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 1000")
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    @contextmanager
    def checkpoints_by_hand(self) -> Iterator[BulkCheckpoints]:
        """For bulk writing: commits run no checkpoint while inside (a commit that copied the WAL held
        on for up to half a second); the writer has the `BulkCheckpoints` this yields copy it between
        its transactions."""
        before = self.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        self.conn.execute("PRAGMA wal_autocheckpoint = 0")
        checkpoints = BulkCheckpoints(self.path)
        try:
            yield checkpoints
        except BaseException:
            with suppress(sqlite3.Error):  # the writer's failure is the one to tell
                checkpoints.close(finish=False)
            raise
        else:
            checkpoints.close(finish=True)
        finally:
            self.conn.execute(f"PRAGMA wal_autocheckpoint = {int(before)}")

    def data_version(self) -> int | None:
        """A number that changes whenever another program (another connection) commits, not when
        this store does; None while this store is in a transaction (ask again later)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self.conn.execute("PRAGMA data_version").fetchone()[0]
        finally:
            self._lock.release()

    def close(self) -> None:
        for local in ("_readers", "_checkpointers"):  # this thread's own
            extra = getattr(self.__dict__.get(local), "conn", None)
            if extra is not None:
                extra.close()
        self.conn.close()
        self._turn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------

    @contextmanager
    def transaction(self, *, bulk: bool = False) -> Iterator[None]:
        """One all-or-nothing unit of work; nested calls join the outer one. A `bulk` writer (an
        import's slice) begins only when no other writer waits for the store (see `WriteTurn`)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            if bulk:
                self._turn.let_others_first()
                self.conn.execute("BEGIN IMMEDIATE")
            else:
                with self._turn.waiting():
                    self.conn.execute("BEGIN IMMEDIATE")
            self._depth, self._owner = 1, threading.get_ident()
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth, self._owner = 0, None

    def _connection(self) -> sqlite3.Connection:
        """The connection a statement on this thread goes through: inside this thread's transaction the
        writer's own (it sees what the transaction wrote), else the thread's read-only reader (in WAL a
        read never waits on a writer, so the console never waits on the sync or an import to read)."""
        if self._owner == threading.get_ident():
            return self.conn
        return self._reader()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self._connection().execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    # -- ingest ---------------------------------------------------------------

    def existing_message_ids(self, platform: str, external_ids: Sequence[str]) -> set[str]:
        """Which of these external ids are already stored for `platform`."""
        found: set[str] = set()
        for chunk in chunks(external_ids):
            rows = self._connection().execute(
                f"SELECT external_id FROM messages WHERE platform = ? AND external_id IN ({_marks(len(chunk))})",
                (platform, *chunk),
            )
            found.update(row[0] for row in rows)
        return found

    def authors_by_key(self, platform: str, author_ids: Sequence[str]) -> dict[str, AuthorRecord]:
        """Known authors of `platform`, by their platform id."""
        found = {}
        for chunk in chunks(author_ids):
            rows = self._connection().execute(
                "SELECT platform_author_id, id, handle, name, followers, author_type FROM authors"
                f" WHERE platform = ? AND platform_author_id IN ({_marks(len(chunk))})",
                (platform, *chunk),
            )
            for key, author_id, handle, name, followers, author_type in rows:
                found[key] = AuthorRecord(author_id, handle, name, followers, author_type)
        return found

    def current_cases(self, author_ids: Sequence[int]) -> dict[int, CaseState]:
        """Per author, the case a new message threads against.

        That is the most recently active case that is not closed, or else the most
        recently closed one (for the reopen window). Merged cases are gone.
        """
        found: dict[int, tuple] = {}
        for chunk in chunks(author_ids):
            rows = self._connection().execute(
                f"SELECT {_CASE_COLUMNS} FROM cases WHERE author_id IN ({_marks(len(chunk))})"
                " AND merged_into IS NULL ORDER BY author_id, status != 'closed', last_message_at, id",
                tuple(chunk),
            )
            for row in rows:
                found[row[1]] = row  # the last row per author wins
        return {author_id: CaseState(*row) for author_id, row in found.items()}

    def next_ids(self) -> tuple[int, int, int]:
        """The next free ids of authors, cases and messages (call inside a transaction)."""
        row = self._connection().execute(
            "SELECT (SELECT coalesce(max(id), 0) FROM authors), (SELECT coalesce(max(id), 0) FROM cases),"
            " (SELECT coalesce(max(id), 0) FROM messages)"
        ).fetchone()
        return row[0] + 1, row[1] + 1, row[2] + 1

    def write_ingest(self, rows: IngestRows) -> None:
        """Write one threaded batch (call inside a transaction).

        Statements on tables with triggers (cases) say OR FAIL: a failure fails the whole
        transaction, which rolls back, so no statement needs undoing on its own, and SQLite
        keeps no statement journal for every row (it cost a third of a case's insert)."""
        conn = self.conn
        conn.executemany(
            "INSERT INTO authors (id, platform, platform_author_id, handle, name, followers, author_type)"
            f" VALUES ({_marks(7)})",
            rows.new_authors,
        )
        conn.executemany(
            "UPDATE authors SET handle = ?, name = ?, followers = ?, author_type = ? WHERE id = ?",
            rows.changed_authors,
        )
        conn.executemany(f"INSERT OR FAIL INTO cases ({_CASE_COLUMNS}) VALUES ({_marks(15)})", rows.new_cases)
        for columns, values in rows.changed_cases.items():
            self.update_case_fields(columns, values)
        conn.executemany(
            "INSERT INTO messages (id, platform, account, external_id, case_id, author_id, direction,"
            " visibility, text, created_at, in_reply_to, agent, url, language, sentiment, run_start,"
            f" answered_at, answered_by) VALUES ({_marks(18)})",
            rows.messages,
        )
        conn.executemany("INSERT INTO messages_fts (rowid, text) VALUES (?, ?)", ((r[0], r[8]) for r in rows.messages))
        self._insert_events(rows.events)
        conn.executemany(  # our reply answers the run its case waits on: the one run start without an answer
            "UPDATE messages SET answered_at = ?1, answered_by = ?2 WHERE case_id = ?3 AND run_start IS NOT NULL"
            " AND answered_at IS NULL AND (created_at, id) < (?1, ?4)", rows.answers)
        self.recompute_run_starts(rows.late_cases)
        if rows.labels:
            names = {name for _, name in rows.labels}
            conn.executemany("INSERT OR IGNORE INTO labels (name) VALUES (?)", ((name,) for name in names))
            conn.executemany("INSERT OR IGNORE INTO case_labels (case_id, label_id) SELECT ?, id FROM labels WHERE name = ?",
                             rows.labels)

    def recompute_run_starts(self, case_ids: Iterable[int]) -> None:
        """Set `run_start` and the answers of every message of these cases from their order (after
        messages arrived late, moved or went)."""
        ids = [(case_id,) for case_id in case_ids]
        self.conn.executemany(f"UPDATE messages SET run_start = {RUN_START} WHERE case_id = ?", ids)
        self.conn.executemany(f"UPDATE messages SET {ANSWERS} WHERE case_id = ?", ids)

    def update_case_fields(self, columns: Sequence[str], rows: Iterable[tuple]) -> None:
        """Set these columns of cases, from rows of (value, …, case id): field by field, so a column
        another writer changed and this change is not about keeps its value, its indexes and triggers."""
        unknown = set(columns) - set(CASE_FIELDS[1:])
        if unknown:  # the names become SQL: only our own
            raise ValueError(f"not a case field: {sorted(unknown)}")
        assignments = ", ".join(f"{column} = ?" for column in columns)
        # OR FAIL (see write_ingest): one row by id, whose checks all come before it is written; only a
        # failure inside a trigger (a full disk) could leave part of it, and that fails the transaction
        self.conn.executemany(f"UPDATE OR FAIL cases SET {assignments} WHERE id = ?", rows)

    def add_events(self, events: Iterable[Event]) -> None:
        self._insert_events(event_row(event) for event in events)

    def _insert_events(self, rows: Iterable[tuple]) -> None:
        self.conn.executemany("INSERT INTO case_events (case_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)", rows)

    # -- cases ----------------------------------------------------------------

    def case_state(self, case_id: int) -> CaseState:
        row = self._connection().execute(f"SELECT {_CASE_COLUMNS} FROM cases WHERE id = ?", (case_id,)).fetchone()
        if row is None:
            raise StoreError(f"there is no case {case_id}")
        return CaseState(*row)

    def save_case(self, case: CaseState) -> None:
        """Write the fields of `case` that differ from the stored row (call inside the transaction
        that read it: what it changes is then the latest)."""
        changes = changed_columns(case_row(self.case_state(case.id)), case_row(case))
        if changes:
            self.update_case_fields(tuple(changes), [(*changes.values(), case.id)])

    def insert_case(self, case: CaseState) -> int:
        """Insert a case under an id SQLite picks (whatever `case.id` says); returns that id."""
        cursor = self.conn.execute(f"INSERT INTO cases ({', '.join(CASE_FIELDS[1:])}) VALUES ({_marks(14)})",
                                   case_row(case)[1:])
        return _inserted(cursor)

    def case_message_times(self, case_id: int) -> list[tuple[int, str]]:
        """(created_at, direction) of a case's messages in order."""
        return self._connection().execute(
            "SELECT created_at, direction FROM messages WHERE case_id = ? ORDER BY created_at, id", (case_id,)
        ).fetchall()

    def message_position(self, message_id: int) -> tuple[int, int]:
        """(case_id, created_at) of one message."""
        row = self._connection().execute("SELECT case_id, created_at FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise StoreError(f"there is no message {message_id}")
        return row

    def move_messages_from(self, case_id: int, message_id: int, created_at: int, to_case: int) -> int:
        """Move a message and every later one of its case to `to_case`; returns how many moved."""
        cursor = self.conn.execute(
            "UPDATE messages SET case_id = ? WHERE case_id = ? AND (created_at > ? OR (created_at = ? AND id >= ?))",
            (to_case, case_id, created_at, created_at, message_id),
        )
        self.recompute_run_starts([case_id, to_case])
        return cursor.rowcount

    def move_case_contents(self, source: int, target: int) -> None:
        """Move messages, memos, events and labels of `source` into `target` and mark it merged."""
        conn = self.conn
        conn.execute("UPDATE messages SET case_id = ? WHERE case_id = ?", (target, source))
        self.recompute_run_starts([target])
        conn.execute("UPDATE memos SET case_id = ? WHERE case_id = ?", (target, source))
        conn.execute(
            "INSERT OR IGNORE INTO case_labels (case_id, label_id) SELECT ?, label_id FROM case_labels WHERE case_id = ?",
            (target, source),
        )
        conn.execute("DELETE FROM case_labels WHERE case_id = ?", (source,))
        # a reply begun on the merged case goes along, unless the case it joins has one of its own
        conn.execute("UPDATE OR IGNORE drafts SET case_id = ? WHERE case_id = ?", (target, source))
        conn.execute("UPDATE cases SET merged_into = ?, status = 'closed', message_count = 0 WHERE id = ?", (target, source))

    def close_due_pending(self, now: int, auto_close_after: int) -> list[tuple[int, int]]:
        """Close pending cases whose customer stayed silent `auto_close_after`; returns (id, closed_at)."""
        rows = self._connection().execute(
            "SELECT id, last_message_at + ? FROM cases WHERE status = 'pending' AND last_message_at <= ?",
            (auto_close_after, now - auto_close_after),
        ).fetchall()
        self.conn.executemany("UPDATE cases SET status = 'closed', closed_at = ? WHERE id = ?", [(at, i) for i, at in rows])
        return rows

    def list_cases(self, where: CaseFilter = CaseFilter()) -> list[dict[str, Any]]:
        """Cases with their author, labels and message times, most recently active first."""
        clauses, params = ["c.merged_into IS NULL"], []
        if where.status:
            clauses.append("c.status = ?")
            params.append(where.status)
        if where.owner:
            clauses.append("c.owner = ?")
            params.append(where.owner)
        if where.author:
            handle = where.author.lstrip("@")
            clauses.append("(a.handle IN (?, ?) OR a.platform_author_id = ? OR a.name = ?)")
            params += [handle, "@" + handle, where.author, where.author]
        sql = (
            "SELECT c.id, c.status, c.owner, c.priority, c.platform, c.account, a.handle AS author_handle,"
            " a.name AS author_name, a.platform_author_id AS author_id, c.message_count,"
            " c.created_at AS first_message_at, c.last_message_at, c.waiting_since, c.closed_at,"
            " (SELECT group_concat(l.name, ',') FROM case_labels cl JOIN labels l ON l.id = cl.label_id"
            "  WHERE cl.case_id = c.id) AS labels"
            " FROM cases c JOIN authors a ON a.id = c.author_id"
            f" WHERE {' AND '.join(clauses)} ORDER BY c.last_message_at DESC, c.id DESC"
        )
        if where.limit:
            sql += f" LIMIT {int(where.limit)}"
        rows = self._rows(sql, params)
        for row in rows:
            row["labels"] = sorted(row["labels"].split(",")) if row["labels"] else []
        return rows

    def get_case(self, case_id: int) -> dict[str, Any]:
        rows = self._rows(
            "SELECT c.*, a.handle AS author_handle, a.name AS author_name, a.platform_author_id,"
            " a.followers AS author_followers, a.author_type FROM cases c JOIN authors a ON a.id = c.author_id"
            " WHERE c.id = ?",
            (case_id,),
        )
        if not rows:
            raise StoreError(f"there is no case {case_id}")
        case = rows[0]
        del case["label_ids"]  # the KPIs' copy of the labels, which follow by name
        case["labels"] = self.case_labels(case_id)
        return case

    def author_moods(self, author_id: int, limit: int = 50) -> list[tuple[str | None, float | None]]:
        """Language and sentiment of the author's latest inbound messages, oldest first."""
        rows = self._connection().execute(
            "SELECT m.language, m.sentiment, m.created_at FROM cases c JOIN messages m ON m.case_id = c.id"
            " WHERE c.author_id = ? AND m.direction = 'in' ORDER BY m.created_at DESC LIMIT ?",
            (author_id, limit)).fetchall()
        return [(language, sentiment) for language, sentiment, _ in reversed(rows)]

    def case_messages(self, case_id: int) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT id, platform, account, external_id, direction, visibility, text, created_at, in_reply_to,"
            " agent, url, language, sentiment FROM messages WHERE case_id = ? ORDER BY created_at, id",
            (case_id,),
        )

    def case_events(self, case_id: int) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT id, at, actor, kind, detail FROM case_events WHERE case_id = ? ORDER BY at, id", (case_id,)
        )
        for row in rows:
            row["detail"] = orjson.loads(row["detail"])
        return rows

    def case_memos(self, case_id: int) -> list[dict[str, Any]]:
        return self._rows("SELECT id, agent, text, created_at FROM memos WHERE case_id = ? ORDER BY created_at, id", (case_id,))

    def case_labels(self, case_id: int) -> list[str]:
        return [
            row[0]
            for row in self._connection().execute(
                "SELECT l.name FROM case_labels cl JOIN labels l ON l.id = cl.label_id WHERE cl.case_id = ? ORDER BY l.name",
                (case_id,),
            )
        ]

    def known_owners(self) -> list[str]:
        """Agents that own a case (for completion when handing over): one index seek per agent,
        not a pass over every case (that took 10-50 ms on the assign key with 300,000 cases)."""
        return [row[0] for row in self._connection().execute(
            "WITH RECURSIVE o(owner) AS (SELECT min(owner) FROM cases"
            " UNION ALL SELECT (SELECT min(owner) FROM cases WHERE owner > o.owner) FROM o WHERE o.owner IS NOT NULL)"
            " SELECT owner FROM o WHERE owner IS NOT NULL")]

    def author_crm(self, author_id: int) -> dict[str, Any]:
        """CRM fields known of an author (customer number, contract…), if any."""
        row = self._connection().execute("SELECT crm FROM authors WHERE id = ?", (author_id,)).fetchone()
        try:
            crm = orjson.loads(row[0]) if row and row[0] else {}
        except orjson.JSONDecodeError:
            return {}
        return crm if isinstance(crm, dict) else {}

    def author_memos(self, author_id: int) -> list[dict[str, Any]]:
        """Memos on all of one author's cases, newest first."""
        return self._rows("SELECT id, case_id, agent, text, created_at FROM memos WHERE author_id = ?"
                          " ORDER BY created_at DESC, id DESC", (author_id,))

    def label_names(self) -> list[str]:
        return [row[0] for row in self._connection().execute("SELECT name FROM labels ORDER BY name")]

    def author_cases(self, author_id: int) -> list[dict[str, Any]]:
        """All cases of one author (by author row id), newest first."""
        return self._rows("SELECT id, status, created_at, last_message_at, message_count FROM cases"
                          " WHERE author_id = ? AND merged_into IS NULL ORDER BY created_at DESC", (author_id,))

    def labels_of(self, case_ids: Sequence[int]) -> dict[int, set[str]]:
        """The label names of each of these cases that has any."""
        found: dict[int, set[str]] = {}
        for chunk in chunks(case_ids):
            for case_id, name in self._connection().execute(
                    f"SELECT case_id, name FROM case_labels JOIN labels ON labels.id = label_id"
                    f" WHERE case_id IN ({_marks(len(chunk))})", tuple(chunk)):
                found.setdefault(case_id, set()).add(name)
        return found

    def last_rule_assignment(self, team: str) -> str | None:
        """The agent a routing rule last gave a case of `team` (the round-robin turn)."""
        row = self._connection().execute(
            "SELECT json_extract(detail, '$.to') FROM case_events WHERE kind = 'assigned' AND actor LIKE 'rule:%'"
            " AND json_extract(detail, '$.team') = ? ORDER BY id DESC LIMIT 1", (team,)).fetchone()
        return row[0] if row else None

    def set_labels(self, case_id: int, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        for name in add:
            self.conn.execute("INSERT OR IGNORE INTO labels (name) VALUES (?)", (name,))
            self.conn.execute(
                "INSERT OR IGNORE INTO case_labels (case_id, label_id) SELECT ?, id FROM labels WHERE name = ?",
                (case_id, name),
            )
        for name in remove:
            self.conn.execute(
                "DELETE FROM case_labels WHERE case_id = ? AND label_id = (SELECT id FROM labels WHERE name = ?)",
                (case_id, name),
            )

    def add_memo(self, case_id: int | None, author_id: int | None, agent: str, text: str, at: int,
                 external_id: str | None = None) -> int:
        """A memo (call inside a transaction); `external_id`: the platform's id of a memo taken in from it
        (unique: see `has_memo`). Returns its id."""
        cursor = self.conn.execute(
            "INSERT INTO memos (case_id, author_id, agent, text, created_at, external_id) VALUES (?, ?, ?, ?, ?, ?)",
            (case_id, author_id, agent, text, at, external_id),
        )
        self.conn.execute("INSERT INTO memos_fts (rowid, text) VALUES (?, ?)", (cursor.lastrowid, text))
        return _inserted(cursor)

    def has_memo(self, external_id: str) -> bool:
        """Whether a memo with this platform id was taken in already."""
        return self._connection().execute("SELECT 1 FROM memos WHERE external_id = ?",
                                          (external_id,)).fetchone() is not None

    def has_memos_without_case(self) -> bool:
        """Whether any memo taken in from a platform waits for its conversation's case (see `adopt_memos`)."""
        return self._connection().execute(
            "SELECT 1 FROM memos WHERE case_id IS NULL AND external_id IS NOT NULL LIMIT 1").fetchone() is not None

    def adopt_memos(self, thread: str, case_id: int) -> list[int]:
        """Give the memos taken in without a case (their conversation had none yet) whose platform id
        starts with `thread` to `case_id` and its author (call inside a transaction); returns their ids.
        Memos without a case are few: SQLite finds them through memos_case, then the id range (not LIKE)."""
        end = thread[:-1] + chr(ord(thread[-1]) + 1)
        ids = [row[0] for row in self.conn.execute(
            "SELECT id FROM memos WHERE external_id >= ? AND external_id < ? AND case_id IS NULL", (thread, end))]
        self.conn.executemany("UPDATE memos SET case_id = ?, author_id = (SELECT author_id FROM cases WHERE id = ?)"
                              " WHERE id = ?", [(case_id, case_id, memo_id) for memo_id in ids])
        return ids

    def memos_after(self, memo_id: int, case_ids: Sequence[int]) -> list[int]:
        """The memos of these cases newer than `memo_id` (what an action wrote, see `undo`)."""
        marks = ",".join("?" * len(case_ids))
        return [row[0] for row in self._connection().execute(
            f"SELECT id FROM memos WHERE id > ? AND case_id IN ({marks}) ORDER BY id", (memo_id, *case_ids))]

    def last_memo_id(self) -> int:
        return self._connection().execute("SELECT coalesce(max(id), 0) FROM memos").fetchone()[0]

    def delete_memo(self, memo_id: int) -> None:
        row = self._connection().execute("SELECT text FROM memos WHERE id = ?", (memo_id,)).fetchone()
        if row is not None:
            self.conn.execute("INSERT INTO memos_fts (memos_fts, rowid, text) VALUES ('delete', ?, ?)", (memo_id, row[0]))
            self.conn.execute("DELETE FROM memos WHERE id = ?", (memo_id,))

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables (for the CLI and tests)."""
        return {
            table: self._connection().execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("authors", "cases", "messages", "memos", "case_events", "outbox")
        }

    # -- accounts and sync state ---------------------------------------------

    def sync_state(self, account: str) -> dict[str, Any]:
        rows = self._rows("SELECT * FROM sync_state WHERE account = ?", (account,))
        return rows[0] if rows else {"account": account, "cursor": None, "state": "idle", "last_error": None,
                                     "last_sync_at": None, "failures": 0}

    def save_sync_state(self, account: str, *, cursor: str | None, state: str, last_error: str | None,
                        last_sync_at: int | None, failures: int) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO sync_state (account, cursor, state, last_error, last_sync_at, failures)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET cursor = excluded.cursor,"
                " state = excluded.state, last_error = excluded.last_error, last_sync_at = excluded.last_sync_at,"
                " failures = excluded.failures",
                (account, cursor, state, last_error, last_sync_at, failures),
            )


class BulkCheckpoints:
    """Copies the WAL of a bulk writer's store into the file (PASSIVE: it neither waits for a writer
    nor blocks one), mostly on a thread and connection of its own while the writer goes on.

    A checkpoint that runs beside the writer cannot copy what the writer adds meanwhile, and the WAL
    starts over (instead of growing) only once all of it is copied before a transaction begins: so
    once the thread is done, `between_transactions` copies the rest, a transaction or two's worth,
    itself."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None  # used by one thread at a time
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._copying: concurrent.futures.Future[None] | None = None

    def between_transactions(self, start: bool) -> None:
        """Call between two transactions: `start` copying on the thread (unless it copies already),
        and finish here what a copy that is done on the thread left."""
        if self._copying is not None and self._copying.done():
            self._copying.result()  # its failure, if any, is the writer's
            self._copying = None
            self.copy()
        if start and self._copying is None:
            if self._thread is None:
                self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="webcare-checkpoint")
            self._copying = self._thread.submit(self.copy)

    @property
    def copying(self) -> bool:
        """A copy is under way on the thread."""
        return self._copying is not None and not self._copying.done()

    def copy(self) -> None:
        """Copy what the WAL holds now, in this thread; one that cannot run now (another checkpoint is
        under way, say the console's) leaves it to the next."""
        if self._conn is None:
            self._conn = sqlite3.connect(str(self._path), check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout = 1000")
        with suppress(sqlite3.OperationalError):
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self, finish: bool) -> None:
        """Wait for a copy under way; then, to `finish`, copy the rest (the writer is done)."""
        try:
            if self._copying is not None:
                self._copying.result()
            if finish:
                self.copy()
        finally:
            if self._thread is not None:
                self._thread.shutdown()
            if self._conn is not None:
                self._conn.close()


def event_row(event: Event) -> tuple:
    """An event as a row of `case_events` (less its id)."""
    return (event.case_id, event.at, event.actor, event.kind, orjson.dumps(event.detail).decode() if event.detail else "{}")


def changed_columns(before: tuple, after: tuple) -> dict[str, Any]:
    """The case fields (columns) that differ between two case rows, with their values in `after`."""
    return {name: new for name, old, new in zip(CASE_FIELDS, before, after) if old != new}


def case_row(case: CaseState) -> tuple:
    """A case's fields in the order of `_CASE_COLUMNS`."""
    return (
        case.id, case.author_id, case.platform, case.account, case.status, case.owner, case.created_at,
        case.last_message_at, case.last_direction, case.last_inbound_at, case.waiting_since, case.closed_at,
        case.message_count, case.priority, case.team,
    )
