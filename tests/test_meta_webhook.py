"""The wall's `/hooks/meta`: Meta's webhook receiver, through Starlette's TestClient against `make_app`.

Graph is faked at the network edge (respx) with the recorded shapes of `fixtures/meta/ig_mentions.json`,
answering as `tests/test_instagram_mentions.py` does; the account's Page token comes from the (in-memory)
keyring as for the sync. Deliveries are shaped as Meta documents the `mentions` field of Instagram webhooks.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging

import httpx
import pytest
import respx
from starlette.testclient import TestClient
from test_connector_meta import BASE, IG, PAGE, TOKEN, fixture
from test_instagram_mentions import COMMENT_ID, MEDIA_ID, MENTIONS, ON_MEDIA, mentioned
from test_wall import PASSWORD, wall_args

from webcare_tui import wall
from webcare_tui.config import Account, Agent, Config
from webcare_tui.credentials import SERVICE
from webcare_tui.wall.app import make_app
from webcare_tui.wall.hooks import (
    APP_SECRET_ENV,
    APP_SECRET_KEY,
    VERIFY_TOKEN_ENV,
    VERIFY_TOKEN_KEY,
    MetaSecrets,
    MetaWebhookError,
    load_meta_secrets,
)

APP_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
VERIFY = "meta-verify-token-7d3a"
SECRETS = MetaSecrets(APP_SECRET, VERIFY)
ACCOUNT = Account("brand-ig", "instagram", {"page_id": PAGE, "ig_user_id": IG})
NOW = 1_700_000_000.0  # after every mention of the fixtures
ERROR_500 = {"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1}}
GONE = {"error": {"message": "Unsupported get request. Object with ID '17800000000000404' does not exist, cannot "
                             "be loaded due to missing permissions, or does not support this operation",
                  "type": "GraphMethodException", "code": 100, "error_subcode": 33}}


@pytest.fixture
def token(memory_keyring, monkeypatch):
    """The account's Page token in the keyring, as `webcare accounts add` keeps it; no secret in the environment."""
    for env in ("WEBCARE_TOKEN_BRAND_IG", APP_SECRET_ENV, VERIFY_TOKEN_ENV):
        monkeypatch.delenv(env, raising=False)
    memory_keyring.set_password(SERVICE, "brand-ig", TOKEN)
    return memory_keyring


def app(store, meta: MetaSecrets | None = SECRETS, accounts=(ACCOUNT,)) -> TestClient:
    config = Config(agent=Agent(id="tim"), accounts=accounts)
    return TestClient(make_app(config, store, PASSWORD, clock=lambda: NOW, meta=meta), follow_redirects=False)


