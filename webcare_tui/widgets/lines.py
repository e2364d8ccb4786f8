"""Provides `fitted`: a line of segments as a Textual `Strip` of exactly the width, with no reference cycle."""

from __future__ import annotations

from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip


def fitted(segments: Iterable[Segment], width: int, style: Style | None = None) -> Strip:
    """`segments` as a line of exactly `width` cells, cut or padded with `style`. Textual's `crop_extend`
    of a line that fits already returns the line itself, kept in its own cache: a reference cycle, so
    every such line dropped (another case shown, the kept rows trimmed) waited for a full garbage-
    collection pass, which holds the event loop for as long as it scans."""
    strip = Strip(segments)
    return strip if strip.cell_length == width else strip.crop_extend(0, width, style)
