"""Alerts that leave the console (notify.py): config, channels against real servers, the queue's promises.

Every receiving server is a real one on 127.0.0.1: an HTTP server in a thread for webhooks, aiosmtpd
(with STARTTLS and a self-signed certificate made here) for e-mail, Synapse for Matrix. Tests wait on
what a server received, with timeouts that fail the test.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import queue
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import T0, msg

from webcare_tui.alerts import Alert
from webcare_tui.config import Account, ConfigError, Notify, load_config
from webcare_tui.ingest import ingest
from webcare_tui.notify import (
    EmailChannel,
    MatrixChannel,
    Notifier,
    Outgoing,
    WebhookChannel,
    build_channels,
    rule_alerts,
    severity_of,
    slack_text,
)
from webcare_tui.rules import Router, load_rules
from webcare_tui.store import Store
from webcare_tui.store.notify import NotifyQueries

WAIT = 10.0  # seconds a server may take to receive what a test expects; longer fails the test


class _Store(Store, NotifyQueries):
    """The store with the notify queries (until `Store` mixes them in itself)."""


@pytest.fixture
def nstore(tmp_path: Path) -> Iterator[_Store]:
    with _Store(tmp_path / "webcare.db") as opened:
        yield opened


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- a webhook receiver ------------------------------------------------------------------------


class WebhookServer:
    """An HTTP server in a thread: every request lands in `received`; `status` is what it answers."""

    def __init__(self) -> None:
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = owner.status
                if status == 200:
                    owner.received.put({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self, timeout: float = WAIT) -> dict[str, Any]:
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the webhook received nothing within {timeout} s") from None

    def nothing_more(self) -> None:
        assert self.received.empty(), self.received.get_nowait()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.stop()


def spec(name: str = "hook", kind: str = "webhook", **options: Any) -> Notify:
    common = {key: options.pop(key) for key in ("kinds", "min_severity", "when", "limit", "per") if key in options}
    if "kinds" in common:
        common["kinds"] = frozenset(common["kinds"])
    return Notify(name, kind, options=options, where="config.toml:1", **common)


def alert(n: int, kind: str = "audience", text: str | None = None) -> Alert:
    return Alert(kind, f"{kind}:{n}", text or f"negative from @anna{n} (20,000 followers) on x: slecht", n)


async def deliver_all(notifier: Notifier, name: str) -> list:
    return await notifier.deliver(name)


# -- config ------------------------------------------------------------------------------------------

GOOD = """\
[kpi]
working_hours = "mon-fri 08:30-17:00"

[[account]]
name = "brand-matrix"
platform = "matrix"
base_url = "https://matrix.example.org"
user_id = "@webcare:example.org"

[[notify]]
name = "night-room"
kind = "matrix"
account = "brand-matrix"
room_id = "!abc:example.org"
kinds = ["rule", "audience", "spike"]
min_severity = "high"
when = "outside working hours"

[[notify]]
name = "lead-mail"
kind = "email"
host = "smtp.example.org"
from = "webcare@example.org"
to = "sanne@example.org"
username = "webcare@example.org"

