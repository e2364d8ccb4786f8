"""Provides `ingest`: the one path by which messages enter the store.

Importers, the demo and real connectors all come through here. A batch is
deduplicated by (platform, external_id), its authors upserted, every message
threaded into a case by `case_rules`, and the result written in one transaction.

`Threader.prepare` reads what it threads against (stored messages, authors, cases,
labels, the next free ids) and the caller writes its rows in the same transaction:
nothing it writes was read in an earlier one, so a change another writer made
meanwhile (an agent's assignment, another import) is never undone. A changed case
is written field by field: only the columns the batch changed. A run of customer
messages that our reply answers in the same batch is written with its answer (a run
stored before is marked by the store). `bulk.py` runs it in short slices for large
imports, and may thread a slice while the one before is being written: `prepare(batch,
after_last=True)` reads the store as it was before that slice and takes what that slice
threaded (`LastSlice`) over it. Its rows hold only if nobody else wrote in between, which
the writer checks; if somebody did, `prepare_again` threads the batch anew from the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import attrgetter

from webcare_tui import case_rules
from webcare_tui.case_rules import CaseState, Event, Placement, ThreadingRules
from webcare_tui.model import Message
from webcare_tui.rules import Router
from webcare_tui.sentiment import analyse, score_sentiment
from webcare_tui.store import AuthorRecord, IngestRows, Store, case_row, changed_columns, event_row

# Messages per transaction, at most. A slice of the bulk import holds the write lock ~100-150 ms on
# a 2-core machine (bulk.py makes its slices smaller when they take longer), so an agent's action
# or the sync waits at most that long (DESIGN.md).
BATCH = 3_000


@dataclass(slots=True)
class IngestCounts:
    new_messages: int = 0
    duplicates: int = 0
    new_cases: int = 0
    cases: set[int] = field(default_factory=set)  # every case a new message went to

    def add(self, other: IngestCounts) -> None:
        self.new_messages += other.new_messages
        self.duplicates += other.duplicates
        self.new_cases += other.new_cases
        self.cases |= other.cases


def annotate(message: Message) -> None:
    """Give an inbound message its language and sentiment, if it has none (before routing,
    which may ask). Needs no store: the bulk import runs it on another thread than the writes."""
    if message.direction == "in" and message.sentiment is None:
        if message.language is None:
            message.language, message.sentiment = analyse(message.text)
        else:
            message.sentiment = score_sentiment(message.text, message.language)


@dataclass(slots=True)
class LastSlice:
    """What the last batch threaded, as its rows leave it: the store as the next batch must
    see it while a read may not show it yet (those rows are still being written)."""

    messages: dict[str, set[str]]  # external ids by platform
    authors: dict[tuple[str, str], AuthorRecord]  # by (platform, platform author id)
    cases: dict[int, CaseState]  # each author's current case, by author row id
    labels: dict[int, set[str]]  # by case id (only with routing rules)
    next_ids: tuple[int, int, int]  # authors, cases, messages


class Threader:
    """Turns one batch of messages into rows to write. Call `prepare` inside the transaction
    that writes its rows: what it reads must still hold when they are written. Or call it with
    `after_last` while the last batch's rows are written, and write its rows only if nobody else
    wrote since that batch's transaction began (else call `prepare_again` inside the transaction)."""

    def __init__(self, store: Store, rules: ThreadingRules, router: Router | None = None) -> None:
        self.store = store
        self.rules = rules
        self.router = router  # routing rules, applied to each inbound message after threading
        self.last: LastSlice | None = None
        self._turns_before: dict[str, str | None] = {}  # the router's turns before the last batch

    def prepare_again(self, batch: list[Message]) -> tuple[IngestRows, IngestCounts]:
        """Thread the last batch anew from the store alone (somebody else wrote meanwhile), as if it
        had not been threaded before."""
        if self.router is not None:
            self.router.turns = dict(self._turns_before)
        return self.prepare(batch)

    def prepare(self, batch: list[Message], after_last: bool = False) -> tuple[IngestRows, IngestCounts]:
        last = self.last if after_last else None
        if self.router is not None:
            self._turns_before = dict(self.router.turns)
        ids = self.store.next_ids()
        if last is not None:
            ids = (max(ids[0], last.next_ids[0]), max(ids[1], last.next_ids[1]), max(ids[2], last.next_ids[2]))
        self.next_author, self.next_case, self.next_message = ids
        fresh = self._fresh(batch, last)
        counts = IngestCounts(new_messages=len(fresh), duplicates=len(batch) - len(fresh))
        rows = IngestRows()
        known, authors = self._authors(fresh, rows, last)
        cases = self.store.current_cases(sorted({author.id for author in authors}))
        if last is not None:
            cases.update((author.id, last.cases[author.id]) for author in authors if author.id in last.cases)
        stored = {case.id: case_row(case) for case in cases.values()}  # to write only the fields that change
        labels = self.store.labels_of(list(stored)) if self.router is not None else {}
        if last is not None:
            labels.update((case_id, last.labels[case_id]) for case_id in stored if case_id in last.labels)
        new_cases: dict[int, CaseState] = {}
        touched: dict[int, CaseState] = {}
        events: list[Event] = []
        runs: dict[int, list] = {}  # by case: the row of the run start in this batch our reply has yet to answer
        for message, author in zip(fresh, authors):
            author_row = author.id
            case = cases.get(author_row)
            placement, auto_closed_at = case_rules.place(case, message.created_at, self.rules)
            if case is not None and auto_closed_at is not None:
                events.append(case_rules.auto_close(case, auto_closed_at))
                if case.id not in new_cases:
                    touched[case.id] = case
            if case is None or placement is Placement.NEW:
                case = case_rules.open_case(self.next_case, author_row, message.platform, message.account,
                                            message.created_at)
                self.next_case += 1
                new_cases[case.id] = cases[author_row] = case
                events.append(Event(case.id, message.created_at, case_rules.SYSTEM, "created", {}))
            elif case.id not in new_cases:
                touched[case.id] = case
            late = case_rules.is_late(case, message.created_at)
            run_start = None if late else case_rules.run_start(case, message.direction)
            if late:  # its neighbours may be stored already: the store marks the whole case again
                rows.late_cases.append(case.id)
            elif message.direction == "out" and case.last_direction == "in":  # our reply ends the run it waited on
                if (start := runs.pop(case.id, None)) is not None:  # a run of this batch: written answered
                    start[-2:] = message.created_at, message.agent
                else:  # a stored run: the store marks it
                    rows.answers.append((message.created_at, message.agent, case.id, self.next_message))
            events.extend(case_rules.add_message(case, message.created_at, message.direction, message.agent))
            annotate(message)
            if self.router is not None and message.direction == "in":
                has = labels.setdefault(case.id, set())
                routing = self.router.route(message, case, author.author_type, author.followers, has.__contains__)
                if routing.events:
                    rows.labels.extend((case.id, label) for label in sorted(routing.labels))
                    has.update(routing.labels)
                    events.extend(routing.events)
            row = [
                self.next_message, message.platform, message.account, message.external_id, case.id, author_row,
                message.direction, message.visibility, message.text, message.created_at,
                message.in_reply_to, message.agent, message.url, message.language, message.sentiment, run_start,
                None, None,  # answered_at, answered_by: set when our reply in this batch answers the run
            ]
            rows.messages.append(row)
            if run_start is not None:
                runs[case.id] = row
            self.next_message += 1
        rows.late_cases = sorted(set(rows.late_cases))
        rows.new_cases = [case_row(case) for case in new_cases.values()]
        rows.changed_cases = changed_fields(stored, touched.values())
        rows.events = [event_row(event) for event in events]
        counts.new_cases = len(new_cases)
        counts.cases = {row[4] for row in rows.messages}
        written: dict[str, set[str]] = defaultdict(set)
        for message in fresh:
            written[message.platform].add(message.external_id)
        self.last = LastSlice(dict(written), known, cases, labels,
                              (self.next_author, self.next_case, self.next_message))
        return rows, counts

    def _fresh(self, batch: list[Message], last: LastSlice | None) -> list[Message]:
        """The batch less what is stored already (or written by the last batch) or repeated, oldest first."""
        by_platform: dict[str, list[str]] = defaultdict(list)
        for message in batch:
            by_platform[message.platform].append(message.external_id)
        stored = {platform: self.store.existing_message_ids(platform, ids) for platform, ids in by_platform.items()}
        if last is not None:
            for platform, found in stored.items():
                found |= last.messages.get(platform, set())
        seen: set[tuple[str, str]] = set()
        fresh = []
        for message in batch:
            key = (message.platform, message.external_id)
            if key in seen or message.external_id in stored[message.platform]:
                continue
            seen.add(key)
            fresh.append(message)
        fresh.sort(key=attrgetter("created_at"))  # stable: equal times keep their order
        return fresh

    def _authors(self, fresh: list[Message], rows: IngestRows,
                 last: LastSlice | None) -> tuple[dict[tuple[str, str], AuthorRecord], list[AuthorRecord]]:
        """The authors of the batch by key, and the author of each message (new authors get their
        row ids here)."""
        wanted: dict[str, set[str]] = defaultdict(set)
        for message in fresh:
            wanted[message.platform].add(message.author_id)
        known: dict[tuple[str, str], AuthorRecord] = {}
        for platform, ids in wanted.items():
            for author_id, stored in self.store.authors_by_key(platform, list(ids)).items():
                known[(platform, author_id)] = stored
            if last is not None:
                known.update(((platform, author_id), last.authors[(platform, author_id)])
                             for author_id in ids if (platform, author_id) in last.authors)
        changed: dict[int, AuthorRecord] = {}
        author_rows = []
        for message in fresh:
            author_key = (message.platform, message.author_id)
            found = known.get(author_key)
            if found is None:
                record = known[author_key] = AuthorRecord(self.next_author, message.author_handle, message.author_name,
                                                          message.author_followers, message.author_type or "customer")
                rows.new_authors.append((self.next_author, message.platform, message.author_id,
                                         message.author_handle, message.author_name, message.author_followers,
                                         record.author_type))
                self.next_author += 1
            else:
                record = found
                if _update_author(record, message):
                    changed[record.id] = record
            author_rows.append(record)
        rows.changed_authors = [(r.handle, r.name, r.followers, r.author_type, r.id) for r in changed.values()]
        return known, author_rows


