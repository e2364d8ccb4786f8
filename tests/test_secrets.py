"""A token never leaves the keyring: not into logs, the database, the config file, or what we print and export.

One whole headless run with a real connector (Mastodon, faked at the HTTP edge): the
account is added, synced, a macro replies, the outbox delivers, the server then
refuses the token and even echoes it back in its error. Afterwards every file and
every output is searched for the token.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import respx
from conftest import MemoryKeyring
from test_accounts import run as run_cli

TOKEN = "tok-SECRET-4b7f19e2c8a3"
BASE = "https://social.example"
FIXTURES = Path(__file__).parent / "fixtures" / "mastodon"


def load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def run(config: Path, db: Path, *args: str, stdin: str = "") -> tuple[int, str]:
    """The command's exit code and everything it printed (stdout and stderr)."""
    code, out, err = run_cli((config, db), *args, stdin=stdin)
    return code, out + err


def test_the_token_is_nowhere_after_a_whole_run(tmp_path, monkeypatch):
    import keyring

    monkeypatch.delenv("WEBCARE_TOKEN_BRAND_MASTO", raising=False)
    before = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    log_file = tmp_path / "webcare.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # httpx logs every request URL at INFO, httpcore the headers at DEBUG
    config, db = tmp_path / "config.toml", tmp_path / "webcare.db"
    config.write_text('[agent]\nid = "tim"\nname = "Tim Ruiter"\n', encoding="utf-8")
    outputs = []
    try:
        with respx.mock(base_url=BASE, assert_all_called=False) as mock:
            mock.get("/api/v1/accounts/verify_credentials").respond(200, json=load("verify_credentials.json"))
            mock.get("/api/v2/instance").respond(200, json={"domain": "mastodon.example", "version": "4.3.0"})
            notifications = mock.get("/api/v1/notifications").respond(
                200, json=load("notifications_mention.json")["body"])
            posted = mock.post("/api/v1/statuses").respond(200, json=load("status_reply.json")["body"])
            answered = load("notifications_mention.json")["body"][0]["status"]  # its visibility bounds the reply's
            mock.get(f"/api/v1/statuses/{answered['id']}").respond(200, json=answered)
            liked = mock.post(url__regex=r"/api/v1/statuses/\d+/favourite").respond(200, json=load("status_reply.json")["body"])

            code, out = run(config, db, "accounts", "add", "mastodon", "brand-masto", "--set", f"base_url={BASE}",
                            "--token-stdin", stdin=TOKEN + "\n")
            assert code == 0, out
            outputs.append(out)
            code, out = run(config, db, "sync", "--once")
            assert code == 0 and "brand-masto: online, 1 new message" in out, out
            outputs.append(out)
            code, out = run(config, db, "macro", "apply", "Hypotheken", "--case", "1")
            assert code == 0, out
            outputs.append(out)
            assert notifications.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
            code, out = run(config, db, "sync", "--once")
            assert "outbox: 1 sent" in out and posted.call_count == 1, out
            outputs.append(out)
            code, out = run(config, db, "macro", "apply", "Compliment", "--case", "1")
            assert code == 0, out
            outputs.append(out)
            # the server refuses the token and echoes it (some do, in URLs or messages)
            notifications.respond(401, json={"error": f"The access token {TOKEN} is invalid"})
            code, out = run(config, db, "sync", "--once")
            assert code == 1 and "needs_auth" in out and "refused the token" in out, out
            outputs.append(out)
            assert liked.called and "outbox: 1 sent" in out, out
            liked.respond(500, json={"error": f"internal error for Bearer {TOKEN}"})
            code, out = run(config, db, "macro", "apply", "Compliment", "--case", "1")
            assert code == 0, out
            code, out = run(config, db, "sync", "--once")
            assert "outbox: 1 queued" in out and "server error" in out, out
            outputs.append(out)
            for args in (["cases", "--json"], ["case", "1", "--json"], ["accounts", "list"]):
                code, out = run(config, db, *args)
                assert code == 0, out
                outputs.append(out)
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)
        keyring.set_keyring(before)

    assert posted.called, "the run must have sent a reply, or the test proves little"
    assert "•••" in "".join(outputs), "the echoed token must have been redacted somewhere we can see"
    files = [config, log_file, *tmp_path.glob("webcare.db*")]
    assert len(files) >= 3 and log_file.stat().st_size > 0
    token = TOKEN.encode()
    for path in files:
        assert token not in path.read_bytes(), f"the token leaked into {path.name}"
    for output in outputs:
        assert TOKEN not in output


@pytest.mark.usefixtures("memory_keyring")
def test_a_bug_whose_words_quote_the_token_prints_it_masked(tmp_path, monkeypatch):
    """An exception nobody expected is printed whole, and may quote a request URL with its token in it."""
    from webcare_tui import cli
    from webcare_tui.sync import SyncRunner

    monkeypatch.delenv("WEBCARE_TOKEN_BRAND_MASTO", raising=False)
    config, db = tmp_path / "config.toml", tmp_path / "webcare.db"
    config.write_text('[agent]\nid = "tim"\nname = "Tim Ruiter"\n', encoding="utf-8")
    code, out = run(config, db, "accounts", "add", "mastodon", "brand-masto", "--set", f"base_url={BASE}",
                    "--token-stdin", stdin=TOKEN + "\n")
    assert code == 0, out

    async def broken(self):
        raise RuntimeError(f"GET {BASE}/api/v1/notifications?access_token={TOKEN} went wrong")

    monkeypatch.setattr(SyncRunner, "sync_once", broken)
    code, out = run(config, db, "sync", "--once")
    assert code == cli.BUG and "this is a bug in webcare-tui" in out and "RuntimeError" in out
    assert TOKEN not in out and "•••" in out