[[notify]]
name = "phones"
kind = "webhook"
url = "https://ntfy.sh/our-team-alerts"
format = "ntfy"
limit = 3
per = "15m"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_notify_blocks_are_read_with_their_defaults(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    room, mail, phones = config.notify
    assert (room.kind, room.kinds, room.min_severity, room.when) == (
        "matrix", frozenset({"rule", "audience", "spike"}), "high", "outside working hours")
    assert room.options["msgtype"] == "m.notice"
    assert (mail.options["port"], mail.options["to"], mail.options["starttls"]) == (587, ["sanne@example.org"], True)
    assert (mail.when, mail.min_severity, mail.limit, mail.per) == ("always", "normal", 5, 600)
    assert (phones.limit, phones.per, phones.options["format"]) == (3, 900, "ntfy")
    assert mail.where.endswith("config.toml:19")


@pytest.mark.parametrize(("change", "line", "said"), [
    (("kind = \"email\"", "kind = \"pager\""), 21, "kind is 'matrix', 'email', 'webhook', not 'pager'"),
    (("username = \"webcare@example.org\"", "password = \"hunter2\""), 25, "secrets do not belong in the config"),
    (("min_severity = \"high\"", "min_severity = \"loud\""), 16, "min_severity is 'normal', 'high', 'critical'"),
    (("kinds = [\"rule\", \"audience\", \"spike\"]", "kinds = [\"rule\", \"storm\"]"), 15, "kinds is a list of alert"),
    (("account = \"brand-matrix\"", "account = \"brand-x\""), 13, "'brand-x' is not a matrix [[account]]"),
    (("room_id = \"!abc:example.org\"", "room_id = \"#general\""), 14, "is not a room id"),
    (("to = \"sanne@example.org\"", "to = [\"sanne\"]"), 24, "to is an address or a list"),
    (("format = \"ntfy\"", "format = \"teams\""), 31, "format is \"slack\""),
    (("per = \"15m\"", "per = \"soon\""), 33, "not a duration"),
    (("limit = 3", "limit = 0"), 32, "limit is the most messages"),
    (("name = \"phones\"", "name = \"lead-mail\""), 28, "there is already a [[notify]] 'lead-mail' (line 19)"),
    (("from = \"webcare@example.org\"", "from = \"webcare@example.org\"\nbcc = \"x@example.org\""), 24, "unknown key"),
])
def test_a_wrong_notify_block_is_named_by_file_and_line(tmp_path, change, line, said):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}:{line}: notify"), str(raised.value)
    assert said in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_outside_working_hours_needs_working_hours(tmp_path):
    path = write(tmp_path, GOOD.replace("[kpi]\nworking_hours = \"mon-fri 08:30-17:00\"\n", ""))
    with pytest.raises(ConfigError, match=rf"^{path}:15: notify.when: \"outside working hours\" needs working hours"):
        load_config(path)


# -- rules that raise an alert ------------------------------------------------------------------------

RULES = """\
[[rule]]
name = "Nepaccount"
words = ["nep account", "fake account"]
alert = "Possible fake account impersonating us"
"""


def test_a_rule_may_only_alert_and_a_bad_alert_text_is_a_problem(tmp_path):
    book = load_rules({"rule": [{"name": "Nepaccount", "words": ["nep account"], "alert": "Fake!"}]}, RULES, "c.toml")
    assert book.errors == [] and book.rules[0].alert == "Fake!"
    book = load_rules({"rule": [{"name": "Nepaccount", "words": ["x"], "alert": "two\nlines"}]}, RULES, "c.toml")
    assert book.errors == ["c.toml:4: rule 'Nepaccount': alert is one line of text (at most 500 characters),"
                           " e.g. alert = \"Possible fake account\""]


def test_a_rule_alert_is_kept_with_the_message_and_read_as_an_alert_of_kind_rule(nstore, tmp_path):
    config = load_config(write(tmp_path, RULES))
    book = load_rules(config.raw, config.text, config.path)
    router = Router(book, nstore.last_rule_assignment, lambda: T0)
    ingest(nstore, [msg(0, text="Er is een nep account van jullie die DM's stuurt <b>[/x]"),
                    msg(60, author="bob", text="Waar blijft mijn pakket?")], router=router)
    [found] = rule_alerts(nstore.rule_alert_events(T0 - 3600))
    assert found.kind == "rule" and severity_of(found) == "high"
    assert found.text == ("Possible fake account impersonating us: case 1 (@anna, x):"
                          " Er is een nep account van jullie die DM's stuurt <b>[/x]")
    assert found.case_id == 1 and found.key.startswith("rule:")


# -- the queue: once per channel, storms, failures, restarts ---------------------------------------------


async def test_each_alert_goes_to_each_channel_once_and_slack_text_is_escaped(nstore, hook):
    clock = Clock()
    notifier = Notifier(nstore, {"hook": WebhookChannel(spec(format="slack", url=hook.url), hook.url, None)}, clock)
    evil = alert(1, text="negative from @channel on x: <!channel> & <https://evil.example|click> *bold*")
    assert notifier.enqueue([evil]) == 1
    assert [s.state for s in await notifier.deliver("hook")] == ["sent"]
    body = json.loads(hook.next()["body"])
    assert body == {"text": "[high] negative from @\u2060channel on x: &lt;!channel&gt; &amp;"
                            " &lt;https://evil.example|click&gt; *bold*"}
    assert notifier.enqueue([evil]) == 0  # the same alert again: the store knows it went
    assert await notifier.deliver("hook") == []
    hook.nothing_more()


