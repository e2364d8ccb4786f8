"""Undo of any agent action: one transaction, within the grace period, never over a later change."""

from __future__ import annotations

import pytest
from conftest import HOUR, T0, msg

from webcare_tui.cases import CaseService
from webcare_tui.ingest import ingest
from webcare_tui.outbox import Outbox, OutboxWorker
from webcare_tui.undo import Undo, UndoError


@pytest.fixture
def setup(store):
    ingest(store, [msg(0, author="anna", text="Waar blijft mijn pakket?"), msg(HOUR, author="bram", text="Hallo")])
    clock = [T0 + 2 * HOUR]
    cases = CaseService(store, clock=lambda: clock[0])
    outbox = Outbox(store, clock=lambda: clock[0])
    undo = Undo(store, outbox, "tim", grace=10, clock=lambda: clock[0])
    anna, bram = (next(c["id"] for c in store.list_cases() if c["author_id"] == who) for who in ("anna", "bram"))
    return store, cases, outbox, undo, clock, anna, bram


def snapshot(store, case_id):
    case = store.get_case(case_id)
    return ({key: case[key] for key in ("status", "owner", "priority", "team", "labels", "closed_at",
                                        "waiting_since", "message_count")},
            store.case_memos(case_id), [m["id"] for m in store.case_messages(case_id)])


@pytest.mark.parametrize("action", ["close", "assign", "label", "priority", "team", "memo", "pending", "reopen"])
def test_every_case_action_is_undone_whole(setup, action):
    store, cases, outbox, undo, clock, anna, bram = setup
    if action == "reopen":  # answered and closed: reopening makes it wait on us from now
        ingest(store, [msg(HOUR + 5, "out", author="anna", text="Het is onderweg")])
        cases.set_status(anna, "closed", "tim")
        assert store.get_case(anna)["waiting_since"] is None
    before = snapshot(store, anna)
    work = {"close": lambda: cases.set_status(anna, "closed", "tim"),
            "assign": lambda: cases.assign(anna, "jeroen", "tim"),
            "label": lambda: cases.label(anna, "tim", add=["Klacht"]),
            "priority": lambda: cases.set_priority(anna, 3, "tim"),
            "team": lambda: cases.set_team(anna, "hypotheken", "tim"),
            "memo": lambda: cases.memo(anna, "tim", "belt morgen terug"),
            "pending": lambda: cases.set_status(anna, "pending", "tim"),
            "reopen": lambda: cases.set_status(anna, "open", "tim")}[action]
    _, done = undo.record(action, [anna], work)
    assert snapshot(store, anna) != before  # the action did something
    clock[0] += 9
    assert undo.undo(done) == f"undone: {action}"
    assert snapshot(store, anna) == before
    assert store.case_events(anna)[-1]["kind"] == "undone"


def test_a_team_change_for_the_helpdesk_is_undone_before_it_leaves_and_a_later_one_stays(setup):
    store, _, outbox, undo, clock, anna, bram = setup
    cases = CaseService(store, clock=lambda: clock[0], remote_actions=lambda account: frozenset({"team"}))
    cases.set_team(anna, "hypotheken", "tim")
    _, done = undo.record("team storingen", [anna], lambda: cases.set_team(anna, "storingen", "tim"))
    [_, row] = store.case_outbox(anna)
    assert row["payload"]["value"] == {"team": "storingen"} and row["next_attempt_at"] == clock[0] + 10  # held
    undo.undo(done)
    assert store.get_case(anna)["team"] == "hypotheken" and store.outbox_row(row["id"])["state"] == "discarded"
    _, done = undo.record("team storingen", [anna], lambda: cases.set_team(anna, "storingen", "tim"))
    cases.set_team(anna, "pers", "sanne")  # a teammate's later change stays
    undo.undo(done)
    assert store.get_case(anna)["team"] == "pers"


def test_a_bulk_action_is_undone_on_every_case_in_one_go(setup):
    store, cases, outbox, undo, clock, anna, bram = setup
    before = [snapshot(store, anna), snapshot(store, bram)]
    _, done = undo.record("closed 2 cases", [anna, bram],
                          lambda: cases.for_all([anna, bram], lambda case_id: cases.set_status(case_id, "closed", "tim")))
    undo.undo(done)
    assert [snapshot(store, anna), snapshot(store, bram)] == before


