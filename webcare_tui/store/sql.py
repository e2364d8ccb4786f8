"""Provides what the store's query modules share in writing SQL: `chunks`, ids cut to the size of an
`IN (...)` list."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

CHUNK = 500  # ids per IN (...) list: far below SQLite's variable limit

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


