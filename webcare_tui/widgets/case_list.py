"""Provides `CaseList`: a virtual list of cases on Textual's Line API.

Only the rows on screen are read: the list knows the view's row count, fetches
pages of `PAGE` rows by keyset (or by offset after a jump) and keeps the recent
pages in a small cache, the way Toolong shows multi-GB logs. A refresh keeps the
cursor on the same case, wherever new cases push it. `CaseListHeading` names the
columns above it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from webcare_tui.case_query import CaseQuery
from webcare_tui.case_rules import OPEN_STATUSES, waits_on_us
from webcare_tui.deadlines import DUE_SOON, case_act_before, describe_remaining
from webcare_tui.safe_text import clean, shown_author
from webcare_tui.store import Store
from webcare_tui.store.inbox import CaseRow, Sort
from webcare_tui.widgets.background import REPEAT_PAUSE, Background
from webcare_tui.widgets.lines import fitted

PAGE = 100
OPEN_WAITED = 5.0  # seconds a case asked for on a row still being read opens when the row comes
REST = 0.1  # seconds the cursor stays on a case before it is read ahead for opening: not while a key is held
CACHED_PAGES = 30
# screens of formatted rows kept: a row's line is a score of objects the garbage collector's full passes
# scan, and 2,000 of them made those passes (every second or so) hold the event loop for 20-90 ms
KEPT_SCREENS = 4
PLATFORMS = {"x": "X", "facebook": "FB", "instagram": "IG", "whatsapp": "WA", "messenger": "MS",
             "telegram": "TG", "mastodon": "MA", "matrix": "MX", "chatwoot": "CW"}
STATUS = {"new": ("NEW", "bold cyan"), "open": ("OPEN", "bold green"), "pending": ("PEND", "yellow"),
          "awaiting_approval": ("APPR", "magenta"), "closed": ("DONE", "dim")}


def _fit(text: str, width: int) -> str:
    """`text` cut (with …) or padded to exactly `width` terminal cells (emoji take two)."""
    if text.isascii():
        return text[: width - 1] + "…" if len(text) > width else text.ljust(width)
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Ascending `numbers` as runs of consecutive ones, each (first, last + 1)."""
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and runs[-1][1] == number:
            runs[-1] = (runs[-1][0], number + 1)
        else:
            runs.append((number, number + 1))
    return runs


@lru_cache(maxsize=64)
def _style(name: str) -> Style:
    return Style.parse(name) if name else Style()


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86_400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86_400)}d"


# The columns, in cells: mark, status, platform, when (act before, closed or last active), author, then
# the last message (with the labels) takes the room the others leave, then owner and age.
STATUS_CELLS, PLATFORM_CELLS, WHEN_CELLS, AUTHOR_CELLS, OWNER_CELLS, AGE_CELLS = 5, 3, 7, 18, 8, 5
FIXED_CELLS = 1 + STATUS_CELLS + PLATFORM_CELLS + WHEN_CELLS + 1 + AUTHOR_CELLS + 1 + 1 + OWNER_CELLS + AGE_CELLS
DRAFT_MARK = "✎ "  # before the last message: a reply begun waits in the case
# What the when-column says in a view: by when to act (open work), when the case was closed (the
# Closed view: no act-before time there), or its last activity (pending cases wait on the customer).
WHEN_HEADINGS = {"act": "ACT BY", "closed": "CLOSED", "active": "ACTIVE"}


def when_column(query: CaseQuery) -> str:
    """What the when-column of a view shows: "act", "closed" or "active" (see WHEN_HEADINGS)."""
    statuses = set(query.statuses)
    if statuses == {"closed"}:
        return "closed"
    if statuses and not statuses & set(OPEN_STATUSES):
        return "active"
    return "act"


def heading(width: int, when: str) -> str:
    """The column names, aligned with rows `width` cells wide."""
    room = max(width - FIXED_CELLS, 10)
    return ("".join([" ", "STAT".ljust(STATUS_CELLS), "VIA".ljust(PLATFORM_CELLS), f"{WHEN_HEADINGS[when]:>{WHEN_CELLS}} ",
                     _fit("AUTHOR", AUTHOR_CELLS), " ", _fit("LAST MESSAGE  #LABELS", room), " ",
                     _fit("OWNER", OWNER_CELLS), f"{'AGE':>{AGE_CELLS}}"]))[:width].ljust(width)


