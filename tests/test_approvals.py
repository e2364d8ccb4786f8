"""Approvals: a new hire's reply (or a macro's that asks for it) waits for a lead; nothing
reaches the platform unapproved. Domain first, then the console driven as a lead and a new hire."""

from __future__ import annotations

import itertools
import sqlite3

import pytest
from conftest import HOUR, MINUTE, T0, conversation, msg, notice, press, wait_for

from webcare_tui.approvals import ApprovalError, Approvals, approval_rule, is_lead, needs_approval, team_problems
from webcare_tui.case_query import CaseQuery, builtin_views
from webcare_tui.cases import CaseService
from webcare_tui.config import Account, Agent, Config
from webcare_tui.connectors.base import Capabilities, Connector, SentReply
from webcare_tui.ingest import ingest
from webcare_tui.macro_runner import MacroRunner
from webcare_tui.macros import Macro
from webcare_tui.outbox import Outbox, OutboxWorker, ReplyError
from webcare_tui.store import Store
from webcare_tui.store.migrations import migrate

TEAM = (
    {"id": "jeroen", "name": "Jeroen", "team": "hypotheken"},
    {"id": "sanne", "name": "Sanne", "role": "lead"},
    {"id": "noah", "name": "Noah", "needs_approval": True},
    {"id": "lisa", "name": "Lisa", "role": "lead"},
)
NOAH = Agent(id="noah", name="Noah de Vries", initials="NV", signature={"x": " ^NV", "default": "\n\nGroet, Noah"})
SANNE = Agent(id="sanne", name="Sanne Bos", initials="SB", signature={"x": " ^SB"})
TIM = Agent(id="tim", name="Tim Ruiter", initials="TR", signature={"x": " ^TR"})
NOW = T0 + HOUR


class Recorder(Connector):
    """The platform's edge: records every reply that reaches it."""

    platform = "x"
    capabilities = Capabilities(max_reply_length=280)

    def __init__(self) -> None:
        super().__init__(Account("brand-x", "x"))
        self.sent = []
        self.ids = itertools.count(7000)

    async def fetch(self, cursor):
        raise NotImplementedError

    async def send_reply(self, reply):
        self.sent.append(reply)
        return SentReply(str(next(self.ids)), NOW, None)

    async def find_sent(self, reply):
        return None


def keys():
    counter = itertools.count(1)
    return lambda: f"key-{next(counter)}"


@pytest.fixture
def anna(store):
    ingest(store, [msg(0, author="anna", text="Kan ik mijn hypotheek oversluiten?", external_id="x-1")])
    return store.list_cases()[0]["id"]


@pytest.fixture
def clock():
    return [NOW]


@pytest.fixture
def outbox(store, clock):
    return Outbox(store, clock=lambda: clock[0], new_key=keys(), needs_approval=approval_rule(TEAM))


@pytest.fixture
def approvals(store, clock):
    return Approvals(store, TEAM, clock=lambda: clock[0])


def kinds(store, case_id):
    return [(event["actor"], event["kind"]) for event in store.case_events(case_id)]


# -- who needs approval, who decides ------------------------------------------


def test_the_team_says_who_needs_approval_and_who_leads():
    assert needs_approval(TEAM, "noah") and not needs_approval(TEAM, "jeroen") and not needs_approval(TEAM, "tim")
    assert is_lead(TEAM, "sanne") and not is_lead(TEAM, "noah") and not is_lead(TEAM, "unknown")
    typo = ({"id": "piet", "needs_approval": "yes"}, {"id": "kim", "role": "Lead"})
    assert needs_approval(typo, "piet")  # a typo never lets a reply out unapproved
    assert team_problems(typo) == ["team agent 'piet': needs_approval is true or false",
                                   "team agent 'kim': role is \"lead\" or left out, not 'Lead'"]
    assert team_problems(TEAM) == []


