"""Provides `KpiQueries`: the store's aggregate SQL behind the KPIs (definitions: `webcare_tui/kpi.py`).

Every query reads one period through an index (the inbound-only `messages_inbound` and the
outbound-only `messages_outbound` hold all the KPIs read of a message; the open-case and
closed-case partial indexes) and returns grouped counts, or for the run-based KPIs one row per
run that started in the period: never a whole table. Rows are tuples; `kind` is "team", "agent", "platform" or "label", and a
None key means unassigned (agent) or without a label.
"""

from __future__ import annotations

import sqlite3
from typing import Any

_OPEN = "c.status IN ('new', 'open', 'awaiting_approval') AND c.last_direction = 'in'"  # as in cases_open_kpi
_SEP = "\x1f"  # between a run's labels (label names are typed text: a control character is not)


def _rollup(rows: list[tuple], with_oldest: bool) -> list[tuple]:
    """(platform, owner, count[, oldest]) groups → team, agent and platform rows."""
    totals: dict[tuple[str, Any], list[Any]] = {}
    for platform, owner, count, *oldest in rows:
        for key in (("team", None), ("agent", owner), ("platform", platform)):
            slot = totals.setdefault(key, [0, None])
            slot[0] += count
            if oldest and oldest[0] is not None and (slot[1] is None or oldest[0] < slot[1]):
                slot[1] = oldest[0]
    return [(kind, key, count, *([oldest] if with_oldest else [])) for (kind, key), (count, oldest) in totals.items()]


