"""Provides line numbers for keys of TOML array tables, so errors can name the line (tomllib gives none)."""

from __future__ import annotations

import re


def table_starts(lines: list[str], header: str) -> list[int]:
    """The lines (1-based) where each `[[header]]` table starts, in order."""
    return [number for number, line in enumerate(lines, start=1) if line.strip() == f"[[{header}]]"]


def line_of(lines: list[str], start: int, key: str) -> int:
    """The line (1-based) of `key = …` in the table starting at line `start` (else `start`)."""
    for number in range(start, len(lines) + 1):
        text = lines[number - 1].strip()
        if number > start and text.startswith("["):
            break
        if re.match(rf"^[\"']?{re.escape(key)}[\"']?\s*=", text):
            return number
    return start