def test_a_new_hires_reply_waits_as_a_draft_outside_the_case(store, outbox, anna):
    outbox_id = outbox.queue_reply(anna, "Dat kan, ik zoek het voor je uit ^NV", agent="noah")
    row = store.outbox_row(outbox_id)
    assert (row["state"], row["payload"]["message_id"], row["payload"]["agent"]) == ("awaiting_approval", None, "noah")
    assert row["payload"]["text"] == "Dat kan, ik zoek het voor je uit ^NV"
    assert [m["direction"] for m in store.case_messages(anna)] == ["in"]  # nothing in the case as if sent
    case = store.get_case(anna)
    assert (case["status"], case["owner"], case["message_count"]) == ("awaiting_approval", "noah", 1)
    assert kinds(store, anna)[1:] == [("noah", "assigned"), ("noah", "status"), ("noah", "approval requested")]
    assert store.outbox_waiting() == 0  # not in the outbox yet
    assert store.count_cases(builtin_views("sanne", lead=True)[5].query) == 1


def test_an_agent_without_approval_replies_as_before(store, outbox, anna):
    outbox_id = outbox.queue_reply(anna, "Dat kan ^JV", agent="jeroen")
    assert store.outbox_row(outbox_id)["state"] == "queued" and store.get_case(anna)["status"] == "pending"


# -- nothing reaches the platform unapproved -----------------------------------


async def test_nothing_reaches_the_platform_until_a_lead_approves_then_exactly_once(store, outbox, approvals, anna,
                                                                                     clock):
    ingest(store, [msg(5 * MINUTE, author="bram", text="Mijn pakket is zoek", external_id="x-2")])
    bram = next(c["id"] for c in store.list_cases() if c["author_id"] == "bram")
    first = outbox.queue_reply(anna, "Ik zoek het uit ^NV", agent="noah")
    runner = MacroRunner(store, CaseService(store, clock=lambda: clock[0]), outbox, TIM, grace=0,
                         clock=lambda: clock[0])
    runner.apply(Macro(name="Gevoelig", reply="We bellen je hierover ^TR", request_approval=True), [bram])
    [second] = [row["id"] for row in store.case_outbox(bram)]
    platform = Recorder()
    worker = OutboxWorker(store, {"brand-x": platform}, clock=lambda: clock[0])
    for _ in range(3):  # rounds over days: a draft is never due
        assert await worker.recover() == [] and await worker.deliver_due() == []
        clock[0] += 86_400
    assert platform.sent == []
    assert {store.outbox_row(i)["state"] for i in (first, second)} == {"awaiting_approval"}

    approvals.approve(first, "sanne")
    assert [d.state for d in await worker.deliver_due()] == ["sent"]
    assert await worker.deliver_due() == []
    [reply] = platform.sent
    assert (reply.text, reply.in_reply_to, reply.recipient_id, reply.idempotency_key) == (
        "Ik zoek het uit ^NV", "x-1", "anna", "key-1")
    assert store.case_messages(anna)[-1]["external_id"] == "7000"
    assert store.outbox_row(second)["state"] == "awaiting_approval" and len(platform.sent) == 1


async def test_a_rejected_draft_never_reaches_the_platform(store, outbox, approvals, anna, clock):
    outbox_id = outbox.queue_reply(anna, "Nee hoor ^NV", agent="noah")
    approvals.reject(outbox_id, "sanne", "te kortaf")
    platform = Recorder()
    worker = OutboxWorker(store, {"brand-x": platform}, clock=lambda: clock[0] + 86_400)
    assert await worker.recover() == [] and await worker.deliver_due() == [] and platform.sent == []


async def test_a_draft_does_not_hold_back_a_leads_own_reply(store, outbox, anna, clock):
    outbox.queue_reply(anna, "Ik zoek het uit ^NV", agent="noah")
    outbox.queue_reply(anna, "Sanne hier: dat kan ^SB", agent="sanne")
    platform = Recorder()
    await OutboxWorker(store, {"brand-x": platform}, clock=lambda: clock[0]).deliver_due()
    assert [reply.text for reply in platform.sent] == ["Sanne hier: dat kan ^SB"]


