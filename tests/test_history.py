"""The case history in an agent's words (issue 14): each event kind the package writes, with the
detail it writes, and the case screen's history at 80x24."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import MINUTE, T0, conversation, msg, press, settle

from webcare_tui.app import make_app
from webcare_tui.cases import CaseService
from webcare_tui.config import Config
from webcare_tui.history import describe, names_actor, worded
from webcare_tui.ingest import ingest
from webcare_tui.screens.case import CaseScreen

PACKAGE = Path(__file__).parent.parent / "webcare_tui"
EVIL = "[bold red]ALARM[/] \x1b]0;pwned\x07\x1b[31mred"

# (kind, detail as its writer builds it, actor, wording); the writer is named beside each
WORDING = [
    # cases.set_status (with a queued helpdesk change), case_rules.auto_close, outbox.settle_after_draft
    ("status", {"from": "open", "to": "closed", "outbox_id": 7}, "tim", "closed the case (was open)"),
    ("status", {"from": "pending", "to": "closed", "reason": "no answer"}, "system",
     "closed the case (was pending): no answer from the customer"),
    ("status", {"from": "closed", "to": "open", "reason": "reopened"}, "system",
     "reopened the case: a new message came in"),
    ("status", {"from": "closed", "to": "pending", "reason": "reopened"}, "tim",
     "reopened the case as pending: a new message came in"),
    ("status", {"from": "open", "to": "pending"}, "tim", "set the case to pending, waiting for the customer (was open)"),
    ("status", {"from": "open", "to": "awaiting_approval"}, "tim",
     "set the case to await a lead's approval (was open)"),
    ("status", {"from": "open", "to": "new"}, "tim", "put the case back in the unassigned queue (was open)"),
    ("status", {"from": "new", "to": "open"}, "rule:Pers", "routing rule Pers: set the case to open (was new)"),
    # cases.assign, case_rules (a reply from the platform), outbox._queue_draft, rules.route
    ("assigned", {"from": "sanne", "to": "jeroen", "outbox_id": 3}, "tim", "handed over to jeroen (was sanne)"),
    ("assigned", {"from": "sanne", "to": None}, "tim", "put the case back in the unassigned queue (was sanne)"),
    ("assigned", {"from": None, "to": "tim", "reason": "replied"}, "tim", "assigned to tim: they replied"),
    ("assigned", {"from": None, "to": "tim", "reason": "drafted"}, "tim", "assigned to tim: they drafted a reply"),
    ("assigned", {"from": None, "to": "anna", "team": "pers"}, "rule:Pers",
     "routing rule Pers: assigned to anna of team pers"),
    ("not assigned", {"team": "pers", "reason": "nobody of the team works now"}, "rule:Pers",
     "routing rule Pers: could not assign the case to team pers: nobody of the team works now"),
    # cases.label (one label, several), rules.route, cases._take_remote_labels
    ("labels", {"added": ["Storing"], "removed": [], "outbox_id": 4}, "tim", "added label Storing"),
    ("labels", {"added": [], "removed": ["Spam", "Vraag"]}, "tim", "removed labels Spam, Vraag"),
    ("labels", {"added": ["Pers"], "removed": ["Vraag"]}, "chatwoot", "Chatwoot: added label Pers; removed label Vraag"),
    # cases.set_priority, rules.route, sync (the platform's priority)
    ("priority", {"from": 0, "to": 2, "outbox_id": 5}, "tim", "priority raised to 2 (high)"),
    ("priority", {"from": 3, "to": 0}, "chatwoot", "Chatwoot: priority lowered to 0 (normal)"),
    ("priority", {"from": 0, "to": 3}, "rule:Pers", "routing rule Pers: priority raised to 3 (urgent)"),
    # cases.set_team, rules.route (assign_team), cases._take_remote (the helpdesk's team)
    ("team", {"from": None, "to": "hypotheken", "outbox_id": 8}, "tim", "put the case with team hypotheken"),
    ("team", {"from": None, "to": "hypotheken"}, "rule:Pers", "routing rule Pers: put the case with team hypotheken"),
    ("team", {"from": "hypotheken", "to": "storingen"}, "chatwoot",
     "Chatwoot: moved the case to team storingen (was team hypotheken)"),
    ("team", {"from": "storingen", "to": None}, "chatwoot", "Chatwoot: took the case off team storingen"),
    # cases.memo, approvals.reject, sync._take_memos
    ("memo", {"memo_id": 9, "outbox_id": 6}, "tim", "wrote a memo"),
    ("memo", {"memo_id": 9, "external_id": "cw-1"}, "jeroen", "wrote a memo"),
    # outbox.queue_reply, approvals.approve
    ("reply", {"outbox_id": 1}, "tim", "queued a reply"),
    ("reply", {"outbox_id": 1, "approved_by": "lead"}, "tim", "queued a reply, approved by lead"),
    ("approval requested", {"outbox_id": 1}, "tim", "asked a lead to approve a reply"),
    ("approved", {"outbox_id": 1, "agent": "tim"}, "lead", "approved the reply of tim"),
    ("approved", {"outbox_id": 1, "agent": "tim", "edited": True, "draft": "Hoi"}, "lead",
     "approved the reply of tim after editing it"),
    ("rejected", {"outbox_id": 1, "agent": "tim", "reason": "te kort"}, "lead",
     "did not approve the reply of tim: te kort"),
    # outbox.queue_like, retry and discard (a reply, a draft, a like, a helpdesk change)
    ("like", {"outbox_id": 2}, "tim", "liked the customer's message"),
    ("reply retried", {"outbox_id": 1}, "tim", "sent a failed reply again"),
    ("reply discarded", {"outbox_id": 1}, "tim", "discarded a reply that was not delivered"),
    ("draft discarded", {"outbox_id": 1}, "tim", "discarded a draft reply"),
    ("like discarded", {"outbox_id": 2}, "tim", "discarded a like that was not delivered"),
    ("case_action discarded", {"outbox_id": 3}, "tim", "discarded a change for the helpdesk that was not delivered"),
    # macro_runner, undo (names as the case screen records them)
    ("macro", {"name": "Hypotheken"}, "tim", "applied macro Hypotheken"),
    ("undone", {"name": "hand-over to jeroen"}, "tim", "undid hand-over to jeroen"),
    ("undone", {"name": "+Storing"}, "tim", "undid adding label Storing"),
    ("undone", {"name": "-Spam"}, "tim", "undid removing label Spam"),
    # cases.merge (both sides), cases.split (both sides), ingest
    ("merged", {"from": 12}, "tim", "merged case 12 into this one"),
    ("merged", {"into": 7}, "tim", "merged this case into case 7"),
    ("split", {"to": 8, "message_id": 40}, "tim", "split the later messages off into case 8"),
    ("created", {"split_from": 3, "message_id": 40}, "tim", "split this case off case 3"),
    ("created", {}, "system", "opened the case"),
    # rules.route
    ("alert", {"text": "Pers!", "rule": "Pers", "message": "m1"}, "rule:Pers", "routing rule Pers: raised an alert: Pers!"),
    # cases._conflict: our change was not delivered (team mode)
    ("conflict", {"field": "status", "yours": "closed", "theirs": "open", "outbox_id": 3,
                  "message": "not sent: on chatwoot the status was changed to open after you set it to closed; …"},
     "chatwoot", "Chatwoot: your status change to closed was not sent: it was changed there to open afterwards, "
                 "and that is kept; apply yours again if it still holds"),
    ("conflict", {"field": "owner", "yours": "tim", "theirs": None, "outbox_id": 3, "message": "…"},
     "chatwoot", "Chatwoot: your hand-over to tim was not sent: it was changed there to nobody afterwards, "
                 "and that is kept; apply yours again if it still holds"),
    ("conflict", {"field": "team", "yours": "hypotheken", "theirs": None, "outbox_id": 3, "message": "…"},
     "chatwoot", "Chatwoot: your team change to team hypotheken was not sent: it was changed there to no team "
                 "afterwards, and that is kept; apply yours again if it still holds"),
]


@pytest.mark.parametrize(("kind", "detail", "actor", "wording"), WORDING, ids=[f"{row[0]}-{i}" for i, row in enumerate(WORDING)])
def test_each_kind_in_an_agents_words(kind, detail, actor, wording):
    assert describe(kind, detail, actor) == wording


def written_kinds() -> set[str]:
    """Every event kind the package writes: the kind argument of each `Event(...)` in its source;
    `f"{row['kind']} discarded"` stands for each kind of outbox row (`add_outbox(...)`'s fifth argument)."""
    kinds, templates, outbox_kinds = set(), [], set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name == "Event" and len(node.args) >= 4:
                kind = node.args[3]
                if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                    kinds.add(kind.value)
                else:
                    assert isinstance(kind, ast.JoinedStr), f"{path.name}:{node.lineno}: an event kind the test cannot read"
                    templates.append("".join(part.value for part in kind.values if isinstance(part, ast.Constant)))
            elif name == "add_outbox" and len(node.args) >= 5 and isinstance(node.args[4], ast.Constant):
                outbox_kinds.add(node.args[4].value)
    assert templates == [" discarded"] and outbox_kinds >= {"reply", "like", "case_action"}
    return kinds | {f"{kind}{suffix}" for kind in outbox_kinds for suffix in templates}


def test_every_kind_the_package_writes_has_wording_without_internals():
    kinds = written_kinds()
    assert {"status", "labels", "conflict", "undone", "reply discarded", "like discarded"} <= kinds  # the scan sees them
    tested = {row[0] for row in WORDING}
    assert sorted(kind for kind in kinds if not worded(kind)) == []  # a new kind: give it wording in history.py
    assert sorted(kinds - tested) == []  # … and a row in WORDING
    for kind, detail, actor, _ in WORDING:
        said = describe(kind, detail, actor)
        assert not any(mark in said for mark in ("{", "[", "_id", "_", "None")), (kind, said)


def test_an_unknown_kind_is_said_by_its_name_without_its_detail():
    assert describe("escalated_to_legal", {"ticket_id": 4, "parts": ["a"]}, "tim") == "escalated to legal"
    assert describe("status", None, "tim") == "set the case to nobody (was nobody)"  # odd data: no crash, no repr


def test_names_from_outside_stay_plain_one_line_text():
    said = describe("labels", {"added": [EVIL], "removed": []}, "chatwoot")
    assert "\x1b" not in said and "\x07" not in said and "\n" not in said and "[bold red]ALARM[/]" in said
    assert "\n" not in describe("rejected", {"agent": "tim", "reason": "één\ntwee"}, "lead")
    assert names_actor("rule:Pers") and names_actor("chatwoot") and not names_actor("tim") and not names_actor("system")


def test_real_details_from_the_case_service(store):
    """The wording of the events the case service writes, read back from the store."""
    ingest(store, [msg(0, author="anna"), msg(MINUTE, author="anna", text="nog iets")])
    service = CaseService(store, clock=lambda: T0 + 10 * MINUTE)
    [case] = store.list_cases()
    case_id = case["id"]
    service.label(case_id, "tim", add=["Storing", "Vraag"])
    service.label(case_id, "tim", remove=["Vraag"])
    service.assign(case_id, "sanne", "tim")
    service.assign(case_id, "jeroen", "tim")
    service.set_priority(case_id, 2, "tim")
    new_id = service.split(store.case_messages(case_id)[1]["id"], "tim")
    service.merge(case_id, new_id, "tim")
    service.set_status(case_id, "closed", "tim")
    said = [describe(e["kind"], e["detail"], e["actor"]) for e in store.case_events(case_id)]
    assert said[-9:] == [
        "added labels Storing, Vraag", "removed label Vraag", "assigned to sanne", "set the case to open (was new)",
        "handed over to jeroen (was sanne)",
        "priority raised to 2 (high)", f"split the later messages off into case {new_id}",
        f"merged case {new_id} into this one", "closed the case (was open)",
    ]


async def test_the_case_screen_history_at_80x24(store):
    ingest(store, [msg(0, author="anna", text="Mijn wifi is kapot"), msg(10 * MINUTE, author="bram")])
    app = make_app(Config(), store, connectors={})
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "3", "enter")  # anna waits longest
        assert isinstance(app.screen, CaseScreen)
        await press(pilot, "l", *"Storing", "enter", "enter")  # a new label: Enter again makes it
        await press(pilot, "c")
        shown = conversation(app)
        assert "tim · added label Storing" in shown and "tim · closed the case (was new)" in shown
        assert "labels added" not in shown and "status from" not in shown and "[" not in shown


async def test_the_case_header_names_the_team_and_the_history_says_how_it_got_there(store):
    from textual.widgets import Static

    ingest(store, [msg(0, author="anna", text="Vraag over mijn hypotheek"), msg(10 * MINUTE, author="bram")])
    anna = next(case["id"] for case in store.list_cases() if case["author_handle"] == "@anna")
    CaseService(store, clock=lambda: T0 + MINUTE).set_team(anna, "hypotheken", "sanne")
    app = make_app(Config(), store, connectors={})
    async with app.run_test(size=(100, 24)) as pilot:
        await press(pilot, "3", "enter")  # anna waits longest
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == anna
        title = str(app.screen.query_one("#title", Static).render())
        assert "owner: nobody  team hypotheken" in title
        assert "sanne · put the case with team hypotheken" in conversation(app)
        # a teammate moves it to another team, whose name comes from the helpdesk: plain text in the header
        with store.transaction():
            store.update_case_fields(("team",), [("[b]pers[/b]\x1b[31m", anna)])
        app.store_changed.publish(frozenset({anna}))  # as the app announces another process's write
        await settle(pilot)
        title = str(app.screen.query_one("#title", Static).render())
        assert "team [b]pers[/b]" in title and "\x1b" not in title
