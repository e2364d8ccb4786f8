"""Macros: files checked line by line, one transaction per application, undo within the grace period."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import HOUR, T0, msg

from webcare_tui.cases import CaseService
from webcare_tui.cli import main
from webcare_tui.config import Agent
from webcare_tui.ingest import ingest
from webcare_tui.macro_runner import MacroError, MacroRunner
from webcare_tui.macros import EXAMPLES_IN_PACKAGE, example_folder, load_macros
from webcare_tui.outbox import Outbox, OutboxWorker

EXAMPLES = Path(__file__).parent.parent / "macros"
TIM = Agent(id="tim", name="Tim Ruiter", initials="TR", signature={"x": " ^TR", "default": "\n\nGroetjes, Tim"})
TEAM = {"tim", "jeroen", "sanne"}


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


def test_the_shipped_examples_are_valid():
    macros = load_macros([EXAMPLES], agents=TEAM | {"noah", "lisa"})
    assert macros.errors == []
    assert {"Hypotheken", "Compliment", "Störung (de)", "Outage (en)", "Terugbellen"} <= {m.name for m in macros.macros}


def test_errors_name_file_line_and_problem_and_valid_macros_still_load(tmp_path):
    folder = write(tmp_path / "m", "a.toml", """\
[[macro]]
name = "Goed"
key = "g"
labels_add = ["Vraag"]

[[macro]]
name = "Fout"
key = "f"
assign = "piet"
colour = "red"
reply = "Hoi {author.voornaam}"
status = "done"

[[macro]]
name = "Dubbel"
key = "g"
status = "closed"
""")
    write(folder, "broken.toml", "[[macro]]\nname = \"x\nkey = 1\n")
    macros = load_macros([folder], agents=TEAM)
    a = folder / "a.toml"
    assert [m.name for m in macros.macros] == ["Goed", "Dubbel"]
    assert f"{a}:9: macro 'Fout': there is no agent 'piet' (the team: jeroen, sanne, tim)" in macros.errors
    assert any(e.startswith(f"{a}:10: macro 'Fout': unknown action or setting 'colour'") for e in macros.errors)
    assert any(e.startswith(f"{a}:11: macro 'Fout': reply: unknown variable {{author.voornaam}}") for e in macros.errors)
    assert any(e.startswith(f"{a}:12: macro 'Fout': status is one of open, pending, closed") for e in macros.errors)
    assert any(f"{a}:14: key 'g' is already 'Goed'" in e for e in macros.errors)
    assert any(e.startswith(f"{folder / 'broken.toml'}: ") and "line 2" in e for e in macros.errors)


def test_macros_check_exits_non_zero_on_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WEBCARE_CONFIG", str(tmp_path / "none.toml"))
    folder = write(tmp_path / "m", "a.toml", '[[macro]]\nname = "Leeg"\n')
    assert main(["--db", str(tmp_path / "db"), "macros", "check", str(folder)]) == 1
    assert "does nothing" in capsys.readouterr().err
    assert main(["--db", str(tmp_path / "db"), "macros", "check", str(EXAMPLES)]) == 0


@pytest.fixture
def runner(store):
    ingest(store, [msg(0, author="anna", text="Vraag over mijn hypotheek"), msg(HOUR, author="bram", platform="whatsapp",
                                                                               visibility="private")])
    clock = [T0 + 2 * HOUR]
    cases = CaseService(store, clock=lambda: clock[0])
    outbox = Outbox(store, clock=lambda: clock[0])
    runner = MacroRunner(store, cases, outbox, TIM, grace=10, clock=lambda: clock[0])
    runner.now = clock
    return runner


def macro(name: str):
    return load_macros([EXAMPLES]).by_name(name)


def case_of(store, author):
    return next(c["id"] for c in store.list_cases() if c["author_id"] == author)


def test_hypotheken_applies_the_whole_bundle(store, runner):
    anna = case_of(store, "anna")
    applied = runner.apply(macro("Hypotheken"), [anna])
    assert applied.summary == "Hypotheken: assigned Jeroen, +Vraag +Hypotheken, memo, reply queued, pending"
    case = store.get_case(anna)
    assert (case["owner"], case["labels"], case["status"]) == ("jeroen", ["Hypotheken", "Vraag"], "pending")
    assert [m["text"] for m in store.case_memos(anna)] == ["Hoi Jeroen, kun jij hiernaar kijken?"]
    [row] = store.case_outbox(anna)
    assert row["payload"]["text"].endswith("reageert binnen 3 uur! ^TR") and row["state"] == "queued"
    assert row["next_attempt_at"] == T0 + 2 * HOUR + 10  # held for the undo grace period


def test_a_signature_in_a_macro_reply_goes_on_its_own_line(store, runner):
    """Issue 14: "… binnen 3 uur! Groetjes, Tim" ran on inline; X's " ^TR" stays on the line."""
    bram = case_of(store, "bram")  # on WhatsApp
    reply = runner.preview(macro("Hypotheken"), bram).reply
    assert reply.endswith("reageert binnen 3 uur!\n\nGroetjes, Tim"), reply
    assert runner.preview(macro("Hypotheken"), case_of(store, "anna")).reply.endswith("binnen 3 uur! ^TR")


