"""Agent actions on cases: split, merge, assign, labels, memos — each with its audit trail."""

from __future__ import annotations

import pytest
from conftest import HOUR, MINUTE, T0, msg

from webcare_tui.cases import CaseError, CaseService
from webcare_tui.ingest import ingest


@pytest.fixture
def service(store):
    return CaseService(store, clock=lambda: T0 + 10 * HOUR)


def test_split_moves_the_message_and_later_ones_into_a_new_case(store, service):
    ingest(store, [msg(0, text="wifi kapot"), msg(HOUR, "out"), msg(2 * HOUR, text="dank, maar nu is de tv stuk"),
                   msg(2 * HOUR + MINUTE, text="zender 1 doet niks")])
    [case] = store.list_cases()
    third = store.case_messages(case["id"])[2]
    new_id = service.split(third["id"], actor="tim")
    old = store.get_case(case["id"])
    new = store.get_case(new_id)
    assert [m["text"] for m in store.case_messages(new_id)] == ["dank, maar nu is de tv stuk", "zender 1 doet niks"]
    assert (old["message_count"], old["status"], old["last_direction"]) == (2, "pending", "out")
    assert (new["message_count"], new["status"], new["owner"], new["waiting_since"]) == (2, "new", None, T0 + 2 * HOUR)
    assert [e["kind"] for e in store.case_events(new_id)] == ["created"]
    assert store.case_events(case["id"])[-1]["detail"] == {"to": new_id, "message_id": third["id"]}


def test_splitting_from_the_first_message_is_refused_and_changes_nothing(store, service):
    ingest(store, [msg(0), msg(HOUR)])
    [case] = store.list_cases()
    first = store.case_messages(case["id"])[0]
    before = store.counts()
    with pytest.raises(CaseError, match="first message"):
        service.split(first["id"], actor="tim")
    assert store.counts() == before and len(store.list_cases()) == 1


def test_merge_folds_messages_labels_and_memos_into_the_target(store, service):
    ingest(store, [msg(0), msg(HOUR, "out")])
    [first] = store.list_cases()
    service.set_status(first["id"], "closed", actor="tim")
    ingest(store, [msg(20 * 86_400)])  # long after: a second case
    second = max(c["id"] for c in store.list_cases())
    service.label(first["id"], "tim", add=["Klacht"])
    service.label(second, "tim", add=["Vraag"])
    service.memo(second, "tim", "belt morgen terug")
    service.merge(first["id"], second, actor="tim")
    target = store.get_case(first["id"])
    # the customer is waiting again, and tim (who replied) owns the case
    assert (target["message_count"], target["status"], target["owner"]) == (3, "open", "tim")
    assert target["labels"] == ["Klacht", "Vraag"]
    assert [m["text"] for m in store.case_memos(first["id"])] == ["belt morgen terug"]
    source = store.get_case(second)
    assert (source["status"], source["merged_into"], source["message_count"]) == ("closed", first["id"], 0)
    assert [c["id"] for c in store.list_cases()] == [first["id"]]  # merged cases are gone from lists


def test_merging_cases_of_different_authors_is_refused(store, service):
    ingest(store, [msg(0, author="anna"), msg(0, author="bram")])
    a, b = sorted(c["id"] for c in store.list_cases())
    with pytest.raises(CaseError, match="different authors"):
        service.merge(a, b, actor="tim")


def test_assign_moves_a_new_case_to_open_and_back(store, service):
    ingest(store, [msg(0)])
    [case] = store.list_cases()
    service.assign(case["id"], "jeroen", actor="sanne")
    assert (store.get_case(case["id"])["owner"], store.get_case(case["id"])["status"]) == ("jeroen", "open")
    service.assign(case["id"], None, actor="sanne")
    assert store.get_case(case["id"])["status"] == "new"
    kinds = [(e["kind"], e["actor"], e["detail"].get("to")) for e in store.case_events(case["id"])]
    assert ("assigned", "sanne", "jeroen") in kinds and ("status", "sanne", "open") in kinds


def test_labels_are_recorded_once_and_removed(store, service):
    ingest(store, [msg(0)])
    [case] = store.list_cases()
    service.label(case["id"], "tim", add=["Vraag", "Hypotheken"])
    service.label(case["id"], "tim", add=["vraag"])  # same label, other case: no change, no event
    service.label(case["id"], "tim", remove=["Hypotheken"])
    assert store.case_labels(case["id"]) == ["Vraag"]
    label_events = [e["detail"] for e in store.case_events(case["id"]) if e["kind"] == "labels"]
    assert label_events == [{"added": ["Hypotheken", "Vraag"], "removed": []}, {"added": [], "removed": ["Hypotheken"]}]