# -- approve, edit and approve, reject ----------------------------------------


def test_approval_queues_the_draft_in_one_transaction_naming_the_lead(store, outbox, approvals, anna, clock):
    outbox_id = outbox.queue_reply(anna, "Ik zoek het uit ^NV", agent="noah")
    clock[0] += 10 * MINUTE
    approvals.approve(outbox_id, "sanne")
    row = store.outbox_row(outbox_id)
    assert (row["state"], row["payload"]["approved_by"], row["next_attempt_at"]) == ("queued", "sanne", None)
    [_, reply] = store.case_messages(anna)
    assert (reply["id"], reply["text"], reply["agent"], reply["direction"]) == (
        row["payload"]["message_id"], "Ik zoek het uit ^NV", "noah", "out")
    assert reply["created_at"] == clock[0] and reply["in_reply_to"] == "x-1"  # sent when approved
    case = store.get_case(anna)
    assert (case["status"], case["owner"]) == ("pending", "noah")
    events = store.case_events(anna)[-3:]
    assert [(e["actor"], e["kind"]) for e in events] == [("sanne", "approved"), ("sanne", "status"), ("noah", "reply")]
    assert events[0]["detail"] == {"outbox_id": outbox_id, "agent": "noah"}
    assert events[1]["detail"] == {"from": "awaiting_approval", "to": "pending"}


def test_edit_and_approve_rechecks_the_limit_then_sends_the_leads_text(store, outbox, approvals, anna):
    outbox_id = outbox.queue_reply(anna, "Ik zoek het uit ^NV", agent="noah")
    before = (store.counts(), store.get_case(anna))
    with pytest.raises(ReplyError, match="281 characters; x allows 280"):
        approvals.approve(outbox_id, "sanne", text="a" * 281)
    with pytest.raises(ReplyError, match="the reply is empty"):
        approvals.approve(outbox_id, "sanne", text="   ")
    assert (store.counts(), store.get_case(anna)) == before
    assert store.outbox_row(outbox_id)["state"] == "awaiting_approval"
    approvals.approve(outbox_id, "sanne", text="  Goed nieuws: oversluiten kan, ik bel je morgen ^NV ")
    row = store.outbox_row(outbox_id)
    assert row["payload"]["text"] == "Goed nieuws: oversluiten kan, ik bel je morgen ^NV" and row["state"] == "queued"
    assert store.case_messages(anna)[-1]["text"] == row["payload"]["text"]
    approved = next(e for e in store.case_events(anna) if e["kind"] == "approved")
    assert approved["detail"]["edited"] is True and approved["detail"]["draft"] == "Ik zoek het uit ^NV"


def test_rejection_takes_the_draft_out_and_tells_the_agent_why(store, outbox, approvals, anna, clock):
    outbox_id = outbox.queue_reply(anna, "Nee hoor ^NV", agent="noah")
    with pytest.raises(ApprovalError, match="give the agent a reason"):
        approvals.reject(outbox_id, "sanne", "  ")
    clock[0] += MINUTE
    memo_id = approvals.reject(outbox_id, "sanne", "Te kortaf;\nleg uit waarom het niet kan")
    row = store.outbox_row(outbox_id)
    assert (row["state"], row["last_error"]) == ("rejected", "Te kortaf; leg uit waarom het niet kan")
    assert [m["direction"] for m in store.case_messages(anna)] == ["in"]
    [memo] = store.case_memos(anna)
    assert (memo["id"], memo["agent"], memo["text"]) == (
        memo_id, "sanne", "Reply of noah not approved by sanne: Te kortaf; leg uit waarom het niet kan")
    case = store.get_case(anna)
    assert (case["status"], case["owner"]) == ("open", "noah")
    rejected = next(e for e in store.case_events(anna) if e["kind"] == "rejected")
    assert rejected["actor"] == "sanne" and rejected["detail"]["reason"] == "Te kortaf; leg uit waarom het niet kan"
    assert kinds(store, anna)[-3:] == [("sanne", "rejected"), ("sanne", "memo"), ("sanne", "status")]
    assert store.outbox_waiting() == 0