async def test_nothing_reaches_the_platform_during_the_grace_period(store, runner):
    from test_outbox import Platform

    anna = case_of(store, "anna")
    runner.apply(macro("Hypotheken"), [anna])
    platform = Platform()
    worker = OutboxWorker(store, {"brand-x": platform}, clock=lambda: runner.now[0])
    assert await worker.deliver_due() == [] and not platform.published
    runner.now[0] += 11
    assert [d.state for d in await worker.deliver_due()] == ["sent"]


def test_undo_restores_everything_and_takes_the_reply_back(store, runner):
    anna = case_of(store, "anna")
    CaseService(store, clock=lambda: T0).label(anna, "tim", add=["Bestaand"])
    before = (store.get_case(anna), store.case_messages(anna))
    applied = runner.apply(macro("Hypotheken"), [anna])
    runner.now[0] += 5
    assert runner.undo(applied) == "undone: Hypotheken"
    after = store.get_case(anna)
    for key in ("owner", "status", "labels", "message_count", "priority", "waiting_since"):
        assert after[key] == before[0][key], key
    assert store.case_messages(anna) == before[1] and store.case_memos(anna) == []
    assert [r["state"] for r in store.case_outbox(anna)] == ["discarded"] and store.outbox_waiting() == 0


def test_undo_keeps_what_a_teammate_changed_after_the_macro(store, runner):
    anna = case_of(store, "anna")
    applied = runner.apply(macro("Hypotheken"), [anna])  # assigns jeroen, priority stays, status pending
    CaseService(store, clock=lambda: T0 + 2 * HOUR).assign(anna, "sanne", "sanne")  # a teammate takes it over
    ingest(store, [msg(2 * HOUR + 3, author="anna", text="Nog een vraag")])  # the customer writes meanwhile
    runner.now[0] += 5
    runner.undo(applied)
    case = store.get_case(anna)
    assert case["owner"] == "sanne" and case["message_count"] == 2  # not undone: nor the message's count
    assert case["status"] == "open"  # the customer waits again, whatever the macro had set


def test_undo_after_the_grace_period_is_refused(store, runner):
    applied = runner.apply(macro("Hypotheken"), [case_of(store, "anna")])
    runner.now[0] += 11
    with pytest.raises(MacroError, match="too late to undo Hypotheken"):
        runner.undo(applied)


def test_a_failing_action_rolls_the_whole_bundle_back(store, runner):
    anna, bram = case_of(store, "anna"), case_of(store, "bram")
    before = (store.counts(), store.get_case(anna), store.get_case(bram))
    with pytest.raises(MacroError, match="nothing was changed"):
        runner.apply(macro("Hypotheken"), [anna, bram, 999])  # the third case does not exist
    assert (store.counts(), store.get_case(anna), store.get_case(bram)) == before


def test_like_where_the_platform_has_none_is_reported(store, runner):
    anna, bram = case_of(store, "anna"), case_of(store, "bram")
    store.conn.execute("UPDATE cases SET platform = 'messenger' WHERE id = ?", (bram,))
    applied = runner.apply(macro("Compliment"), [anna, bram])
    assert applied.summary == "Compliment (2 cases): +Compliment, like queued, closed, no like: messenger has no likes"
    assert [r["kind"] for r in store.case_outbox(anna)] == ["like"] and store.case_outbox(bram) == []