def changed_fields(stored: dict[int, tuple], cases: Iterable[CaseState]) -> dict[tuple[str, ...], list[tuple]]:
    """The changes to write, grouped by which columns changed: {(column, …): [(value, …, case id), …]}.
    Columns that stayed are left alone, and so are their indexes and triggers."""
    grouped: dict[tuple[str, ...], list[tuple]] = defaultdict(list)
    for case in sorted(cases, key=attrgetter("id")):  # in id order: neighbouring rows share pages
        if changes := changed_columns(stored[case.id], case_row(case)):
            grouped[tuple(changes)].append((*changes.values(), case.id))
    return dict(grouped)


def _update_author(record: AuthorRecord, message: Message) -> bool:
    """Take what the message says of its author; True when that changed anything."""
    if ((message.author_handle is None or message.author_handle == record.handle)
            and (message.author_name is None or message.author_name == record.name)
            and (message.author_followers is None or message.author_followers == record.followers)
            and (message.author_type is None or message.author_type == record.author_type)):
        return False  # the common case: nothing new
    before = (record.handle, record.name, record.followers, record.author_type)
    record.handle = message.author_handle or record.handle
    record.name = message.author_name or record.name
    if message.author_followers is not None:
        record.followers = message.author_followers
    record.author_type = message.author_type or record.author_type
    return before != (record.handle, record.name, record.followers, record.author_type)


def batches(messages: Iterable[Message], size: int = BATCH) -> Iterator[list[Message]]:
    iterator = iter(messages)
    while batch := list(islice(iterator, size)):
        yield batch


def ingest(store: Store, messages: Iterable[Message], rules: ThreadingRules = ThreadingRules(),
           batch_size: int = BATCH, router: Router | None = None) -> IngestCounts:
    """Store and thread messages; each batch is one transaction. For sync and small imports."""
    total = IngestCounts()
    threader = Threader(store, rules, router)
    for batch in batches(messages, batch_size):
        with store.transaction():
            rows, counts = threader.prepare(batch)
            store.write_ingest(rows)
        total.add(counts)
    return total
