"""Provides `import_jsonl`: bulk import of normalized messages from files, stdin or a generator.

Bad lines are reported with their source and line number and skipped; the rest
is imported. A large import runs on two threads: this one parses each line and
finds the language and sentiment of each message (pure Python, no store), while a
writer thread threads each slice and writes it in one short transaction (SQLite
does its work without the GIL). A slice reads what it threads against in its own
transaction, so the import runs beside the console, the sync and other imports:
it never undoes what they wrote, and they never wait on it for long. An import that
stops half-way (a full disk, a kill) leaves whole slices behind, and running it
again skips what landed.
"""

from __future__ import annotations

import queue
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webcare_tui.case_rules import ThreadingRules
from webcare_tui.ingest import BATCH, IngestCounts, Threader, annotate, batches
from webcare_tui.message_format import InvalidMessage, parse_message, read_jsonl
from webcare_tui.model import Message
from webcare_tui.rules import Router
from webcare_tui.store import Store, StoreError, store_trouble

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
                 router: Router | None = None, on_wait: Callable[[str], None] = lambda said: None) -> ImportResult:
    """Import every source in order; returns the counts. `on_wait` hears when another writer holds
    the store for longer than a moment."""
    result = ImportResult()

    def everything() -> Iterator[Message]:
        for source in sources:
            name = "stdin" if str(source) == "-" else str(source) if isinstance(source, (str, Path)) else "demo"
            yield from _messages(source, name, result, on_reject)

    counts = bulk_ingest(store, everything(), rules, router=router, on_wait=on_wait)
    result.new_messages, result.duplicates, result.new_cases = counts.new_messages, counts.duplicates, counts.new_cases
    return result


def _describe(error: BaseException) -> str:
    """A failed slice in plain words, with what to do about it."""
    said = store_trouble(error) or f"the import stopped: {type(error).__name__}: {error}"
    return f"{said}; run the import again (what landed is skipped)"


LOCKED_TRIES = 12  # a slice waits busy_timeout (5 s) for the lock each try: a minute in all


class _WriterThread(threading.Thread):
    """Threads and writes slices from a queue, one transaction each; remembers the first failure."""

    def __init__(self, store: Store, rules: ThreadingRules, router: Router | None,
                 on_wait: Callable[[str], None]) -> None:
        super().__init__(name="webcare-import-writer", daemon=True)
        self.store, self.threader, self.on_wait = store, Threader(store, rules, router), on_wait
        self.slices: queue.Queue[list[Message] | None] = queue.Queue(maxsize=2)
        self.total = IngestCounts()
        self.error: StoreError | None = None

    def run(self) -> None:
        try:
            while (batch := self.slices.get()) is not None:
                self._write(batch)
        except BaseException as error:  # told to the parse thread, in plain words
            self.error = error if isinstance(error, StoreError) else StoreError(_describe(error))
            while self.slices.get() is not None:  # let the parse thread finish its puts
                pass

    def _write(self, batch: list[Message]) -> None:
        for attempt in range(1, LOCKED_TRIES + 1):
            try:
                with self.store.transaction():
                    rows, counts = self.threader.prepare(batch)
                    self.store.write_ingest(rows)
                self.total.add(counts)
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == LOCKED_TRIES:
                    raise
                self.on_wait("another program is writing to the store; the import waits for it")

    def put(self, batch: list[Message] | None) -> None:
        """Hand a slice (None: the end) over, unless the writer failed: then raise its error."""
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.slices.put(batch, timeout=0.2)
                return
            except queue.Full:
                if not self.is_alive():
                    raise StoreError("the import's writer stopped unexpectedly; run the import again") from None


def bulk_ingest(store: Store, messages: Iterable[Message], rules: ThreadingRules = ThreadingRules(),
                batch_size: int = BATCH, router: Router | None = None,
                on_wait: Callable[[str], None] = lambda said: None) -> IngestCounts:
    """Like `ingest.ingest`, with parsing and analysis on this thread and the writes on another.

    Raises:
        StoreError: a slice could not be written (in plain words); the slices before it are stored.
    """
    writer = _WriterThread(store, rules, router, on_wait)
    writer.start()
    try:
        for batch in batches(messages, batch_size):
            for message in batch:
                annotate(message)
            writer.put(batch)
    finally:
        try:
            writer.slices.put(None)  # the writer ends after what it holds, or drains after a failure
        finally:
            writer.join()
    if writer.error is not None:
        raise writer.error
    return writer.total
