"""Arrivals: a customer who writes again on a case in view marks its row until it is opened, and
on one of my cases the inbox says so."""

from __future__ import annotations

from conftest import HOUR, MINUTE, T0, msg, notice, press, screen_lines, wait_for

from webcare_tui.app import make_app
from webcare_tui.cases import CaseService
from webcare_tui.config import Config
from webcare_tui.ingest import ingest
from webcare_tui.store import Store
from webcare_tui.widgets.case_list import CaseList


async def test_a_new_message_on_my_case_marks_its_row_and_is_said_until_i_open_it(store):
    ingest(store, [msg(0, author="anna", text="Mijn wifi is kapot"), msg(10 * MINUTE, author="bram", text="Factuur?")])
    anna = next(c["id"] for c in store.list_cases() if c["author_id"] == "anna")
    bram = next(c["id"] for c in store.list_cases() if c["author_id"] == "bram")
    CaseService(store).assign(anna, "tim", actor="tim")
    app = make_app(Config(), store, connectors={}, clock=lambda: T0 + HOUR)
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "3")
        cases = app.screen.query_one(CaseList)
        await wait_for(pilot, lambda: cases.count == 2)
        assert not cases.arrived  # what was there when the view opened is not new

        with Store(store.path) as other:  # another program: the sync of another console, an import
            ingest(other, [msg(HOUR - 5 * MINUTE, author="anna", text="Hallo? Nog steeds niks"),
                           msg(HOUR - 4 * MINUTE, author="bram", text="En?")])
        await wait_for(pilot, lambda: cases.arrived == {anna, bram}, "both rows marked")
        # only mine is said, when the list's Arrived message reaches the screen (a hop after the marks)
        await wait_for(pilot, lambda: notice(app) == f"new message from @anna (case {anna})", "mine said")
        marked = {line[:1] for line in screen_lines(cases) if "@anna" in line or "@bram" in line}
        assert marked == {"*"}

        row = next(i for i in range(cases.count) if cases.row(i).id == anna)
        await press(pilot, *(["j"] * (row - cases.cursor)), "enter", "escape")
        assert cases.arrived == {bram}  # opened: read
        await press(pilot, "3")
        assert cases.arrived == {bram}  # still new until opened, also after a view switch