MOVE_KEYS = (  # a list's cursor keys: the cases' and the alerts'
    Binding("down,j", "move(1)", "Down", show=False, id="list.down"),
    Binding("up,k", "move(-1)", "Up", show=False, id="list.up"),
    Binding("pagedown", "move_page(1)", "Page down", show=False, id="list.page_down"),
    Binding("pageup", "move_page(-1)", "Page up", show=False, id="list.page_up"),
    Binding("home,g", "jump(0)", "First", show=False, id="list.first"),
    Binding("end,G", "jump(-1)", "Last", show=False, id="list.last"),
)


class CaseList(ScrollView, can_focus=True):
    """The inbox's rows; posts `CaseList.Opened` when the agent opens one."""

    DEFAULT_CSS = """
    CaseList { height: 1fr; overflow-x: hidden; }
    CaseList > .case-list--cursor { background: $accent 40%; }
    """
    COMPONENT_CLASSES = {"case-list--cursor"}
    BINDINGS = [
        *MOVE_KEYS,
        Binding("space", "toggle_select", "Select", id="list.select"),
        Binding("shift+down", "extend(1)", "Select down", show=False, id="list.select_down"),
        Binding("shift+up", "extend(-1)", "Select up", show=False, id="list.select_up"),
        Binding("enter", "open", "Open", id="list.open"),
    ]

    class Opened(Message):
        def __init__(self, case_id: int) -> None:
            super().__init__()
            self.case_id = case_id

    class Rested(Message):
        """The cursor has stayed on a case for `REST` seconds: the agent may open it next."""

        def __init__(self, case_id: int) -> None:
            super().__init__()
            self.case_id = case_id

    class Arrived(Message):
        """Customers wrote again on cases in view since they were last shown (`rows`, as read now)."""

        def __init__(self, rows: list[CaseRow]) -> None:
            super().__init__()
            self.rows = rows

    class Left(Message):
        """The case under the cursor left the view (an action, the sync); the cursor is on
        `now_on`, the case that took its place (None: the view is empty)."""

        def __init__(self, case_id: int, now_on: int | None) -> None:
            super().__init__()
            self.case_id = case_id
            self.now_on = now_on

    def __init__(self, store: Store, jobs: Background, *, deadline_for: Callable[[str], int], clock: Callable[[], float] = time.time,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.jobs = jobs  # pages are read on the reader thread, counts on the counting one: never here
        self._generation = 0
        self.deadline_for = deadline_for  # the service-level deadline per platform
        self.clock = clock
        self.query_: CaseQuery = CaseQuery()
        self.sort: Sort | None = None
        self.count = 0
        self.cursor = 0
        self.selected: set[int] = set()
        self._pages: OrderedDict[int, list[CaseRow]] = OrderedDict()
        self._resting: Timer | None = None  # until the cursor counts as resting on its case
        self._open_asked: float | None = None  # when enter was pressed on a row still being read
        self._strips: dict[tuple, Strip] = {}  # formatted rows
        self._painted: dict[int, tuple] = {}  # by line on screen: what it was last drawn from (see `_line_key`)
        self._reading: set[tuple[int, int]] = set()  # (generation, page) being read in the background
        self._stale: dict[int, list[CaseRow]] = {}  # pages shown until their fresh copies arrive
        self._recounted = -1  # the generation a short page began (see _load_page)
        self._switching_to: tuple[CaseQuery, Sort] | None = None  # the view whose first page is being read
        self.when = "act"  # what the when-column shows in this view (see when_column)
        self.heading: CaseListHeading | None = None  # the column names above, kept in line with the rows
        # arrivals: per case, the customer's latest message as the agent has seen it (first shown, or
        # opened); a later one marks the row until the case is opened, and is said once
        self._seen: dict[int, int] = {}
        self._said: dict[int, int] = {}
        self.arrived: set[int] = set()
        self._typing: dict[str, dict[int, list[str]]] = {}  # per account: case → who else is typing there now
        self._open: dict[str, dict[int, list[str]]] = {}  # per account: case → who else has it open now

    # -- data -----------------------------------------------------------------

    def show(self, query: CaseQuery, sort: Sort, *, in_background: bool = False,
             first: list[CaseRow] | None = None) -> None:
        """Switch to another view or order: cursor to the top, selection cleared.

        The first page shows at once (or, `in_background`, as soon as a search has
        found it, so typing never waits on a query); the full count, which grows
        with the view, arrives from the background thread and sizes the scrollbar.
        """
        self._generation += 1
        generation = self._generation
        if first is not None:  # read ahead by the caller
            self._show_first(query, sort, first)
            return
        self._switching_to = (query, sort)
        self.jobs.deliver(self.jobs.reads.submit(self.store.page_cases, query, sort, limit=PAGE),
                          lambda first: self._show_first(query, sort, first) if generation == self._generation else None)

    def _show_first(self, query: CaseQuery, sort: Sort, first: list[CaseRow]) -> None:
        self._switching_to = None
        self.query_, self.sort = query, sort
        if (when := when_column(query)) != self.when:
            self.when = when
            self._columns_changed()
        self.selected.clear()
        self.cursor = 0
        self._open_asked = None
        self._moved()
        self._pages.clear()
        self._stale = {}
        self._pages[0] = first
        self._note_arrivals(first)
        self._set_count(len(first))
        self.scroll_to(y=0, animate=False)
        if len(first) == PAGE:
            generation = self._generation
            self.jobs.deliver(self.jobs.counts.submit(self.store.count_cases, query),
                              lambda count: self._set_count(count) if generation == self._generation else None)

    def _set_count(self, count: int) -> None:
        self.count = count
        size = Size(self.size.width, count)
        height = self.scrollable_content_region.height
        if (count > height) != (self.virtual_size.height > height):
            self.virtual_size = size  # the scrollbar appears or goes: that needs a layout pass
            self.call_after_refresh(self._columns_changed)  # the rows' width with it
        else:
            # Only the scrollbar's proportions change: skip the layout pass the reactive would
            # run (a whole-screen reflow, most of a view switch's time on a 1M-message store).
            self.set_reactive(ScrollView.virtual_size, size)
            self._scroll_update(size)
        self._repaint()

    def reload(self) -> None:
        """The data changed (the agent's action, the sync, another program): the rows on screen stay
        until their fresh copies arrive (no flicker, no wait); the count, the cursor's case and its
        page are read again in the background. The cursor stays on its case; when that case left
        the view, at its place, where the next case now stands."""
        if self._switching_to is not None:  # another view's first page is being read: read it again,
            self.show(*self._switching_to)  # after this change (this one would read the view left)
            return
        current = self.current_row()
        # what is shown stays until its fresh copy is here, also when the store changes again before
        # that: the pages still stale from the last change, and those read since (kept alone, the list
        # went blank, and a third change found no case under the cursor to keep it on)
        self._stale = {**self._stale, **self._pages}
        for number in list(self._stale)[:-CACHED_PAGES]:
            del self._stale[number]
        self._pages.clear()
        self._generation += 1
        generation, query, sort, cursor = self._generation, self.query_, self.sort, self.cursor
        if sort is None:
            return

        def count_and_find() -> tuple[int, int | None, int, list[CaseRow]]:
            with self.store.snapshot():  # a commit between the count and the rows made them disagree
                count = self.store.count_cases(query)
                position = None
                if current is not None:
                    at = self.store.case_position(query, sort, current.sort_key(sort))
                    found = self.store.page_cases(query, sort, offset=at, limit=1)
                    position = at if found and found[0].id == current.id else None
                number = min(position if position is not None else cursor, max(count - 1, 0)) // PAGE
                return count, position, number, self.store.page_cases(query, sort, offset=number * PAGE, limit=PAGE)

        def relocate(count: int, position: int | None, number: int, page: list[CaseRow]) -> None:
            if generation == self._generation and self.cursor != cursor:
                # the agent moved the cursor meanwhile, onto a case this read did not look for: its place
                # may hold another customer now, so the view is read again for the case under it now
                self.reload()
            elif generation == self._generation:
                self._pages[number] = page
                self._note_arrivals(page)
                self._stale.pop(number, None)
                self._relocate(count, position)
                if current is not None and position is None:  # its case left the view: say where the cursor is
                    now_on = self.current_row()
                    self.post_message(self.Left(current.id, now_on.id if now_on is not None else None))
                self._open_if_asked()

        # a store that changes faster than the view is read (an import's commits; the Pending view of the
        # 1M store took 120-480 ms a count) gets it read again after a pause, not back to back: the
        # agent's own reads (a page, a case opened, another view) share its thread
        self.jobs.latest((self, "reload"), self.jobs.reads, count_and_find, relocate, unpack=True, pause=REPEAT_PAUSE)
        self._repaint()  # the rows shown before, until theirs come (after the re-read is asked for: it reads the cursor's page)

    def show_typing(self, account: str, typed: dict[int, list[str]]) -> None:
        """The cases of `account` that someone else is typing in now (team mode), with their names."""
        self._typing[account] = typed
        self._repaint()

    def typing_in(self, case_id: int) -> list[str]:
        return [name for typed in self._typing.values() for name in typed.get(case_id, ())]

    def show_open(self, account: str, opened: dict[int, list[str]]) -> None:
        """The cases of `account` that someone else has open now (team mode), with their names."""
        self._open[account] = opened
        self._repaint()

    def open_in(self, case_id: int) -> list[str]:
        return [name for opened in self._open.values() for name in opened.get(case_id, ())]

    def _note_arrivals(self, rows: list[CaseRow]) -> None:
        """Mark the rows whose customer wrote since the agent saw them, and say the new ones once."""
        fresh = []
        for row in rows:
            latest = row.last_inbound_at or 0
            seen = self._seen.setdefault(row.id, latest)  # first shown: nothing new to the agent
            if latest > seen and row.last_direction == "in":
                self.arrived.add(row.id)
                if self._said.get(row.id) != latest:
                    self._said[row.id] = latest
                    fresh.append(row)
        if fresh:
            self.post_message(self.Arrived(fresh))

    def _relocate(self, count: int, position: int | None) -> None:
        self._set_count(count)
        self.cursor = min(position if position is not None else self.cursor, max(count - 1, 0))
        self._follow_cursor()

    def row(self, index: int) -> CaseRow | None:
        """Row `index` of the view from the page cache; None while its page is being read."""
        if not 0 <= index < self.count or self.sort is None:
            return None
        number, offset = divmod(index, PAGE)
        page = self._pages.get(number)
        if page is None:
            if number != self.cursor // PAGE or not self.jobs.under_way((self, "reload")):
                self._load_page(number)  # (the cursor's page comes with the re-read of the view under way)
            page = self._stale.get(number)  # the rows shown before, until the fresh page is here
            return page[offset] if page is not None and offset < len(page) else None
        self._pages.move_to_end(number)
        return page[offset] if offset < len(page) else None

    def _load_page(self, number: int) -> None:
        """Read a page in the background (by keyset after the page before it, else by offset)
        and repaint when it is there: the UI never waits on the database."""
        generation, query, sort = self._generation, self.query_, self.sort
        if (generation, number) in self._reading or sort is None:
            return
        self._reading.add((generation, number))
        previous = self._pages.get(number - 1)
        if previous and len(previous) == PAGE:
            future = self.jobs.reads.submit(self.store.page_cases, query, sort,
                                            after=previous[-1].sort_key(sort), limit=PAGE)
        else:
            future = self.jobs.reads.submit(self.store.page_cases, query, sort, offset=number * PAGE, limit=PAGE)

        def store_page(page: list[CaseRow]) -> None:
            self._reading.discard((generation, number))
            if generation != self._generation:
                return
            if len(page) < min(PAGE, self.count - number * PAGE) and generation != self._recounted:
                # fewer rows than counted: cases left the view since; count them again (once: a
                # count and pages that still disagree after it are shown as they are)
                self.reload()
                self._recounted = self._generation
            else:
                self._pages[number] = page
                self._note_arrivals(page)
                self._stale.pop(number, None)
                if len(self._pages) > CACHED_PAGES:
                    self._pages.popitem(last=False)
                self._repaint()
                self._open_if_asked()

        self.jobs.deliver(future, store_page)

    def current_row(self) -> CaseRow | None:
        return self.row(self.cursor)

    def target_ids(self) -> list[int]:
        """The selected cases, or the one under the cursor."""
        if self.selected:
            return sorted(self.selected)
        current = self.current_row()
        return [current.id] if current else []

    # -- rendering ------------------------------------------------------------

    def _line_key(self, index: int, row: CaseRow | None, width: int) -> tuple:
        """What line `index` is drawn from: the line changes when this does. A row's line changes with
        its data, the width, its selection, the minute (ages, due times), what the view's when-column
        shows and the cursor; a line without its row with whether its page is on its way."""
        if row is None:
            return index, width, index < self.count
        return (index == self.cursor, (row, width, row.id in self.selected, row.id in self.arrived,
                                       tuple(self.typing_in(row.id)), tuple(self.open_in(row.id)),
                                       int(self.clock() // 60), self.when))

    def _repaint(self) -> None:
        """Repaint the lines on screen whose row or look changed. A re-read under a busy store mostly
        brings the same rows back: repainting them all made Textual draw every line anew (and the
        garbage collector's full passes collect them), several times a second under an import."""
        top, width, height = self.scroll_offset.y, self.scrollable_content_region.width, self.scrollable_content_region.height
        changed = [y for y in range(height) if self._painted.get(y) != self._line_key(top + y, self.row(top + y), width)]
        if len(changed) == height:  # another view, say: one region, not a line each for the compositor
            self.refresh()
            return
        for start, end in _runs(changed):
            self.refresh_lines(top + start, end - start)

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        row = self.row(index)
        self._painted[y] = key = self._line_key(index, row, width)
        if row is None:
            if index < self.count:  # its page is on its way
                return Strip([Segment(" …".ljust(width), _style("dim"))])
            return Strip.blank(width)
        on_cursor, row_key = key
        strip = self._strips.get(row_key)
        if strip is None:
            strip = self._strips[row_key] = self._format(row, width)
            if len(self._strips) > KEPT_SCREENS * max(self.size.height, 25):
                self._strips.clear()
        if on_cursor:
            strip = strip.apply_style(self.get_component_rich_style("case-list--cursor"))
        return strip

    def _when(self, row: CaseRow, now: float) -> tuple[str, str]:
        """The when-column of a row, and its style (see `when_column`)."""
        if self.when == "act":
            due = case_act_before(row.status, row.platform, row.waiting_since, row.last_inbound_at,
                                  self.deadline_for(row.platform))
            if due is None:
                return "", "dim"
            left = int(due - now)
            return describe_remaining(left), "bold red" if left < 0 else "bold yellow" if left < DUE_SOON else ""
        moment = row.closed_at if self.when == "closed" else row.last_message_at
        if moment is None:
            return "", "dim"
        ago = _age(max(now - moment, 0))
        return f"{ago} ago" if len(ago) + 4 <= WHEN_CELLS else ago, "dim"

    def _format(self, row: CaseRow, width: int) -> Strip:
        """One row as segments, column by column (cheaper than Rich Text on every repaint)."""
        now = self.clock()
        status, status_style = STATUS.get(row.status, (row.status[:4].upper(), ""))
        when_text, when_style = self._when(row, now)
        author = shown_author(row.author_handle, row.author_name, "?")
        labels = clean(" ".join(f"#{label}" for label in row.labels), single_line=True)
        last = clean(row.last_text, single_line=True)
        if row.last_direction == "out":
            last = "↪ " + last
        draft = DRAFT_MARK if row.has_draft else ""
        typing = self.typing_in(row.id)  # a teammate writes in this conversation now (team mode)
        writing = clean(f"✍ {', '.join(typing)} typing… ", single_line=True) if typing else ""
        opened = self.open_in(row.id)  # a teammate has this case open now (team mode)
        watching = clean(f"👁 {', '.join(opened)} ", single_line=True) if opened and not typing else ""
        room = max(width - FIXED_CELLS - (cell_len(labels) + 1 if labels else 0), 10)
        selected = row.id in self.selected
        arrived = row.id in self.arrived  # the customer wrote since the agent last looked
        columns = [
            ("●" if selected else "*" if arrived else "!" if row.priority >= 2 else " ",
             "bold magenta" if selected else "bold yellow" if arrived else "bold red"),
            (f"{status:<{STATUS_CELLS}}", status_style),
            (f"{PLATFORMS.get(row.platform, row.platform[:2].upper()):<{PLATFORM_CELLS}}", "bold"),
            (f"{when_text:>{WHEN_CELLS}} ", when_style),
            (_fit(author, AUTHOR_CELLS) + " ", "bold" if waits_on_us(row.status, row.last_direction) else ""),
            (writing, "bold yellow"),
            (watching, "bold cyan"),
            (draft, "bold magenta"),
            (_fit(last, max(room - cell_len(writing) - cell_len(watching) - len(draft), 1)), ""),
            (f" {labels}" if labels else "", "italic cyan"),
            (f" {clean(row.owner or '-', single_line=True)[:OWNER_CELLS]:<{OWNER_CELLS}}", "green" if row.owner else "dim"),
            (f"{_age(now - row.created_at):>{AGE_CELLS}}", "dim"),
        ]
        segments = [Segment(text, _style(style)) for text, style in columns if text]
        return fitted(segments, width, Style())

    # -- keys -----------------------------------------------------------------

    def _follow_cursor(self) -> None:
        self._moved()
        top = self.scroll_offset.y
        self.scroll_to_region(Region(0, self.cursor, 1, 1), animate=False, force=True)
        if self.scroll_offset.y == top:
            self._repaint()  # no scroll: the two rows whose highlight changed, say
        else:
            self.refresh()

    def _moved(self) -> None:
        """The cursor moved (or its page was read again): `Rested` follows once it stays put."""
        if self._resting is not None:
            self._resting.stop()
        self._resting = self.set_timer(REST, self._rested)

    def _rested(self) -> None:
        self._resting = None
        if (row := self.current_row()) is not None:
            self.post_message(self.Rested(row.id))

    def action_move(self, delta: int) -> None:
        self._open_asked = None
        self.cursor = max(0, min(self.count - 1, self.cursor + delta))
        self._follow_cursor()
        self._read_ahead()

    def _read_ahead(self) -> None:
        """Read the page below the screen before the cursor gets there."""
        number = (self.scroll_offset.y + self.size.height + PAGE // 2) // PAGE
        if number not in self._pages and number * PAGE < self.count:
            self._load_page(number)

    def action_move_page(self, direction: int) -> None:
        self.action_move(direction * max(self.size.height - 1, 1))

    def action_jump(self, index: int) -> None:
        self._open_asked = None
        self.cursor = max(self.count - 1, 0) if index < 0 else 0
        self._follow_cursor()

    def action_toggle_select(self) -> None:
        row = self.current_row()
        if row is not None:
            self.selected ^= {row.id}
            self.action_move(1)

    def action_extend(self, delta: int) -> None:
        row = self.current_row()
        if row is not None:
            self.selected.add(row.id)
            self.action_move(delta)
            if (next_row := self.current_row()) is not None:
                self.selected.add(next_row.id)
            self._repaint()

    def action_open(self) -> None:
        row = self.current_row()
        self._open_asked = time.monotonic() if row is None and self.count > 0 else None  # its page is being read
        if row is not None:
            self._seen[row.id] = row.last_inbound_at or 0  # read now: no longer new
            self.arrived.discard(row.id)
            self.refresh_line(self.cursor)  # only its row changed: all of them took 4-7 ms before the case showed
            self.post_message(self.Opened(row.id))

    def _open_if_asked(self) -> None:
        """Rows arrived: the one enter was pressed on while it was being read opens now (not when it
        comes too late to be what the agent is waiting for, nor under another screen)."""
        asked = self._open_asked
        if asked is not None and self.current_row() is not None:
            self._open_asked = None
            if time.monotonic() - asked < OPEN_WAITED and self.screen.is_current:
                self.action_open()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.count)
        self.call_after_refresh(self._columns_changed)

    def _columns_changed(self) -> None:
        if self.heading is not None:
            self.heading.refresh()

    def heading_text(self, fallback_width: int) -> str:
        """The column names for this list's rows as they are now (their width, the view's when-column)."""
        width = self.scrollable_content_region.width or fallback_width
        return heading(width, self.when)


class CaseListHeading(Widget):
    """The column names above a `CaseList`, in line with its rows whatever their width (a scrollbar
    takes some) and with what its when-column shows in the view."""

    DEFAULT_CSS = """
    CaseListHeading { height: 1; color: $text-muted; text-style: bold; }
    """

    def __init__(self, cases: CaseList, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cases = cases
        cases.heading = self

    def render(self) -> Text:
        return Text(self.cases.heading_text(self.size.width), no_wrap=True, overflow="crop", end="")