def test_only_a_lead_decides_and_never_on_their_own_draft(store, outbox, approvals, anna):
    outbox_id = outbox.queue_reply(anna, "Ik zoek het uit ^NV", agent="noah")
    before = (store.counts(), store.get_case(anna), store.outbox_row(outbox_id))
    for agent in ("noah", "jeroen", "tim"):
        with pytest.raises(ApprovalError, match=r"only a lead can approve a reply \(leads: sanne, lisa\)"):
            approvals.approve(outbox_id, agent)
        with pytest.raises(ApprovalError, match="only a lead can reject a reply"):
            approvals.reject(outbox_id, agent, "nee")
    assert (store.counts(), store.get_case(anna), store.outbox_row(outbox_id)) == before
    own = outbox.queue_reply(anna, "Tweede versie ^SB", agent="sanne", approval=True)  # a macro asked for it
    with pytest.raises(ApprovalError, match="you wrote this reply: another lead approves it"):
        approvals.approve(own, "sanne")
    approvals.approve(own, "lisa")
    assert store.outbox_row(own)["state"] == "queued"
    with pytest.raises(ApprovalError, match="only a lead can approve a reply \\(leads: nobody"):
        Approvals(store, ()).approve(outbox_id, "sanne")


def test_a_decided_draft_cannot_be_decided_again(store, outbox, approvals, anna):
    outbox_id = outbox.queue_reply(anna, "Ik zoek het uit ^NV", agent="noah")
    approvals.approve(outbox_id, "sanne")
    with pytest.raises(ApprovalError, match="that reply is queued, not awaiting approval"):
        approvals.approve(outbox_id, "lisa")
    with pytest.raises(ApprovalError, match="that reply is queued, not awaiting approval"):
        approvals.reject(outbox_id, "lisa", "toch niet")
    with pytest.raises(ApprovalError, match="there is no outbox entry 999"):
        approvals.approve(999, "sanne")
    assert len(store.case_messages(anna)) == 2


def test_the_case_awaits_approval_while_any_draft_waits(store, outbox, approvals, anna):
    first = outbox.queue_reply(anna, "Eerste ^NV", agent="noah")
    second = outbox.queue_reply(anna, "Tweede ^NV", agent="noah")
    approvals.approve(first, "sanne")
    assert store.get_case(anna)["status"] == "awaiting_approval"
    approvals.reject(second, "sanne", "dubbel")
    assert store.get_case(anna)["status"] == "pending"  # our approved reply is the last word


def test_a_customer_message_while_the_draft_waits(store, outbox, approvals, anna):
    outbox_id = outbox.queue_reply(anna, "Ik zoek het uit ^NV", agent="noah")
    ingest(store, [msg(30 * MINUTE, author="anna", text="Nog iets: ook mijn verzekering?", external_id="x-9")])
    assert store.get_case(anna)["status"] == "awaiting_approval"
    approvals.approve(outbox_id, "sanne")
    assert store.outbox_row(outbox_id)["payload"]["in_reply_to"] == "x-9"  # answers where the case is now
    assert [m["text"] for m in store.case_messages(anna)][-1] == "Ik zoek het uit ^NV"


def test_an_agent_can_withdraw_their_draft(store, outbox, anna):
    outbox_id = outbox.queue_reply(anna, "Ik zoek het uit ^NV", agent="noah")
    outbox.discard(outbox_id, actor="noah")
    assert store.outbox_row(outbox_id)["state"] == "discarded" and store.get_case(anna)["status"] == "open"
    assert kinds(store, anna)[-2:] == [("noah", "draft discarded"), ("noah", "status")]


# -- macros ------------------------------------------------------------------


