"""Provides `import_jsonl`: bulk import of normalized messages from files, stdin or a generator.

Bad lines are reported with their source and line number and skipped; the rest
is imported. Messages are written in slices (up to `MAX_SLICE`), one short
transaction each; a slice reads what it threads against in its own transaction,
so the import runs beside the console, the sync and other imports: it never undoes
what they wrote, and they never wait on it for long. An import that stops half-way
(a full disk, a kill) leaves whole slices behind, and running it again skips what
landed.

A large file is parsed, its messages' language and sentiment found, its messages
grouped by author a window at a time (see `_ByAuthor`), and each slice threaded by a
child process while this one writes the slice before (a thread would share the GIL and
gain nothing: measured); see `_ThreadedByChild` for why what it threads still never
undoes another writer's work. The child ends when the import
does, fails or dies: its pipe to this process breaks, so no child outlives its parent.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from webcare_tui.case_rules import ThreadingRules
from webcare_tui.ingest import BATCH, IngestCounts, Threader, annotate, batches
from webcare_tui.message_format import LINE_LIMIT, InvalidMessage, parse_message, read_jsonl
from webcare_tui.model import Message
from webcare_tui.rules import Router, RuleBook
from webcare_tui.store import IngestRows, Store, StoreError, store_trouble

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
    total = IngestCounts()
    for source in sources:
        name = "stdin" if str(source) == "-" else str(source) if isinstance(source, (str, Path)) else "demo"
        if isinstance(source, (str, Path)) and str(source) != "-" and _large(Path(source)) \
                and _child_can_thread(store, router):
            routing = (router.book, router.clock) if router is not None else None
            with _ThreadedByChild(Path(source), name, store, rules, routing, result, on_reject) as by_child:
                total.add(_write(store, by_child, on_wait))
        else:
            total.add(bulk_ingest(store, _messages(source, name, result, on_reject), rules, router=router,
                                  on_wait=on_wait))
    result.new_messages, result.duplicates, result.new_cases = total.new_messages, total.duplicates, total.new_cases
    return result


def _annotated(slices: Iterable[list[Message]]) -> Generator[list[Message], None, None]:
    for batch in slices:
        for message in batch:
            annotate(message)
        yield batch


CHILD_FROM_BYTES = 4_000_000  # a smaller file (about 10,000 messages) is threaded here: a child takes ~0.5 s to start


def _large(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size >= CHILD_FROM_BYTES
    except OSError:
        return False


Routing = tuple[RuleBook, Callable[[], float]] | None  # what a child needs to route as a Router does


def _child_can_thread(store: Store, router: Router | None) -> bool:
    """False when a child could not read the store (in memory) or route (a clock that cannot be pickled)."""
    if str(store.path) == ":memory:":
        return False
    try:
        pickle.dumps((router.book, router.clock) if router is not None else None)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


# A child's commands: thread the next slice of this many messages after the last (NEXT), or thread
# the last slice again from the store (AGAIN: somebody else wrote since the slice before began).
NEXT, AGAIN = "next", "again"


# The child runs at the lowest CPU priority: when the cores are busy it yields them to the consoles
# and to this writer (which holds the store's lock); when they are not, it runs as fast. (bench/live.py
# beside imports: opening a case took medians of 14-21 ms either way; runs vary more than this moves.)
CHILD_NICENESS = 19
WINDOW = 50_000  # messages a child reads ahead and hands out by author (about 100 MB of its memory)


class _ByAuthor:
    """Messages read ahead, each author's together: a slice takes whole authors, so the case that an
    author's messages in a window join is written once, not once for each slice they fall in: on a
    file of returning customers, the writer's CPU per message fell from 34 to 23 us (bench/ingest.py
    --returning). A message still goes after its author's earlier ones, so each is threaded as in the
    file's order; only the order of different authors' messages changes."""

    def __init__(self) -> None:
        self.authors: deque[list[Message]] = deque()  # each author's messages, oldest window first
        self.count = 0

    def add(self, window: list[Message]) -> None:
        by_author: dict[tuple[str, str], list[Message]] = {}
        for message in window:
            by_author.setdefault((message.platform, message.author_id), []).append(message)
        self.authors.extend(by_author.values())
        self.count += len(window)

    def take(self, size: int) -> list[Message]:
        """Whole authors' messages, at most `size` of them (part of one author's, if more than that)."""
        batch: list[Message] = []
        while self.authors and len(batch) + len(self.authors[0]) <= size:
            batch += self.authors.popleft()
        if not batch and self.authors:
            batch, self.authors[0] = self.authors[0][:size], self.authors[0][size:]
        self.count -= len(batch)
        return batch


def _thread_in_child(path: str, store_path: str, rules: ThreadingRules, routing: Routing, window_size: int,
                     pipe: Connection) -> None:
    """The child process: parse, annotate and thread `path` a slice at a time as the parent asks
    (see `_ThreadedByChild`), parsing ahead while it waits, each slice whole authors of the window
    read ahead (see `_ByAuthor`). It sends, pickled, for each command (rows, counts, rejected
    lines), or None at the end, or a failure's text. It ends when the parent closes the pipe, or dies."""
    if hasattr(os, "setpriority"):
        with suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, CHILD_NICENESS)
    try:
        with Store(store_path) as store, _collecting_less():
            router = Router(routing[0], store.last_rule_assignment, routing[1]) if routing is not None else None
            threader = Threader(store, rules, router)
            parsed = read_jsonl(_lines(Path(path)))
            window: list[Message] = []  # parsed ahead, in the file's order
            ahead = _ByAuthor()  # the windows read before, by author
            rejects: list[tuple[int, str]] = []
            batch: list[Message] = []

            def parse(most: int) -> bool:
                """Parse up to `most` more messages into the window; False at the end of the file."""
                for number, item in islice(parsed, most):
                    if isinstance(item, InvalidMessage):
                        rejects.append((number, str(item)))
                    else:
                        annotate(item)
                        window.append(item)
                    most -= 1
                return most == 0

            more = True
            while True:
                while more and len(window) < window_size and not pipe.poll():
                    more = parse(100)
                command, size = pickle.loads(pipe.recv_bytes())
                if command == AGAIN:
                    rows, counts = threader.prepare_again(batch)
                else:
                    # The first window is read whole; after it, the next fills a slice at a time as the
                    # one before is handed out (read whole at once, each window kept the writer waiting).
                    room = window_size - len(window)  # the idle reading above may pass it by up to 99
                    if more and room > 0:
                        more = parse(min(size, room) if ahead.count else room)
                    if ahead.count < size:
                        ahead.add(window)
                        window = []
                    batch = ahead.take(size)
                    if not batch:
                        pipe.send_bytes(pickle.dumps(None))
                        return
                    rows, counts = threader.prepare(batch, after_last=True)
                pipe.send_bytes(pickle.dumps((rows, counts, rejects), pickle.HIGHEST_PROTOCOL))
                rejects = []
    except (EOFError, BrokenPipeError):  # the parent is gone: nobody to tell
        pass
    except OSError as error:
        _tell(pipe, f"{path} could not be read: {error.strerror or error}")
    except StoreError as error:
        _tell(pipe, str(error))
    except BaseException as error:
        _tell(pipe, f"{path}: the import stopped: {type(error).__name__}: {error}")