async def test_a_reply_waits_out_the_grace_period_so_undo_reaches_nobody(setup):
    store, cases, outbox, undo, clock, anna, bram = setup
    before = snapshot(store, anna)
    outbox_id, done = undo.record("reply", [anna], lambda: outbox.queue_reply(anna, "We zoeken het uit", agent="tim"))
    assert store.outbox_row(outbox_id)["next_attempt_at"] == clock[0] + 10  # held for the grace period
    worker = OutboxWorker(store, {}, clock=lambda: clock[0])
    assert await worker.deliver_due() == []  # not due yet: nothing reaches a platform
    undo.undo(done)
    assert snapshot(store, anna) == before and store.outbox_row(outbox_id)["state"] == "discarded"


def test_undo_keeps_a_later_change_by_someone_else(setup):
    store, cases, outbox, undo, clock, anna, bram = setup
    _, done = undo.record("priority", [anna], lambda: cases.set_priority(anna, 3, "tim"))
    _, _ = undo.record("assign", [anna], lambda: cases.assign(anna, "tim", "tim"))
    cases.set_priority(anna, 2, "sanne")  # a teammate changed the priority since
    undo.undo(done)
    case = store.get_case(anna)
    assert (case["priority"], case["owner"]) == (2, "tim")


def test_too_late_or_delivered_is_refused_and_changes_nothing(setup):
    store, cases, outbox, undo, clock, anna, bram = setup
    _, done = undo.record("close", [anna], lambda: cases.set_status(anna, "closed", "tim"))
    clock[0] += 11
    with pytest.raises(UndoError, match="too late to undo close: it is more than 10 s ago"):
        undo.undo(done)
    assert store.get_case(anna)["status"] == "closed"

    outbox_id, done = undo.record("reply", [bram], lambda: outbox.queue_reply(bram, "Hoi", agent="tim"))
    store.update_outbox(outbox_id, clock[0], state="sent", remote_id="x1")
    before = snapshot(store, bram)
    with pytest.raises(UndoError, match="cannot undo reply: its reply is sent"):
        undo.undo(done)
    assert snapshot(store, bram) == before


# ---------------------------------------------------------------- in the console: u after any action

@pytest.fixture
def inbox(store):
    ingest(store, [msg(0, author="anna", text="Mijn wifi is kapot"), msg(600, author="bram", text="Waar blijft mijn pakket?"),
                   msg(1200, author="cees", text="Factuur klopt niet")])
    return store


async def test_u_takes_back_each_action_on_the_case_screen(inbox):
    from conftest import notice, press

    from webcare_tui.app import make_app
    from webcare_tui.config import Config

    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "3", "enter")
        case_id = app.screen.case_id
        before = snapshot(inbox, case_id)
        for keys, said in ((("P",), "priority"), (("c",), "status closed"), (("p",), "status pending"),
                           (("l", *"Klacht", "enter", "enter"), "+Klacht"), (("n", *"belt terug", "enter"), "the memo"),
                           (("r", *"We kijken ernaar", "ctrl+s"), "the public reply")):
            await press(pilot, *keys)
            assert snapshot(inbox, case_id) != before, said
            assert "u undoes for 10 s" in notice(app)
            await press(pilot, "u")
            assert notice(app).startswith(f"undone: {said}")
            assert snapshot(inbox, case_id) == before, said
        assert [row["state"] for row in inbox.case_outbox(case_id)] == ["discarded"]  # the reply reached nobody


async def test_u_takes_back_a_bulk_close_in_the_inbox(inbox):
    from conftest import notice, press

    from webcare_tui.app import make_app
    from webcare_tui.config import Config
    from webcare_tui.widgets.case_list import CaseList

    app = make_app(Config(), inbox, connectors={})
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "3", "space", "space")
        chosen = set(app.screen.query_one(CaseList).selected)
        await press(pilot, "c")
        assert {inbox.get_case(i)["status"] for i in chosen} == {"closed"} and "u undoes" in notice(app)
        await press(pilot, "u")
        assert {inbox.get_case(i)["status"] for i in chosen} == {"new"} and notice(app) == "undone: closed 2 cases"
        assert app.screen.query_one(CaseList).count == 3
        await press(pilot, "u")
        assert notice(app) == "nothing to undo"