def test_a_macro_with_request_approval_puts_its_reply_up_for_approval(store, outbox, anna, clock):
    runner = MacroRunner(store, CaseService(store, clock=lambda: clock[0]), outbox, TIM, grace=10,
                         clock=lambda: clock[0])
    gevoelig = Macro(name="Gevoelig", labels_add=("Klacht",), reply="Wat vervelend, {author.first_name}!",
                     request_approval=True, status="pending")
    applied = runner.apply(gevoelig, [anna])
    assert applied.summary == ("Gevoelig: +Klacht, reply sent for approval, "
                               "status pending left to the lead: the reply awaits approval")
    [row] = store.case_outbox(anna)
    assert (row["state"], row["payload"]["text"], row["payload"]["agent"]) == (
        "awaiting_approval", "Wat vervelend, Anna! ^TR", "tim")
    case = store.get_case(anna)
    assert (case["status"], case["labels"]) == ("awaiting_approval", ["Klacht"])
    clock[0] += 5
    assert runner.undo(applied) == "undone: Gevoelig"
    case = store.get_case(anna)
    assert (case["status"], case["labels"], case["owner"]) == ("new", [], None)
    assert store.outbox_row(row["id"])["state"] == "discarded"


def test_a_new_hires_macro_reply_waits_too(store, outbox, approvals, anna, clock):
    runner = MacroRunner(store, CaseService(store, clock=lambda: clock[0]), outbox, NOAH, grace=0,
                         clock=lambda: clock[0])
    runner.apply(Macro(name="Doorzetten", assign="jeroen", reply="Ik zet je vraag door naar Jeroen"), [anna])
    [row] = store.case_outbox(anna)
    assert row["state"] == "awaiting_approval" and row["payload"]["text"] == "Ik zet je vraag door naar Jeroen ^NV"
    assert store.get_case(anna)["owner"] == "jeroen"  # the assignment is not the lead's to approve
    approvals.approve(row["id"], "sanne")
    assert store.get_case(anna)["owner"] == "jeroen" and store.case_messages(anna)[-1]["agent"] == "noah"


# -- the store ------------------------------------------------------------------


def test_an_older_store_keeps_its_outbox_and_learns_the_draft_states(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, str(path), target=6)
    conn.execute("INSERT INTO outbox (idempotency_key, account, platform, kind, payload, state, created_at, updated_at)"
                 " VALUES ('k1', 'brand-x', 'x', 'reply', '{}', 'failed', 1, 2)")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE outbox SET state = 'awaiting_approval'")
    conn.close()
    with Store(path) as store:
        row = store.outbox_row(1)
        assert (row["idempotency_key"], row["state"], row["updated_at"]) == ("k1", "failed", 2)
        with store.transaction():
            store.update_outbox(1, 3, state="awaiting_approval")
        assert store.outbox_row(1)["state"] == "awaiting_approval"
        with pytest.raises(sqlite3.IntegrityError), store.transaction():
            store.update_outbox(1, 4, state="approved-ish")
        indexes = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'outbox'")}
        assert {"outbox_state", "outbox_case"} <= indexes


def test_a_lead_has_the_approvals_view_on_key_6():
    assert [v.name for v in builtin_views("tim")] == ["Mine", "Unassigned", "All open", "Pending", "Closed"]
    views = builtin_views("sanne", lead=True)
    assert (views[5].name, views[5].key, views[5].query) == ("Approvals", "6", CaseQuery(statuses=("awaiting_approval",)))


# -- the console -------------------------------------------------------------


def lead_app(store):
    from webcare_tui.app import make_app

    app = make_app(Config(agent=SANNE, team=TEAM), store, connectors={}, clock=lambda: NOW)
    assert app.views[5].name == "Approvals"
    return app


