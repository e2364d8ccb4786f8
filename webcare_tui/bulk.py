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

import gc
import multiprocessing
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from webcare_tui.case_rules import ThreadingRules
from webcare_tui.ingest import BATCH, IngestCounts, Threader, annotate, batches
from webcare_tui.message_format import LINE_LIMIT, InvalidMessage, parse_message, read_jsonl
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
            parsed: Iterable[tuple[int, Message | InvalidMessage]] = read_jsonl(_bounded_lines(sys.stdin.buffer))
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
        yield from _bounded_lines(handle)


def _bounded_lines(handle: BinaryIO) -> Iterator[bytes]:
    """The lines of `handle`, none read whole beyond `LINE_LIMIT` bytes: of a longer one, its first
    `LINE_LIMIT + 1` bytes (which the parser rejects as too long), the rest skipped to its newline."""
    while line := handle.readline(LINE_LIMIT + 1):
        if len(line) > LINE_LIMIT and not line.endswith(b"\n"):
            while (rest := handle.readline(LINE_LIMIT)) and not rest.endswith(b"\n"):
                pass
        yield line


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
# What the child sends: a slice of messages and the rejected lines before it, the end (None) or a failure (its
# text). Decoded straight into Message objects (in C: a third cheaper than building them from tuples here).
_FROM_CHILD = msgspec.msgpack.Decoder(tuple[list[Message], list[tuple[int, str]]] | str | None)


def _large(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size >= CHILD_FROM_BYTES
    except OSError:
        return False


def _parse_in_child(path: str, size: int, out: Connection) -> None:
    """The child process: parse and annotate `path`, sending slices of messages and the rejected
    lines (msgpack: see _FROM_CHILD) until the end (None) or a failure (its text)."""
    batch: list[Message] = []
    rejects: list[tuple[int, str]] = []
    try:
        for number, item in read_jsonl(_lines(Path(path))):
            if isinstance(item, InvalidMessage):
                rejects.append((number, str(item)))
                continue
            annotate(item)
            batch.append(item)
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
                got = _FROM_CHILD.decode(reader.recv_bytes())
            except EOFError:
                raise StoreError(f"{name}: the import's reader process stopped unexpectedly; "
                                 "run the import again (what landed is skipped)") from None
            if got is None:
                return
            if isinstance(got, str):
                raise StoreError(got)
            messages, rejects = got
            for line, reason in rejects:
                result.rejected += 1
                on_reject(name, line, reason)
            yield messages
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


CHECKPOINT_EVERY = 20  # slices: about 150 MB of WAL (every 8 MB, the default, cost a sixth of the import), copied
# by a thread while the slices after go on (see Store.checkpoints_by_hand)
LOCKED_TRIES = 12  # a slice waits busy_timeout (5 s) for the lock each try: a minute in all


def write_slices(store: Store, slices: Generator[list[Message], None, None], rules: ThreadingRules = ThreadingRules(),
                 router: Router | None = None, on_wait: Callable[[str], None] = lambda said: None) -> IngestCounts:
    """Thread and write each slice in a transaction of its own, waiting (and saying so through
    `on_wait`) while another program holds the store's write lock.

    Raises:
        StoreError: a slice could not be written (in plain words); the slices before it are stored.
    """
    threader, total, pace = Threader(store, rules, router), IngestCounts(), _Pace()
    with (closing(slices) as each,  # closed early, a file's child ends too
          store.checkpoints_by_hand() as checkpoints, _collecting_less()):
        for number, batch in enumerate(_resliced(each, pace), start=1):
            checkpoints.between_transactions(start=number % CHECKPOINT_EVERY == 0)
            for attempt in range(1, LOCKED_TRIES + 1):
                try:
                    with store.transaction(bulk=True):
                        began = time.perf_counter()
                        rows, counts = threader.prepare(batch)
                        store.write_ingest(rows)
                    pace.held(time.perf_counter() - began, len(batch))  # from BEGIN to COMMIT
                    break
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) or attempt == LOCKED_TRIES:
                        raise StoreError(_describe(error)) from None
                    on_wait("another program is writing to the store; the import waits for it")
                except sqlite3.Error as error:
                    raise StoreError(_describe(error)) from None
            total.add(counts)
    return total


LOCK_AIM = 0.13  # seconds a slice holds the write lock, at most about (DESIGN.md: 200 ms; the machine varies)
MIN_SLICE = 100


class _Pace:
    """How many messages a slice may have so that its transaction holds the lock about LOCK_AIM:
    as many as come in a slice, unless they took longer (per message, smoothed over the slices)."""

    def __init__(self) -> None:
        self.per_message: float | None = None

    def held(self, seconds: float, messages: int) -> None:
        if messages:
            now = seconds / messages
            self.per_message = now if self.per_message is None else 0.7 * self.per_message + 0.3 * now

    def limit(self, most: int) -> int:
        if self.per_message is None:
            return most
        return max(min(most, MIN_SLICE), min(most, int(LOCK_AIM / self.per_message)))


def _resliced(slices: Iterable[list[Message]], pace: _Pace) -> Iterator[list[Message]]:
    """The messages of `slices` in order, in slices no longer than they come, nor than `pace` allows."""
    pending: list[Message] = []
    most = 0
    for batch in slices:
        most = max(most, len(batch))
        pending += batch
        while len(pending) >= (size := pace.limit(most)):
            yield pending[:size]
            del pending[:size]
    while pending:
        size = pace.limit(most)  # the writer paces itself once it has the slice
        yield pending[:size]
        del pending[:size]


_GC_EVERY = 100_000  # allocations (Python's default: 700)
_gc_lock = threading.Lock()
_gc_users = 0
_gc_before: tuple[int, ...] = ()


@contextmanager
def _collecting_less() -> Iterator[None]:
    """Python's cycle collector runs less often while inside: an import makes some 30 objects a
    message that live until its slice is written, none of them in a cycle, and scanning them every
    700 allocations cost it ~8% of its time (measured). Imports at once on threads share it."""
    global _gc_users, _gc_before
    with _gc_lock:
        if not _gc_users:
            _gc_before = gc.get_threshold()
            gc.set_threshold(_GC_EVERY, *_gc_before[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if not _gc_users:
                gc.set_threshold(*_gc_before)


def bulk_ingest(store: Store, messages: Iterable[Message], rules: ThreadingRules = ThreadingRules(),
                batch_size: int = BATCH, router: Router | None = None,
                on_wait: Callable[[str], None] = lambda said: None) -> IngestCounts:
    """Like `ingest.ingest`, in slices of `batch_size` as `write_slices` writes them."""
    return write_slices(store, _annotated(batches(messages, batch_size)), rules, router, on_wait)
