"""Provides `KpiQueries`: the store's aggregate SQL behind the KPIs (definitions: `webcare_tui/kpi.py`).

Every query reads one period through an index (the inbound-only `messages_inbound` and the
outbound-only `messages_outbound` hold all the KPIs read of a message; the open-case and
closed-case partial indexes) and returns grouped counts, or for the run-based KPIs one row per
run that started in the period: never a whole table. Rows are tuples; `kind` is "team", "agent",
"platform" or "label", and a None key means unassigned (agent) or without a label.

Labels come from each case's own copy of its label ids (`cases.label_ids`, kept by triggers):
the queries group by that set (a few dozen distinct sets) and `_LabelSets` turns a set into
names here, instead of joining case_labels for every case.

A reply of ours that failed (its outbox row is "failed": refused by the platform for good, or
reported undelivered later) never reached the customer: it is no reply. The failed rows are read
from `outbox_state` (a handful: they wait for an agent to retry or discard them); the period's
replies leave them out, and the runs of their cases are worked out again without them (the answers
kept on the messages count every reply of ours).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from itertools import groupby
from typing import TYPE_CHECKING, Any

import orjson

from webcare_tui.case_rules import WAITS_ON_US

if TYPE_CHECKING:
    from webcare_tui.kpi import RunRow

_OPEN = WAITS_ON_US.format(row="c")
_UNLABELLED = (None,)  # the by-label key of a case without labels
# The messages of our replies that failed: never delivered (a draft that failed has no message). Not NULL, or
# `NOT IN` it would leave out every row.
_FAILED_REPLY = "json_extract(f.payload, '$.message_id')"
_FAILED_ROWS = "f.state = 'failed' AND f.kind = 'reply'"
_FAILED_REPLIES = (f"SELECT {_FAILED_REPLY} FROM outbox f INDEXED BY outbox_state WHERE {_FAILED_ROWS}"
                   f" AND {_FAILED_REPLY} IS NOT NULL")


class _LabelSets:
    """A case's label ids ("3,7") → its label names, sorted; () for none. Each set is looked up once."""

    def __init__(self, names: dict[int, str]) -> None:
        self.names = names
        self.found: dict[str, tuple[str, ...]] = {"": ()}

    def __call__(self, label_ids: str) -> tuple[str, ...]:
        names = self.found.get(label_ids)
        if names is None:
            ids = (int(part) for part in label_ids.split(","))
            names = self.found[label_ids] = tuple(sorted(self.names[i] for i in ids if i in self.names))
        return names


def _per_label(by_label_ids: Counter[str], labels: _LabelSets) -> Counter[str | None]:
    """Counts per set of label ids → counts per label (None: without a label)."""
    named: Counter[str | None] = Counter()
    for label_ids, count in by_label_ids.items():
        for name in labels(label_ids) or _UNLABELLED:
            named[name] += count
    return named


def _rollup(rows: list[tuple], labels: _LabelSets, with_oldest: bool) -> list[tuple]:
    """(platform, owner, label ids, count[, oldest]) groups → team, agent, platform and label rows."""
    totals: dict[tuple[str, Any], list[Any]] = {}
    for platform, owner, label_ids, count, *oldest in rows:
        keys = [("team", None), ("agent", owner), ("platform", platform)]
        keys += [("label", name) for name in labels(label_ids) or _UNLABELLED]
        for key in keys:
            slot = totals.setdefault(key, [0, None])
            slot[0] += count
            if oldest and oldest[0] is not None and (slot[1] is None or oldest[0] < slot[1]):
                slot[1] = oldest[0]
    return [(kind, key, count, *([oldest] if with_oldest else [])) for (kind, key), (count, oldest) in totals.items()]


