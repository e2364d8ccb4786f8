"""Provides `describe`: a case event (its kind, detail and actor, as the case engine writes them)
said the way an agent would say it, for the case screen's history.

No dict or list reprs, outbox ids or internal keys reach the agent; an unknown kind is said by its
name alone. Names, labels and reasons from customers, teammates and platforms are cleaned to one
plain line (the screen shows the result as plain text, never as markup).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webcare_tui.cases import PRIORITIES
from webcare_tui.safe_text import clean

# actors that are not people: the case engine, routing rules ("rule:<name>"), and platforms that
# keep case state themselves (team mode), whose changes come in with the platform as actor
SYSTEM = "system"
RULE_PREFIX = "rule:"
PLATFORM_NAMES = {
    "chatwoot": "Chatwoot", "x": "X", "mastodon": "Mastodon", "facebook": "Facebook", "instagram": "Instagram",
    "messenger": "Messenger", "telegram": "Telegram", "matrix": "Matrix", "whatsapp": "WhatsApp", "demo": "Demo",
}
OUTBOX_KINDS = {"reply": "a reply", "like": "a like", "case_action": "a change for the helpdesk"}


def describe(kind: str, detail: dict[str, Any] | None, actor: str) -> str:
    """What happened to the case, in an agent's words.

    Args:
        kind: the event's kind ("status", "labels", "reply discarded", …).
        detail: its detail as stored (missing or odd values are tolerated, never shown raw).
        actor: who did it: an agent, "system", "rule:<name>" or a platform.

    Returns:
        One plain line, e.g. "closed the case (was open)". A routing rule's or a platform's event
        starts with where it came from ("routing rule Pers: …", "Chatwoot: …"), see `names_actor`.
    """
    detail = detail if isinstance(detail, dict) else {}
    say = _WORDS.get(kind, _discarded if kind.endswith(" discarded") else None)
    text = say(kind, detail) if say is not None else _text(kind.replace("_", " "))
    source = _source(actor)
    return f"{source}: {text}" if source else text


def worded(kind: str) -> bool:
    """Whether `kind` has wording of its own (not the fallback of its bare name)."""
    return kind in _WORDS or kind.endswith(" discarded")


def names_actor(actor: str) -> bool:
    """Whether `describe` already says who acted (a routing rule or a platform): the screen then
    leaves out its separate actor part."""
    return _source(actor) is not None


def _source(actor: str) -> str | None:
    if actor.startswith(RULE_PREFIX):
        return f"routing rule {_text(actor[len(RULE_PREFIX):])}"
    return PLATFORM_NAMES.get(actor)


def _text(value: Any) -> str:
    """A value from the detail as one plain line ("nobody" for none)."""
    if value is None or value == "":
        return "nobody"
    return " ".join(clean(str(value), single_line=True).split())


def _names(values: Any) -> str:
    return ", ".join(_text(value) for value in values) if isinstance(values, list | tuple) else _text(values)


def _status(value: Any) -> str:
    return _text(value).replace("_", " ")


def _status_change(kind: str, detail: dict[str, Any]) -> str:
    before, after, reason = detail.get("from"), detail.get("to"), detail.get("reason")
    if after == "closed":
        text = f"closed the case (was {_status(before)})"
        return text + (": no answer from the customer" if reason == "no answer" else "")
    if before == "closed":
        text = "reopened the case" + ("" if after in ("open", "new") else f" as {_status(after)}")
        return text + (": a new message came in" if reason == "reopened" else "")
    if after == "pending":
        return f"set the case to pending, waiting for the customer (was {_status(before)})"
    if after == "awaiting_approval":
        return f"set the case to await a lead's approval (was {_status(before)})"
    if after == "new":
        return f"put the case back in the unassigned queue (was {_status(before)})"
    return f"set the case to {_status(after)} (was {_status(before)})"


def _assigned(kind: str, detail: dict[str, Any]) -> str:
    before, after = detail.get("from"), detail.get("to")
    if after is None:
        return f"put the case back in the unassigned queue (was {_text(before)})"
    text = f"handed over to {_text(after)} (was {_text(before)})" if before else f"assigned to {_text(after)}"
    if detail.get("team"):
        text += f" of team {_text(detail['team'])}"
    why = {"replied": "they replied", "drafted": "they drafted a reply"}.get(detail.get("reason") or "")
    return f"{text}: {why}" if why else text


def _not_assigned(kind: str, detail: dict[str, Any]) -> str:
    team = f" to team {_text(detail['team'])}" if detail.get("team") else ""
    reason = f": {_text(detail['reason'])}" if detail.get("reason") else ""
    return f"could not assign the case{team}{reason}"


def _labels(kind: str, detail: dict[str, Any]) -> str:
    parts = []
    for key, verb in (("added", "added"), ("removed", "removed")):
        names = detail.get(key) or []
        if names:
            parts.append(f"{verb} label{'s' if isinstance(names, list) and len(names) > 1 else ''} {_names(names)}")
    return "; ".join(parts) or "changed the labels"


def _priority_name(value: Any) -> str:
    if isinstance(value, int) and 0 <= value < len(PRIORITIES):
        return f"{value} ({PRIORITIES[value]})"
    return _text(value)


def _priority(kind: str, detail: dict[str, Any]) -> str:
    before, after = detail.get("from"), detail.get("to")
    if isinstance(before, int) and isinstance(after, int):
        verb = "raised" if after > before else "lowered"
        return f"priority {verb} to {_priority_name(after)}"
    return f"priority set to {_priority_name(after)}"


def _team(kind: str, detail: dict[str, Any]) -> str:
    before, after = detail.get("from"), detail.get("to")
    if not after:
        return f"took the case off team {_text(before)}" if before else "took the case off its team"
    return f"moved the case to team {_text(after)} (was team {_text(before)})" if before else (
        f"put the case with team {_text(after)}")


def _reply(kind: str, detail: dict[str, Any]) -> str:
    lead = detail.get("approved_by")
    return f"queued a reply, approved by {_text(lead)}" if lead else "queued a reply"


def _approved(kind: str, detail: dict[str, Any]) -> str:
    text = f"approved the reply of {_text(detail.get('agent'))}"
    return text + " after editing it" if detail.get("edited") else text


def _rejected(kind: str, detail: dict[str, Any]) -> str:
    reason = f": {_text(detail['reason'])}" if detail.get("reason") else ""
    return f"did not approve the reply of {_text(detail.get('agent'))}{reason}"


def _discarded(kind: str, detail: dict[str, Any]) -> str:
    what = kind.removesuffix(" discarded")
    return f"discarded {OUTBOX_KINDS.get(what, _text(what.replace('_', ' ')))} that was not delivered"


def _undone(kind: str, detail: dict[str, Any]) -> str:
    name = str(detail.get("name") or "")
    if name[:1] in "+-" and len(name) > 1:  # the case screen's label changes: "+Storing", "-Spam"
        return f"undid {'adding' if name[0] == '+' else 'removing'} label {_text(name[1:])}"
    return f"undid {_text(name)}" if name else "undid an action"


def _merged(kind: str, detail: dict[str, Any]) -> str:
    if detail.get("from") is not None:
        return f"merged case {_text(detail['from'])} into this one"
    return f"merged this case into case {_text(detail.get('into'))}"


def _created(kind: str, detail: dict[str, Any]) -> str:
    if detail.get("split_from") is not None:
        return f"split this case off case {_text(detail['split_from'])}"
    return "opened the case"


def _alert(kind: str, detail: dict[str, Any]) -> str:
    return f"raised an alert: {_text(detail['text'])}" if detail.get("text") else "raised an alert"


def _conflict(kind: str, detail: dict[str, Any]) -> str:
    field = {"owner": "hand-over", "status": "status change", "team": "team change"}.get(detail.get("field") or "",
                                                                                          "change")
    yours, theirs = detail.get("yours"), _status(detail.get("theirs"))
    shown = f" to {_status(yours) if field == 'status change' else _text(yours)}" if field != "change" else ""
    if field == "team change":  # no team is "no team", not "nobody"
        shown, theirs = (f"team {_text(name)}" if name else "no team" for name in (yours, detail.get("theirs")))
        shown = f" to {shown}"
    return (f"your {field}{shown} was not sent: it was changed there to {theirs} "
            "afterwards, and that is kept; apply yours again if it still holds")


def _fixed(words: str) -> Callable[[str, dict[str, Any]], str]:
    return lambda kind, detail: words


_WORDS: dict[str, Callable[[str, dict[str, Any]], str]] = {
    "status": _status_change,
    "assigned": _assigned,
    "not assigned": _not_assigned,
    "labels": _labels,
    "priority": _priority,
    "team": _team,
    "memo": _fixed("wrote a memo"),
    "reply": _reply,
    "reply retried": _fixed("sent a failed reply again"),
    "draft discarded": _fixed("discarded a draft reply"),
    "approval requested": _fixed("asked a lead to approve a reply"),
    "approved": _approved,
    "rejected": _rejected,
    "like": _fixed("liked the customer's message"),
    "macro": lambda kind, detail: f"applied macro {_text(detail.get('name'))}",
    "undone": _undone,
    "merged": _merged,
    "split": lambda kind, detail: f"split the later messages off into case {_text(detail.get('to'))}",
    "created": _created,
    "alert": _alert,
    "conflict": _conflict,
}