def test_slack_text_leaves_plain_text_alone():
    assert slack_text("case 12 (Anna, x) missed its deadline 5 min ago") == "case 12 (Anna, x) missed its deadline 5 min ago"


async def test_ntfy_gets_the_text_as_body_and_title_priority_tags_as_headers(nstore, hook):
    notifier = Notifier(nstore, {"phones": WebhookChannel(spec("phones", format="ntfy", url=hook.url), hook.url,
                                                          "tk_secret_token")}, Clock())
    notifier.enqueue([Alert("spike", "spike:#storing", "spike: 40 messages on #storing in 15 minutes", 3)])
    await notifier.deliver("phones")
    got = hook.next()
    assert got["body"].decode() == "[critical] spike: 40 messages on #storing in 15 minutes"
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert (headers["title"], headers["priority"], headers["tags"]) == ("webcare alert: spike", "urgent", "warning,spike")
    assert headers["authorization"] == "Bearer tk_secret_token"


async def test_a_storm_collapses_into_one_message_with_a_count(nstore, hook):
    clock = Clock()
    notifier = Notifier(nstore, {"hook": WebhookChannel(spec(format="slack", url=hook.url, limit=5), hook.url, None)},
                        clock)
    notifier.enqueue([alert(1), alert(2)])  # fewer than the limit: one message each
    assert [s.state for s in await notifier.deliver("hook")] == ["sent", "sent"]
    assert [json.loads(hook.next()["body"])["text"] for _ in range(2)] == [
        "[high] negative from @\u2060anna1 (20,000 followers) on x: slecht",
        "[high] negative from @\u2060anna2 (20,000 followers) on x: slecht"]
    clock.now += 60
    notifier.enqueue([alert(n) for n in range(3, 33)])  # 30 at once: one message with a count
    assert [len(s.keys) for s in await notifier.deliver("hook")] == [30]
    text = json.loads(hook.next()["body"])["text"]
    assert text.splitlines()[0] == "30 alerts:"
    assert text.splitlines()[-1] == "and 27 more alerts"
    assert len(text.splitlines()) == 5
    # two more messages fit in the window; then the window is used up and alerts wait for it
    for n in (40, 41):
        clock.now += 1
        notifier.enqueue([alert(n)])
        await notifier.deliver("hook")
    clock.now += 1
    notifier.enqueue([alert(50), alert(51)])
    assert await notifier.deliver("hook") == []
    clock.now = T0 + 601  # the first two leave the window
    [storm] = await notifier.deliver("hook")
    assert storm.keys == ("audience:50", "audience:51")
    for _ in range(3):
        hook.next()
    hook.nothing_more()


async def test_a_channel_down_for_a_while_gets_every_alert_once_when_it_is_back(nstore, hook):
    clock = Clock()
    notifier = Notifier(nstore, {"hook": WebhookChannel(spec(format="slack", url=hook.url), hook.url, None)}, clock,
                        first_retry=10, max_retry=60)
    hook.status = 503
    notifier.enqueue([alert(1)])
    assert [s.state for s in await notifier.deliver("hook")] == ["queued"]
    for n in range(2, 5):  # more alerts while it is down; retries wait their backoff
        clock.now += 30
        notifier.enqueue([alert(n)])
        await notifier.deliver("hook")
    assert nstore.notify_rows("hook")[0]["attempts"] >= 2
    assert nstore.notify_rows("hook")[0]["last_error"] == "the webhook answered 503: ok"
    hook.status = 200
    clock.now += 61
    sent = await notifier.deliver("hook")  # nothing went out in the window: one message each
    assert [(s.state, s.keys) for s in sent] == [("sent", (f"audience:{n}",)) for n in range(1, 5)]
    texts = sorted(json.loads(hook.next()["body"])["text"] for _ in range(4))
    assert [text.split("@\u2060")[1][:5] for text in texts] == ["anna1", "anna2", "anna3", "anna4"]
    clock.now += 600
    assert await notifier.deliver("hook") == []
    hook.nothing_more()
    assert {row["state"] for row in nstore.notify_rows()} == {"sent"}


