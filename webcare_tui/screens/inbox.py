"""Provides `InboxScreen`: the start screen — views of cases, search and bulk actions.

Each view keeps the order the agent gave it with `s` (its own, until changed again).
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from webcare_tui.case_query import CaseQuery, QueryError, View, parse_query
from webcare_tui.safe_text import shown_author
from webcare_tui.screens.macro_keys import MacroKeys
from webcare_tui.screens.prompt import PromptScreen
from webcare_tui.store.inbox import SORTS, Sort, default_sort, sorts_for
from webcare_tui.widgets.background import REPEAT_PAUSE
from webcare_tui.widgets.case_list import PAGE, CaseList, CaseListHeading
from webcare_tui.widgets.footer import Footer
from webcare_tui.widgets.notice import Notice
from webcare_tui.widgets.status_header import StatusHeader


class InboxScreen(MacroKeys):
    scope = "inbox"
    DEFAULT_CSS = """
    #views { height: 1; background: $boost; }
    #search { display: none; }
    #search.visible { display: block; }
    #notice { height: 1; color: $text-muted; }
    """
    BINDINGS = [
        *(Binding(str(n), f"view({n - 1})", f"View {n}", show=False, id=f"inbox.view{n}") for n in range(1, 10)),
        Binding("slash", "search", "Search", id="inbox.search"),
        Binding("s", "sort", "Sort", id="inbox.sort"),
        Binding("S", "save_view", "Save search as view", show=False, id="inbox.save_view"),
        Binding("a", "assign", "Assign", id="inbox.assign"),
        Binding("c", "close_cases", "Close", id="inbox.close"),
        Binding("escape", "clear", "Clear", show=False, id="inbox.clear"),
        *MacroKeys.MACRO_BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view_index = 0
        self.sort_names: dict[int, str] = {}  # view index → the order `s` gave it (else the view's own)
        self._said = ""  # the notice line (less any case that left the view: see cursor_case_left)
        self._left = ""  # since the agent's last action: which case left the view from under the cursor
        self.search_text = ""
        self.counts: list[int | None] = []
        self.prefetched: dict = {}  # (query, sort) → first page, read in the background

    @property
    def views(self) -> list[View]:
        return self.console.views

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield Static(id="views")
        yield Input(placeholder="search: words, \"phrases\", label:, platform:, author:@, status:, owner:me, "
                                "!assigned, lang:, age:>2h, before:", id="search")
        cases = CaseList(self.console.store, self.console.jobs, deadline_for=self.console.kpi_settings.deadline_for,
                         clock=self.console.clock, id="cases")
        yield CaseListHeading(cases, id="columns")
        yield cases
        yield Notice()
        yield Footer()

    def on_mount(self) -> None:
        self.show_view()
        self.update_counts()
        self.query_one(CaseList).focus()
        self.console.store_changed.subscribe(self, self.store_changed)
        self.console.live_changed.subscribe(self, self.typing_changed)

    def typing_changed(self, account: str) -> None:
        """Someone started or stopped typing in a conversation of `account`, or opened or left one (team
        mode): its row says so."""
        cases = self.query_one(CaseList)
        self.console.read(self.console.cases_typed_in(account), lambda typed: cases.show_typing(account, typed),
                          latest=(self, "typing", account))  # a burst of typing events: one read
        self.console.read(self.console.cases_opened_in(account), lambda opened: cases.show_open(account, opened),
                          latest=(self, "open", account))

    def store_changed(self, cases: frozenset[int] | None) -> None:
        """New messages, deliveries, another process's writes: the rows read again, the cursor
        staying on its case (a screen on top reads again when it is shown)."""
        if self.is_current:
            self.refresh_data()

    def on_screen_resume(self) -> None:
        # back from a case (it may have left this view) or a prompt: the rows on screen stay until
        # their fresh copies arrive from the background, so closing a screen never waits on a query
        if self.query_one(CaseList).sort is not None:
            self.refresh_data()

    # -- views ----------------------------------------------------------------

    def current_query(self):
        """The active view, narrowed by what is typed in the search box."""
        console = self.console
        view = self.views[self.view_index]
        query = view.query
        if view.source:
            query = parse_query(view.source, me=console.config.agent.id, now=console.clock())
        if self.search_text:
            query = query.narrowed(parse_query(self.search_text, me=console.config.agent.id, now=console.clock()))
        return query

    def sort_of(self, query: CaseQuery) -> Sort:
        """The order of the active view: the one `s` gave it, where its cases can take it, else its own."""
        name = self.sort_names.get(self.view_index)
        return SORTS[name] if name in sorts_for(query) else default_sort(query)

    def show_view(self, *, in_background: bool = False) -> None:
        try:
            query = self.current_query()
        except QueryError as error:
            self.notice(f"search: {error}")
            return
        sort = self.sort_of(query)
        self.query_one(CaseList).show(query, sort, in_background=in_background,
                                      first=self.prefetched.get((query, sort)))  # kept: switching back reuses it
        self.show_counts(self.counts)
        self.notice(f"{self.views[self.view_index].name} · {sort.name}"
                    + (f" · search: {self.search_text}" if self.search_text else ""))

    def update_counts(self) -> None:
        """Count every view in the background thread, then redraw the tab line."""
        store, me, views = self.console.store, self.console.config.agent.id, list(self.views)
        clock = self.console.clock

        def count_all() -> tuple[list[int | None], dict]:
            counts: list[int | None] = []
            first_pages = {}
            for view in views:
                try:
                    query = view.query if not view.source else parse_query(view.source, me=me, now=clock())
                    counts.append(store.count_cases(query))
                except QueryError:
                    counts.append(None)
                    continue
                if not view.source:  # a switch to a built-in view then needs no query at all
                    sort = default_sort(query)
                    first_pages[(query, sort)] = store.page_cases(query, sort, limit=PAGE)
            return counts, first_pages

        def counted(counts: list[int | None], first_pages: dict) -> None:
            self.prefetched = first_pages
            self.show_counts(counts)

        stale, self.prefetched = self.prefetched, {}
        jobs = self.console.jobs
        jobs.counts.submit(stale.clear)  # 500 rows freed off the key's path
        self.show_counts(self.counts)
        jobs.latest((self, "counts"), jobs.counts, count_all, counted, unpack=True, pause=REPEAT_PAUSE)

    def show_counts(self, counts: list[int | None]) -> None:
        self.counts = counts
        line = Text()
        for index, view in enumerate(self.views):
            count = counts[index] if index < len(counts) else None
            label = f" {view.key} {view.name} {'…' if count is None else count} "
            line.append(label, "reverse bold" if index == self.view_index else "")
        self.query_one("#views", Static).update(line, layout=False)  # one line, always: no layout pass

    def refresh_data(self) -> None:
        """The data changed (new messages, the agent's own action): recount, keep the cursor on its case."""
        self.query_one(CaseList).reload()
        self.update_counts()

    def notice(self, text: str) -> None:
        self._said = text
        self.query_one(Notice).say(text)

    def action_view(self, index: int) -> None:
        """Number key `index + 1`: the view on that key (a view's key, not its place in the list)."""
        key = str(index + 1)
        found = next((number for number, view in enumerate(self.views) if view.key == key), None)
        if found is not None:
            self.view_index = found
            self.show_view()

    def action_sort(self) -> None:
        """The active view's next order (from the one it shows, so the first press changes it); the
        other views keep theirs."""
        try:
            query = self.current_query()
        except QueryError as error:
            self.notice(f"search: {error}")
            return
        names = sorts_for(query)
        shown = next(name for name, sort in SORTS.items() if sort == self.sort_of(query))
        chosen = names[(names.index(shown) + 1) % len(names)] if shown in names else names[0]
        self.sort_names[self.view_index] = chosen
        self.show_view()
        self.notice(f"{self.views[self.view_index].name} now sorted {SORTS[chosen].name} (s: the next order)")

    # -- search ---------------------------------------------------------------

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.add_class("visible")
        search.value = self.search_text
        search.focus()

    @on(Input.Changed, "#search")
    def search_as_you_type(self, event: Input.Changed) -> None:
        self.search_text = event.value.strip()
        self.show_view(in_background=True)  # the query runs off the key's path; the latest one wins

    @on(Input.Submitted, "#search")
    def search_done(self) -> None:
        self.query_one(CaseList).focus()

    def action_save_view(self) -> None:
        """Keep the current search as a view on the next free number key (in the config file)."""
        if not self.search_text:
            self.notice("type a search first (/), then S saves it as a view")
            return
        keys = {view.key for view in self.views}
        free = next((str(n) for n in range(1, 10) if str(n) not in keys), None)
        if free is None:
            self.notice("all number keys 1-9 have a view already")
            return
        text = self.search_text

        def save(name: str | None) -> None:
            if not name or not name.strip():
                return
            try:
                self.console.save_view(name.strip(), text, free)
            except OSError as error:
                self.notice(f"could not write the config file: {error.strerror}")
                return
            self.update_counts()
            self.notice(f"saved as view {free} {name.strip()}")

        self.console.push_screen(PromptScreen(f"Name for the view {text!r} (key {free}):"), save)

    def action_clear(self) -> None:
        cases = self.query_one(CaseList)
        if cases.selected:
            cases.selected.clear()
            cases.refresh()
            return
        search = self.query_one("#search", Input)
        search.remove_class("visible")
        if self.search_text:
            self.search_text = ""
            search.value = ""
            self.show_view()
        cases.focus()

    # -- actions on the selected cases (or the one under the cursor) ---------

    def target_ids(self) -> list[int]:
        return self.query_one(CaseList).target_ids()

    def after_action(self) -> None:
        self.query_one(CaseList).selected.clear()
        self.refresh_data()

    @on(CaseList.Opened)
    def open_case(self, event: CaseList.Opened) -> None:
        self.console.open_case(event.case_id)

    @on(CaseList.Rested)
    def read_ahead(self, event: CaseList.Rested) -> None:
        self.console.read_ahead(event.case_id)

    @on(CaseList.Arrived)
    def customers_wrote(self, event: CaseList.Arrived) -> None:
        """A customer wrote again on a case of mine (marked * in the list until opened): say it."""
        mine = [row for row in event.rows if row.owner == self.console.config.agent.id]
        if mine:
            who = ", ".join(f"{shown_author(row.author_handle, row.author_name)} (case {row.id})" for row in mine[:3])
            more = f" and {len(mine) - 3} more" if len(mine) > 3 else ""
            self.notice(f"new message from {who}{more}")

    @on(CaseList.Left)
    def cursor_case_left(self, event: CaseList.Left) -> None:
        """The case under the cursor left the view: the agent is told where the cursor went."""
        went = f"case {event.case_id} left {self.views[self.view_index].name}"
        went += f"; the cursor is on case {event.now_on}" if event.now_on is not None else "; the view is empty"
        self._left = went
        self.query_one(Notice).say(f"{self._said} · {went}" if self._said else went)  # after what was said last

    def _act_on_all(self, ids: list[int], act: Callable[[int], None], done: str, failed: str) -> None:
        """Do `act` to each case on the writer thread, all or none (one transaction); `u` takes it back."""
        cases = self.console.cases
        self._left = ""
        self.notice(f"{done} …")

        def written(_: object) -> None:
            # the cases' rows may have been read again already (the prompt closing): what left is still said
            said = f"{done} · u undoes for {self.console.undo.grace} s"
            self.notice(f"{said} · {self._left}" if self._left else said)
            self.after_action()

        def refused(why: str) -> None:
            self.refresh_data()
            self.notice(f"{failed}: {why}")

        self.console.act(lambda: cases.for_all(ids, act), written, refused, undo_as=(done, ids))

    def action_close_cases(self) -> None:
        ids = self.query_one(CaseList).target_ids()
        if not ids:
            return
        cases, me = self.console.cases, self.console.config.agent.id
        self._act_on_all(ids, lambda case_id: cases.set_status(case_id, "closed", actor=me),
                         f"closed {len(ids)} case{'s' if len(ids) != 1 else ''}", "nothing closed")

    def action_assign(self) -> None:
        ids = self.query_one(CaseList).target_ids()
        if not ids:
            return
        cases, me = self.console.cases, self.console.config.agent.id

        def assign(agent: str | None) -> None:
            if agent and agent.strip():
                who = agent.strip()
                self._act_on_all(ids, lambda case_id: cases.assign(case_id, who, actor=me),
                                 f"assigned {len(ids)} case{'s' if len(ids) != 1 else ''} to {who}", "nobody assigned")

        self.console.read(self.console.agent_ids, lambda agents: self.console.push_screen(
            PromptScreen(f"Assign {len(ids)} case(s) to:", suggestions=agents, only=self.console.agents_allowed), assign))