def test_unknown_case_and_status_give_plain_errors(store, service):
    with pytest.raises(CaseError, match="no case 99"):
        service.assign(99, "tim", actor="tim")
    ingest(store, [msg(0)])
    with pytest.raises(CaseError, match="not a status"):
        service.set_status(1, "done", actor="tim")


def test_a_bulk_action_changes_every_case_or_none(store):
    from webcare_tui.cases import CaseError, CaseService

    ingest(store, [msg(0, author="anna"), msg(60, author="bram")])
    service = CaseService(store)
    ids = sorted(c["id"] for c in store.list_cases())
    with pytest.raises(CaseError):
        service.for_all([*ids, 9999], lambda case_id: service.set_status(case_id, "closed", actor="tim"))
    assert {c["status"] for c in store.list_cases()} == {"new"}  # the two real cases are untouched too
    service.for_all(ids, lambda case_id: service.set_status(case_id, "closed", actor="tim"))
    assert {c["status"] for c in store.list_cases()} == {"closed"}


def test_set_team_puts_the_case_with_a_team_and_tells_only_a_platform_that_keeps_teams(store):
    ingest(store, [msg(0, external_id="42:1")])
    [case] = store.list_cases()
    ours = CaseService(store, clock=lambda: T0 + HOUR)
    ours.set_team(case["id"], " hypotheken ", "tim")
    ours.set_team(case["id"], "hypotheken", "tim")  # the same team: no change, no event
    assert store.get_case(case["id"])["team"] == "hypotheken" and store.case_outbox(case["id"]) == []
    team_mode = CaseService(store, clock=lambda: T0 + HOUR, remote_actions=lambda account: frozenset({"team"}))
    team_mode.set_team(case["id"], "", "sanne")  # blank: no team
    [row] = store.case_outbox(case["id"])
    assert (row["kind"], row["payload"]["action"], row["payload"]["value"]) == ("case_action", "team", {"team": None})
    trail = [(e["actor"], e["detail"]) for e in store.case_events(case["id"]) if e["kind"] == "team"]
    assert trail == [("tim", {"from": None, "to": "hypotheken"}),
                     ("sanne", {"from": "hypotheken", "to": None, "outbox_id": row["id"]})]
    assert store.get_case(case["id"])["team"] is None


def test_the_platforms_priority_and_team_are_judged_against_what_it_said_last_also_after_a_restart(store):
    from webcare_tui.connectors.base import RemoteCase

    ingest(store, [msg(0, platform="chatwoot", external_id="42:1")])
    [case] = store.list_cases()
    clock = lambda: T0 + HOUR  # noqa: E731
    first = CaseService(store, clock=clock)
    with store.transaction():  # a routing rule raised ours
        store.update_case_fields(("priority",), [(2, case["id"])])
    assert first.apply_remote("team", "chatwoot", RemoteCase("42:", T0 + 60, priority=1, team="")) == 0
    assert (store.get_case(case["id"])["priority"], store.get_case(case["id"])["team"]) == (2, None)  # only raises
    restarted = CaseService(store, clock=clock)  # nothing in memory: what Chatwoot said last is in the store
    assert restarted.apply_remote("team", "chatwoot", RemoteCase("42:", T0 + 120, priority=1, team="")) == 0
    assert store.get_case(case["id"])["priority"] == 2  # not changed there: ours stays
    changed = RemoteCase("42:", T0 + 180, priority=0, team="storingen")
    assert restarted.apply_remote("team", "chatwoot", changed) == 2
    older = RemoteCase("42:", T0 + 170, priority=3, team="hypotheken")  # a report older than the one applied
    assert CaseService(store, clock=clock).apply_remote("team", "chatwoot", older) == 0
    got = store.get_case(case["id"])
    assert (got["priority"], got["team"]) == (0, "storingen")
    trail = [(e["kind"], e["actor"], e["at"], e["detail"]) for e in store.case_events(case["id"])
             if e["kind"] in ("priority", "team")]
    assert trail == [("team", "chatwoot", T0 + 180, {"from": None, "to": "storingen"}),
                     ("priority", "chatwoot", T0 + 180, {"from": 2, "to": 0})]