def _tell(pipe: Connection, failure: str) -> None:
    with suppress(OSError):
        pipe.send_bytes(pickle.dumps(failure))


class _ThreadedByChild:
    """The slices of a large file, parsed, annotated and threaded by a child process.

    The child threads slice k+1 while this process writes slice k: it reads the store as it is
    before slice k commits, with what it threaded for slice k over it. That holds if nobody else
    wrote since slice k's transaction began. If somebody did, slice k+1 is threaded again inside
    its own transaction (AGAIN), from the store alone, before anything is written: so no slice
    undoes what another writer did, and when nobody else writes, both processes work at once."""

    def __init__(self, path: Path, name: str, store: Store, rules: ThreadingRules,
                 routing: Routing, result: ImportResult,
                 on_reject: Callable[[str, int, str], None]) -> None:
        self.name, self.result, self.on_reject = name, result, on_reject
        self.threaded_again = 0  # slices threaded twice: somebody else wrote (and always the first)
        context = multiprocessing.get_context("spawn")  # no fork: this process may run threads
        self.pipe, theirs = context.Pipe()
        self.child = context.Process(target=_thread_in_child,
                                     args=(str(path), str(store.path), rules, routing, WINDOW, theirs),
                                     name="webcare-import-threader", daemon=True)
        self.child.start()
        theirs.close()  # the child's alone now: the pipe ends when the child does
        self._ready: tuple[IngestRows, IngestCounts] | None = None

    def __enter__(self) -> _ThreadedByChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pipe.close()  # a child still threading gets a broken pipe, or EOF, and ends
        self.child.join(timeout=5)
        if self.child.is_alive():
            self.child.kill()
            self.child.join()

    def next(self, size: int) -> bool:
        """Have the next slice of at most `size` messages threaded (outside a transaction); False at the end."""
        if self._ready is None:  # the first: threaded now, and again inside its transaction
            self._ask(NEXT, size)
        self._ready = self._answer()
        return self._ready is not None

    def rows(self, others_wrote: bool, next_size: int) -> tuple[IngestRows, IngestCounts]:
        """The slice's rows (inside its transaction); the child goes on with the next slice meanwhile."""
        ready = self._ready
        if others_wrote:
            self.threaded_again += 1
            self._ask(AGAIN, 0)
            ready = self._answer()
        assert ready is not None
        self._ask(NEXT, next_size)
        return ready

    def _ask(self, command: str, size: int) -> None:
        try:
            self.pipe.send_bytes(pickle.dumps((command, size)))
        except OSError:
            pass  # the child has ended: its answer says why

    def _answer(self) -> tuple[IngestRows, IngestCounts] | None:
        try:
            got = pickle.loads(self.pipe.recv_bytes())
        except (EOFError, OSError):  # OSError: it died with our command unread (the connection is reset)
            raise StoreError(f"{self.name}: the import's threading process stopped unexpectedly; "
                             "run the import again (what landed is skipped)") from None
        if got is None:
            return None
        if isinstance(got, str):
            raise StoreError(got)
        rows, counts, rejects = got
        for line, reason in rejects:
            self.result.rejected += 1
            self.on_reject(self.name, line, reason)
        return rows, counts