class KpiQueries:
    """Mixed into `Store` (which provides `_reader`)."""

    conn: sqlite3.Connection

    if TYPE_CHECKING:  # provided by `InboxQueries`
        def _reader(self) -> sqlite3.Connection: ...

    def _kpi(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        return self._reader().execute(sql, params).fetchall()

    def _label_sets(self) -> _LabelSets:
        return _LabelSets(dict(self._kpi("SELECT id, name FROM labels")))

    def kpi_messages(self, start: int, end: int) -> dict[str, list[tuple]]:
        """The messages created in [start, end), in two passes (inbound, outbound; our failed replies
        left out), grouped three ways:

        - "counts": (direction, platform, who, count, negative, neutral, positive); who is the
          sending agent of a reply and the case's owner of an inbound message; the sentiment
          counts are of scored messages (below -0.05 negative, above 0.05 positive).
        - "labels": (direction, label, count) per label of the message's case (None: no label).
        - "handled": (kind, key, count of cases with a reply of ours).
        """
        counts: dict[tuple, list[int]] = {}
        incoming: Counter[str] = Counter()  # by label ids
        for platform, owner, label_ids, *values in self._kpi(
                "SELECT m.platform, c.owner, c.label_ids, count(*), count(CASE WHEN m.sentiment < -0.05 THEN 1 END),"
                " count(CASE WHEN m.sentiment BETWEEN -0.05 AND 0.05 THEN 1 END),"
                " count(CASE WHEN m.sentiment > 0.05 THEN 1 END)"
                " FROM messages m INDEXED BY messages_inbound JOIN cases c ON c.id = m.case_id"
                " WHERE m.direction = 'in' AND m.created_at >= ? AND m.created_at < ? GROUP BY 1, 2, 3", (start, end)):
            slot = counts.setdefault(("in", platform, owner), [0, 0, 0, 0])
            slot[:] = map(sum, zip(slot, values))
            incoming[label_ids] += values[0]
        replies: Counter[str] = Counter()  # by label ids
        handled_by: Counter[str | None] = Counter()
        replied: dict[int, tuple[str, str]] = {}  # case → (platform, label ids)
        # one row per case and replying agent: an agent's rows are the cases they handled
        for case_id, platform, agent, label_ids, count in self._kpi(
                "SELECT m.case_id, m.platform, m.agent, c.label_ids, count(*)"
                " FROM messages m INDEXED BY messages_outbound JOIN cases c ON c.id = m.case_id"
                " WHERE m.direction = 'out' AND m.created_at >= ? AND m.created_at < ?"
                f" AND m.id NOT IN ({_FAILED_REPLIES}) GROUP BY 1, 2, 3", (start, end)):
            counts.setdefault(("out", platform, agent), [0, 0, 0, 0])[0] += count
            replies[label_ids] += count
            handled_by[agent] += 1
            replied[case_id] = (platform, label_ids)
        labels = self._label_sets()
        handled_platforms = Counter(platform for platform, _ in replied.values())
        handled_labels = Counter(label_ids for _, label_ids in replied.values())
        return {
            "counts": [(*key, *values) for key, values in counts.items()],
            "labels": [("in", name, count) for name, count in _per_label(incoming, labels).items()]
                      + [("out", name, count) for name, count in _per_label(replies, labels).items()],
            "handled": [("team", None, len(replied))] + [("agent", key, n) for key, n in handled_by.items()]
                       + [("platform", key, n) for key, n in handled_platforms.items()]
                       + [("label", key, n) for key, n in _per_label(handled_labels, labels).items()],
        }

    def kpi_completed(self, start: int, end: int) -> list[tuple]:
        """Cases closed in [start, end) (and still closed): (kind, key, count); agent is the owner."""
        return _rollup(self._kpi(
            "SELECT c.platform, c.owner, c.label_ids, count(*) FROM cases c INDEXED BY cases_closed"
            " WHERE c.status = 'closed' AND c.closed_at >= ? AND c.closed_at < ? AND c.merged_into IS NULL"
            " GROUP BY 1, 2, 3", (start, end)), self._label_sets(), with_oldest=False)

    def _waiting_groups(self) -> list[tuple]:
        """Cases waiting on us now per (platform, owner, label ids): the count (kept by triggers in
        open_case_counts) and the oldest waiting_since (the group's first entry in cases_open_kpi)."""
        return self._kpi(
            "SELECT g.platform, g.owner, g.label_ids, g.count, (SELECT min(c.waiting_since) FROM cases c"
            f"  INDEXED BY cases_open_kpi WHERE {_OPEN} AND c.platform = g.platform AND c.owner IS g.owner"
            "  AND c.label_ids = g.label_ids) FROM open_case_counts g WHERE g.count > 0")

    def kpi_open_now(self) -> list[tuple]:
        """Cases waiting on us now: (kind, key, count, oldest waiting_since)."""
        return _rollup(self._waiting_groups(), self._label_sets(), with_oldest=True)

    def kpi_open_at(self, at: int) -> list[tuple]:
        """Cases that waited on us at moment `at` (their last message by then inbound, and no close
        after it by then): (kind, key, count, oldest waiting since).

        Those still waiting now since before `at` come from the open-case index; the others were
        answered or closed after `at`, so only cases with a reply or a close since then are looked
        at, one row each: the cost grows with the activity since `at`, not with the store.
        """
        # still waiting since before `at`: all waiting now, less those waiting only since (few)
        since = {tuple(group): count for *group, count in self._kpi(
            "SELECT platform, owner, label_ids, count(*) FROM ("
            f" SELECT c.platform, c.owner, c.label_ids FROM cases c INDEXED BY cases_open_waiting"
            f"  WHERE {_OPEN} AND c.waiting_since > ?"  # two index ranges: an OR would scan the index
            f" UNION ALL SELECT c.platform, c.owner, c.label_ids FROM cases c INDEXED BY cases_open_waiting"
            f"  WHERE {_OPEN} AND c.waiting_since IS NULL) GROUP BY 1, 2, 3", (at,))}
        still = [(platform, owner, label_ids, left, oldest)  # a group with one left has its oldest before `at`
                 for platform, owner, label_ids, count, oldest in self._waiting_groups()
                 if (left := count - since.get((platform, owner, label_ids), 0))]
        since_then = self._kpi(
            "WITH cand AS MATERIALIZED (SELECT case_id AS id FROM messages INDEXED BY messages_outbound"
            "  WHERE direction = 'out' AND created_at > :at"
            "  UNION SELECT id FROM cases INDEXED BY cases_closed WHERE status = 'closed' AND closed_at > :at),"
            " last AS MATERIALIZED (SELECT c.id, c.platform, c.owner, c.label_ids,"
            "  (SELECT max(q.created_at) FROM messages q WHERE q.case_id = c.id AND q.created_at <= :at) AS at,"
            "  (SELECT q.direction FROM messages q WHERE q.case_id = c.id AND q.created_at <= :at"
            "   ORDER BY q.created_at DESC, q.id DESC LIMIT 1) AS direction,"
            "  (SELECT max(o.created_at) FROM messages o WHERE o.case_id = c.id AND o.direction = 'out'"
            "   AND o.created_at <= :at) AS answered"
            "  FROM cand JOIN cases c ON c.id = cand.id WHERE c.merged_into IS NULL"
            # still waiting since before `at`: counted above
            f"  AND NOT ({_OPEN} AND c.waiting_since <= :at))"
            " SELECT platform, owner, label_ids, 1, (SELECT min(i.created_at) FROM messages i WHERE i.case_id = last.id"
            "  AND i.direction = 'in' AND i.created_at > coalesce(answered, -1))"
            " FROM last WHERE direction = 'in'"
            "  AND NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = last.id AND e.kind = 'status'"
            "   AND e.at >= last.at AND e.at <= :at AND json_extract(e.detail, '$.to') = 'closed')", {"at": at})
        return _rollup(still + since_then, self._label_sets(), with_oldest=True)

    def kpi_runs(self, start: int, end: int) -> list[RunRow]:
        """Runs of inbound messages that started in [start, end), one row each: (case_id, platform,
        started_at, answered_at, answering agent, owner, closed_at, first, labels).

        A run starts at an inbound message whose previous message in the case (by time, then id)
        is outbound or missing (`first`). Its answer is the next outbound message of the case. Both
        are kept on the run's first message (`run_start`, `answered_at`, `answered_by`) and read from
        messages_runs. closed_at is set only for a closed case without an answer after the run.
        labels is a tuple of the case's label names.

        Our failed replies are no messages here: the runs of a case with one are read from its
        messages instead (`_runs_without`), as if the failed replies were not there.
        """
        rows = self._kpi(
            "SELECT m.case_id, m.platform, m.created_at, m.answered_at, m.answered_by, c.owner,"
            " CASE WHEN m.answered_at IS NULL AND c.status = 'closed' THEN c.closed_at END, m.run_start = 2, c.label_ids"
            " FROM messages m INDEXED BY messages_runs JOIN cases c ON c.id = m.case_id"
            " WHERE m.run_start IS NOT NULL AND m.created_at >= ? AND m.created_at < ? AND c.merged_into IS NULL",
            (start, end))
        # our failed replies (message id → case id) in cases with a message since `start`: any other case has
        # no run in the period
        failed: dict[int, int] = dict(self._kpi(
            f"SELECT m.id, m.case_id FROM outbox f INDEXED BY outbox_state JOIN messages m ON m.id = {_FAILED_REPLY}"
            f" JOIN cases c ON c.id = m.case_id WHERE {_FAILED_ROWS} AND c.last_message_at >= ?"
            " AND c.merged_into IS NULL", (start,)))
        labels = self._label_sets()
        if not failed:
            return [(*row[:8], labels(row[8])) for row in rows]
        cases = set(failed.values())
        return ([(*row[:8], labels(row[8])) for row in rows if row[0] not in cases]
                + [(*row[:8], labels(row[8])) for row in self._runs_without(set(failed), cases, start, end)])

    def _runs_without(self, failed: set[int], cases: set[int], start: int, end: int) -> list[tuple]:
        """The runs that started in [start, end) in these cases, from their messages, the `failed` ones left out
        (rows as `kpi_runs` reads them: labels as the case's label ids). As RUN_START and ANSWERS
        (store/migrations.py) say: a run starts at an inbound message after one of ours or none (first), and
        is answered by our next message in the case (by time, then id)."""
        ids = orjson.dumps(sorted(cases)).decode()
        about = {case_id: rest for case_id, *rest in self._kpi(  # by primary key (a status in the WHERE would
            # walk every closed case): owner, closed_at if closed, label ids
            "SELECT id, owner, CASE WHEN status = 'closed' THEN closed_at END, label_ids FROM cases"
            " WHERE id IN (SELECT value FROM json_each(?))", (ids,))}
        # their messages' order and direction from messages_case alone; the platform and agent of the few that
        # start or answer a run of the period by id after
        messages = self._kpi(
            "SELECT case_id, id, created_at, direction FROM messages INDEXED BY messages_case"
            " WHERE case_id IN (SELECT value FROM json_each(?)) ORDER BY case_id, created_at, id", (ids,))
        runs: list[tuple[int, int, int, int | None, int]] = []  # case, first message, started at, answer, first
        for case_id, in_case in groupby(messages, key=lambda message: message[0]):
            started: tuple[int, int, int] | None = None  # the run that waits for our answer: message, time, first
            last = None  # the direction of the case's previous message
            for _, message_id, created_at, direction in in_case:
                if message_id in failed:
                    continue
                if direction == "in" and last != "in":
                    started = (message_id, created_at, int(last is None))
                elif direction == "out" and started is not None:
                    if start <= started[1] < end:
                        runs.append((case_id, started[0], started[1], message_id, started[2]))
                    started = None
                last = direction
            if started is not None and start <= started[1] < end:  # not answered (yet)
                runs.append((case_id, started[0], started[1], None, started[2]))
        named = {message_id: rest for message_id, *rest in self._kpi(  # id → platform, created_at, agent
            "SELECT id, platform, created_at, agent FROM messages WHERE id IN (SELECT value FROM json_each(?))",
            (orjson.dumps([run[1] for run in runs] + [run[3] for run in runs if run[3] is not None]).decode(),))}
        found = []
        for case_id, first_id, started_at, answer, first in runs:
            owner, closed_at, label_ids = about[case_id]
            platform = named[first_id][0]
            if answer is None:
                found.append((case_id, platform, started_at, None, None, owner, closed_at, first, label_ids))
            else:
                _, answered_at, agent = named[answer]
                found.append((case_id, platform, started_at, answered_at, agent, owner, None, first, label_ids))
        return found

    def kpi_inbound_buckets(self, start: int, end: int, size: int) -> list[tuple[int, int]]:
        """Inbound messages per `size`-second bucket from `start` (aligned to it): (bucket start, count).
        One index range count per bucket: no per-row arithmetic over weeks of messages."""
        return self._kpi(
            "WITH RECURSIVE b(s) AS (SELECT ? UNION ALL SELECT s + ? FROM b WHERE s + ? < ?)"
            " SELECT s, (SELECT count(*) FROM messages INDEXED BY messages_inbound WHERE direction = 'in'"
            "  AND created_at >= s AND created_at < min(s + ?, ?)) AS n FROM b",
            (start, size, size, end, size, end))