async def test_an_unreachable_channel_keeps_its_alerts_queued(nstore):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"  # nobody listens
    notifier = Notifier(nstore, {"hook": WebhookChannel(spec(format="slack", url=url), url, None)}, Clock())
    notifier.enqueue([alert(1)])
    [failed] = await notifier.deliver("hook")
    assert (failed.state, failed.error) == ("queued", "cannot reach the webhook (ConnectError)")
    assert nstore.notify_rows()[0]["state"] == "queued"


async def test_after_a_restart_mid_send_a_webhook_alert_is_not_sent_twice(nstore, hook, log_file):
    from webcare_tui.supervisor import start_log

    start_log()
    channel = WebhookChannel(spec(format="slack", url=hook.url), hook.url, None)
    notifier = Notifier(nstore, {"hook": channel}, Clock())
    notifier.enqueue([alert(1), alert(2)])
    notifier._plan("hook")  # marked "sending"; then the process died before it knew the outcome
    again = Notifier(nstore, {"hook": channel}, Clock())
    assert [s.state for s in again.recover()] == ["unknown", "unknown"]
    assert await again.deliver("hook") == []
    hook.nothing_more()
    assert "alert audience:1 may not have arrived" in log_file.read_text()


# -- e-mail: aiosmtpd with STARTTLS ---------------------------------------------------------------


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class SmtpServer:
    """aiosmtpd on 127.0.0.1 that requires STARTTLS and a login; mails land in `received`."""

    def __init__(self, folder: Path, password: str) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.received: queue.Queue[Any] = queue.Queue()
        self.refuse = False
        cert, key = _self_signed(folder)
        self.cafile = str(cert)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        owner = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                if owner.refuse:
                    return "451 try again later"
                owner.received.put(envelope)
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            ok = auth_data.login == b"webcare@example.org" and auth_data.password == password.encode()
            return AuthResult(success=ok)

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, tls_context=context,
                                     require_starttls=True, authenticator=authenticator, auth_require_tls=True)
        self.controller.start()

    def next(self, timeout: float = WAIT) -> Any:
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the SMTP server received nothing within {timeout} s") from None

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path, "s3cret-smtp-pw")
    yield server
    server.stop()


def mail_spec(smtp: SmtpServer) -> Notify:
    return spec("lead-mail", "email", host="127.0.0.1", port=smtp.port, starttls=True, cafile=smtp.cafile,
                username="webcare@example.org", to=["sanne@example.org"], **{"from": "webcare@example.org"})


async def test_an_alert_arrives_by_mail_over_starttls_in_plain_text(nstore, smtp):
    notifier = Notifier(nstore, {"lead-mail": EmailChannel(mail_spec(smtp), "s3cret-smtp-pw")}, Clock())
    notifier.enqueue([alert(1, text="negative from Anna <script> on x: <b>slecht</b> [/x]")])
    assert [s.state for s in await notifier.deliver("lead-mail")] == ["sent"]
    envelope = smtp.next()
    assert envelope.rcpt_tos == ["sanne@example.org"]
    import email

    mail = email.message_from_bytes(envelope.content)
    assert mail["Subject"] == "webcare alert: audience"
    assert mail.get_content_type() == "text/plain"
    assert mail.get_payload(decode=True).decode().strip() == "[high] negative from Anna <script> on x: <b>slecht</b> [/x]"


async def test_a_mail_server_that_refuses_for_a_while_gets_every_alert_once(nstore, smtp, log_file):
    clock = Clock()
    notifier = Notifier(nstore, {"lead-mail": EmailChannel(mail_spec(smtp), "s3cret-smtp-pw")}, clock,
                        first_retry=10)
    smtp.refuse = True
    notifier.enqueue([alert(1)])
    [failed] = await notifier.deliver("lead-mail")
    assert failed.state == "queued" and "451" in (failed.error or "")
    smtp.refuse = False
    clock.now += 11
    notifier.enqueue([alert(2)])
    assert [s.state for s in await notifier.deliver("lead-mail")] == ["sent", "sent"]
    import email

    bodies = sorted(email.message_from_bytes(smtp.next().content).get_payload(decode=True).decode().strip()
                    for _ in range(2))
    assert [body.split()[3] for body in bodies] == ["@anna1", "@anna2"]
    assert smtp.received.empty()
    clock.now += 60
    assert await notifier.deliver("lead-mail") == []
    assert smtp.received.empty()


