"""Provides `WriteTurn`: a bulk writer lets the writers that wait go first.

SQLite's write lock is not fair. A writer that waits for it polls, sleeping up to 100 ms
between tries, and a bulk import that begins its next transaction the moment it commits
the last one wins nearly every race: an agent's action waited seconds, measured. So a
writer that waits holds a shared lock on a file beside the store (`<store>-turn`) while it
waits, and a bulk writer takes that lock exclusively, and lets go at once, before each of
its transactions: it begins only when nobody waits. Advisory locks (flock) hold across
processes and go with the process that dies.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if sys.platform == "win32":
    def _flock(fd: int, how: str) -> None:
        """No flock on Windows: SQLite's own lock only."""
else:
    import fcntl

    _HOW = {"shared": fcntl.LOCK_SH, "exclusive": fcntl.LOCK_EX, "free": fcntl.LOCK_UN}

    def _flock(fd: int, how: str) -> None:
        fcntl.flock(fd, _HOW[how])


class WriteTurn:
    """The turn file of the store at `path` (None: an in-memory store, nobody else writes)."""

    def __init__(self, path: Path | None) -> None:
        self._fd: int | None = None
        if path is not None:
            try:
                self._fd = os.open(path.with_name(path.name + "-turn"), os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # a read-only folder: the store itself says so when written
                self._fd = None

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Say, while inside, that a writer waits for the store's lock."""
        if self._fd is None:
            yield
            return
        _flock(self._fd, "shared")
        try:
            yield
        finally:
            _flock(self._fd, "free")

    def let_others_first(self) -> None:
        """Return once no writer waits (a bulk writer, before each transaction)."""
        if self._fd is not None:
            _flock(self._fd, "exclusive")
            _flock(self._fd, "free")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
