"""The console's own lines are freed as soon as they are dropped: none of them is its own referent,
which only a full garbage-collection pass (the event loop held while it scans) would free."""

from __future__ import annotations

import gc

import pytest
from rich.segment import Segment
from rich.style import Style

from webcare_tui.widgets.lines import fitted


def in_a_cycle(start: object, depth: int = 4) -> bool:
    """`start` is among what it refers to, `depth` references deep at most."""
    seen: set[int] = set()
    layer = gc.get_referents(start)
    for _ in range(depth):
        if any(one is start for one in layer):
            return True
        layer = [referent for one in layer if id(one) not in seen and not seen.add(id(one))
                 for referent in gc.get_referents(one)]
    return False


@pytest.mark.parametrize("text", ["fits exactly", "short", "much longer than the line"])
def test_a_fitted_line_has_the_width_and_is_not_its_own_referent(text):
    width = len("fits exactly")
    line = fitted([Segment(text, Style(bold=True))], width, Style(dim=True))
    assert line.cell_length == width and line.text == (text + " " * width)[:width]
    assert not in_a_cycle(line)


def test_the_cycle_test_finds_the_one_textual_makes():
    """Textual's own crop_extend of a line that fits keeps the line in its own cache: what `fitted` avoids."""
    from textual.strip import Strip

    assert in_a_cycle(Strip([Segment("fits exactly")]).crop_extend(0, len("fits exactly"), None))