async def test_a_new_hire_sends_for_approval_and_sees_the_draft_wait(store, anna):
    from webcare_tui.app import make_app
    from webcare_tui.screens.reply import ReplyScreen

    app = make_app(Config(agent=NOAH, team=TEAM), store, connectors={}, clock=lambda: NOW)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "enter", "r")
        assert isinstance(app.screen, ReplyScreen)
        assert "ctrl+s sends it for a lead's approval" in str(app.screen.query_one("#title").render())
        await press(pilot, *"Dat kan, ik zoek het uit", "ctrl+s")
        assert notice(app) == "public reply sent for approval · u undoes for 10 s"
        [row] = store.case_outbox(anna)
        assert (row["state"], row["payload"]["text"]) == ("awaiting_approval", "Dat kan, ik zoek het uit ^NV")
        assert [m["direction"] for m in store.case_messages(anna)] == ["in"]
        shown = conversation(app)
        assert "draft by noah" in shown and "[awaiting approval by sanne, lisa]" in shown
        assert "Dat kan, ik zoek het uit ^NV" in shown and "A approve" not in shown  # the keys are the leads'
        assert "outbox 0" in app.status_text
        await press(pilot, "A")
        assert notice(app) == "only a lead can approve a reply (leads: sanne, lisa)"
        await press(pilot, "X")
        assert notice(app) == "only a lead can reject a reply (leads: sanne, lisa)"
        assert store.outbox_row(row["id"])["state"] == "awaiting_approval"


