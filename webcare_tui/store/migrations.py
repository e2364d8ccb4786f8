"""Provides the numbered schema migrations of the store.

`MIGRATIONS[n]` takes a file from schema version n to n + 1; the version lives in
SQLite's `user_version`. Never edit a migration that has shipped: add one.
"""

from __future__ import annotations

import sqlite3

# Migration 9's triggers: a case counts in open_case_counts while it waits on us, as
# case_rules.WAITS_ON_US defined it then (a shipped migration never changes: a copy).
_WAITING = "{row}.status IN ('new', 'open', 'awaiting_approval') AND {row}.last_direction = 'in'"
_SAME_GROUP = "OLD.platform IS NEW.platform AND OLD.owner IS NEW.owner AND OLD.label_ids IS NEW.label_ids"
_GROUP = "platform = {row}.platform AND owner IS {row}.owner AND label_ids = {row}.label_ids"


def _count(row: str, delta: int) -> str:
    """Statements adding `delta` to the count of `row`'s group (a group joined is created first)."""
    group = _GROUP.format(row=row)
    create = (f"INSERT INTO open_case_counts (platform, owner, label_ids, count)"
              f" SELECT {row}.platform, {row}.owner, {row}.label_ids, 0"
              f" WHERE NOT EXISTS (SELECT 1 FROM open_case_counts WHERE {group}); ")
    return (create if delta > 0 else "") + f"UPDATE open_case_counts SET count = count + ({delta}) WHERE {group};"


_KEY_COLUMNS = "status, last_direction, platform, owner, label_ids"

# A message's run_start (migration 10): 2 for the first message of its case, 1 for an inbound
# message after one of ours (a run of customer messages starts), NULL otherwise; as
# case_rules.run_start decides it at ingest.
RUN_START = ("CASE WHEN messages.direction = 'out' THEN NULL ELSE CASE (SELECT q.direction FROM messages q"
             " WHERE q.case_id = messages.case_id AND (q.created_at, q.id) < (messages.created_at, messages.id)"
             " ORDER BY q.created_at DESC, q.id DESC LIMIT 1) WHEN 'out' THEN 1 WHEN 'in' THEN NULL ELSE 2 END END")
# A run start's answer (migration 11): the time and sender of our next message in the case.
_NEXT_OURS = ("CASE WHEN messages.run_start IS NOT NULL THEN (SELECT o.{column} FROM messages o"
              " WHERE o.case_id = messages.case_id AND o.direction = 'out'"
              " AND (o.created_at, o.id) > (messages.created_at, messages.id) ORDER BY o.created_at, o.id LIMIT 1) END")
ANSWERS = f"answered_at = {_NEXT_OURS.format(column='created_at')}, answered_by = {_NEXT_OURS.format(column='agent')}"

