"""The headless `webcare` command: import with error reporting, cases, case, demo, sync."""

from __future__ import annotations

import json

from conftest import run_cli as run

GOOD = {
    "platform": "x", "account": "klm-x", "external_id": "1001", "author_id": "42", "author_handle": "@anna",
    "author_name": "Anna", "author_followers": 120, "text": "Waar blijft mijn pakket? [bold red]nu[/]",
    "created_at": "2026-11-25T17:03:00+01:00", "direction": "in", "visibility": "public",
}


def write_jsonl(path, lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def test_import_reports_rejected_lines_and_imports_the_rest(tmp_path, db, capsys):
    reply = GOOD | {"external_id": "1002", "direction": "out", "agent": "tim", "in_reply_to": "1001",
                    "created_at": "2026-11-25T17:20:00+01:00"}
    source = write_jsonl(tmp_path / "in.jsonl", [
        GOOD,
        "{not json",
        GOOD | {"external_id": "1003", "direction": "sideways"},
        {k: v for k, v in GOOD.items() if k != "created_at"} | {"external_id": "1004"},
        GOOD | {"external_id": "1005", "created_at": "2026-11-25T17:03:00"},
        reply,
    ])
    code, out, err = run(capsys, "--db", db, "import", str(source), "--json")
    assert code == 1  # some lines were rejected
    assert json.loads(out) == {"new_messages": 2, "duplicates": 0, "rejected": 4, "new_cases": 1}
    assert f"{source}:2: rejected: not valid JSON" in err
    assert f"{source}:3: rejected: direction must be 'in' or 'out', not 'sideways'" in err
    assert f"{source}:4: rejected: missing created_at" in err
    assert f"{source}:5: rejected: created_at '2026-11-25T17:03:00' has no UTC offset" in err

    code, out, err = run(capsys, "--db", db, "import", str(source))
    assert "0 new messages, 2 duplicates, 4 rejected, 0 new cases" in out


def test_import_of_a_clean_file_exits_zero(tmp_path, db, capsys):
    source = write_jsonl(tmp_path / "ok.jsonl", [GOOD])
    assert run(capsys, "--db", db, "import", str(source))[0] == 0


def test_import_of_a_missing_file_says_so(tmp_path, db, capsys):
    code, out, err = run(capsys, "--db", db, "import", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "no such file" in err


def test_cases_and_case_show_what_was_imported(tmp_path, db, capsys):
    reply = GOOD | {"external_id": "1002", "direction": "out", "agent": "tim", "text": "We kijken ernaar ^TR",
                    "created_at": "2026-11-25T17:20:00+01:00"}
    run(capsys, "--db", db, "import", str(write_jsonl(tmp_path / "a.jsonl", [GOOD, reply])))
    code, out, _ = run(capsys, "--db", db, "cases", "--json")
    [case] = json.loads(out)
    assert case["status"] == "pending" and case["owner"] == "tim" and case["message_count"] == 2
    assert case["author"] == {"id": "42", "handle": "@anna", "name": "Anna"}
    assert case["first_message_at"].startswith("2026-11-25T") and case["platform"] == "x"
    assert json.loads(run(capsys, "--db", db, "cases", "--status", "open", "--json")[1]) == []
    assert len(json.loads(run(capsys, "--db", db, "cases", "--author", "@anna", "--json")[1])) == 1
    code, out, _ = run(capsys, "--db", db, "case", str(case["id"]), "--json")
    shown = json.loads(out)
    assert [m["direction"] for m in shown["messages"]] == ["in", "out"]
    assert shown["messages"][0]["text"] == GOOD["text"]
    code, out, _ = run(capsys, "--db", db, "case", str(case["id"]))
    assert "[bold red]nu[/]" in out and "→ tim" in out


def test_customer_escape_sequences_never_reach_the_terminal(tmp_path, db, capsys):
    evil = GOOD | {"text": "hi \x1b]0;pwned\x07\x1b[2J\x1b[31mred\x9b1m done", "author_handle": "@e\x1b[5mvil"}
    run(capsys, "--db", db, "import", str(write_jsonl(tmp_path / "e.jsonl", [evil])))
    _, listing, _ = run(capsys, "--db", db, "cases")
    _, shown, _ = run(capsys, "--db", db, "case", "1")
    for out in (listing, shown):
        assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "hi red done" in shown and "@evil" in listing


def test_unknown_case_is_a_plain_error(db, capsys):
    code, _, err = run(capsys, "--db", db, "case", "12")
    assert code == 2 and "there is no case 12" in err


def test_demo_fills_the_store_and_running_it_again_adds_nothing(db, capsys, monkeypatch):
    code, out, _ = run(capsys, "--db", db, "demo", "--seed", "3", "--days", "1", "--per-day", "50")
    assert code == 0
    first = int(out.split(":")[1].split()[0])
    assert first > 50
    cases = json.loads(run(capsys, "--db", db, "cases", "--json")[1])
    assert {c["status"] for c in cases} >= {"pending", "open"} or {c["status"] for c in cases} >= {"pending", "new"}


def test_sync_once_runs_the_demo_connector_and_resumes(db, capsys):
    code, out, _ = run(capsys, "--db", db, "sync", "--once")
    assert code == 0 and out.startswith("demo: online, ")
    assert int(out.split(", ")[1].split()[0]) > 1000  # the first sync brings the demo history
    code, out, _ = run(capsys, "--db", db, "sync", "--once")
    assert int(out.split(", ")[1].split()[0]) < 100  # then only the live trickle since the cursor


def test_newer_store_file_is_refused_with_a_clear_message(tmp_path, db, capsys):
    from webcare_tui.store import SCHEMA_VERSION, Store

    with Store(db) as store:
        store.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    code, _, err = run(capsys, "--db", db, "cases")
    assert code == 2 and "newer webcare-tui" in err


def test_help_says_that_webcare_alone_opens_the_console_and_counts_read_as_words(capsys):
    from webcare_tui.cli import build_parser, counted

    assert "`webcare` with no command opens the console" in " ".join(build_parser().format_help().split())
    assert (counted(1, "new message"), counted(0, "new case"), counted(2_500, "duplicate")) == (
        "1 new message", "0 new cases", "2500 duplicates")