async def test_a_lead_approves_from_the_approvals_view(store, anna):
    from webcare_tui.screens.case import CaseScreen
    from webcare_tui.widgets.case_list import CaseList

    ingest(store, [msg(MINUTE, author="bram", text="Pakket kwijt", external_id="x-2")])
    draft = Outbox(store, clock=lambda: NOW, needs_approval=approval_rule(TEAM)).queue_reply(
        anna, "Ik zoek het uit [b]nu[/b] ^NV", agent="noah")
    app = lead_app(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await press(pilot, "6")
        cases = app.screen.query_one(CaseList)
        await wait_for(pilot, lambda: "6 Approvals 1" in str(app.screen.query_one("#views").render()))
        assert cases.count == 1 and cases.current_row().id == anna
        await press(pilot, "enter")
        assert isinstance(app.screen, CaseScreen)
        shown = conversation(app)
        assert "Ik zoek het uit [b]nu[/b] ^NV" in shown  # the draft as plain text, in its case
        assert "A approve · E edit and approve · X reject" in shown
        assert app.screen.check_action("approve", ()) is True
        await press(pilot, "A")
        assert notice(app) == "approved noah's reply: queued"
        assert store.outbox_row(draft)["state"] == "queued" and store.get_case(anna)["status"] == "pending"
        assert "[queued]" in conversation(app) and app.screen.check_action("approve", ()) is False
        assert "outbox 1" in app.status_text
        await press(pilot, "escape")
        await wait_for(pilot, lambda: cases.count == 0)  # it left the Approvals view


async def test_a_lead_edits_and_approves(store, anna):
    from webcare_tui.screens.reply import ReplyScreen

    draft = Outbox(store, clock=lambda: NOW, needs_approval=approval_rule(TEAM)).queue_reply(
        anna, "Kan wel ^NV", agent="noah")
    app = lead_app(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await press(pilot, "6", "enter", "E")
        assert isinstance(app.screen, ReplyScreen)
        area = app.screen.query_one("#text")
        assert area.text == "Kan wel ^NV"
        assert "ctrl+s approves it" in str(app.screen.query_one("#title").render())
        area.load_text("x" * 290)
        await press(pilot, "ctrl+s")
        assert "too long for x: 290 of 280" in str(app.screen.query_one("#error").render())
        area.load_text("Oversluiten kan; ik bel je morgen ^NV")
        await press(pilot, "ctrl+s")
        assert notice(app) == "approved noah's reply with your edits: queued"
        row = store.outbox_row(draft)
        assert (row["state"], row["payload"]["text"]) == ("queued", "Oversluiten kan; ik bel je morgen ^NV")
        assert store.case_messages(anna)[-1]["text"] == "Oversluiten kan; ik bel je morgen ^NV"


async def test_a_lead_rejects_with_a_reason_the_agent_sees(store, anna):
    from webcare_tui.app import make_app
    from webcare_tui.screens.prompt import PromptScreen

    draft = Outbox(store, clock=lambda: NOW, needs_approval=approval_rule(TEAM)).queue_reply(
        anna, "Nee ^NV", agent="noah")
    app = lead_app(store)
    async with app.run_test(size=(140, 30)) as pilot:
        await press(pilot, "6", "enter", "X")
        assert isinstance(app.screen, PromptScreen)
        await press(pilot, "escape")  # cancelled: nothing happens
        assert store.outbox_row(draft)["state"] == "awaiting_approval"
        await press(pilot, "X", *"Te kortaf, leg uit waarom", "enter")
        assert notice(app) == "rejected noah's reply; they see your reason on the case"
        case = store.get_case(anna)
        assert (case["status"], case["owner"]) == ("open", "noah")
        assert store.outbox_row(draft)["state"] == "rejected"
    newhire = make_app(Config(agent=NOAH, team=TEAM), store, connectors={}, clock=lambda: NOW)
    async with newhire.run_test(size=(140, 30)) as pilot:
        await press(pilot, "1", "enter")  # Mine: the case came back to noah
        shown = conversation(newhire)
        assert "Reply of noah not approved by sanne: Te kortaf, leg uit waarom" in shown
        assert "[not approved: Te kortaf, leg uit waarom]" in shown
        assert [m["direction"] for m in store.case_messages(anna)] == ["in"]


def test_a_merge_takes_the_waiting_draft_along(store, outbox, approvals, anna, clock):
    cases = CaseService(store, clock=lambda: clock[0])
    cases.set_status(anna, "closed", "tim")
    ingest(store, [msg(9 * 86_400, author="anna", text="Nog een vraag", external_id="x-5")])  # a new case
    later = max(c["id"] for c in store.list_cases())
    outbox_id = outbox.queue_reply(anna, "Ik zoek het uit ^NV", agent="noah")
    cases.merge(later, anna, "tim")
    assert store.outbox_row(outbox_id)["case_id"] == later and store.get_case(later)["status"] == "awaiting_approval"
    clock[0] = T0 + 10 * 86_400
    approvals.approve(outbox_id, "sanne")
    assert store.case_messages(later)[-1]["text"] == "Ik zoek het uit ^NV"
    assert store.get_case(later)["status"] == "pending"


def test_a_leads_own_reply_leaves_the_draft_waiting(store, outbox, anna):
    outbox.queue_reply(anna, "Ik zoek het uit ^NV", agent="noah")
    outbox.queue_reply(anna, "Sanne hier: dat kan ^SB", agent="sanne")
    assert store.get_case(anna)["status"] == "awaiting_approval"  # still in the Approvals view


async def test_a_new_hires_macro_in_the_console_waits_for_approval(store, anna):
    from webcare_tui.app import make_app

    app = make_app(Config(agent=NOAH, team=TEAM), store, connectors={}, clock=lambda: NOW)
    async with app.run_test(size=(120, 30)) as pilot:
        await press(pilot, "3", "h")  # Hypotheken: assign, labels, memo, reply, pending
        assert notice(app).startswith("Hypotheken: assigned Jeroen, +Vraag +Hypotheken, memo, reply sent for "
                                      "approval, status pending left to the lead: the reply awaits approval")
        [row] = store.case_outbox(anna)
        assert row["state"] == "awaiting_approval" and store.get_case(anna)["status"] == "awaiting_approval"


def test_a_macro_file_may_ask_approval_for_its_reply(tmp_path):
    from webcare_tui.macros import load_macros

    (tmp_path / "m.toml").write_text('[[macro]]\nname = "Gevoelig"\nkey = "g"\nreply = "Wat vervelend!"\n'
                                     'request_approval = true\n')
    macros = load_macros([tmp_path])
    assert macros.errors == []
    [gevoelig] = macros.macros
    assert gevoelig.request_approval and gevoelig.reply == "Wat vervelend!"