class KpiQueries:
    """Mixed into `Store` (which provides `_reader`)."""

    conn: sqlite3.Connection

    def _kpi(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        return self._reader().execute(sql, params).fetchall()  # type: ignore[attr-defined]

    def _any_labels(self) -> bool:
        """Whether any case has a label: without, the per-label joins are skipped (all is unlabelled)."""
        return bool(self._kpi("SELECT EXISTS (SELECT 1 FROM case_labels)")[0][0])

    def kpi_messages(self, start: int, end: int) -> dict[str, list[tuple]]:
        """The messages created in [start, end), in one pass, grouped three ways:

        - "counts": (direction, platform, who, count, negative, neutral, positive); who is the
          sending agent of a reply and the case's owner of an inbound message; the sentiment
          counts are of scored messages (below -0.05 negative, above 0.05 positive).
        - "labels": (direction, label, count) per label of the message's case (None: no label).
        - "handled": (kind, key, count of cases with a reply of ours).
        """
        inbound = ("FROM messages m INDEXED BY messages_inbound WHERE m.direction = 'in'"
                   " AND m.created_at >= :start AND m.created_at < :end")
        outbound = ("FROM messages m INDEXED BY messages_outbound WHERE m.direction = 'out'"
                    " AND m.created_at >= :start AND m.created_at < :end")
        sql = (
            "SELECT 'counts', 'in', m.platform, c.owner, count(*), count(CASE WHEN m.sentiment < -0.05 THEN 1 END),"
            " count(CASE WHEN m.sentiment BETWEEN -0.05 AND 0.05 THEN 1 END),"
            f" count(CASE WHEN m.sentiment > 0.05 THEN 1 END) {inbound.replace('WHERE', 'JOIN cases c ON c.id = m.case_id WHERE')}"
            " GROUP BY 3, 4"
            f" UNION ALL SELECT 'counts', 'out', m.platform, m.agent, count(*), 0, 0, 0 {outbound} GROUP BY 3, 4"
            f" UNION ALL SELECT 'handled', 'team', NULL, NULL, count(DISTINCT m.case_id), 0, 0, 0 {outbound}"
            f" UNION ALL SELECT 'handled', 'agent', m.agent, NULL, count(DISTINCT m.case_id), 0, 0, 0 {outbound} GROUP BY 3"
            f" UNION ALL SELECT 'handled', 'platform', m.platform, NULL, count(DISTINCT m.case_id), 0, 0, 0 {outbound}"
            " GROUP BY 3"
        )
        labelled = self._any_labels()
        if labelled:
            join = "LEFT JOIN case_labels cl ON cl.case_id = m.case_id LEFT JOIN labels l ON l.id = cl.label_id WHERE"
            sql += (f" UNION ALL SELECT 'labels', 'in', l.name, NULL, count(*), 0, 0, 0 {inbound.replace('WHERE', join)}"
                    " GROUP BY 3"
                    f" UNION ALL SELECT 'labels', 'out', l.name, NULL, count(*), 0, 0, 0 {outbound.replace('WHERE', join)}"
                    " GROUP BY 3"
                    f" UNION ALL SELECT 'handled', 'label', l.name, NULL, count(DISTINCT m.case_id), 0, 0, 0"
                    f" {outbound.replace('WHERE', join)} GROUP BY 3")
        rows = self._kpi(sql, {"start": start, "end": end})
        found: dict[str, list[tuple]] = {"counts": [], "labels": [], "handled": []}
        for part, a, b, c, count, negative, neutral, positive in rows:
            if part == "counts":
                found[part].append((a, b, c, count, negative, neutral, positive))
            elif count:
                found[part].append((a, b, count))
        if not labelled:  # every message and handled case is without a label
            for direction in ("in", "out"):
                total = sum(row[3] for row in found["counts"] if row[0] == direction)
                if total:
                    found["labels"].append((direction, None, total))
            found["handled"] += [("label", None, count) for kind, _, count in found["handled"] if kind == "team"]
        return found

    def kpi_completed(self, start: int, end: int) -> list[tuple]:
        """Cases closed in [start, end) (and still closed): (kind, key, count); agent is the owner."""
        where = "c.status = 'closed' AND c.closed_at >= ? AND c.closed_at < ? AND c.merged_into IS NULL"
        rows = _rollup(self._kpi(f"SELECT c.platform, c.owner, count(*) FROM cases c INDEXED BY cases_closed WHERE {where}"
                                 f" GROUP BY 1, 2",
                                 (start, end)), with_oldest=False)
        if not self._any_labels():
            return rows + [("label", None, count) for kind, _, count in rows if kind == "team"]
        return rows + self._kpi(
            f"SELECT 'label', l.name, count(*) FROM cases c INDEXED BY cases_closed LEFT JOIN case_labels cl"
            f" ON cl.case_id = c.id LEFT JOIN labels l ON l.id = cl.label_id WHERE {where} GROUP BY l.name", (start, end))

    def kpi_open_now(self) -> list[tuple]:
        """Cases waiting on us now: (kind, key, count, oldest waiting_since)."""
        rows = _rollup(self._kpi(f"SELECT c.platform, c.owner, count(*), min(c.waiting_since) FROM cases c"
                                 f" INDEXED BY cases_open_kpi WHERE {_OPEN} GROUP BY 1, 2"), with_oldest=True)
        if not self._any_labels():
            return rows + [("label", None, count, oldest) for kind, _, count, oldest in rows if kind == "team"]
        return rows + self._kpi(
            f"SELECT 'label', l.name, count(*), min(c.waiting_since) FROM cases c INDEXED BY cases_open_kpi"
            f" LEFT JOIN case_labels cl ON cl.case_id = c.id LEFT JOIN labels l ON l.id = cl.label_id WHERE {_OPEN}"
            f" GROUP BY l.name")

    def kpi_open_at(self, at: int) -> list[tuple]:
        """Cases that waited on us at moment `at` (their last message by then inbound, and no close
        after it by then): (kind, key, count, oldest waiting since).

        Those still waiting now since before `at` come from the open-case index; the others were
        answered or closed after `at`, so only cases with a reply or a close since then are looked
        at, one row each: the cost grows with the activity since `at`, not with the store.
        """
        labelled = self._any_labels()
        still = _rollup(self._kpi(f"SELECT c.platform, c.owner, count(*), min(c.waiting_since) FROM cases c"
                                  f" INDEXED BY cases_open_kpi WHERE {_OPEN} AND c.waiting_since <= ? GROUP BY 1, 2",
                                  (at,)), with_oldest=True)
        since_then = self._kpi(
            "WITH cand AS MATERIALIZED (SELECT case_id AS id FROM messages INDEXED BY messages_outbound"
            "  WHERE direction = 'out' AND created_at > :at"
            "  UNION SELECT id FROM cases INDEXED BY cases_closed WHERE status = 'closed' AND closed_at > :at),"
            " last AS MATERIALIZED (SELECT c.id, c.platform, c.owner,"
            "  (SELECT max(q.created_at) FROM messages q WHERE q.case_id = c.id AND q.created_at <= :at) AS at,"
            "  (SELECT q.direction FROM messages q WHERE q.case_id = c.id AND q.created_at <= :at"
            "   ORDER BY q.created_at DESC, q.id DESC LIMIT 1) AS direction,"
            "  (SELECT max(o.created_at) FROM messages o WHERE o.case_id = c.id AND o.direction = 'out'"
            "   AND o.created_at <= :at) AS answered"
            "  FROM cand JOIN cases c ON c.id = cand.id WHERE c.merged_into IS NULL"
            # still waiting since before `at`: counted above
            f"  AND NOT ({_OPEN} AND c.waiting_since <= :at))"
            " SELECT platform, owner, (SELECT min(i.created_at) FROM messages i WHERE i.case_id = last.id"
            "  AND i.direction = 'in' AND i.created_at > coalesce(answered, -1)),"
            + ("  (SELECT group_concat(l.name, char(31)) FROM case_labels cl JOIN labels l ON l.id = cl.label_id"
               "   WHERE cl.case_id = last.id)" if labelled else " NULL") +
            " FROM last WHERE direction = 'in'"
            "  AND NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = last.id AND e.kind = 'status'"
            "   AND e.at >= last.at AND e.at <= :at AND json_extract(e.detail, '$.to') = 'closed')", {"at": at})
        then = _rollup([(platform, owner, 1, since) for platform, owner, since, _ in since_then], with_oldest=True)
        rows = still + then
        if not labelled:
            return rows + [("label", None, count, oldest) for kind, _, count, oldest in rows if kind == "team"]
        labels: dict[str | None, list] = {}
        for name, count, oldest in self._kpi(
                f"SELECT l.name, count(*), min(c.waiting_since) FROM cases c INDEXED BY cases_open_kpi"
                f" LEFT JOIN case_labels cl ON cl.case_id = c.id LEFT JOIN labels l ON l.id = cl.label_id"
                f" WHERE {_OPEN} AND c.waiting_since <= ? GROUP BY l.name", (at,)):
            labels[name] = [count, oldest]
        for _, _, since, names in since_then:
            for name in names.split(_SEP) if names else [None]:
                slot = labels.setdefault(name, [0, None])
                slot[0] += 1
                slot[1] = since if slot[1] is None or (since is not None and since < slot[1]) else slot[1]
        return rows + [("label", name, count, oldest) for name, (count, oldest) in labels.items()]

    def kpi_runs(self, start: int, end: int) -> list[tuple]:
        """Runs of inbound messages that started in [start, end), one row each: (case_id, platform,
        started_at, answered_at, answering agent, owner, closed_at, first, labels).

        A run starts at an inbound message whose previous message in the case (by time, then id)
        is outbound or missing (`first`). Its answer is the next outbound message of the case.
        closed_at is set only for a closed case without an answer after the run. Labels are
        joined by \\x1f.
        """
        labels = ("(SELECT group_concat(l.name, char(31)) FROM case_labels cl JOIN labels l ON l.id = cl.label_id"
                  " WHERE cl.case_id = s.case_id)" if self._any_labels() else "NULL")
        return self._kpi(
            # the neighbours come from messages_case (case_id, created_at, id, direction) alone
            "WITH s AS MATERIALIZED (SELECT m.id, m.case_id, m.platform, m.created_at,"
            "  (SELECT q.direction FROM messages q WHERE q.case_id = m.case_id"
            "   AND (q.created_at, q.id) < (m.created_at, m.id) ORDER BY q.created_at DESC, q.id DESC LIMIT 1) AS prev"
            "  FROM messages m INDEXED BY messages_inbound WHERE m.direction = 'in'"
            "  AND m.created_at >= ? AND m.created_at < ?)"
            " SELECT s.case_id, s.platform, s.created_at, a.created_at, a.agent, c.owner,"
            " CASE WHEN a.id IS NULL AND c.status = 'closed' THEN c.closed_at END, s.prev IS NULL,"
            f" {labels}"
            " FROM s JOIN cases c ON c.id = s.case_id"
            " LEFT JOIN messages a ON a.id = (SELECT o.id FROM messages o WHERE o.case_id = s.case_id"
            "  AND o.direction = 'out' AND (o.created_at, o.id) > (s.created_at, s.id)"
            "  ORDER BY o.created_at, o.id LIMIT 1)"
            " WHERE (s.prev IS NULL OR s.prev = 'out') AND c.merged_into IS NULL", (start, end))

    def kpi_inbound_buckets(self, start: int, end: int, size: int) -> list[tuple[int, int]]:
        """Inbound messages per `size`-second bucket from `start` (aligned to it): (bucket start, count).
        One index range count per bucket: no per-row arithmetic over weeks of messages."""
        return self._kpi(
            "WITH RECURSIVE b(s) AS (SELECT ? UNION ALL SELECT s + ? FROM b WHERE s + ? < ?)"
            " SELECT s, (SELECT count(*) FROM messages INDEXED BY messages_inbound WHERE direction = 'in'"
            "  AND created_at >= s AND created_at < min(s + ?, ?)) AS n FROM b",
            (start, size, size, end, size, end))
