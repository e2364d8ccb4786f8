"""Provides `import_jsonl`: bulk import of normalized messages from files, stdin or a generator.

Bad lines are reported with their source and line number and skipped; the rest
is imported. Large imports run as a two-process pipeline: this process parses and
threads batch k (`ingest.Threader`) while a writer process writes batch k-1 to
SQLite, so both cores work and neither waits on the other's GIL. Each batch is one
transaction: an import that stops half-way (a full disk, a kill) leaves whole
batches behind, and running it again skips what landed.

The pipeline assumes it is the store's only writer while it runs (an import from
the command line). Another process writing meanwhile makes a new row's id clash;
the import then stops with a plain error instead of overwriting anything.
"""

from __future__ import annotations

import multiprocessing
import queue
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from webcare_tui.case_rules import ThreadingRules
from webcare_tui.ingest import IngestCounts, Threader, batches, ingest
from webcare_tui.message_format import InvalidMessage, parse_message, read_jsonl
from webcare_tui.model import Message
from webcare_tui.rules import Router
from webcare_tui.store import IngestRows, Store, StoreError

Source = Path | str | Iterable[dict[str, Any]]  # a file, "-" for stdin, or message dicts


@dataclass
class ImportResult:
    new_messages: int = 0
    duplicates: int = 0
    rejected: int = 0
    new_cases: int = 0


def _messages(source: Source, name: str, result: ImportResult,
              on_reject: Callable[[str, int, str], None]) -> Iterator[Message]:
    if isinstance(source, (str, Path)):
        if str(source) == "-":
            parsed: Iterable[tuple[int, Message | InvalidMessage]] = read_jsonl(sys.stdin.buffer)
        else:
            parsed = read_jsonl(_lines(Path(source)))
    else:
        parsed = ((number, _parse(item)) for number, item in enumerate(source, start=1))
    for number, item in parsed:
        if isinstance(item, InvalidMessage):
            result.rejected += 1
            on_reject(name, number, str(item))
        else:
            yield item


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


def _parse(item: dict[str, Any]) -> Message | InvalidMessage:
    try:
        return parse_message(item)
    except InvalidMessage as error:
        return error


def import_jsonl(store: Store, sources: Iterable[Source], rules: ThreadingRules = ThreadingRules(),
                 on_reject: Callable[[str, int, str], None] = lambda source, line, reason: None,
                 router: Router | None = None) -> ImportResult:
    """Import every source in order; returns the counts."""
    result = ImportResult()

    def everything() -> Iterator[Message]:
        for source in sources:
            name = "stdin" if str(source) == "-" else str(source) if isinstance(source, (str, Path)) else "demo"
            yield from _messages(source, name, result, on_reject)

    counts = bulk_ingest(store, everything(), rules, router=router)
    result.new_messages, result.duplicates, result.new_cases = counts.new_messages, counts.duplicates, counts.new_cases
    return result


def _describe(error: BaseException) -> str:
    """The writer's failure in plain words, with what to do about it."""
    text = str(error)
    again = "run the import again (what landed is skipped)"
    if "full" in text:
        return f"the disk is full; free some space, then {again}"
    if isinstance(error, sqlite3.IntegrityError) and "UNIQUE constraint failed" in text and text.endswith(".id"):
        return f"another process wrote to the store during the import; {again}"
    return f"the import stopped: {type(error).__name__}: {text}; {again}"


def _write_batches(path: str, pending: multiprocessing.Queue, committed: multiprocessing.Queue) -> None:
    """The writer process: one transaction per batch, a token back for each commit."""
    store = Store(path)
    # Checkpoint every ~80 MB instead of every 4 MB: checkpoints dominated the commits.
    store.conn.execute("PRAGMA wal_autocheckpoint = 20000")
    try:
        while (packed := pending.get()) is not None:
            rows = IngestRows(*msgspec.msgpack.decode(packed))
            with store.transaction():
                store.write_ingest(rows)
            committed.put(None)
    except BaseException as error:  # reported by the parent, in plain words
        committed.put(_describe(error))
    finally:
        store.close()


class _Writer:
    """The writer process, started when a second batch shows the import is large."""

    def __init__(self, path: str) -> None:
        context = multiprocessing.get_context("spawn")  # no fork: the parent may run threads
        self.pending: multiprocessing.Queue[bytes | None] = context.Queue(maxsize=2)
        self.committed: multiprocessing.Queue[str | None] = context.Queue()
        self.process = context.Process(target=_write_batches, args=(path, self.pending, self.committed),
                                       name="webcare-import-writer", daemon=True)
        self.process.start()
        self.unconfirmed = 0

    def wait_for_commit(self) -> None:
        while True:
            try:
                error = self.committed.get(timeout=1.0)
                break
            except queue.Empty:
                if not self.process.is_alive():
                    raise StoreError("the import's writer process stopped unexpectedly; run the import again") from None
        self.unconfirmed -= 1
        if error is not None:
            raise StoreError(error)

    def send(self, rows: IngestRows) -> None:
        # msgpack, not the queue's pickle: 8x cheaper to encode, and this process is busy
        fields = (rows.new_authors, rows.changed_authors, rows.new_cases, rows.changed_cases, rows.messages, rows.events,
                  rows.labels, rows.late_cases, rows.answers)
        self.pending.put(msgspec.msgpack.encode(fields))
        self.unconfirmed += 1

    def finish(self) -> None:
        """Wait until every batch sent is on disk."""
        while self.unconfirmed:
            self.wait_for_commit()
        self.stop()

    def stop(self) -> None:
        try:
            self.pending.put(None, timeout=5)
        except queue.Full:  # the writer is gone or stuck: end it below
            pass
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()


BULK_BATCH = 50_000  # larger than ingest's: fewer commits and lookups, measured faster


def bulk_ingest(store: Store, messages: Iterable[Message], rules: ThreadingRules = ThreadingRules(),
                batch_size: int = BULK_BATCH, router: Router | None = None) -> IngestCounts:
    """Like `ingest.ingest`, pipelined over two processes once the input is larger than a batch."""
    if str(store.path) == ":memory:":
        return ingest(store, messages, rules, batch_size, router)
    total = IngestCounts()
    writer: _Writer | None = None
    with store.transaction():
        threader = Threader(store, rules, store.next_ids(), router)
    try:
        for number, batch in enumerate(batches(messages, batch_size)):
            if number == 0:
                first = batch
                continue
            if writer is None:
                writer = _Writer(str(store.path))
                rows, counts = threader.prepare(first)
                total.add(counts)
                writer.send(rows)
            while writer.unconfirmed >= 2:  # batch k is threaded only once batch k-2 is on disk
                writer.wait_for_commit()
            rows, counts = threader.prepare(batch)
            total.add(counts)
            writer.send(rows)
        if writer is not None:
            writer.finish()
        elif "first" in locals():  # one batch: no process needed
            with store.transaction():
                rows, counts = threader.prepare(first)
                store.write_ingest(rows)
            total.add(counts)
    except BaseException:
        if writer is not None:
            writer.stop()
        raise
    return total