class _ThreadedHere:
    """Slices threaded in this process, inside the transaction that writes them."""

    def __init__(self, threader: Threader, slices: Iterable[list[Message]]) -> None:
        self.threader = threader
        self.slices = iter(slices)
        self.pending: list[Message] = []
        self.batch: list[Message] = []
        self.most = 0  # the longest slice that came: a slice is never longer

    def next(self, size: int) -> bool:
        while len(self.pending) < min(size, self.most) or not self.most:
            try:
                batch = next(self.slices)
            except StopIteration:
                break
            self.most = max(self.most, len(batch))
            self.pending += batch
        size = min(size, self.most)
        self.batch, self.pending = self.pending[:size], self.pending[size:]
        return bool(self.batch)

    def rows(self, others_wrote: bool, next_size: int) -> tuple[IngestRows, IngestCounts]:
        return self.threader.prepare(self.batch)


class _Slices(Protocol):
    def next(self, size: int) -> bool: ...
    def rows(self, others_wrote: bool, next_size: int) -> tuple[IngestRows, IngestCounts]: ...


def _describe(error: BaseException) -> str:
    """A failed slice in plain words, with what to do about it."""
    said = store_trouble(error) or f"the import stopped: {type(error).__name__}: {error}"
    return f"{said}; run the import again (what landed is skipped)"


