"""`webcare accounts`: tokens go to the keyring, never to the config file; plain errors without a keyring."""

from __future__ import annotations

import io
import tomllib

import keyring
import keyring.backends.fail
import pytest

from webcare_tui import cli
from webcare_tui.credentials import SERVICE, get_secret

TOKEN = "tok-3f9a1c7e5b2d"


@pytest.fixture
def paths(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('[agent]\nid = "tim"\nname = "Tim Ruiter"\n', encoding="utf-8")
    monkeypatch.delenv("WEBCARE_TOKEN_BRAND_DEMO", raising=False)
    return config, tmp_path / "webcare.db"


def run(paths, *args, stdin: str = "") -> tuple[int, str, str]:
    config, db = paths
    out, err = io.StringIO(), io.StringIO()
    old = cli.sys.stdin, cli.sys.stdout, cli.sys.stderr
    cli.sys.stdin, cli.sys.stdout, cli.sys.stderr = io.StringIO(stdin), out, err
    try:
        code = cli.main(["--config", str(config), "--db", str(db), *args])
    finally:
        cli.sys.stdin, cli.sys.stdout, cli.sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def test_add_keeps_the_token_in_the_keyring_and_the_options_in_the_config(paths, memory_keyring):
    code, out, _ = run(paths, "accounts", "add", "demo", "brand-demo", "--set", "seed=3", "--set",
                       "base_url=https://example.social", "--token-stdin", stdin=TOKEN + "\n")
    assert code == 0, out
    assert memory_keyring.secrets[(SERVICE, "brand-demo")] == TOKEN
    text = paths[0].read_text(encoding="utf-8")
    assert TOKEN not in text
    [account] = tomllib.loads(text)["account"]
    assert account == {"name": "brand-demo", "platform": "demo", "seed": 3, "base_url": "https://example.social"}
    assert get_secret("brand-demo") == TOKEN

    code, out, _ = run(paths, "accounts", "list")
    assert code == 0
    assert "brand-demo" in out and "token: keyring" in out and "last sync: never" in out
    assert TOKEN not in out


def test_the_same_name_twice_is_refused_and_changes_nothing(paths, memory_keyring):
    run(paths, "accounts", "add", "demo", "brand-demo", "--token-stdin", stdin=TOKEN)
    before = paths[0].read_text(encoding="utf-8")
    code, _, err = run(paths, "accounts", "add", "demo", "brand-demo", "--token-stdin", stdin="other-token")
    assert code == 1 and "already" in err
    assert paths[0].read_text(encoding="utf-8") == before
    assert memory_keyring.secrets[(SERVICE, "brand-demo")] == TOKEN


def test_remove_deletes_the_token_and_only_its_block(paths, memory_keyring):
    run(paths, "accounts", "add", "demo", "brand-demo", "--token-stdin", stdin=TOKEN)
    run(paths, "accounts", "add", "demo", "brand-other", "--set", "seed=9", "--token-stdin", stdin="t2-secret")
    code, out, _ = run(paths, "accounts", "remove", "brand-demo")
    assert code == 0 and "and its token" in out
    assert (SERVICE, "brand-demo") not in memory_keyring.secrets
    data = tomllib.loads(paths[0].read_text(encoding="utf-8"))
    assert [a["name"] for a in data["account"]] == ["brand-other"]
    assert data["agent"]["name"] == "Tim Ruiter"
    code, _, err = run(paths, "accounts", "remove", "brand-demo")
    assert code == 1 and "no account" in err


def test_an_unknown_platform_names_the_installed_ones(paths, memory_keyring):
    code, _, err = run(paths, "accounts", "add", "myspace", "brand-ms", "--token-stdin", stdin=TOKEN)
    assert code == 2 and "myspace" in err and "demo" in err
    assert not memory_keyring.secrets


def test_without_a_keyring_backend_the_error_says_how_to_fix_it(paths):
    before = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        code, _, err = run(paths, "accounts", "add", "demo", "brand-demo", "--token-stdin", stdin=TOKEN)
    finally:
        keyring.set_keyring(before)
    assert code == 2
    assert "keyrings.alt" in err and "WEBCARE_TOKEN_BRAND_DEMO" in err
    assert TOKEN not in err
    assert "[[account]]" not in paths[0].read_text(encoding="utf-8")  # nothing half-added


def test_a_headless_token_from_the_environment_wins(paths, memory_keyring, monkeypatch):
    monkeypatch.setenv("WEBCARE_TOKEN_BRAND_DEMO", "env-token-1234")
    run(paths, "accounts", "add", "demo", "brand-demo", "--token-stdin", stdin=TOKEN)
    assert get_secret("brand-demo") == "env-token-1234"
    _, out, _ = run(paths, "accounts", "list")
    assert "token: environment" in out


def test_an_account_with_wrong_options_is_a_plain_error_not_a_traceback(paths, memory_keyring):
    code, _, _ = run(paths, "accounts", "add", "matrix", "brand-matrix", "--set", "base_url=https://m.example",
                     "--token-stdin", stdin=TOKEN)
    assert code == 0
    code, out, err = run(paths, "sync", "--once")
    assert code == 2 and "account 'brand-matrix' (matrix):" in err and "user_id" in err
    assert "Traceback" not in err and TOKEN not in err + out


def test_a_secret_given_as_an_option_is_refused_and_not_echoed(paths, memory_keyring, capsys):
    with pytest.raises(SystemExit) as exited:  # argparse refuses it before anything runs
        cli.main(["--config", str(paths[0]), "--db", str(paths[1]), "accounts", "add", "demo", "brand-demo",
                  "--set", f"access_token={TOKEN}", "--token-stdin"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "'access_token' is a secret" in err
    assert TOKEN not in err + paths[0].read_text(encoding="utf-8") and not memory_keyring.secrets


# --- headless, without a keyring (issue 13) --------------------------------------------------------

@pytest.fixture
def no_keyring():
    before = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(before)


@pytest.mark.parametrize("stdin", ["env-token-1234\n", "", "another-token\n"])
def test_headless_with_the_token_in_the_environment_the_account_is_added(paths, no_keyring, monkeypatch, stdin):
    # before: "cannot store the token" (exit 2) and no [[account]] block, although the token was there
    monkeypatch.setenv("WEBCARE_TOKEN_BRAND_DEMO", "env-token-1234")
    code, out, err = run(paths, "accounts", "add", "demo", "brand-demo", "--set", "seed=3", "--token-stdin",
                         stdin=stdin)
    assert code == 0, err
    assert "WEBCARE_TOKEN_BRAND_DEMO in the environment" in out and "nothing stored" in out
    assert ("differs" in out) == (stdin == "another-token\n")
    text = paths[0].read_text(encoding="utf-8")
    [account] = tomllib.loads(text)["account"]
    assert account == {"name": "brand-demo", "platform": "demo", "seed": 3}
    assert "env-token-1234" not in text + out + err and "another-token" not in text + out + err
    assert get_secret("brand-demo") == "env-token-1234"
    code, out, _ = run(paths, "accounts", "list")
    assert code == 0 and "token: environment" in out
    code, out, err = run(paths, "accounts", "remove", "brand-demo")  # no keyring: nothing to delete, no error
    assert code == 0 and "removed account 'brand-demo'" in out and "[[account]]" not in paths[0].read_text()


def test_without_the_token_anywhere_the_error_names_the_variable(paths, no_keyring):
    code, _, err = run(paths, "accounts", "add", "demo", "brand-demo", "--token-stdin", stdin="")
    assert code == 1 and "WEBCARE_TOKEN_BRAND_DEMO" in err
    assert "[[account]]" not in paths[0].read_text(encoding="utf-8")


def test_the_account_list_is_clean_text(paths, memory_keyring):
    import argparse
    from dataclasses import replace

    from webcare_tui import accounts
    from webcare_tui.config import Account, Config
    from webcare_tui.store import Store

    evil = "brand\x1b]0;pwned\x07-x\u202e"  # a team's shared config file may hold anything
    config = replace(Config(), path=paths[0], accounts=(Account(evil, "demo\x9b2J", {}),))
    out = io.StringIO()
    with Store(paths[1]) as store:
        assert accounts.run(argparse.Namespace(action="list"), config, store, out) == 0
    line = out.getvalue()
    assert "brand" in line and "demo" in line  # before: the escape sequence set the terminal's title
    assert not any(char in line for char in "\x1b\x07\x9b\u202e")


def test_a_last_sync_time_no_calendar_shows_is_printed_as_its_number(paths, memory_keyring, monkeypatch):
    from webcare_tui.store import Store

    run(paths, "accounts", "add", "demo", "brand-demo", "--token-stdin", stdin=TOKEN)
    with Store(paths[1]) as store:
        store.conn.execute("INSERT OR REPLACE INTO sync_state (account, last_sync_at) VALUES ('brand-demo', ?)",
                           (253402300799 * 1000,))
    code, out, err = run(paths, "accounts", "list")
    assert code == 0 and "last sync: @253402300799000" in out, err