def delivery(*values: dict, owner: str = IG, field: str = "mentions", obj: str = "instagram") -> bytes:
    return json.dumps({"object": obj, "entry": [{"id": owner, "time": 1629363622, "changes": [
        {"field": field, "value": value} for value in values]}]}).encode()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def post(client: TestClient, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post("/hooks/meta", content=body, headers=signed(body) if headers is None else headers)


def stored(store) -> list[dict]:
    return [message for case in store.list_cases() for message in store.case_messages(case["id"])]


def graph(respx_mock, answers: dict) -> respx.Route:
    """`GET /{ig-user-id}?fields=username,mentioned_…` answered per mentioned id."""
    return respx_mock.get(f"{BASE}/{IG}").mock(side_effect=mentioned(answers))


def no_secret_in(text: str) -> None:
    for secret in (APP_SECRET, VERIFY, TOKEN, PASSWORD):
        assert secret not in text


# -- the handshake ----------------------------------------------------------------------------

def test_the_handshake_answers_the_challenge_only_to_the_right_verify_token(store, caplog):
    with app(store) as client:
        right = client.get("/hooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                                  "hub.challenge": "1158201444"})
        assert (right.status_code, right.text) == (200, "1158201444")  # without the wall's password
        assert right.headers["content-type"].startswith("text/plain")
        for params in ({"hub.mode": "subscribe", "hub.verify_token": "meta-verify-token-7d3b", "hub.challenge": "1"},
                       {"hub.mode": "subscribe", "hub.challenge": "1"},
                       {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1"}):
            wrong = client.get("/hooks/meta", params=params)
            assert wrong.status_code == 403 and wrong.text == "the verify token does not match\n"
    no_secret_in(caplog.text)


def test_without_both_secrets_there_is_no_such_route(store, token, monkeypatch):
    with app(store, meta=None) as client:
        assert client.get("/hooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                                 "hub.challenge": "1"}).status_code == 404
        body = delivery({"media_id": MEDIA_ID})
        assert post(client, body).status_code == 404
    assert load_meta_secrets() is None  # nothing set: `webcare wall` serves without the route
    token.set_password(SERVICE, APP_SECRET_KEY, APP_SECRET)
    with pytest.raises(MetaWebhookError, match="no verify token, so /hooks/meta is off"):
        load_meta_secrets()
    token.set_password(SERVICE, VERIFY_TOKEN_KEY, VERIFY)
    assert load_meta_secrets() == SECRETS
    monkeypatch.setenv(VERIFY_TOKEN_ENV, "from the environment")
    assert load_meta_secrets() == MetaSecrets(APP_SECRET, "from the environment")


def test_set_meta_webhook_asks_with_hidden_input_and_keeps_both_in_the_keyring(store, token, monkeypatch, capsys):
    import getpass

    answers = iter([f" {APP_SECRET}\n", APP_SECRET, VERIFY, VERIFY])
    monkeypatch.setattr(getpass, "getpass", lambda prompt: next(answers))
    out = io.StringIO()
    assert wall.run(wall_args("--set-meta-webhook"), Config(), store, out) == 0
    assert token.secrets[(SERVICE, APP_SECRET_KEY)] == APP_SECRET and token.secrets[(SERVICE, VERIFY_TOKEN_KEY)] == VERIFY
    assert "/hooks/meta" in out.getvalue()
    no_secret_in(out.getvalue())
    answers = iter([APP_SECRET, APP_SECRET, VERIFY, "another token"])
    token.secrets.clear()
    assert wall.run(wall_args("--set-meta-webhook"), Config(), store, io.StringIO()) == 2
    err = capsys.readouterr().err
    assert "the two verify tokens differ; nothing was stored" in err and not token.secrets
    no_secret_in(err)


# -- deliveries -------------------------------------------------------------------------------

@respx.mock(assert_all_called=False)
def test_a_signed_mention_lands_in_the_store_once(store, token, respx_mock, caplog):
    node = graph(respx_mock, {MEDIA_ID: MENTIONS["mentioned_media"], COMMENT_ID: MENTIONS["mentioned_comment"]})
    body = delivery({"media_id": MEDIA_ID}, {"media_id": ON_MEDIA, "comment_id": COMMENT_ID})
    with app(store) as client:
        answer = post(client, body)
        assert (answer.status_code, answer.text) == (200, "ok\n")
        messages = {m["external_id"]: m for m in stored(store)}
        assert sorted(messages) == [f"mention:{MEDIA_ID}", f"mention:{ON_MEDIA}:{COMMENT_ID}"]
        caption = messages[f"mention:{MEDIA_ID}"]
        assert (caption["platform"], caption["account"], caption["direction"], caption["visibility"]) == (
            "instagram", "brand-ig", "in", "public")
        assert caption["text"] == "@ikroskun hey [album]"
        assert node.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"  # the keyring's Page token
        assert node.call_count == 2
        # Meta delivers again (it retries what it thinks failed): nothing new, and Graph is not asked again
        assert post(client, body).status_code == 200
        assert len(stored(store)) == 2 and node.call_count == 2
    no_secret_in(caplog.text)


@respx.mock(assert_all_called=False)
def test_other_fields_objects_and_accounts_are_ignored(store, token, respx_mock):
    node = graph(respx_mock, {MEDIA_ID: MENTIONS["mentioned_media"]})
    with app(store) as client:
        for body in (delivery({"media_id": MEDIA_ID}, field="comments"),
                     delivery({"media_id": MEDIA_ID}, obj="page"),
                     delivery({"media_id": MEDIA_ID}, owner="17841400000000000"),  # not a configured account
                     delivery({"media_id": "../../me?fields=access_token"}),
                     json.dumps({"object": "instagram", "entry": []}).encode()):
            assert post(client, body).status_code == 200
    assert node.call_count == 0 and stored(store) == []


@respx.mock(assert_all_called=False)
def test_a_wrong_or_missing_signature_is_403_and_stores_nothing(store, token, respx_mock, caplog):
    node = graph(respx_mock, {MEDIA_ID: MENTIONS["mentioned_media"]})
    body = delivery({"media_id": MEDIA_ID})
    with app(store) as client:
        for headers in ({}, signed(body, secret="another app's secret"), signed(body + b" "),
                        {"X-Hub-Signature-256": "sha256="}, {"X-Hub-Signature-256": "sha1=" + "0" * 40},
                        {"X-Hub-Signature-256": "sha256=\u00e9".encode("latin-1")}):
            answer = post(client, body, headers)
            assert (answer.status_code, answer.text) == (403, "no valid signature\n")
        # not even parsed: a body that is not JSON, wrongly signed, is a 403 and not a 400
        assert post(client, b"{not json", signed(b"{", secret="x")).status_code == 403
        assert client.post("/hooks/meta", content=body, auth=("wall", PASSWORD)).status_code == 403
    assert node.call_count == 0 and stored(store) == []
    no_secret_in(caplog.text)


@pytest.mark.parametrize("failure", [
    httpx.Response(500, json=ERROR_500),
    httpx.Response(400, json=fixture("error_rate_limit.json")),
    httpx.Response(400, json=fixture("error_190.json")),
], ids=["5xx", "rate limit", "token refused"])
@respx.mock(assert_all_called=False)
def test_a_passing_graph_failure_is_503_and_the_retry_stores_it(store, token, respx_mock, caplog, failure):
    node = graph(respx_mock, {MEDIA_ID: failure})
    body = delivery({"media_id": MEDIA_ID})
    with app(store) as client:
        answer = post(client, body)
        assert answer.status_code == 503 and "deliver it again later" in answer.text
        assert stored(store) == [] and node.call_count == 1
        node.side_effect = mentioned({MEDIA_ID: MENTIONS["mentioned_media"]})
        assert post(client, body).status_code == 200  # Meta's retry
    assert [m["external_id"] for m in stored(store)] == [f"mention:{MEDIA_ID}"]
    assert "Meta will deliver it again" in caplog.text
    no_secret_in(caplog.text + answer.text)


@respx.mock(assert_all_called=False)
def test_of_two_mentions_the_one_read_is_stored_and_the_retry_reads_only_the_other(store, token, respx_mock):
    node = graph(respx_mock, {MEDIA_ID: MENTIONS["mentioned_media"], COMMENT_ID: httpx.Response(500, json=ERROR_500)})
    body = delivery({"media_id": MEDIA_ID}, {"media_id": ON_MEDIA, "comment_id": COMMENT_ID})
    with app(store) as client:
        assert post(client, body).status_code == 503
        assert [m["external_id"] for m in stored(store)] == [f"mention:{MEDIA_ID}"]
        node.side_effect = mentioned({COMMENT_ID: MENTIONS["mentioned_comment"]})  # the caption one: not asked
        assert post(client, body).status_code == 200
    assert len(stored(store)) == 2 and node.call_count == 3


@respx.mock(assert_all_called=False)
def test_a_deleted_mention_is_200_and_logged_in_plain_words(store, token, respx_mock, caplog):
    node = graph(respx_mock, {"17800000000000404": httpx.Response(400, json=GONE)})
    caplog.set_level(logging.INFO, logger="webcare_tui")
    with app(store) as client:
        answer = post(client, delivery({"media_id": "17800000000000404"}))
    assert (answer.status_code, answer.text) == (200, "ok\n")
    assert node.call_count == 1 and stored(store) == []
    assert "Instagram mention mention:17800000000000404 of account 'brand-ig' is gone" in caplog.text
    assert "does not exist" in caplog.text and "Traceback" not in caplog.text
    no_secret_in(caplog.text)


@respx.mock(assert_all_called=False)
def test_a_malformed_or_oversized_delivery_is_refused_in_plain_words(store, token, respx_mock):
    node = graph(respx_mock, {MEDIA_ID: MENTIONS["mentioned_media"]})
    with app(store) as client:
        for body in (b"{not json", b"\xff\xfe\x00", b"[" * 100_000, b"[]", b'{"object": "instagram", "entry": 1}',
                     b'{"object": "instagram", "entry": [{"id": "1", "changes": [{"field": "mentions"}]}]}'):
            answer = post(client, body)
            assert answer.status_code == 400 and "Traceback" not in answer.text, body[:40]
            assert answer.text.endswith("\n") and len(answer.text) < 100
        assert post(client, b"{not json").text == "the body is not JSON\n"
        huge = b'{"object": "instagram", "entry": [], "pad": "' + b"x" * 1_000_001 + b'"}'
        assert post(client, huge).status_code == 413
    assert node.call_count == 0 and stored(store) == []


def test_the_wall_serves_the_webhook_with_both_secrets_and_without_it_with_one(store, token, monkeypatch, capsys):
    from webcare_tui.wall.auth import PASSWORD_ENV

    served = []
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    monkeypatch.setattr(wall, "serve", lambda config, store, password, host, port, *, meta=None: served.append(meta))
    monkeypatch.setenv(APP_SECRET_ENV, APP_SECRET)
    wall.run(wall_args(), Config(), store, io.StringIO())
    err = capsys.readouterr().err
    assert served == [None] and "no verify token, so /hooks/meta is off" in err and "--set-meta-webhook" in err
    token.set_password(SERVICE, VERIFY_TOKEN_KEY, VERIFY)
    wall.run(wall_args(), Config(), store, io.StringIO())
    assert served == [None, SECRETS] and capsys.readouterr().err == ""


def test_serve_says_whose_mentions_the_webhook_takes(store, capsys):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        config = Config(agent=Agent(id="tim"), accounts=(ACCOUNT,))
        assert wall.serve(config, store, PASSWORD, "127.0.0.1", taken.getsockname()[1], meta=SECRETS) == 2
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert "Meta's webhook at /hooks/meta takes the Instagram mentions of 1 account(s)" in err
    no_secret_in(err)