async def test_a_wrong_smtp_password_is_said_without_the_password(nstore, smtp):
    notifier = Notifier(nstore, {"lead-mail": EmailChannel(mail_spec(smtp), "wrong-password-123", timeout=2)}, Clock())
    notifier.enqueue([alert(1)])
    [failed] = await notifier.deliver("lead-mail")
    assert failed.state == "queued" and "(login)" in (failed.error or "")
    stored = json.dumps(nstore.notify_rows())
    assert "wrong-password-123" not in stored and "wrong-password-123" not in (failed.error or "")


# -- the channels built from the config ------------------------------------------------------------------


def test_channels_are_built_with_their_secrets_from_the_keyring(tmp_path, hook):
    config = load_config(write(tmp_path, GOOD))
    secrets = {"brand-matrix": "syt_matrix_token", "notify-lead-mail": "pw", "notify-phones": "tk_token"}
    channels = build_channels(config, secrets.get)
    assert isinstance(channels["night-room"], MatrixChannel) and isinstance(channels["lead-mail"], EmailChannel)
    assert channels["phones"].redact("Bearer tk_token") == "Bearer •••"
    with pytest.raises(ConfigError, match=r"config.toml:19: notify 'lead-mail': no SMTP password in the keyring;"
                                          r" run `webcare watch --set-secret lead-mail`"):
        build_channels(config, {"brand-matrix": "syt_matrix_token"}.get)


# -- Matrix: the real Synapse ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    from synapse_server import SynapseServer

    if (missing := SynapseServer.missing()) is not None:
        pytest.skip(missing)
    server = SynapseServer(Path(tmp_path_factory.mktemp("synapse")))
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def test_an_alert_arrives_in_the_matrix_room_once_even_when_repeated_after_a_restart(synapse, nstore):
    brand_id, token = synapse.register("alerts")
    async with httpx.AsyncClient(base_url=synapse.base_url, timeout=10.0,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        room = (await http.post("/_matrix/client/v3/createRoom", json={"name": "webcare nachtdienst"})).json()
        room_id = room["room_id"]
        account = Account("brand-matrix", "matrix", {"base_url": synapse.base_url, "user_id": brand_id})
        channel = MatrixChannel(spec("night-room", "matrix", account=account.name, room_id=room_id,
                                     msgtype="m.notice"), synapse.base_url, token)
        try:
            notifier = Notifier(nstore, {"night-room": channel}, Clock())
            notifier.enqueue([alert(1), Alert("rule", "rule:7", "Possible fake account: case 7 (@bol_helpdesk_nl, x)", 7)])
            assert [s.state for s in await notifier.deliver("night-room")] == ["sent", "sent"]

            async def notices() -> list[dict[str, Any]]:
                events = (await http.get(f"/_matrix/client/v3/rooms/{room_id}/messages",
                                         params={"dir": "b", "limit": "50"})).json()["chunk"]
                return [e for e in reversed(events) if e["type"] == "m.room.message"]

            assert [(e["content"]["msgtype"], e["content"]["body"]) for e in await notices()] == [
                ("m.notice", "[high] negative from @anna1 (20,000 followers) on x: slecht"),
                ("m.notice", "[high] Possible fake account: case 7 (@bol_helpdesk_nl, x)")]
            # the process died after the homeserver took the second one, before it was marked sent
            nstore.notify_mark("night-room", ["rule:7"], int(T0), state="sending")
            again = Notifier(nstore, {"night-room": channel}, Clock())
            assert [s.state for s in again.recover()] == ["sending"]
            assert [s.state for s in await again.deliver("night-room")] == ["sent"]  # same txnId: published once
            assert len(await notices()) == 2
        finally:
            await channel.aclose()


def test_outgoing_summary_lists_three_and_counts_the_rest():
    rows = tuple({"alert_key": f"k{n}", "kind": "spike", "severity": "critical", "text": f"spike {n}"}
                 for n in range(5))
    assert Outgoing(rows).text() == "5 alerts:\n[critical] spike 0\n[critical] spike 1\n[critical] spike 2\nand 2 more alerts"
    assert Outgoing(rows[:4]).lines()[-1] == "[critical] spike 3"  # four fit: no "and 1 more"
    assert Outgoing(rows).txn_id() == Outgoing(rows).txn_id() != Outgoing(rows[:4]).txn_id()
