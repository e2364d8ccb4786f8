"""Provides `StoreError`: what the store says when it cannot do what was asked, and
`store_trouble`: SQLite's failures in plain words, for every caller that reports one."""

from __future__ import annotations

import sqlite3

StoreFailure = (sqlite3.Error,)  # what SQLite raises: for callers that must not catch it as a bug


class StoreError(RuntimeError):
    """The store cannot do what was asked; the message says why in plain words."""


def store_trouble(error: BaseException) -> str | None:
    """A store failure in plain words (with what to do), or None when `error` is not one."""
    text = str(error)
    if isinstance(error, StoreError):
        return text
    if not isinstance(error, (sqlite3.Error, OSError)):
        return None
    if "locked" in text or "busy" in text:
        return "another program kept the store locked too long"
    if "full" in text:
        return "the disk is full; free some space"
    if "malformed" in text or "not a database" in text:
        return f"the store file is damaged ({text}); restore it from a backup"
    return f"the store failed: {type(error).__name__}: {text}"