CHECKPOINT_EVERY = 20  # slices: about 150 MB of WAL (every 8 MB, the default, cost a sixth of the import), copied
# by a thread while the slices after go on (see Store.checkpoints_by_hand)
LOCKED_TRIES = 12  # a slice waits busy_timeout (5 s) for the lock each try: a minute in all


def _write(store: Store, slices: _Slices, on_wait: Callable[[str], None]) -> IngestCounts:
    """Write each slice in a transaction of its own, waiting (and saying so through `on_wait`)
    while another program holds the store's write lock.

    Raises:
        StoreError: a slice could not be written (in plain words); the slices before it are stored.
    """
    total, pace = IngestCounts(), _Pace()
    version: int | None = None  # the store's data_version when the last slice began
    with store.checkpoints_by_hand() as checkpoints, _collecting_less():
        def limit(slice_number: int) -> int:
            return pace.limit(MAX_SLICE, beside_copy=checkpoints.copying or slice_number % CHECKPOINT_EVERY == 0)

        number = 0
        while slices.next(limit(number + 1)):
            number += 1
            checkpoints.between_transactions(start=number % CHECKPOINT_EVERY == 0)
            try:
                with _slice_transaction(store, on_wait):
                    began = time.perf_counter()
                    now = store.data_version()
                    rows, counts = slices.rows(others_wrote=now is None or now != version,
                                               next_size=limit(number + 1))
                    version = now
                    store.write_ingest(rows)
            except sqlite3.Error as error:
                raise StoreError(_describe(error)) from None
            pace.held(time.perf_counter() - began, counts.new_messages + counts.duplicates)  # BEGIN to COMMIT
            total.add(counts)
    return total


@contextmanager
def _slice_transaction(store: Store, on_wait: Callable[[str], None]) -> Iterator[None]:
    """A slice's transaction, begun once the write lock is free: LOCKED_TRIES tries of busy_timeout each."""
    with ExitStack() as stack:
        for attempt in range(1, LOCKED_TRIES + 1):
            try:
                stack.enter_context(store.transaction(bulk=True))
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == LOCKED_TRIES:
                    raise
                on_wait("another program is writing to the store; the import waits for it")
        yield


LOCK_AIM = 0.17  # seconds a slice holds the write lock, at most about (DESIGN.md: 200 ms; the machine varies)
MIN_SLICE = 100
MAX_SLICE = 6_000  # a case that several messages of one slice join is written once: the longer, the fewer writes
FIRST_SLICE = 500  # nothing is measured yet, and a child threads the first slice twice (see _ThreadedByChild)
BESIDE_COPY = 0.6  # of a slice's messages while the WAL is copied beside it: such slices held the lock 1.2-1.7x
# as long (a 1M import: up to 294 ms, at each copy; the machine's two cores had three busy threads)


class _Pace:
    """How many messages a slice may have so that its transaction holds the lock about LOCK_AIM:
    as many as come in a slice, unless they took longer (per message, smoothed over the slices)."""

    def __init__(self) -> None:
        self.per_message: float | None = None

    def held(self, seconds: float, messages: int) -> None:
        if messages:
            now = seconds / messages
            self.per_message = now if self.per_message is None else 0.7 * self.per_message + 0.3 * now

    def limit(self, most: int, beside_copy: bool = False) -> int:
        if self.per_message is None:
            return min(most, FIRST_SLICE)
        aim = LOCK_AIM * BESIDE_COPY if beside_copy else LOCK_AIM
        return max(min(most, MIN_SLICE), min(most, int(aim / self.per_message)))


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
    """Like `ingest.ingest`, in slices of at most `batch_size`, threaded in this process inside the
    transaction that writes each (see `_write`)."""
    return _write(store, _ThreadedHere(Threader(store, rules, router), _annotated(batches(messages, batch_size))),
                  on_wait)
