"""Provides `import_jsonl`: bulk import of normalized messages from files, stdin or a generator.

Bad lines are reported with their source and line number and skipped; the rest
is imported. Threading and storage go through `ingest`, like every other path.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webcare_tui.case_rules import ThreadingRules
from webcare_tui.ingest import bulk_ingest
from webcare_tui.message_format import InvalidMessage, parse_message, read_jsonl
from webcare_tui.model import Message
from webcare_tui.store import Store

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
                 on_reject: Callable[[str, int, str], None] = lambda source, line, reason: None) -> ImportResult:
    """Import every source in order; returns the counts."""
    result = ImportResult()

    def everything() -> Iterator[Message]:
        for source in sources:
            name = "stdin" if str(source) == "-" else str(source) if isinstance(source, (str, Path)) else "demo"
            yield from _messages(source, name, result, on_reject)

    counts = bulk_ingest(store, everything(), rules)
    result.new_messages, result.duplicates, result.new_cases = counts.new_messages, counts.duplicates, counts.new_cases
    return result
