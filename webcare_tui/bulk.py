"""Provides `import_jsonl`: bulk import of normalized messages from files, stdin or a generator.

Bad lines are reported with their source and line number and skipped; the rest
is imported. Messages are written in slices of `ingest.BATCH`, one short
transaction each; a slice reads what it threads against in its own transaction,
so the import runs beside the console, the sync and other imports: it never undoes
what they wrote, and they never wait on it for long. An import that stops half-way
(a full disk, a kill) leaves whole slices behind, and running it again skips what
landed.

A large file is parsed, and its messages' language and sentiment found, by a child
process while this one threads and writes (a thread would share the GIL and gain
nothing: measured). The child ends when the import does, fails or dies: its pipe to
this process breaks, so no child outlives its parent.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

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
    the store for longer than a moment.

    Raises:
        StoreError: a slice could not be written, or a file not read (in plain words); the
            slices before it are stored.
    """
    result = ImportResult()

    def slices() -> Generator[list[Message], None, None]:
        for source in sources:
            name = "stdin" if str(source) == "-" else str(source) if isinstance(source, (str, Path)) else "demo"
            if isinstance(source, (str, Path)) and str(source) != "-" and _large(Path(source)):
                yield from _parsed_by_child(Path(source), name, result, on_reject)
            else:
                yield from _annotated(batches(_messages(source, name, result, on_reject)))

    counts = write_slices(store, slices(), rules, router, on_wait)
    result.new_messages, result.duplicates, result.new_cases = counts.new_messages, counts.duplicates, counts.new_cases
    return result


def _annotated(slices: Iterable[list[Message]]) -> Generator[list[Message], None, None]:
    for batch in slices:
        for message in batch:
            annotate(message)
        yield batch


CHILD_FROM_BYTES = 4_000_000  # a smaller file (about 10,000 messages) is parsed here: a child takes ~0.5 s to start
_FIELDS = tuple(field.name for field in fields(Message))


def _large(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size >= CHILD_FROM_BYTES
    except OSError:
        return False


def _parse_in_child(path: str, size: int, out: Connection) -> None:
    """The child process: parse and annotate `path`, sending slices of message fields and the
    rejected lines (msgpack) until the end (None) or a failure (its text)."""
    batch: list[tuple] = []
    rejects: list[tuple[int, str]] = []
    try:
        for number, item in read_jsonl(_lines(Path(path))):
            if isinstance(item, InvalidMessage):
                rejects.append((number, str(item)))
                continue
            annotate(item)
            batch.append(tuple(getattr(item, name) for name in _FIELDS))
            if len(batch) == size:
                out.send_bytes(msgspec.msgpack.encode((batch, rejects)))
                batch, rejects = [], []
        out.send_bytes(msgspec.msgpack.encode((batch, rejects)))
        out.send_bytes(msgspec.msgpack.encode(None))
    except OSError as error:  # the parent is gone (a broken pipe): nobody to tell; else a read failed
        try:
            out.send_bytes(msgspec.msgpack.encode(f"{path} could not be read: {error.strerror or error}"))
        except OSError:
            pass
    except BaseException as error:
        out.send_bytes(msgspec.msgpack.encode(f"{path}: the import stopped: {type(error).__name__}: {error}"))


def _parsed_by_child(path: Path, name: str, result: ImportResult,
                     on_reject: Callable[[str, int, str], None]) -> Iterator[list[Message]]:
    """The slices of a large file, parsed and annotated by a child process meanwhile."""
    context = multiprocessing.get_context("spawn")  # no fork: this process may run threads
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_parse_in_child, args=(str(path), BATCH, writer),
                            name="webcare-import-reader", daemon=True)
    child.start()
    writer.close()  # the child's alone now: the pipe ends when the child does
    try:
        while True:
            try:
                got = msgspec.msgpack.decode(reader.recv_bytes())
            except EOFError:
                raise StoreError(f"{name}: the import's reader process stopped unexpectedly; "
                                 "run the import again (what landed is skipped)") from None
            if got is None:
                return
            if isinstance(got, str):
                raise StoreError(got)
            rows, rejects = got
            for line, reason in rejects:
                result.rejected += 1
                on_reject(name, line, reason)
            yield [Message(*row) for row in rows]
    finally:
        reader.close()  # a child still sending gets a broken pipe and ends
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()


def _describe(error: BaseException) -> str:
    """A failed slice in plain words, with what to do about it."""
    said = store_trouble(error) or f"the import stopped: {type(error).__name__}: {error}"
    return f"{said}; run the import again (what landed is skipped)"


CHECKPOINT_EVERY = 20  # slices: about 150 MB of WAL (every 8 MB, the default, cost a sixth of the import)
LOCKED_TRIES = 12  # a slice waits busy_timeout (5 s) for the lock each try: a minute in all


def write_slices(store: Store, slices: Generator[list[Message], None, None], rules: ThreadingRules = ThreadingRules(),
                 router: Router | None = None, on_wait: Callable[[str], None] = lambda said: None) -> IngestCounts:
    """Thread and write each slice in a transaction of its own, waiting (and saying so through
    `on_wait`) while another program holds the store's write lock.

    Raises:
        StoreError: a slice could not be written (in plain words); the slices before it are stored.
    """
    threader, total = Threader(store, rules, router), IngestCounts()
    with closing(slices) as each, store.checkpoints_by_hand():  # closed early, a file's child ends too
        for number, batch in enumerate(each, start=1):
            if number % CHECKPOINT_EVERY == 0:
                _checkpoint(store)
            for attempt in range(1, LOCKED_TRIES + 1):
                try:
                    with store.transaction():
                        rows, counts = threader.prepare(batch)
                        store.write_ingest(rows)
                    break
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) or attempt == LOCKED_TRIES:
                        raise StoreError(_describe(error)) from None
                    on_wait("another program is writing to the store; the import waits for it")
                except sqlite3.Error as error:
                    raise StoreError(_describe(error)) from None
            total.add(counts)
        _checkpoint(store)
    return total


def _checkpoint(store: Store) -> None:
    """Copy the WAL into the file between two transactions, so nobody waits on it; one that cannot
    run now (the console's own is under way) leaves it to the next."""
    with suppress(sqlite3.OperationalError):
        store.checkpoint()


def bulk_ingest(store: Store, messages: Iterable[Message], rules: ThreadingRules = ThreadingRules(),
                batch_size: int = BATCH, router: Router | None = None,
                on_wait: Callable[[str], None] = lambda said: None) -> IngestCounts:
    """Like `ingest.ingest`, in slices of `batch_size` as `write_slices` writes them."""
    return write_slices(store, _annotated(batches(messages, batch_size)), rules, router, on_wait)
