"""The `webcare` command against hostile stores and arguments: nothing it prints acts on a terminal
or lets a handle pass for another, and every expected failure is a plain line with an exit code."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from conftest import run_cli as run

from webcare_tui.cli import main
from webcare_tui.store import Store

OSC = "\x1b]0;pwned\x07"  # sets the terminal's title
NOW = datetime.now(timezone.utc).replace(microsecond=0)
IN = {"platform": "x", "account": "klm-x", "external_id": "1001", "author_id": "42", "author_handle": "@anna",
      "author_name": "Anna", "text": "Waar blijft mijn pakket?", "created_at": (NOW - timedelta(hours=2)).isoformat(),
      "direction": "in", "visibility": "public"}
OUT = IN | {"external_id": "1002", "direction": "out", "agent": "tim", "in_reply_to": "1001",
            "text": "We kijken ernaar! ^TR", "created_at": (NOW - timedelta(hours=1)).isoformat()}
UNSAFE = {"\x1b", "\x07", "\x9b", "\x9d", "\u202e", "\u2066", "\u200b"}


def seeded(tmp_path, db, capsys, **author) -> None:
    """One case (id 1) with a customer message and our reply, then made hostile behind the importer's
    back (as an older importer, a sync or another tool could have stored it)."""
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in (IN, OUT)) + "\n", encoding="utf-8")
    assert run(capsys, "--db", db, "import", str(source))[0] == 0
    with Store(db) as store:
        store.conn.execute("UPDATE messages SET agent = ? WHERE direction = 'out'", (f"{OSC}t\x9b2Jim",))
        store.conn.execute("UPDATE messages SET text = ? WHERE direction = 'in'",
                           (f"Waar \u202eblijft{OSC} mijn pakket?\x9d8;;x\x07 \u200b",))
        store.conn.execute("UPDATE cases SET owner = ?", (f"{OSC}sanne",))
        for column, value in author.items():
            store.conn.execute(f"UPDATE authors SET {column} = ?", (value,))
        store.set_labels(1, add=[f"Klacht{OSC}\u202e"])


def assert_safe(text: str) -> None:
    assert not UNSAFE & set(text), repr(text)


def test_case_and_cases_print_nothing_that_acts_on_the_terminal(tmp_path, db, capsys):
    seeded(tmp_path, db, capsys, name=f"Anna{OSC}\u202eB", handle=f"@an{OSC}na")
    code, listing, _ = run(capsys, "--db", db, "cases")
    assert code == 0
    assert_safe(listing)
    assert "sanne" in listing and "Klacht" in listing
    code, shown, _ = run(capsys, "--db", db, "case", "1")
    assert code == 0
    assert_safe(shown)
    assert "→ tim" in shown and "owner sanne" in shown and "Waar blijft mijn pakket?" in shown
    assert "AnnaB" in shown


def test_json_escapes_c1_and_bidi_controls_and_keeps_the_data(tmp_path, db, capsys):
    seeded(tmp_path, db, capsys, name="Anna\x9b31m\u202e")
    for argv in (("cases", "--json"), ("case", "1", "--json")):
        code, out, _ = run(capsys, "--db", db, *argv)
        assert code == 0
        assert_safe(out)
        assert "\\u009b31m\\u202e" in out
        data = json.loads(out)
        author = (data[0] if isinstance(data, list) else data)["author"]
        assert author["name"] == "Anna\x9b31m\u202e"  # exactly as stored
    data = json.loads(run(capsys, "--db", db, "case", "1", "--json")[1])
    assert data["owner"] == f"{OSC}sanne"


def test_report_csv_json_and_text_are_clean(tmp_path, db, capsys):
    seeded(tmp_path, db, capsys)
    for how in ("--csv", "--json", None):
        argv = ["--db", db, "report", "--from", "yesterday", "--by", "agent", *([how] if how else [])]
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        assert_safe(out)
        assert ",tim," in out or "\n  tim " in out or "\\u001b]0;pwned\\u0007t\\u009b2Jim" in out
    code, out, _ = run(capsys, "--db", db, "report", "--from", "yesterday", "--by", "label", "--csv")
    assert code == 0
    assert_safe(out)
    assert ",Klacht," in out


def test_macro_dry_run_prints_rendered_texts_clean(tmp_path, db, capsys):
    seeded(tmp_path, db, capsys, name=f"Anna{OSC}\u202e \x9b2J")
    code, out, err = run(capsys, "--db", db, "macro", "apply", "Storing (nl)", "--case", "1", "--dry-run")
    assert code == 0, err
    assert_safe(out)
    assert "reply: Hoi Anna" in out


def test_a_spoofed_handle_shows_what_it_really_is(tmp_path, db, capsys):
    seeded(tmp_path, db, capsys, handle="@an\u200bna")
    _, listing, _ = run(capsys, "--db", db, "cases")
    _, shown, _ = run(capsys, "--db", db, "case", "1")
    for out in (listing, shown):
        assert "⚠@an\ufffdna" in out and "@anna" not in out
    with Store(db) as store:
        store.conn.execute("UPDATE authors SET handle = '@\u0430nna'")  # Cyrillic а
    _, listing, _ = run(capsys, "--db", db, "cases")
    assert "⚠@\u0430nna" in listing


def _damage(path: str) -> None:
    """Overwrite the pages that hold messages, past the schema: a store damaged in its middle."""
    with sqlite3.connect(path) as conn:
        roots = [root for (root,) in conn.execute("SELECT rootpage FROM sqlite_master WHERE name LIKE 'messages%' AND rootpage > 0")]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(path, "r+b") as file:
        for page in roots:
            file.seek((page - 1) * page_size)
            file.write(b"\xa5" * page_size)


def test_a_damaged_store_is_a_plain_error_with_the_traceback_in_the_log(tmp_path, db, capsys, log_file):
    seeded(tmp_path, db, capsys)
    _damage(db)
    code, out, err = run(capsys, "--db", db, "case", "1")
    assert code == 2
    assert "Traceback" not in err and err.count("\n") == 1
    assert f"{db}: the store file is damaged" in err and "restore it from a backup" in err
    assert "Traceback" in log_file.read_text() and "malformed" in log_file.read_text()
    code, _, err = run(capsys, "--db", db, "import", str(tmp_path / "in.jsonl"))
    assert code != 0 and "Traceback" not in err and "damaged" in err


def test_a_full_disk_is_a_plain_error(tmp_path, db, capsys, monkeypatch, log_file):
    seeded(tmp_path, db, capsys)

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "list_cases", full)
    code, _, err = run(capsys, "--db", db, "cases")
    assert code == 2 and "Traceback" not in err
    assert f"{db}: the disk is full; free some space" in err
    assert "database or disk is full" in log_file.read_text()

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device", "/tmp/full/webcare.db-wal")

    monkeypatch.setattr(Store, "get_case", no_space)
    code, _, err = run(capsys, "--db", db, "case", "1")
    assert code == 2 and "Traceback" not in err and "/tmp/full/webcare.db-wal: the disk is full" in err


@pytest.mark.parametrize("argv", [
    ("cases", "--limit", "99999999999999999999"), ("cases", "--limit", "-1"), ("cases", "--limit", "0"),
    ("case", "99999999999999999999"), ("case", "0"), ("case", "x\x1b]0;t\x07"),
    ("macro", "apply", "Compliment", "--case", "9223372036854775808"),
    ("report", "--date", "9999-12-31"), ("report", "--date", "0001-01-01"), ("report", "--from", "1999-12-31"),
    ("demo", "--days", "nan"), ("demo", "--days", "1e300"), ("demo", "--per-day", "10000000000"),
])
def test_numbers_out_of_range_are_refused_plainly(db, capsys, argv):
    with pytest.raises(SystemExit) as exited:
        main(["--db", db, *argv])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "Traceback" not in err and "error: argument" in err
    assert "\x1b" not in err and "\x07" not in err
    assert "from 1 to 9223372036854775807" in err or "out of range" in err or "from 0" in err


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12", "Europe/Amsterdam"])
def test_the_last_day_allowed_works_in_every_time_zone(tmp_path, db, capsys, monkeypatch, zone):
    config = tmp_path / "config.toml"
    config.write_text(f'[kpi]\ntimezone = "{zone}"\n', encoding="utf-8")
    monkeypatch.setenv("WEBCARE_CONFIG", str(config))
    for day in ("9998-12-31", "2000-01-01"):
        code, out, err = run(capsys, "--db", db, "report", "--date", day, "--json")
        assert code == 0, err
        assert json.loads(out)["from"] == day


def test_a_bug_shows_its_traceback_cleaned_and_logs_it(tmp_path, db, capsys, monkeypatch, log_file):
    def broken(*args, **kwargs):
        raise RuntimeError(f"boom {OSC}")

    monkeypatch.setattr(Store, "list_cases", broken)
    code, _, err = run(capsys, "--db", db, "cases")
    assert code == 70
    assert "Traceback" in err and "RuntimeError: boom" in err and "\x1b" not in err
    assert "this is a bug" in err and str(log_file) in err
    assert "RuntimeError" in log_file.read_text()


def test_a_missing_file_is_named(db, capsys, tmp_path):
    code, _, err = run(capsys, "--db", db, "rules", "test", str(tmp_path / "nope.json"))
    assert code == 2 and "Traceback" not in err and f"{tmp_path / 'nope.json'}: No such file" in err


def test_the_console_that_ended_on_an_error_exits_non_zero(db, capsys, monkeypatch):
    import webcare_tui.app

    class Crashed:
        return_code = 1

        def run(self):
            return None

    monkeypatch.setattr(webcare_tui.app, "make_app", lambda config, store: Crashed())
    assert main(["--db", db]) == 1


def test_a_time_out_of_every_calendar_prints_instead_of_crashing(tmp_path, db, capsys, east_of_utc):
    seeded(tmp_path, db, capsys)
    with Store(db) as store:  # year 9999 in UTC is year 10000 east of it; -62135596800 is year 1
        store.conn.execute("UPDATE messages SET created_at = 253402300799 WHERE direction = 'in'")
        store.conn.execute("UPDATE cases SET created_at = -62135596800")
    for argv in (("cases",), ("case", "1"), ("case", "1", "--json"), ("cases", "--json")):
        code, out, err = run(capsys, "--db", db, *argv)
        assert code == 0 and "Traceback" not in err, err


def test_import_reads_devices_and_pipes_not_only_files(db, capsys, tmp_path):
    """/dev/null, a pipe as bash's <(…) gives (/dev/fd/N) and /dev/stdin are read, not refused as
    'no such file'; a folder and a missing file are named plainly."""
    import os

    assert run(capsys, "--db", db, "import", "/dev/null") == (0, "0 new messages, 0 duplicates, 0 rejected, 0 new cases\n", "")
    read_end, write_end = os.pipe()
    os.write(write_end, (json.dumps(IN) + "\n").encode())
    os.close(write_end)
    try:
        code, out, _ = run(capsys, "--db", db, "import", f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
    assert code == 0 and out.startswith("1 new message,")
    assert run(capsys, "--db", db, "import", str(tmp_path))[2] == f"webcare: {tmp_path}: is a folder, not a file\n"
    assert "no such file" in run(capsys, "--db", db, "import", str(tmp_path / "nope.jsonl"))[2]


def test_import_names_a_rejected_line_without_its_terminal_codes(db, capsys, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(IN | {"platform": f"x{OSC}\u202e"}) + "\n" + json.dumps(IN) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "--db", db, "import", str(source))
    assert code == 1 and out.startswith("1 new message,") and f"{source}:1: rejected" in err
    assert_safe(err)


def test_a_line_longer_than_the_limit_is_not_read_whole(monkeypatch, db, capsys, tmp_path):
    """The importer never holds more than the line limit of one line: the rest is skipped to its
    newline and the next line is read as usual."""
    from webcare_tui import bulk

    monkeypatch.setattr(bulk, "LINE_LIMIT", 1_000)
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(IN | {"text": "x" * 5_000}) + "\n" + json.dumps(IN | {"external_id": "2"}) + "\n")
    code, out, err = run(capsys, "--db", db, "import", str(source))
    assert code == 1 and out.startswith("1 new message,") and f"{source}:1: rejected" in err