def test_ask_fills_the_memo_and_is_required(store, runner):
    anna = case_of(store, "anna")
    with pytest.raises(MacroError, match="needs an answer to: ticket number"):
        runner.apply(macro("Ticket"), [anna])
    runner.apply(macro("Ticket"), [anna], ask="INC-4711")
    assert [m["text"] for m in store.case_memos(anna)] == ["Ticket INC-4711 aangemaakt in het backoffice-systeem."]


def test_preview_changes_nothing(store, runner):
    anna = case_of(store, "anna")
    before = store.counts()
    preview = runner.preview(macro("Terugbellen"), anna)
    assert preview.reply.startswith("Hoi Anna, we bellen je graag even.") and preview.reply.endswith("^TR")
    assert store.counts() == before


def test_headless_apply(store, runner, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WEBCARE_CONFIG", str(tmp_path / "none.toml"))
    anna = case_of(store, "anna")
    assert main(["--db", str(store.path), "macro", "apply", "Hypotheken", "--case", str(anna)]) == 0
    assert "Hypotheken: assigned Jeroen" in capsys.readouterr().out
    assert store.get_case(anna)["owner"] == "jeroen"
    assert main(["--db", str(store.path), "macro", "apply", "Nope", "--case", str(anna)]) == 2


def test_two_key_sequences_load_and_a_key_cannot_also_start_one(tmp_path):
    (tmp_path / "a.toml").write_text(
        '[[macro]]\nname = "Outage"\nkey = "i e"\nstatus = "pending"\n'
        '[[macro]]\nname = "Info"\nkey = "i"\nstatus = "closed"\n'
        '[[macro]]\nname = "Three"\nkey = "i e x"\nstatus = "closed"\n', encoding="utf-8")
    macros = load_macros([tmp_path])
    assert macros.by_name("Outage").key == "i e"
    assert any("key 'i e' starts with 'i', which is 'Info'" in error for error in macros.errors), macros.errors
    assert any(":11:" in error and "'i e x' is not a key" in error for error in macros.errors), macros.errors


@pytest.mark.parametrize(("text", "line"), [
    ('macro = "x"\n', 1),
    ('macro = ["x"]\n', 1),
    ('macro = 5\n', 1),
    ('# one macro, written as a plain table\n[macro]\nname = "Solo"\nstatus = "closed"\n', 2),
    ('[[macro]]\nname = "Goed"\nstatus = "closed"\n\nmacro = 1\n', None),  # TOML: defined twice
])
def test_a_file_that_holds_no_macro_tables_is_one_plain_error(tmp_path, capsys, monkeypatch, text, line):
    folder = write(tmp_path / "m", "a.toml", text)
    macros = load_macros([folder])
    assert macros.macros == [] and len(macros.errors) == 1
    path = folder / "a.toml"
    assert macros.errors[0].startswith(f"{path}:{line}: give each macro as its own [[macro]] table" if line
                                       else f"{path}:")
    monkeypatch.setenv("WEBCARE_CONFIG", str(tmp_path / "none.toml"))
    assert main(["--db", str(tmp_path / "db"), "macros", "check", str(folder)]) == 1
    assert capsys.readouterr().err == macros.errors[0] + "\n"


def test_an_empty_reply_or_memo_is_refused_when_the_file_loads(tmp_path):
    folder = write(tmp_path / "m", "a.toml", """\
[[macro]]
name = "Leeg antwoord"
reply = "   "
status = "pending"

[[macro]]
name = "Lege memo"
memo = ""
labels_add = ["Vraag"]

[[macro]]
name = "Niets"
like = false
labels_add = []

[[macro]]
name = "Goed"
reply = "Dank je!"
""")
    macros = load_macros([folder])
    a = folder / "a.toml"
    assert [m.name for m in macros.macros] == ["Goed"]
    assert f"{a}:3: macro 'Leeg antwoord': reply is empty; give it some text or leave it out" in macros.errors
    assert f"{a}:8: macro 'Lege memo': memo is empty; give it some text or leave it out" in macros.errors
    assert any(e.startswith(f"{a}:12: macro 'Niets': does nothing") for e in macros.errors), macros.errors


def test_a_macro_folder_that_is_not_there_is_an_error(tmp_path, capsys, monkeypatch):
    macros = load_macros([tmp_path / "nowhere", EXAMPLES])
    assert macros.errors == [f"{tmp_path / 'nowhere'}: there is no such folder; no macros were read from it"]
    assert macros.by_name("Hypotheken") is not None  # the other folders still load
    monkeypatch.setenv("WEBCARE_CONFIG", str(tmp_path / "none.toml"))
    assert main(["--db", str(tmp_path / "db"), "macros", "check", str(tmp_path / "nowhere")]) == 1
    out, err = capsys.readouterr()
    assert err == f"webcare: {tmp_path / 'nowhere'}: there is no such folder; give a folder of macro files (*.toml)\n"
    assert out == ""  # never "0 macros valid" for a folder that is not there
    (tmp_path / "a-file").write_text("")
    assert main(["--db", str(tmp_path / "db"), "macros", "check", str(tmp_path / "a-file")]) == 1
    assert f"{tmp_path / 'a-file'}: not a folder" in capsys.readouterr().err


def test_without_a_macro_folder_the_examples_that_come_with_it_are_used(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WEBCARE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # no own macros folder either
    assert example_folder() == EXAMPLES  # a source checkout: its macros/ folder
    assert main(["--db", str(tmp_path / "db"), "macros", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("Hypotheken", "Compliment", "Storing (nl)", "Outage (en)", "Ticket"))
    assert main(["--db", str(tmp_path / "db"), "macros", "check"]) == 0
    assert capsys.readouterr().out == f"7 macros valid, 0 errors in {EXAMPLES}\n"


def test_the_examples_are_found_through_importlib_resources_when_installed(tmp_path, monkeypatch):
    """An installed package (a wheel, pipx) has no checkout around it: its examples are package data."""
    import importlib.resources

    package = tmp_path / "site-packages" / "webcare_tui"
    package.mkdir(parents=True)
    write(package / EXAMPLES_IN_PACKAGE, "m.toml", '[[macro]]\nname = "Shipped"\nstatus = "closed"\n')
    monkeypatch.setattr(importlib.resources, "files", lambda name: package)
    assert example_folder() == package / EXAMPLES_IN_PACKAGE
    assert [m.name for m in load_macros([package / EXAMPLES_IN_PACKAGE]).macros] == ["Shipped"]


def test_no_macro_folder_at_all_is_said_plainly(tmp_path, capsys, monkeypatch):
    """An installation without its examples and nothing configured: no silent empty list."""
    from webcare_tui import runtime

    monkeypatch.setenv("WEBCARE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(runtime, "example_folder", lambda: None)
    for action in ("list", "check"):
        assert main(["--db", str(tmp_path / "db"), "macros", action]) == 1
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("webcare: no macros: no [macros] dir in a config file, no folder ")
        assert "has no example macros" in err


def test_a_macro_file_with_a_byte_order_mark_loads(tmp_path):
    (tmp_path / "a.toml").write_bytes(b'\xef\xbb\xbf[[macro]]\nname = "Bom"\nstatus = "closed"\n')
    assert [m.name for m in load_macros([tmp_path]).macros] == ["Bom"]


def test_a_macro_reply_is_signed_in_the_customers_language_on_a_line_of_its_own(store):
    from webcare_tui.config import demo_agent

    ingest(store, [msg(0, author="emma", platform="facebook", text="My parcel never arrived, where is it? Please help"),
                   msg(60, author="lukas", platform="facebook", text="Mein Paket ist nicht angekommen, wo ist es?"),
                   msg(120, author="joost", platform="x", text="Mijn pakket is nog steeds niet bezorgd, waar blijft het?")])
    clock = [T0 + HOUR]
    runner = MacroRunner(store, CaseService(store, clock=lambda: clock[0]), Outbox(store, clock=lambda: clock[0]),
                         demo_agent(), grace=10, clock=lambda: clock[0])
    texts = {}
    for author, name in (("emma", "Outage (en)"), ("lukas", "Störung (de)"), ("joost", "Storing (nl)")):
        runner.apply(macro(name), [case_of(store, author)])
        texts[author] = store.case_outbox(case_of(store, author))[-1]["payload"]["text"]
    assert texts["emma"].endswith("as soon as it's fixed.\n\nKind regards, Tim")
    assert texts["lukas"].endswith("sobald alles wieder läuft.\n\nViele Grüße, Tim")
    assert texts["joost"].endswith(" ^TR") and "Groetjes" not in texts["joost"]  # X keeps its initials