MIGRATIONS: list[str] = [
    # 1: the base schema. Times are seconds since the epoch (UTC).
    """
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY,
        platform TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE authors (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        platform_author_id TEXT NOT NULL,
        handle TEXT,
        name TEXT,
        followers INTEGER,
        author_type TEXT NOT NULL DEFAULT 'customer',
        language TEXT,
        sentiment REAL,
        crm TEXT,
        UNIQUE (platform, platform_author_id)
    );
    CREATE TABLE cases (
        id INTEGER PRIMARY KEY,
        author_id INTEGER NOT NULL REFERENCES authors(id),
        platform TEXT NOT NULL,
        account TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('new', 'open', 'pending', 'awaiting_approval', 'closed')),
        owner TEXT,
        priority INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        last_message_at INTEGER NOT NULL,
        last_direction TEXT NOT NULL,
        last_inbound_at INTEGER,
        waiting_since INTEGER,
        closed_at INTEGER,
        message_count INTEGER NOT NULL DEFAULT 0,
        merged_into INTEGER REFERENCES cases(id)
    );
    -- Few indexes on purpose: ingest rewrites a case row per message, and each index
    -- on a column it sets is rewritten too.
    -- threading: an author's cases
    CREATE INDEX cases_author ON cases (author_id);
    -- inbox views by status (unassigned, all open, pending, closed; auto-close sweep) and owner (mine)
    CREATE INDEX cases_status ON cases (status, waiting_since, id);
    CREATE INDEX cases_owner ON cases (owner, status, waiting_since, id);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        account TEXT NOT NULL,
        external_id TEXT NOT NULL,
        case_id INTEGER NOT NULL REFERENCES cases(id),
        author_id INTEGER NOT NULL REFERENCES authors(id),
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
        text TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        in_reply_to TEXT,
        agent TEXT,
        url TEXT,
        language TEXT,
        sentiment REAL,
        UNIQUE (platform, external_id)
    );
    CREATE INDEX messages_case ON messages (case_id, created_at);
    CREATE INDEX messages_created ON messages (created_at);
    -- Search lists hits newest first, not by bm25: no per-document sizes (columnsize=0),
    -- and segments merge in larger steps (automerge 8): both make ingest cheaper.
    CREATE VIRTUAL TABLE messages_fts USING fts5 (
        text, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2',
        columnsize = 0
    );
    INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 8);
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE
    );
    CREATE TABLE case_labels (
        case_id INTEGER NOT NULL REFERENCES cases(id),
        label_id INTEGER NOT NULL REFERENCES labels(id),
        PRIMARY KEY (case_id, label_id)
    ) WITHOUT ROWID;
    CREATE INDEX case_labels_label ON case_labels (label_id, case_id);
    CREATE TABLE memos (
        id INTEGER PRIMARY KEY,
        case_id INTEGER REFERENCES cases(id),
        author_id INTEGER REFERENCES authors(id),
        agent TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX memos_case ON memos (case_id, created_at);
    CREATE INDEX memos_author ON memos (author_id, created_at);
    -- The audit trail of status, owner and label changes. A status change that a message
    -- causes (our reply → pending, the customer's answer → open) is recorded by that message.
    CREATE TABLE case_events (
        id INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL REFERENCES cases(id),
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX case_events_case ON case_events (case_id, at);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        case_id INTEGER REFERENCES cases(id),
        account TEXT NOT NULL,
        platform TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'unknown', 'discarded')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_error TEXT,
        remote_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX outbox_state ON outbox (state, next_attempt_at, id);
    CREATE INDEX outbox_case ON outbox (case_id, id);
    CREATE TABLE sync_state (
        account TEXT PRIMARY KEY,
        cursor TEXT,
        state TEXT NOT NULL DEFAULT 'idle',
        last_error TEXT,
        last_sync_at INTEGER,
        failures INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 2: memos are searchable too (the search screen covers messages and memos).
    """
    CREATE VIRTUAL TABLE memos_fts USING fts5 (
        text, content = 'memos', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
    );
    INSERT INTO memos_fts (memos_fts) VALUES ('rebuild');
    """,
    # 3: the inbox's pending and closed views (newest activity first) and author lookups.
    """
    CREATE INDEX cases_status_last ON cases (status, last_message_at, id);
    CREATE INDEX authors_handle ON authors (handle);
    """,
    # 4: open work in waiting order, for the team and per owner: partial indexes hold only
    # open cases, so "All open" and "Mine" read 100 rows in order instead of sorting all.
    """
    CREATE INDEX cases_open_waiting ON cases (waiting_since, id)
        WHERE status IN ('new', 'open', 'awaiting_approval');
    CREATE INDEX cases_open_owner ON cases (owner, waiting_since, id)
        WHERE status IN ('new', 'open', 'awaiting_approval');
    """,
    # 5: team mode: the case state a helpdesk (Chatwoot) last reported per case, so a sync
    # sees what a teammate changed there; labels as a JSON list.
    """
    CREATE TABLE remote_case_state (
        case_id INTEGER PRIMARY KEY REFERENCES cases(id),
        account TEXT NOT NULL,
        status TEXT,
        owner TEXT,
        labels TEXT,
        updated_at INTEGER NOT NULL
    );
    """,
    # 6: KPIs (dashboard, `webcare report`). A period's inbound and outbound messages are read
    # from an index each, without the rows (a message is in one of the two: together they cost
    # ingest about one index; `direction` is a column too, or SQLite would still read the row);
    # a message's neighbours in its case and their direction come from messages_case alone, in
    # (created_at, id) order (same entries, a little wider); waiting cases are grouped by platform
    # and owner from their index alone; and the cases closed in a period.
    """
    DROP INDEX messages_case;
    CREATE INDEX messages_case ON messages (case_id, created_at, id, direction);
    CREATE INDEX messages_inbound ON messages (created_at, case_id, platform, sentiment, direction)
        WHERE direction = 'in';
    CREATE INDEX messages_outbound ON messages (created_at, case_id, platform, agent, direction)
        WHERE direction = 'out';
    CREATE INDEX cases_open_kpi ON cases (last_direction, platform, owner, waiting_since, status)
        WHERE status IN ('new', 'open', 'awaiting_approval');
    CREATE INDEX cases_closed ON cases (closed_at) WHERE status = 'closed';
    """,
    # 7: approvals: a reply that waits for a lead is an outbox row in state 'awaiting_approval'
    # (the worker selects only 'queued'), and one the lead refused stays as 'rejected'. SQLite
    # cannot change a CHECK constraint, so the (small) outbox table is rebuilt with its indexes.
    """
    CREATE TABLE outbox_new (
        id INTEGER PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        case_id INTEGER REFERENCES cases(id),
        account TEXT NOT NULL,
        platform TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('awaiting_approval', 'queued', 'sending', 'sent', 'failed', 'unknown', 'discarded',
                             'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_error TEXT,
        remote_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    INSERT INTO outbox_new (id, idempotency_key, case_id, account, platform, kind, payload, state, attempts,
                            next_attempt_at, last_error, remote_id, created_at, updated_at)
        SELECT id, idempotency_key, case_id, account, platform, kind, payload, state, attempts, next_attempt_at,
               last_error, remote_id, created_at, updated_at FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_new RENAME TO outbox;
    CREATE INDEX outbox_state ON outbox (state, next_attempt_at, id);
    CREATE INDEX outbox_case ON outbox (case_id, id);
    """,
    # 8: a case's label ids on the case itself ("3,7"; '' for none), kept by triggers whatever
    # writes case_labels. The KPIs group cases by it (a few dozen label sets) instead of joining
    # case_labels per case: with most cases labelled, that join cost 200 ms for the open cases.
    """
    ALTER TABLE cases ADD COLUMN label_ids TEXT NOT NULL DEFAULT '';
    UPDATE cases SET label_ids = (SELECT group_concat(label_id) FROM (
        SELECT label_id FROM case_labels WHERE case_id = cases.id ORDER BY label_id))
        WHERE id IN (SELECT case_id FROM case_labels);
    CREATE TRIGGER case_labels_added AFTER INSERT ON case_labels BEGIN
        UPDATE cases SET label_ids = (SELECT group_concat(label_id) FROM (
            SELECT label_id FROM case_labels WHERE case_id = NEW.case_id ORDER BY label_id))
            WHERE id = NEW.case_id;
    END;
    CREATE TRIGGER case_labels_removed AFTER DELETE ON case_labels BEGIN
        UPDATE cases SET label_ids = coalesce((SELECT group_concat(label_id) FROM (
            SELECT label_id FROM case_labels WHERE case_id = OLD.case_id ORDER BY label_id)), '')
            WHERE id = OLD.case_id;
    END;
    DROP INDEX cases_open_kpi;
    CREATE INDEX cases_open_kpi ON cases (last_direction, platform, owner, label_ids, waiting_since, status)
        WHERE status IN ('new', 'open', 'awaiting_approval');
    """,
    # 9: how many cases wait on us per platform, owner and label set, kept by triggers on cases:
    # the dashboard's "open" no longer counts 100,000 index entries on every refresh (the oldest
    # waiting case of a group is the group's first entry in cases_open_kpi).
    f"""
    CREATE TABLE open_case_counts (
        platform TEXT NOT NULL,
        owner TEXT,
        label_ids TEXT NOT NULL,
        count INTEGER NOT NULL
    );
    CREATE INDEX open_case_counts_group ON open_case_counts (platform, owner, label_ids);
    INSERT INTO open_case_counts (platform, owner, label_ids, count)
        SELECT platform, owner, label_ids, count(*) FROM cases WHERE {_WAITING.format(row="cases")} GROUP BY 1, 2, 3;
    CREATE TRIGGER open_case_added AFTER INSERT ON cases WHEN {_WAITING.format(row="NEW")} BEGIN
        {_count("NEW", 1)}
    END;
    CREATE TRIGGER open_case_removed AFTER DELETE ON cases WHEN {_WAITING.format(row="OLD")} BEGIN
        {_count("OLD", -1)}
    END;
    CREATE TRIGGER open_case_left AFTER UPDATE OF {_KEY_COLUMNS} ON cases
        WHEN {_WAITING.format(row="OLD")} AND NOT ({_WAITING.format(row="NEW")} AND {_SAME_GROUP}) BEGIN
        {_count("OLD", -1)}
    END;
    CREATE TRIGGER open_case_joined AFTER UPDATE OF {_KEY_COLUMNS} ON cases
        WHEN {_WAITING.format(row="NEW")} AND NOT ({_WAITING.format(row="OLD")} AND {_SAME_GROUP}) BEGIN
        {_count("NEW", 1)}
    END;
    """,
    # 10: where runs of customer messages start, on the message (see RUN_START; ingest sets it, and
    # the store recomputes a case's after a late message, a split, a merge or a discarded reply):
    # the KPIs read a day's runs from one index instead of looking up each message's predecessor.
    f"""
    ALTER TABLE messages ADD COLUMN run_start INTEGER;
    UPDATE messages SET run_start = {RUN_START} WHERE direction = 'in';
    CREATE INDEX messages_runs ON messages (created_at, case_id, platform, run_start) WHERE run_start IS NOT NULL;
    """,
    # 11: and each run's answer on its first message (see ANSWERS; ingest sets it when our reply
    # comes, the store recomputes it with the marks): the KPIs read a day's runs, answers included,
    # from the index alone instead of looking up the next reply of each run.
    f"""
    ALTER TABLE messages ADD COLUMN answered_at INTEGER;
    ALTER TABLE messages ADD COLUMN answered_by TEXT;
    UPDATE messages SET {ANSWERS} WHERE run_start IS NOT NULL;
    DROP INDEX messages_runs;
    CREATE INDEX messages_runs ON messages (created_at, case_id, platform, run_start, answered_at, answered_by)
        WHERE run_start IS NOT NULL;
    """,
    # 12: writes come in short transactions (about 200 ms, so no writer waits long on another), and
    # FTS5 writes a segment per transaction: merging every 4 segments cost the bulk import a fifth
    # of its time. Merge every 8, and at 32 at the latest; a search reads a few more segments.
    """
    INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 8);
    INSERT INTO messages_fts (messages_fts, rank) VALUES ('crisismerge', 32);
    """,
    # 13: team mode: a memo taken in from a helpdesk (a teammate's private note in Chatwoot) keeps
    # the platform's id, so a sync takes it in once (case_id NULL: its conversation has no case here
    # yet; the sync gives it the case when one appears). The outbox is looked up by the platform's id
    # of what it sent: our own note coming back, a reply the channel refused after it was sent.
    """
    ALTER TABLE memos ADD COLUMN external_id TEXT;
    CREATE UNIQUE INDEX memos_external ON memos (external_id) WHERE external_id IS NOT NULL;
    CREATE INDEX outbox_remote ON outbox (remote_id) WHERE remote_id IS NOT NULL;
    """,
    # 14: a customer who writes again moves every case index holding `waiting_since`, and the bulk
    # import writes such a case once per slice. Open work in waiting order has the partial indexes of
    # migration 4 (Unassigned walks cases_open_owner at owner NULL), pending and closed cases are
    # read by activity (cases_status_last), so cases_status is gone, and cases_owner keeps only what
    # names an agent's cases (the known owners, an agent's pending or closed cases).
    """
    DROP INDEX cases_status;
    DROP INDEX cases_owner;
    CREATE INDEX cases_owner ON cases (owner, status);
    """,
    # 15: the reply an agent began and left (Esc in the composer, another case) waits per case, across
    # restarts, until it is sent or emptied. The inbox marks a case with one by its primary key.
    """
    CREATE TABLE drafts (
        case_id INTEGER PRIMARY KEY REFERENCES cases(id),
        agent TEXT NOT NULL,
        text TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    """,
    # 16: alerts that leave the console (`webcare watch`, notify.py): one row per channel and alert key,
    # so each alert goes to each channel once, across restarts. `state`: queued → sending (its `batch`
    # is the message it went out in) → sent; "unknown" when a channel that cannot repeat a send safely
    # lost track of one. Rule alerts are case events of kind 'alert', read by time.
    """
    CREATE TABLE notify_queue (
        channel TEXT NOT NULL,
        alert_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        text TEXT NOT NULL,
        case_id INTEGER,
        state TEXT NOT NULL DEFAULT 'queued',
        batch TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        sent_at INTEGER,
        PRIMARY KEY (channel, alert_key)
    ) WITHOUT ROWID;
    CREATE INDEX notify_queue_state ON notify_queue (channel, state, next_at);
    CREATE INDEX case_events_alerts ON case_events (at) WHERE kind = 'alert';
    """,
    # 17: team mode: a case has a team (a routing rule's assign_team, or the helpdesk's team; NULL: none),
    # and what the helpdesk last reported of the priority and team is kept with its other case state,
    # so "changed there since we last looked" holds across restarts. NULL there: not seen yet (a
    # priority seen first only raises ours); the reported team is kept as the connector says it
    # ('' for none), so none is told from not seen.
    """
    ALTER TABLE cases ADD COLUMN team TEXT;
    ALTER TABLE remote_case_state ADD COLUMN priority INTEGER;
    ALTER TABLE remote_case_state ADD COLUMN team TEXT;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The store file was written by a newer webcare-tui than this one."""


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, path: str, target: int = SCHEMA_VERSION) -> int:
    """Bring the file to schema `target`, one migration per transaction.

    Returns:
        The version the file had before.

    Raises:
        SchemaTooNew: the file's version is above what this code knows.
    """
    found = schema_version(conn)
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{path} was written by a newer webcare-tui (schema {found}; this version "
            f"knows up to {SCHEMA_VERSION}). Upgrade webcare-tui, or use another file with --db."
        )
    for version in range(found, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT on its own; split so each migration is one transaction.
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]
